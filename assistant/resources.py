"""Shared, lazily built resources the tools are bound to: code sets, knowledge base, X12 folders."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.settings import Settings


def lazy(build: Callable[[], Any]) -> Callable[[], Any]:
    """Build on first use, once, even with several threads asking at the same time."""
    lock = threading.Lock()
    box: list[Any] = []

    def get() -> Any:
        with lock:
            if not box:
                box.append(build())
            return box[0]

    return get


def _folder(path: Path) -> Callable[[], Path]:
    def make() -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    return lazy(make)


def default_providers(settings: Settings) -> dict[str, Callable[[], Any]]:
    home = settings.resolved_home

    def codesets() -> Any:
        from knowledge.codesets import load_codesets

        return load_codesets(home / "cache")

    def knowledge_base() -> Any:
        from knowledge.documents import KnowledgeBase

        return KnowledgeBase(home, chroma_url=settings.chroma_url, embedding_model=settings.embedding_model)

    return {
        "codesets": lazy(codesets),
        "knowledge_base": lazy(knowledge_base),
        "out_dir": _folder(home / "outbox"),
        "inbox_dir": _folder(home / "inbox"),
    }
