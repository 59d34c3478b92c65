"""Test-wide fixtures: an isolated environment for every test, and the shared expensive caches.

Every test runs with a fresh HOME and no BILLING_ASSISTANT_* / SLACK_* variables from the machine.
Expensive artefacts that do not depend on the test (code-set caches, embeddings of shipped data) live
in `.test-cache/` at the repo root and are built once per checkout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.fixtures.databases", "tests.codeset_fixtures", "tests.fixtures.knowledge_index"]


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean environment and an empty HOME for each test; the working directory is a temp folder too."""
    for name in list(os.environ):
        if name.startswith(("BILLING_ASSISTANT_", "SLACK_", "OPENAI_", "ANTHROPIC_")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(home))
    monkeypatch.setenv("BILLING_ASSISTANT_ENVIRONMENT", "test")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    yield home


@pytest.fixture(scope="session")
def shared_cache_dir() -> Path:
    """A cache folder kept between test runs of this checkout (never inside a test's HOME)."""
    path = REPO_ROOT / ".test-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def fitted_router(shared_cache_dir: Path) -> None:
    """Fit the offline planner's router once per test run (saved in .test-cache/ between runs), so no
    test's first question waits the 10-20 s a fit takes."""
    from assistant.planner import OfflinePlanner

    OfflinePlanner(cache_dir=shared_cache_dir / "router").router()
