"""The knowledge base: one object that ingests, lists, removes and searches documents.

Construction touches nothing: the vector store opens, and the embedding model loads, on first use. A
rebuild of the shipped sources that finds every content hash unchanged never loads the model.

Practice scoping is enforced here: a document added with a ``practice_id`` is read (searched, opened,
listed) and removed only with that practice's id; shipped documents and documents added without one are
shared by every practice. Every read takes the reader's ``practice_id``; None reads shared documents only.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

from knowledge.documents.ingest import (
    SHIPPED_KINDS,
    Manifest,
    PreparedDocument,
    content_hash,
    entry_practice,
    entry_visible_to,
    expand_paths,
    guidance_documents,
    manifest_from_metadatas,
    prepare_file,
    shipped_markdown,
    slugify,
)
from knowledge.documents.models import (
    OPEN_END,
    OPEN_START,
    UNASSIGNED,
    Chunk,
    DocumentInfo,
    IngestReport,
    KnowledgeResults,
    Passage,
)
from knowledge.documents.retrieval import (
    HybridRetriever,
    PayerRecord,
    names_of,
    payer_records,
    payers_named_in,
    resolve_payer,
    to_passage,
    version_family,
)
from knowledge.documents.store import COLLECTION, VectorStore
from knowledge.embeddings import Embedder, get_embedder
from knowledge.errors import InvalidInput, NotFound
from knowledge.progress import Progress

#: Chunks embedded and stored per call; small documents are batched together up to this size.
STORE_BATCH = 64


@dataclass(frozen=True)
class IndexState:
    """How far the index is: "missing" (never written), "building" (a build started and has not
    finished: passages are missing) or "ready". ``done``/``total``: passages stored by the build so far."""

    state: Literal["missing", "building", "ready"]
    done: int = 0
    total: int = 0


class LazyEmbedder:
    """Loads the sentence-transformers model the first time something is embedded."""

    def __init__(self, model_path: str | None) -> None:
        self.model_path = model_path

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder(self.model_path)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        embedder = self.embedder
        if embedder.runtime == "numpy":  # no torch threads to hold: torch is not loaded
            return embedder.embed_query(text)
        # One short query gains nothing from a second thread, and on a busy two-core machine the
        # threads' hand-offs cost ten times the work itself (measured: 18 ms vs 700 ms under load).
        with single_torch_thread():
            return embedder.embed_query(text)


@contextmanager
def single_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class KnowledgeBase:
    """Coding guidance, denial playbooks, payer policies and the practice's own documents, searchable."""

    def __init__(self, home: Path, *, chroma_url: str | None = None, embedding_model: str | None = None) -> None:
        self.home = Path(home)
        self.chroma_url = chroma_url
        self.embedding_model = embedding_model
        # A different model makes vectors that cannot be compared: it gets its own collection.
        suffix = "" if embedding_model is None else "_" + hashlib.sha1(embedding_model.encode()).hexdigest()[:8]
        self.collection = COLLECTION + suffix
        # The manifest describes one collection in one store; an embedded store moves with HOME.
        tag = hashlib.sha1(f"{chroma_url or 'embedded'}|{self.collection}".encode()).hexdigest()[:10]
        self.manifest_path = self.home / "knowledge" / f"manifest-{tag}.json"
        # Present from the start of a build of the shipped sources to its end (also across a crash, so a
        # build stopped half-way is never taken for a whole index). Any process reads it.
        self.building_path = self.home / "knowledge" / f"building-{tag}.json"
        # The background indexer writes through the same object the server's searches read: the saved
        # manifest's stamp and the record of it being seen change together.
        self._manifest_lock = threading.Lock()
        # Values derived from the manifest (payers, version families in force per day), per version.
        self._derived: dict[object, object] = {}

    def is_built(self) -> bool:
        """Whether an index was written here (by `init`, `knowledge add`): its manifest exists."""
        return self.manifest_path.exists()

    def index_state(self) -> IndexState:
        """Whether the shipped sources are indexed whole, still being indexed, or not at all."""
        try:
            marker = json.loads(self.building_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return IndexState("ready") if self.is_built() or self.chroma_url else IndexState("missing")
        except (OSError, ValueError):  # caught mid-write: it is there, so a build is under way
            return IndexState("building")
        return IndexState("building", int(marker.get("done", 0)), int(marker.get("total", 0)))

    def _mark_building(self, done: int, total: int) -> None:
        self.building_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.building_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"done": done, "total": total}), encoding="utf-8")
        temporary.replace(self.building_path)

    # --- lazily opened parts -----------------------------------------------------------------------------

    @cached_property
    def store(self) -> VectorStore:
        return VectorStore(
            embedder=LazyEmbedder(self.embedding_model),  # type: ignore[arg-type]  # same duck type
            persist_directory=None if self.chroma_url else self.home / "chroma",
            chroma_url=self.chroma_url,
            collection=self.collection,
        )

    @cached_property
    def manifest(self) -> Manifest:
        manifest = Manifest.load(self.manifest_path)
        if manifest is None:
            manifest = manifest_from_metadatas(self.manifest_path, self.store.metadatas())
        return manifest

    def _save_manifest(self) -> None:
        with self._manifest_lock:
            self.manifest.save()
            self._derived.clear()
            self._manifest_seen = self._manifest_stamp()

    def _manifest_stamp(self) -> int:
        try:
            return self.manifest_path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self) -> None:
        """Pick up changes another process (a CLI `knowledge add` next to the web app) made to the index."""
        with self._manifest_lock:
            stamp = self._manifest_stamp()
            seen = getattr(self, "_manifest_seen", None)
            if stamp != seen:
                self.__dict__.pop("manifest", None)
                self._derived.clear()
                if seen is not None and "store" in self.__dict__:
                    self.store.reopen()  # an embedded store does not see another process's writes otherwise
                if "retriever" in self.__dict__:
                    self.retriever.invalidate()
                self._manifest_seen = stamp

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.store, families_in_force=self._families_in_force)

    def _families_in_force(self, day: int, practice_id: int | None) -> set[tuple[str, str]]:
        cached = self._derived.get(("families", day, practice_id))
        if cached is not None:
            return cast(set[tuple[str, str]], cached)
        families = set()
        # A copy: the background indexer may record documents meanwhile (list() of a dict is one C call).
        for doc_id, entry in list(self.manifest.documents.items()):
            if not entry_visible_to(entry, practice_id):  # another practice's version hides nothing here
                continue
            start = int(str(entry.get("effective_from") or "").replace("-", "") or OPEN_START)
            end = int(str(entry.get("effective_to") or "").replace("-", "") or OPEN_END)
            if start <= day <= end:
                families.add(version_family(entry.get("payer"), entry.get("topic"), doc_id))
        self._derived[("families", day, practice_id)] = families
        return families

    def _payers(self, practice_id: int | None = None) -> builtins.list[PayerRecord]:
        """The payers named by the documents the practice may read (computed once per manifest version)."""
        cached = self._derived.get(("payers", practice_id))
        if cached is None:
            documents = list(self.manifest.documents.items())
            visible = {d: e for d, e in documents if entry_visible_to(e, practice_id)}
            cached = self._derived[("payers", practice_id)] = payer_records(visible)
        return cast(builtins.list[PayerRecord], cached)

    # --- search ------------------------------------------------------------------------------------------

    def search(
        self,
        question: str,
        *,
        payer: str | None = None,
        on_date: dt.date | None = None,
        limit: int = 5,
        mode: str = "hybrid",
        practice_id: int | None = None,
    ) -> list[Passage]:
        """Passages that answer the question, best first, each with its citation fields.

        ``payer`` (a name, payer id or alias) keeps that payer's policies and the general documents; when
        no payer is given and the question names exactly one payer on file, that payer is used.
        ``on_date`` (the date of service; default today) keeps policies in force on that date.
        ``mode`` is "hybrid", or "lexical" / "dense" for the one-sided baselines of the eval.
        ``practice_id`` is the reader's practice: its own documents join the shared ones.
        """
        return self.search_results(
            question, payer=payer, on_date=on_date, limit=limit, mode=mode, practice_id=practice_id
        ).passages

    def search_results(
        self,
        question: str,
        *,
        payer: str | None = None,
        on_date: dt.date | None = None,
        limit: int = 5,
        mode: str = "hybrid",
        practice_id: int | None = None,
    ) -> KnowledgeResults:
        """Like ``search``, with the payer actually used and notes on how the filters applied."""
        if not question.strip():
            raise InvalidInput("The question is empty")
        self.refresh()
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1 (got {limit})")
        notes: list[str] = []
        records = self._payers(practice_id)
        keys: set[str] | None = None
        if payer:
            keys = resolve_payer(payer, records)
            if not keys:
                notes.append(
                    f"No policies on file for payer {payer!r}; showing general guidance only. "
                    f"Payers on file: {', '.join(sorted(r.name for r in records)) or 'none'}."
                )
        else:
            named = payers_named_in(question, records)
            if len(named) == 1:
                keys = named
                notes.append(f"Limited to {names_of(named, records)}, the payer named in the question.")
        passages = self.retriever.search(
            question, payer_keys=keys, on_date=on_date, limit=limit, mode=mode, practice_id=practice_id
        )
        state = self.index_state()
        if state.state == "building":
            stored = f" ({state.done:,} of {state.total:,} passages stored so far)" if state.total else ""
            notes.append(
                f"The knowledge index is still being built{stored}: passages may be missing from this answer; "
                "ask again in a few minutes."
            )
        elif state.state == "missing" and not passages:
            notes.append("The knowledge index has not been built yet: `billing-assistant init` or `serve` builds it.")
        if any(p.in_force is False for p in passages):
            notes.append(
                f"Some policies shown were not in force on {on_date or dt.date.today()} and no version in force "
                "on that date is on file; they are marked in_force=false."
            )
        return KnowledgeResults(
            question=question,
            payer=names_of(keys, records) if keys else None,
            date_of_service=on_date,
            passages=passages,
            notes=notes,
        )

    def payer_keys(self, payer: str, *, practice_id: int | None = None) -> set[str]:
        """The payers on file matching a name, payer id or alias (empty if none matches)."""
        return resolve_payer(payer, self._payers(practice_id))

    def known_payers(self, *, practice_id: int | None = None) -> list[str]:
        return sorted(record.name for record in self._payers(practice_id))

    def get_passage(self, passage_id: str, *, practice_id: int | None = None) -> Passage:
        """One passage by its stable id, for a citation link; another practice's passage is not found."""
        chunks = self.store.get([passage_id])
        if not chunks or not chunks[0].doc.visible_to(practice_id):
            raise NotFound(f"No passage {passage_id!r} in the knowledge base")
        return to_passage(chunks[0])

    # --- listing and removing --------------------------------------------------------------------------

    def list(self, *, kind: str | None = None, practice_id: int | None = None) -> list[DocumentInfo]:
        """The indexed documents the practice may read (or those of one kind: playbook, policy,
        guidance, practice)."""
        self.refresh()
        documents = dict(self.manifest.documents)
        infos = [self.manifest.info(d) for d in sorted(documents) if entry_visible_to(documents[d], practice_id)]
        return [i for i in infos if kind is None or i.kind == kind]

    def remove(self, targets: Sequence[str | Path], *, practice_id: int | None = None) -> IngestReport:
        """Remove documents by doc id or by the path they were added from: the practice's own documents,
        or with ``practice_id`` None the shared ones (and those added before documents had a practice)."""
        self.refresh()
        started = time.perf_counter()
        doc_ids = []
        owners = {practice_id} if practice_id is not None else {None, UNASSIGNED}
        for target in targets:
            text = str(target)
            entry = self.manifest.documents.get(text)
            if entry is not None and entry_practice(entry) in owners:
                doc_ids.append(text)
                continue
            source = str(Path(text).expanduser().resolve())
            by_source = self.manifest.doc_for_source(source, practice_id=practice_id)
            if by_source is not None and entry_practice(self.manifest.documents[by_source]) not in owners:
                by_source = None
            if by_source is None:
                raise NotFound(f"{text}: no document with this id or source path in the knowledge base")
            doc_ids.append(by_source)
        for doc_id in doc_ids:
            self._drop(doc_id)
        self.retriever.invalidate()
        return IngestReport(removed=doc_ids, seconds=time.perf_counter() - started)

    def _drop(self, doc_id: str) -> None:
        self.store.delete(self.manifest.documents[doc_id]["chunk_ids"])
        del self.manifest.documents[doc_id]
        self._save_manifest()

    # --- adding ----------------------------------------------------------------------------------------------

    def add(
        self,
        paths: Sequence[Path],
        *,
        payer: str | None = None,
        payer_id: str | None = None,
        effective_from: dt.date | None = None,
        effective_to: dt.date | None = None,
        progress: Progress | None = None,
        practice_id: int | None = None,
    ) -> IngestReport:
        """Index the practice's own files (PDF, DOCX, HTML, Markdown, text) or every such file in folders.

        ``practice_id``: the practice the documents belong to (only it reads them); None adds documents
        every practice reads. Flags win over front matter. Unchanged files are skipped; changed files
        replace their old chunks. Every file is read before anything is written, so one unreadable file
        leaves the index unchanged.
        """
        self.refresh()
        started = time.perf_counter()
        overrides: dict[str, Any] = {
            "payer": payer,
            "payer_id": payer_id,
            "effective_from": effective_from,
            "effective_to": effective_to,
        }
        flags = json.dumps({**overrides, "practice_id": practice_id}, sort_keys=True, default=str)
        report = IngestReport()
        pending: list[tuple[PreparedDocument, str]] = []
        taken: set[str] = set()
        for path in expand_paths(list(paths)):
            source_key = str(path)
            digest = content_hash(path.read_bytes(), flags)
            existing = self.manifest.doc_for_source(source_key, practice_id=practice_id)
            if existing and self.manifest.documents[existing]["content_hash"] == digest:
                report.unchanged.append(existing)
                continue
            doc_id = existing or self._new_doc_id(path, taken)
            taken.add(doc_id)
            prepared = prepare_file(
                path,
                doc_id=doc_id,
                kind="practice",
                source=source_key,
                overrides=overrides,
                raw_hash=digest,
                practice_id=practice_id,
            )
            self._check_doc_id(prepared, path, practice_id, taken if prepared.meta.doc_id != doc_id else set())
            taken.add(prepared.meta.doc_id)
            pending.append((prepared, source_key))
        written = self._write(pending, report, progress)
        report.chunks_written = written
        report.seconds = time.perf_counter() - started
        return report

    def _check_doc_id(self, prepared: PreparedDocument, path: Path, practice_id: int | None, taken: set[str]) -> None:
        """A `doc_id` in front matter may not name another owner's document (nor a shipped one): it would
        replace that document for everyone who reads it."""
        doc_id = prepared.meta.doc_id
        entry = self.manifest.documents.get(doc_id)
        foreign = entry is not None and (
            entry["kind"] != "practice" or entry_practice(entry) not in {practice_id, UNASSIGNED}
        )
        if doc_id in taken or foreign:
            raise InvalidInput(
                f"{path}: its doc_id {doc_id!r} names another document; remove the doc_id from its front matter"
            )

    def _new_doc_id(self, path: Path, taken: set[str]) -> str:
        base = f"practice/{slugify(path.stem)}"
        if base not in self.manifest.documents and base not in taken:
            return base
        return f"{base}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"

    def _write(
        self,
        pending: Sequence[tuple[PreparedDocument, str]],
        report: IngestReport,
        progress: Progress | None,
        on_save: Callable[[int, int], None] | None = None,
    ) -> int:
        """Store the chunks of prepared documents, batching small documents together for the embedder.

        A document is recorded in the manifest only once all its new chunks are stored; its chunks that
        no longer exist are deleted after that. A passage id hashes everything that is embedded, so a
        chunk whose id is already stored keeps its vector and only gets the document's new metadata.
        ``on_save(stored, total)`` runs after each save of the manifest (at most every few seconds).
        """
        total = sum(len(p.chunks) for p, _ in pending)
        if progress is not None:
            progress("Indexing", 0, total)
        written = 0
        stored = 0
        buffer: list[Chunk] = []
        waiting: list[tuple[PreparedDocument, str, set[str]]] = []
        last_save = time.monotonic()

        def advance(n: int) -> None:
            nonlocal stored
            stored += n
            if progress is not None:
                progress("Indexing", stored, total)

        def flush(*, final: bool) -> None:
            nonlocal written, last_save
            self.store.add(buffer, on_batch=advance)
            written += len(buffer)
            buffer.clear()
            for prepared, source_key, previous in waiting:
                doc_id = prepared.meta.doc_id
                kept = [c for c in prepared.chunks if c.passage_id in previous]
                self.store.update_metadata(kept)
                advance(len(kept))
                if doc_id in self.manifest.documents:
                    self.store.delete(sorted(previous - {c.passage_id for c in prepared.chunks}))
                    report.replaced.append(doc_id)
                else:
                    report.added.append(doc_id)
                self.manifest.record(prepared, source_key)
            waiting.clear()
            # Rewriting a large manifest after every small document would cost more than the embedding.
            if final or time.monotonic() - last_save > 5:
                self._save_manifest()
                last_save = time.monotonic()
                if on_save is not None:
                    on_save(stored, total)

        for prepared, source_key in pending:
            old = self.manifest.documents.get(prepared.meta.doc_id)
            previous = set(old["chunk_ids"]) if old is not None else set()
            buffer.extend(c for c in prepared.chunks if c.passage_id not in previous)
            waiting.append((prepared, source_key, previous))
            if len(buffer) >= STORE_BATCH:
                flush(final=False)
        if pending:
            flush(final=True)
            self.retriever.invalidate()
        return written

    # --- shipped sources ---------------------------------------------------------------------------------

    def build_shipped(
        self,
        *,
        codesets: Any = None,
        guidance: Iterable[Any] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index the shipped playbooks and policies, and code-set guidance passages when ``guidance`` (or
        ``codesets``, read through ``knowledge.codesets.guidance.iter_guidance_passages``) is given."""
        if guidance is None and codesets is not None:
            from knowledge.codesets.guidance import iter_guidance_passages

            guidance = iter_guidance_passages(codesets)
        self.refresh()
        started = time.perf_counter()
        report = IngestReport()
        pending: list[tuple[PreparedDocument, str]] = []
        wanted: set[str] = set()
        for path, doc_id, kind in shipped_markdown():
            wanted.add(doc_id)
            digest = content_hash(path.read_bytes())
            entry = self.manifest.documents.get(doc_id)
            if entry is not None and entry["content_hash"] == digest:
                report.unchanged.append(doc_id)
                continue
            source = f"knowledge/data/{path.parent.name}/{path.name}"
            pending.append((prepare_file(path, doc_id=doc_id, kind=kind, source=source, raw_hash=digest), source))
        if guidance is not None:
            pending.extend(self._changed_guidance(guidance, report, wanted))
        gone_kinds = SHIPPED_KINDS if guidance is not None else SHIPPED_KINDS - {"guidance"}
        for doc_id, entry in list(self.manifest.documents.items()):
            if entry["kind"] in gone_kinds and doc_id not in wanted:
                self._drop(doc_id)
                report.removed.append(doc_id)
        total = sum(len(prepared.chunks) for prepared, _ in pending)
        if total:
            # Removed only once every document is recorded; a build that stops leaves it, and the next
            # one (any process) continues from the documents the manifest already holds.
            self._mark_building(0, total)
        report.chunks_written = self._write(pending, report, progress, on_save=self._build_saved)
        if report.removed:
            self.retriever.invalidate()
        self.building_path.unlink(missing_ok=True)
        report.seconds = time.perf_counter() - started
        return report

    def _build_saved(self, stored: int, total: int) -> None:
        """Part of a build is recorded: say how far it is, and let searches see the passages stored so far."""
        self._mark_building(stored, total)
        if "retriever" in self.__dict__:
            self.retriever.invalidate()

    def add_guidance(self, passages: Iterable[Any], *, progress: Progress | None = None) -> IngestReport:
        """Index code-set guidance passages (``GuidancePassage``: doc_id, title, section_path, text,
        source, url, codes); documents whose passages are unchanged are skipped."""
        self.refresh()
        started = time.perf_counter()
        report = IngestReport()
        pending = self._changed_guidance(passages, report, set())
        report.chunks_written = self._write(pending, report, progress)
        report.seconds = time.perf_counter() - started
        return report

    def _changed_guidance(
        self, passages: Iterable[Any], report: IngestReport, wanted: set[str]
    ) -> builtins.list[tuple[PreparedDocument, str]]:
        pending = []
        for prepared in guidance_documents(passages):
            wanted.add(prepared.meta.doc_id)
            entry = self.manifest.documents.get(prepared.meta.doc_id)
            if entry is not None and entry["content_hash"] == prepared.meta.content_hash:
                report.unchanged.append(prepared.meta.doc_id)
            else:
                pending.append((prepared, prepared.meta.source))
        return pending


def load_guidance_codesets(cache_dir: Path) -> Any:
    """The code sets whose guidance passages are indexed (parsed once, then cached in ``cache_dir``)."""
    from knowledge.codesets import load_codesets

    return load_codesets(cache_dir)


def build_shipped_index(
    kb: KnowledgeBase, *, codesets: Any = None, cache_dir: Path | None = None, progress: Progress | None = None
) -> IngestReport:
    """For `billing-assistant init`: index everything shipped; nearly free when nothing changed.

    Code-set guidance is included when ``codesets`` is given, or loaded from ``cache_dir`` (the code-set
    cache, ``HOME/cache`` in the CLI). Without either, only playbooks and policies are indexed.
    """
    if codesets is None and cache_dir is not None:
        codesets = load_guidance_codesets(cache_dir)
    return kb.build_shipped(codesets=codesets, progress=progress)
