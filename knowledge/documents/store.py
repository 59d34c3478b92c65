"""The vector store: Chroma through langchain-chroma, embedded in HOME or on a Chroma server.

Always built with our embedder: Chroma's default embedding function downloads a model, which this
product must never do at run time. Chunk metadata is flat (Chroma stores scalars only): the section path
is joined with " > ", dates are ISO strings plus integer YYYYMMDD keys that ``where`` filters compare,
and ``practice_id`` is the practice a practice's own document belongs to (0: shared by every practice).

An embedded store is one folder that two processes may open: the web server, and a `knowledge add` run
next to it. Chroma's embedded client keeps the vector index in memory and never sees what another
process wrote, so a filtered query then names ids its index lacks ("Error finding id"). The store is
therefore reopened when the knowledge base sees another process's change, and a query that meets a
stale index reopens it and runs again. In one process every handle on a folder shares one client.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from knowledge.documents.models import OPEN_END, OPEN_START, SHARED, UNASSIGNED, Chunk, DocumentMeta, date_key
from knowledge.embeddings import Embedder
from knowledge.errors import ServiceUnavailable

log = logging.getLogger("billing_assistant.knowledge")

COLLECTION = "billing_knowledge"
SECTION_SEPARATOR = " > "
_BATCH = 64


def payer_key(name: str | None) -> str:
    """A payer name folded for comparison: "Blue Cross Blue Shield" -> "blue cross blue shield"."""
    return " ".join((name or "").lower().replace("-", " ").split())


def chunk_metadata(chunk: Chunk) -> dict[str, str | int | bool]:
    doc = chunk.doc
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "source": doc.source,
        "kind": doc.kind,
        "content_hash": doc.content_hash,
        "payer": doc.payer or "",
        "payer_key": payer_key(doc.payer),
        "payer_id": doc.payer_id or "",
        "topic": doc.topic or "",
        "effective_from": doc.effective_from.isoformat() if doc.effective_from else "",
        "effective_to": doc.effective_to.isoformat() if doc.effective_to else "",
        "from_key": date_key(doc.effective_from, default=OPEN_START),
        "to_key": date_key(doc.effective_to, default=OPEN_END),
        "url": doc.url or "",
        "sample": doc.sample,
        "codes": " ".join(doc.codes),
        "aliases": "|".join(doc.aliases),
        "section": SECTION_SEPARATOR.join(chunk.section_path),
        "page": chunk.page if chunk.page is not None else -1,
        "practice_id": SHARED if doc.practice_id is None else doc.practice_id,
    }


def practice_where(practice_id: int | None) -> dict[str, Any]:
    """The Chroma filter of what a practice may read: every shipped document (playbooks, policies,
    guidance), shared practice documents, and its own. ``None``: shared documents only. A practice
    document stored before documents carried their practice has no ``practice_id`` and matches nothing."""
    owners = [SHARED] if practice_id is None else [SHARED, practice_id]
    return {"$or": [{"kind": {"$ne": "practice"}}, {"practice_id": {"$in": owners}}]}


def _practice_of(metadata: dict[str, Any]) -> int | None:
    value = metadata.get("practice_id")
    if value is None:
        return UNASSIGNED if metadata.get("kind") == "practice" else None
    return None if int(value) == SHARED else int(value)


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def meta_from_metadata(metadata: dict[str, Any]) -> DocumentMeta:
    """The document part of a stored chunk's metadata."""
    return DocumentMeta(
        doc_id=str(metadata["doc_id"]),
        title=str(metadata.get("title", "")),
        source=str(metadata.get("source", "")),
        kind=str(metadata.get("kind", "")),
        content_hash=str(metadata.get("content_hash", "")),
        payer=str(metadata.get("payer") or "") or None,
        payer_id=str(metadata.get("payer_id") or "") or None,
        topic=str(metadata.get("topic") or "") or None,
        effective_from=_date(metadata.get("effective_from")),
        effective_to=_date(metadata.get("effective_to")),
        url=str(metadata.get("url") or "") or None,
        sample=bool(metadata.get("sample", False)),
        codes=tuple(str(metadata.get("codes") or "").split()),
        aliases=tuple(a for a in str(metadata.get("aliases") or "").split("|") if a),
        practice_id=_practice_of(metadata),
    )


def chunk_from_stored(passage_id: str, stored_text: str, metadata: dict[str, Any]) -> Chunk:
    """A chunk rebuilt from Chroma: the stored text is ``Chunk.embedding_text``, so drop its heading lines."""
    doc = meta_from_metadata(metadata)
    header_lines = 1 + bool(doc.payer) + bool(doc.codes)
    section = str(metadata.get("section") or "")
    page = int(metadata.get("page", -1))
    return Chunk(
        passage_id=passage_id,
        doc=doc,
        section_path=tuple(section.split(SECTION_SEPARATOR)) if section else (),
        text="\n".join(stored_text.split("\n")[header_lines:]),
        page=page if page >= 0 else None,
    )


def _is_stale_index(error: Exception) -> bool:
    """Chroma's embedded index lacks ids another process stored (its message is all there is to go on)."""
    return "Error finding id" in str(error)


