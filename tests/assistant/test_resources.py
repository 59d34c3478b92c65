"""Warming up a starting server: what is built is loaded, nothing is built."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.resources import default_providers, warm_up
from assistant.settings import load_settings
from knowledge.codesets import CodeSets
from knowledge.documents import KnowledgeBase


def counting(provider: Callable[[], Any], calls: list[str], name: str) -> Callable[[], Any]:
    def get() -> Any:
        calls.append(name)
        return provider()

    return get


def test_an_empty_home_is_left_alone(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    calls: list[str] = []
    providers = {name: counting(p, calls, name) for name, p in default_providers(settings).items()}
    assert warm_up(settings, providers) == {}
    assert "codesets" not in calls  # not loaded, so not built (a minute of parsing)
    home = tmp_path / "home"
    assert not any((home / part).exists() for part in ("cache", "knowledge", "chroma"))  # nothing opened


def test_built_code_sets_and_index_are_loaded(
    tmp_path: Path, codesets_cache_dir: Path, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").symlink_to(codesets_cache_dir)  # a current code-set cache, as `init` leaves it
    settings = load_settings(home=home)
    calls: list[str] = []
    providers = {
        "codesets": counting(lambda: codesets, calls, "codesets"),
        "knowledge_base": counting(lambda: shipped_kb, calls, "knowledge_base"),
    }
    timings = warm_up(settings, providers)
    # Questions will be embedded here: the fast erf is loaded for their forward passes.
    assert set(timings) == {"codesets", "knowledge_base", "erf"} and "codesets" in calls
    assert all(seconds >= 0 for seconds in timings.values())
    assert "scipy.special" in sys.modules


def test_a_failing_part_is_logged_and_the_rest_still_warms(
    tmp_path: Path, codesets_cache_dir: Path, codesets: CodeSets, caplog: Any
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").symlink_to(codesets_cache_dir)

    class Unreachable:
        def is_built(self) -> bool:
            return True

        def search(self, question: str, *, limit: int = 5) -> None:
            raise ConnectionError("vector store down")

    providers = {"codesets": lambda: codesets, "knowledge_base": lambda: Unreachable()}
    assert set(warm_up(load_settings(home=home), providers)) == {"codesets", "erf"}
    assert "warm-up of knowledge_base failed" in caplog.text
