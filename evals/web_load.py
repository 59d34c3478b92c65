"""A load benchmark of the web app: many signed-in users asking at once, on loopback only.

It builds a throwaway HOME (SQLite, the small demo practice, one API token per simulated user, the request
router fitted as `init` fits it), starts the real server (`billing-assistant serve` on a free 127.0.0.1
port, in its own process so the load generator does not share its interpreter), asks one untimed question
(the first of the day), and lets `users` users loop for `seconds`: ask about a claim (JSON or streamed),
list their conversations, open a claim; each with a short think time, as a person would. It reports
p50/p95 latency overall and per kind, throughput, errors (5xx, transport) and rate-limited answers (429,
which are the limiter working, not errors). Nothing leaves the machine; everything is deleted after.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from knowledge.practice.accounts import add_user, issue_token
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Role

MAX_USERS = 200
MAX_SECONDS = 600
HOST = "127.0.0.1"  # loopback only, by design


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _prepare(home: Path, users: int) -> tuple[str, list[str]]:
    """A migrated database with the demo practice and `users` users, each with an API token."""
    url = f"sqlite:///{home / 'practice.db'}"
    engine = make_engine(url)
    upgrade(engine)
    tokens: list[str] = []
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=dt.date.today(), patients=30, claims=120)
        for number in range(users):
            user = add_user(
                session,
                practice_id=report.practice_id,
                email=f"load{number}@demo.example",
                name=f"Load user {number}",
                role=Role.BILLER,
                password=None,
            )
            tokens.append(issue_token(session, user=user, kind="api", name="web load").secret)
        session.commit()
    engine.dispose()
    _fit_router(home)
    return url, tokens


def _fit_router(home: Path) -> None:
    """Fit the offline planner's request router into the workspace, as `init` does for a real HOME: the
    server then loads it while it starts instead of fitting it (10-20 s) on the first users' questions."""
    from assistant.llm import make_chat_model
    from assistant.settings import load_settings

    planner = make_chat_model(load_settings(home=home))
    planner.router()  # type: ignore[attr-defined]


def _start_server(home: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BILLING_ASSISTANT_", "SLACK_"))}
    env.update(
        {
            "BILLING_ASSISTANT_HOME": str(home),
            "BILLING_ASSISTANT_DATABASE_URL": url,
            "BILLING_ASSISTANT_SECRET_KEY": secrets.token_urlsafe(32),
            "BILLING_ASSISTANT_LOG_LEVEL": "WARNING",
            "HF_HUB_OFFLINE": "1",
        }
    )
    command = [sys.executable, "-m", "integrations.cli.main", "serve", "--host", HOST, "--port", str(port)]
    log = (home / "server.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)


async def _wait_ready(base: str, process: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 60 s")
            await asyncio.sleep(0.2)


async def _first_answer(base: str, token: str) -> None:
    """One question before the clock starts, as the first person of the day would ask it: the server's
    warm-up (code sets, embedding model, router) has finished when it is answered."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        response = await client.post("/api/chat", json={"message": "status of claim 1001"})
        response.raise_for_status()


async def _user(
    base: str, token: str, until: float, samples: dict[str, list[float]], outcomes: dict[str, int], seed: int
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    thread_id: str | None = None
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await asyncio.sleep(rng.random())  # do not all start in the same millisecond
        while time.monotonic() < until:
            claim = str(1001 + rng.randrange(120))
            kind = rng.choices(["chat", "chat_stream", "threads", "claim"], weights=[3, 2, 2, 3])[0]
            started = time.perf_counter()
            try:
                if kind == "chat":
                    body = {"message": f"status of claim {claim}", "thread_id": thread_id}
                    response = await client.post("/api/chat", json=body)
                    if response.status_code == 200:
                        thread_id = response.json()["thread_id"]
                elif kind == "chat_stream":
                    body = {"message": f"status of claim {claim}"}
                    async with client.stream("POST", "/api/chat?stream=1", json=body) as response:
                        async for _ in response.aiter_bytes():
                            pass
                elif kind == "threads":
                    response = await client.get("/api/threads")
                else:
                    response = await client.get(f"/api/claims/{claim}")
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            if status == 429:
                outcomes["rate_limited"] += 1
            elif status == 0 or status >= 500:
                outcomes["errors"] += 1
            else:
                outcomes["ok"] += 1
                samples[kind].append(elapsed)
            await asyncio.sleep(0.5 + rng.random())  # think time


async def _drive(base: str, tokens: list[str], seconds: float) -> tuple[dict[str, list[float]], dict[str, int]]:
    samples: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, int] = defaultdict(int)
    until = time.monotonic() + seconds
    await asyncio.gather(*(_user(base, token, until, samples, outcomes, n) for n, token in enumerate(tokens)))
    return samples, outcomes


def run_web_load(users: int = 50, seconds: int = 60, *, home: Path | None = None) -> dict[str, Any]:
    """Run the benchmark and print its figures; returns them (latencies in milliseconds).

    `home` is where the throwaway workspace is made (a temporary folder inside it, deleted afterwards);
    the default is the system's temporary folder. The workspace never touches that HOME's own database."""
    if not 1 <= users <= MAX_USERS or not 1 <= seconds <= MAX_SECONDS:
        raise ValueError(f"users must be 1..{MAX_USERS} and seconds 1..{MAX_SECONDS}")
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ba-web-load-", dir=home) as folder:
        workspace = Path(folder) / "home"
        workspace.mkdir()
        url, tokens = _prepare(workspace, users)
        port = _free_port()
        base = f"http://{HOST}:{port}"
        process = _start_server(workspace, url, port)
        try:
            asyncio.run(_wait_ready(base, process, workspace))
            asyncio.run(_first_answer(base, tokens[0]))
            started = time.perf_counter()
            samples, outcomes = asyncio.run(_drive(base, tokens, seconds))
            wall = time.perf_counter() - started
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    every = [value for values in samples.values() for value in values]
    total = sum(outcomes.values())
    result: dict[str, Any] = {
        "users": users,
        "seconds": seconds,
        "requests": total,
        "ok": outcomes["ok"],
        "errors": outcomes["errors"],
        "rate_limited": outcomes["rate_limited"],
        "throughput_rps": round(total / wall, 1) if wall else 0.0,
        "p50_ms": round(_percentile(every, 0.5), 1),
        "p95_ms": round(_percentile(every, 0.95), 1),
        "by_kind": {
            kind: {
                "count": len(values),
                "p50_ms": round(_percentile(values, 0.5), 1),
                "p95_ms": round(_percentile(values, 0.95), 1),
            }
            for kind, values in sorted(samples.items())
        },
    }
    _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(
        f"web load: {result['users']} users for {result['seconds']} s: {result['requests']} requests "
        f"({result['throughput_rps']}/s), p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"errors {result['errors']}, rate-limited {result['rate_limited']}"
    )
    for kind, figures in result["by_kind"].items():
        print(f"  {kind:<12} {figures['count']:>6}  p50 {figures['p50_ms']:>8} ms  p95 {figures['p95_ms']:>8} ms")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    run_web_load(int(arguments[0]) if arguments else 50, int(arguments[1]) if len(arguments) > 1 else 60)
