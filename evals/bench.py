"""`billing-assistant bench`: speed suites, each in its own process so its peak memory is its own.

Run one suite by hand with `python -m evals.bench SUITE` (codes, retrieval, x12, chat, router, startup, cli);
it prints one JSON document. Figures are medians and p95 on this machine, beside a baseline where one applies.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from assistant.settings import Settings, load_settings

SUITES = ("codes", "retrieval", "x12", "chat", "router", "startup", "cli")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_codes(settings: Settings, claims: int) -> dict[str, Any]:
    from evals.codes_eval import run_codes_bench
    from knowledge.codesets import load_codesets

    started = time.perf_counter()
    codesets = load_codesets(settings.resolved_home / "cache")
    cold = time.perf_counter() - started
    figures = run_codes_bench(codesets)
    figures["cold_load_s"] = round(cold, 2)
    return figures


def bench_retrieval(settings: Settings, claims: int) -> dict[str, Any]:
    from evals.retrieval_eval import run_retrieval_bench
    from knowledge.documents import KnowledgeBase

    kb = KnowledgeBase(settings.resolved_home, chroma_url=settings.chroma_url, embedding_model=settings.embedding_model)
    return run_retrieval_bench(kb)


def bench_x12(settings: Settings, claims: int) -> dict[str, Any]:
    from evals.x12_eval import run_x12_bench

    return run_x12_bench(claims)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("serve did not answer /api/health in time")


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in open(f"/proc/{pid}/status", encoding="ascii"):  # noqa: SIM115
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def bench_startup(settings: Settings, claims: int) -> dict[str, Any]:
    """Cold start of `billing-assistant serve` until /api/health answers (three runs)."""
    times = []
    peak = None
    for _ in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "integrations.cli.main", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, BILLING_ASSISTANT_HOME=str(settings.resolved_home)),
        )
        try:
            times.append(_wait_healthy(f"http://127.0.0.1:{port}/api/health", process, 120))
            peak = _vm_hwm_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    times.sort()
    return {
        "runs": len(times),
        "cold_start_s_median": round(times[len(times) // 2], 2),
        "cold_start_s_max": round(times[-1], 2),
        "server_peak_rss_mb": peak,
    }


def bench_chat(settings: Settings, claims: int) -> dict[str, Any]:
    """Offline chat turns end to end over HTTP (the web app on loopback), and a bounded concurrent load."""
    from evals.web_load import run_web_load

    single = run_web_load(users=1, seconds=10, home=settings.resolved_home)
    loaded = run_web_load(users=50, seconds=60, home=settings.resolved_home)
    return {"one_user": single, "fifty_users": loaded}


ROUTER_BENCH = [
    "why was claim 1042 denied?",
    "1042 bounced back from uhc, now what",
    "gout dx code",
    "post $40 copay to claim 1500 by card",
    "aetna timely filing limit for 2026",
    "draft an appeal letter for claim 1042",
    "explain the denial on 1042 and tell me the balance",
    "is it billable?",
]


def bench_router(settings: Settings, claims: int) -> dict[str, Any]:
    """The offline planner's understanding alone: scoring a message (embedding + classifier) and the whole
    reading of it (slots, scores, follow-up and multi-part checks), and the cost of loading the router."""
    from assistant.llm import make_chat_model
    from tools.slots import read_slots

    planner: Any = make_chat_model(settings)
    started = time.perf_counter()
    router = planner.router()
    load_s = time.perf_counter() - started
    rank_ms, understand_ms = [], []
    for _ in range(10):
        for text in ROUTER_BENCH:
            started = time.perf_counter()
            router.rank(text, read_slots(text, today=dt.date.today()))
            rank_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            planner.understand(text, {"claim": "1042", "last_calls": [{"name": "get_claim", "args": {}}]}, "biller")
            understand_ms.append((time.perf_counter() - started) * 1000)
    rank_ms.sort()
    understand_ms.sort()
    return {
        "load_or_fit_s": round(load_s, 2),
        "examples": router.calibration.examples,
        "score_ms_p50": round(rank_ms[len(rank_ms) // 2], 1),
        "score_ms_p95": round(rank_ms[int(len(rank_ms) * 0.95)], 1),
        "understand_ms_p50": round(understand_ms[len(understand_ms) // 2], 1),
        "understand_ms_p95": round(understand_ms[int(len(understand_ms) * 0.95)], 1),
    }


# The commands `bench --only cli` starts cold, by figure name: the ones a person runs many times a day.
# Three kinds of question: a denial (router, claim, code sets and the policy index), a claim's status (the
# router and the database alone) and a code search (the router and the code sets).
CLI_COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "codes_lookup": ["codes", "lookup", "E11.65", "--json"],
    "claims_show": ["claims", "show", "1042", "--json"],
    "claims_list": ["claims", "list", "--status", "denied", "--json"],
    "ask": ["ask", "why was claim 1042 denied?", "--json"],
    "ask_status": ["ask", "status of claim 1042", "--json"],
    "ask_code": ["ask", "code for gout", "--json"],
}
#: What transformers prints while it loads a model: no command should show it (issue 17).
MODEL_NOISE = "Loading weights"


def _run_timed(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds (user + system) of one process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def bench_cli(settings: Settings, claims: int, runs: int = 3) -> dict[str, Any]:
    """Cold start of CLI commands: each run is a fresh `python -m integrations.cli.main ...` process, as a
    person types it, timed to its exit; beside a bare `python -c pass` (the floor no command can beat).

    Wall time is what a person waits; CPU time is steadier on a shared machine. One unmeasured run of each
    command comes first, so the figures are of a built HOME (router fitted, files in the page cache), not of
    a first run after `init`. ``x_python`` is the median wall time over a bare start's, ``cpu_x_python`` the
    same for CPU time. ``stderr_lines`` counts what the command printed there (progress bars, warnings);
    ``model_noise`` says whether transformers' "Loading weights" bar appeared on stdout or stderr; ``exit``
    is its exit code. The claim numbers are the demo practice's. Each `ask` adds a conversation to HOME's
    database: run it on a HOME that may be written to.

    ``bytecode_cache`` is False when PYTHONDONTWRITEBYTECODE is set: every start then compiles the
    project's own modules from source again (site-packages keep the bytecode written at install), which
    adds a few tenths of a second to the commands that import much of the project, such as `ask`.
    """
    env = dict(os.environ, BILLING_ASSISTANT_HOME=str(settings.resolved_home))
    cli = [sys.executable, "-m", "integrations.cli.main"]

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    # The bare start is short and jittery on a busy machine: more runs for its median.
    bare_runs = [_run_timed([sys.executable, "-c", "pass"], env) for _ in range(max(3 * runs, 9))]
    bare = median([wall for wall, _, _ in bare_runs])
    bare_cpu = median([cpu for _, cpu, _ in bare_runs])
    figures: dict[str, Any] = {
        "runs": runs,
        "bytecode_cache": not env.get("PYTHONDONTWRITEBYTECODE"),
        "python_pass_wall_s": round(bare, 3),
        "python_pass_cpu_s": round(bare_cpu, 3),
    }
    for name, args in CLI_COMMANDS.items():
        _run_timed([*cli, *args], env)
        timed = [_run_timed([*cli, *args], env) for _ in range(runs)]
        walls, cpus, done = [wall for wall, _, _ in timed], [cpu for _, cpu, _ in timed], timed[-1][2]
        figures[f"{name}_wall_s"] = round(median(walls), 3)
        figures[f"{name}_cpu_s"] = round(median(cpus), 3)
        figures[f"{name}_x_python"] = round(median(walls) / bare, 1)
        figures[f"{name}_cpu_x_python"] = round(median(cpus) / max(bare_cpu, 1e-3), 1)
        figures[f"{name}_exit"] = done.returncode
        figures[f"{name}_stderr_lines"] = len([line for line in done.stderr.splitlines() if line.strip()])
        figures[f"{name}_model_noise"] = any(MODEL_NOISE in run.stdout + run.stderr for _, _, run in timed)
    return figures


RUNNERS: dict[str, Callable[[Settings, int], dict[str, Any]]] = {
    "codes": bench_codes,
    "retrieval": bench_retrieval,
    "x12": bench_x12,
    "chat": bench_chat,
    "router": bench_router,
    "startup": bench_startup,
    "cli": bench_cli,
}


def run_bench(settings: Settings, *, only: str | None = None, claims: int = 10_000) -> dict[str, Any]:
    """Every suite (or one) in its own process; a suite that fails reports its error and the rest go on."""
    suites = [only] if only else list(SUITES)
    results: dict[str, Any] = {}
    for suite in suites:
        if suite not in RUNNERS:
            raise ValueError(f"unknown bench suite {suite!r}; expected one of {', '.join(SUITES)}")
        done = subprocess.run(
            [sys.executable, "-m", "evals.bench", suite, "--claims", str(claims)],
            capture_output=True,
            text=True,
            env=dict(os.environ, BILLING_ASSISTANT_HOME=str(settings.resolved_home)),
            timeout=1800,
            check=False,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            results[suite] = {"error": tail[0]}
        else:
            results[suite] = json.loads(lines[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suite", choices=SUITES)
    parser.add_argument("--claims", type=int, default=10_000)
    args = parser.parse_args()
    figures = RUNNERS[args.suite](load_settings(), args.claims)
    figures["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write(json.dumps(figures, default=str) + "\n")


if __name__ == "__main__":
    main()