class _EmbeddedClients:
    """One Chroma `PersistentClient` per folder in this process, and a way to open it afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[int, Any]] = {}

    def get(self, path: str, settings: Any) -> tuple[int, Any]:
        """(generation, client) of the folder, opening it on first use."""
        import chromadb

        with self._lock:
            if path not in self._open:
                self._open[path] = (0, chromadb.PersistentClient(path=path, settings=settings))
            return self._open[path]

    def reopen(self, path: str, settings: Any, seen: int) -> tuple[int, Any]:
        """A fresh client, unless someone reopened the folder since generation ``seen``."""
        import chromadb

        with self._lock:
            generation, client = self._open[path]
            if generation == seen:
                client.close()  # the last client of the folder: Chroma drops its in-memory index
                generation, client = generation + 1, chromadb.PersistentClient(path=path, settings=settings)
                self._open[path] = (generation, client)
            return generation, client


_EMBEDDED = _EmbeddedClients()


class VectorStore:
    """One Chroma collection of chunks; embedded at ``persist_directory`` or on the server at ``chroma_url``."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        persist_directory: Path | None = None,
        chroma_url: str | None = None,
        collection: str = COLLECTION,
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.embedder = embedder
        self._collection_name = collection
        self._client_settings = ChromaSettings(anonymized_telemetry=False)
        self._embedded: str | None = None
        self._generation = 0
        # Operations and a reopen never overlap: a thread never queries a client being closed.
        self._lock = threading.RLock()
        try:
            if chroma_url:
                url = urlparse(chroma_url)
                client: Any = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=self._client_settings,
                )
                self.location = chroma_url
            else:
                if persist_directory is None:
                    raise ValueError("either persist_directory or chroma_url is needed")
                persist_directory.mkdir(parents=True, exist_ok=True)
                self._embedded = str(persist_directory.resolve())
                self._generation, client = _EMBEDDED.get(self._embedded, self._client_settings)
                self.location = str(persist_directory)
            self._chroma = self._wrap(client)
        except ValueError:
            raise
        except Exception as exc:
            raise ServiceUnavailable(
                f"The vector store at {chroma_url or persist_directory} cannot be opened ({type(exc).__name__}: {exc})"
            ) from None

    def _wrap(self, client: Any) -> Any:
        from langchain_chroma import Chroma

        return Chroma(
            collection_name=self._collection_name,
            embedding_function=self.embedder,  # type: ignore[arg-type]  # duck-typed LangChain Embeddings
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )

    def reopen(self) -> None:
        """Open the embedded store afresh, to see what another process wrote (a server needs nothing)."""
        if self._embedded is None:
            return
        with self._lock:
            generation, client = _EMBEDDED.get(self._embedded, self._client_settings)
            if generation == self._generation:
                generation, client = _EMBEDDED.reopen(self._embedded, self._client_settings, generation)
            self._generation = generation
            self._chroma = self._wrap(client)

    def _current(self) -> Any:
        """The collection, on the folder's newest client (another handle in this process may have reopened it)."""
        if self._embedded is not None:
            generation, client = _EMBEDDED.get(self._embedded, self._client_settings)
            if generation != self._generation:
                self._generation = generation
                self._chroma = self._wrap(client)
        return self._chroma

    def add(self, chunks: Sequence[Chunk], *, on_batch: Callable[[int], None] | None = None) -> None:
        """Embed and store chunks, a batch at a time (``on_batch`` gets the size of each stored batch).

        A batch is embedded before the store's lock is taken, and written under it (what LangChain's
        ``add_texts`` does, an upsert, minus holding the lock while the model runs): a search beside the
        server's background build then waits for one write, not for the embedding of 64 passages."""
        for start in range(0, len(chunks), _BATCH):
            batch = chunks[start : start + _BATCH]
            texts = [c.embedding_text for c in batch]
            vectors = self.embedder.embed_documents(texts)
            with self._lock:
                self._current()._collection.upsert(
                    ids=[c.passage_id for c in batch],
                    embeddings=vectors,
                    metadatas=[chunk_metadata(c) for c in batch],
                    documents=texts,
                )
            if on_batch is not None:
                on_batch(len(batch))

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Rewrite the metadata of stored chunks without embedding them again."""
        for start in range(0, len(chunks), 1000):
            batch = chunks[start : start + 1000]
            with self._lock:
                self._current()._collection.update(
                    ids=[c.passage_id for c in batch], metadatas=[chunk_metadata(c) for c in batch]
                )

    def delete(self, passage_ids: Sequence[str]) -> None:
        for start in range(0, len(passage_ids), 1000):
            with self._lock:
                self._current().delete(ids=list(passage_ids[start : start + 1000]))

    def query(self, question: str, *, k: int, where: dict[str, Any] | None) -> list[tuple[str, float]]:
        """(passage id, cosine distance) of the k nearest chunks that pass the filter."""
        vector = self.embedder.embed_query(question)
        for attempt in (1, 2):
            try:
                with self._lock:
                    hits = self._current().similarity_search_by_vector_with_relevance_scores(vector, k=k, filter=where)
                break
            except Exception as exc:
                if attempt == 2 or self._embedded is None or not _is_stale_index(exc):
                    raise
                log.info("the embedded vector store changed in another process; reopening it")
                self.reopen()
        return [(str(doc.id), float(distance)) for doc, distance in hits]

    def get(self, passage_ids: Sequence[str] | None = None) -> list[Chunk]:
        """Stored chunks by id (all of them when no ids are given), with their original text."""
        with self._lock:
            result = self._current().get(
                ids=list(passage_ids) if passage_ids is not None else None, include=["documents", "metadatas"]
            )
        chunks = []
        for pid, text, metadata in zip(result["ids"], result["documents"], result["metadatas"], strict=True):
            chunks.append(chunk_from_stored(pid, text, metadata))
        return chunks

    def metadatas(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            result = self._current().get(include=["metadatas"])
        return list(zip(result["ids"], result["metadatas"], strict=True))

    def count(self) -> int:
        with self._lock:
            return int(self._current()._collection.count())
