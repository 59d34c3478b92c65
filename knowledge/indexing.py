"""Building the search vectors while the server already answers: one background thread, and its progress.

Why: on a fresh machine, embedding ~56,500 code descriptions and ~3,600 knowledge passages takes minutes,
and nothing else the assistant does needs them: claims, lookups, postings and lexical code search work on
the parsed code sets and the database alone. So `init --vectors background` leaves the embedding out and
`serve` starts a `BackgroundIndexer` beside the web server. It works through its steps in order, one at a
time, in one daemon thread:

1. ``knowledge``: the shipped playbooks, policies and code-set guidance. Policy search has no lexical
   fallback (its BM25 side is read back from the vector store, so a passage is searchable only once it is
   embedded), so this smaller part goes first; while it runs, a knowledge search adds a note that the
   index is still being built (``KnowledgeBase.index_state``).
2. ``codes``: the code-description vectors. Code search ranks lexically until the vector file is whole
   (``CodeSets.vector_index`` loads only a finished, consistent pair of files), then semantic ranking joins.

Each step is the same idempotent build `init` runs, keyed by the same digests (a knowledge document's
content hash, the code-set key and the digest of the embedded texts): a step whose output is current
does no work, and a step stopped half-way (the server killed) continues from its last checkpoint.
Progress goes into an `IndexingStatus`, which the health route reads (`/api/health` ``indexing``) and the
chat page shows as a banner until every step is ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from knowledge.progress import Progress

log = logging.getLogger("billing_assistant.indexing")

PartState = Literal["pending", "building", "ready", "failed", "off"]


@dataclass(frozen=True, slots=True)
class PartStatus:
    """One step's progress: ``done`` of ``total`` units (passages, code descriptions; 0 while unknown)."""

    state: PartState = "pending"
    done: int = 0
    total: int = 0
    step: str | None = None  # what the step is doing now ("embedding code descriptions")
    message: str | None = None  # why it failed
    seconds: float | None = None  # how long it took, once ready


class IndexingStatus:
    """The progress of every step, written by the indexer thread and read by request threads."""

    def __init__(self, parts: Sequence[str], *, initial: Mapping[str, PartStatus] | None = None) -> None:
        self._lock = threading.Lock()
        self._parts: dict[str, PartStatus] = {name: PartStatus() for name in parts}
        self._parts.update(initial or {})

    def snapshot(self) -> dict[str, PartStatus]:
        with self._lock:
            return dict(self._parts)

    def get(self, part: str) -> PartStatus:
        with self._lock:
            return self._parts[part]

    @property
    def ready(self) -> bool:
        """Whether nothing is left to build (a failed step counts: it will not become ready by waiting)."""
        return all(p.state in ("ready", "off", "failed") for p in self.snapshot().values())

    def update(self, part: str, **changes: Any) -> None:
        with self._lock:
            self._parts[part] = replace(self._parts[part], **changes)

    def progress(self, part: str) -> Progress:
        """A ``progress(what, done, total)`` callable for the data layer's builds, reporting into ``part``."""

        def report(what: str, done: int, total: int) -> None:
            self.update(part, step=what, done=done, total=total)

        return report


@dataclass(frozen=True, slots=True)
class IndexStep:
    """One build: ``run(progress)`` does it (idempotently) and returns a short summary for the log."""

    name: str
    run: Callable[[Progress], object]


class BackgroundIndexer:
    """Runs its steps in order in one daemon thread (``start``), or in the caller's thread (``run``).

    A step that raises is marked failed with its message and logged; the next step still runs. Nothing
    happens in the constructor: the thread starts with ``start``, so building an app starts no work.
    """

    def __init__(self, steps: Sequence[IndexStep], *, status: IndexingStatus | None = None) -> None:
        self.steps = list(steps)
        self.status = status or IndexingStatus([s.name for s in self.steps])
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> threading.Thread:
        """Start the thread (once; a second call returns the running one)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self.run, name="background-indexer", daemon=True)
                self._thread.start()
            return self._thread

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; whether it has finished."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def run(self) -> None:
        for step in self.steps:
            if self.status.get(step.name).state in ("ready", "off"):
                continue
            started = time.perf_counter()
            self.status.update(step.name, state="building", message=None)
            try:
                summary = step.run(self.status.progress(step.name))
            except Exception as exc:
                log.warning("background indexing of %s failed", step.name, exc_info=True)
                self.status.update(step.name, state="failed", message=f"{type(exc).__name__}: {exc}")
                continue
            seconds = round(time.perf_counter() - started, 1)
            current = self.status.get(step.name)
            self.status.update(step.name, state="ready", done=max(current.done, current.total), seconds=seconds)
            log.info("background indexing of %s done in %s s (%s)", step.name, seconds, summary)


#: Texts per call of the embedder in a background build. The embedder holds one lock per call, and the
#: server's own embeddings (a chat message for the router, a policy question) wait for it: 64 short code
#: descriptions take a fraction of a second, where init's 512 hold it for seconds on two busy cores.
BACKGROUND_BATCH = 64


def shipped_indexer(
    *,
    cache_dir: Path,
    codesets: Callable[[], Any] | None,
    knowledge_base: Callable[[], Any] | None,
    knowledge: bool = True,
    code_vectors: bool = True,
    encoder: Any = None,
) -> BackgroundIndexer:
    """The indexer `serve` runs: the shipped knowledge first, then the code vectors.

    ``codesets`` and ``knowledge_base`` are the server's own providers, so the vectors are built into the
    objects its searches read: the knowledge base lets searches see passages as they are stored, and the
    code sets load their vectors the moment the file is whole. A part left out (``knowledge=False``, or
    no provider) is reported as "off". ``encoder`` embeds the code descriptions (default: the shared
    embedder of the packaged model, which the server's queries use too).
    """
    from knowledge.codesets.store import build_vectors, vectors_checkpointed
    from knowledge.documents.knowledge_base import build_shipped_index

    steps: list[IndexStep] = []
    initial: dict[str, PartStatus] = {}

    def index_knowledge(progress: Progress) -> object:
        assert knowledge_base is not None
        kb = knowledge_base()
        loaded = codesets() if codesets is not None else None
        report = build_shipped_index(kb, codesets=loaded, cache_dir=None if loaded else cache_dir, progress=progress)
        return f"{report.chunks_written} passages written, {len(report.unchanged)} documents unchanged"

    def embed_codes(progress: Progress) -> object:
        assert codesets is not None
        loaded = codesets()
        resumed = vectors_checkpointed(cache_dir, loaded)
        count = build_vectors(cache_dir, loaded, progress=progress, batch=BACKGROUND_BATCH, encoder=encoder)
        return f"{count} code descriptions, {resumed} of them from an earlier run's checkpoints"

    if knowledge and knowledge_base is not None:
        steps.append(IndexStep("knowledge", index_knowledge))
    else:
        initial["knowledge"] = PartStatus(state="off")
    if code_vectors and codesets is not None:
        steps.append(IndexStep("codes", embed_codes))
    else:
        initial["codes"] = PartStatus(state="off")
    status = IndexingStatus(["knowledge", "codes"], initial=initial)
    return BackgroundIndexer(steps, status=status)
