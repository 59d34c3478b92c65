"""Shared, lazily built resources the tools are bound to: code sets, knowledge base, X12 folders.

The X12 folders are per practice (HOME/practices/<practice id>/inbox and .../outbox): the provider hands
out the `PracticeFolder`, and the tool takes the requester's folder from it with the practice id the
server bound, so one practice never imports from or writes to another's folder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from assistant.settings import Settings
from knowledge.practice.folders import PracticeFolder

log = logging.getLogger("billing_assistant.resources")


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
        "out_dir": lazy(lambda: PracticeFolder(home, "outbox")),
        "inbox_dir": lazy(lambda: PracticeFolder(home, "inbox")),
    }


def warm_up(settings: Settings, providers: Mapping[str, Callable[[], Any]]) -> dict[str, float]:
    """Load what is already built (the code-set cache and its vectors, the knowledge index, the embedding
    model) so that the first question after a start does not wait for it (about 8 s on 2 cores). Nothing
    is built here: a missing cache is left to `init` or the first question that needs it. Returns the
    seconds each part took; a part that fails is logged and left for that question to report."""
    from knowledge.codesets import cache_is_current, search_codes

    timings: dict[str, float] = {}

    def timed(name: str, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            work()
        except Exception:
            log.warning("warm-up of %s failed; the first question that needs it will say why", name, exc_info=True)
            return
        timings[name] = round(time.perf_counter() - started, 2)

    if "codesets" in providers and cache_is_current(settings.resolved_home / "cache"):
        timed("codesets", lambda: search_codes(providers["codesets"](), "warm up", limit=1))
    knowledge_base = providers.get("knowledge_base")
    if knowledge_base is not None and (settings.chroma_url or knowledge_base().is_built()):
        timed("knowledge_base", lambda: knowledge_base().search("timely filing limit", limit=1))
    if settings.llm == "offline":
        from assistant.llm import make_chat_model

        planner: Any = make_chat_model(settings)
        if planner.router_is_saved():  # loaded, never fitted here (`init` fits it)
            timed("router", planner.router)
    if {"codesets", "knowledge_base"} & timings.keys():  # questions will be embedded in this process
        from knowledge.embeddings import load_fast_erf

        timed("erf", load_fast_erf)
    if timings:
        log.info("warmed up %s", ", ".join(f"{name} in {seconds} s" for name, seconds in timings.items()))
    return timings
