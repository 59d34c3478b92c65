"""Fixtures of the knowledge-base tests: a real Chroma server on loopback, and knowledge bases.

The shipped index (playbooks and policies, embedded with the packaged model) takes minutes to build on
a two-core machine, so it is built once per content of the shipped files and code, kept in
`.test-cache/`, and copied into each session's temp folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge.documents import KnowledgeBase, build_shipped_index
from knowledge.documents.ingest import DATA_DIR

PACKAGE_DIR = Path(__file__).resolve().parents[3] / "knowledge" / "documents"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port; its URL."""
    chroma = Path(sys.executable).parent / "chroma"
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chroma server exited: {(data / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chroma server did not start within 60 s")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _shipped_key() -> str:
    """Changes when a shipped file, or the code deciding what is stored (loading, chunking, metadata), changes."""
    digest = hashlib.sha256()
    code = [PACKAGE_DIR / name for name in ("loaders.py", "chunking.py", "store.py", "models.py")]
    for path in sorted([*DATA_DIR.glob("playbooks/*.md"), *DATA_DIR.glob("policies/*.md"), *code]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def shipped_home(shared_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME holding the shipped index (copied from the cache, built there on first use)."""
    cached = shared_cache_dir / "knowledge-index" / _shipped_key()
    if not (cached / "done").exists():
        shutil.rmtree(cached, ignore_errors=True)
        building = cached.with_name(cached.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        build_shipped_index(KnowledgeBase(building))
        (building / "done").write_text("ok")
        for stale in cached.parent.iterdir():  # older builds of this cache
            if stale != building:
                shutil.rmtree(stale, ignore_errors=True)
        building.rename(cached)
    home = tmp_path_factory.mktemp("shipped") / "home"
    shutil.copytree(cached, home)
    return home


@pytest.fixture(scope="session")
def shipped_kb(shipped_home: Path) -> KnowledgeBase:
    """The shipped index, opened once for the session (tests must not write to it)."""
    return KnowledgeBase(shipped_home)


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    """An empty embedded knowledge base in the test's HOME."""
    return KnowledgeBase(tmp_path / "kb-home")
