"""Turning files and code-set guidance into indexed documents, incrementally.

A small manifest (JSON in HOME) records, per document, its content hash and chunk ids. Adding a file
whose hash is unchanged does nothing; a changed file's new chunks are written first and its old chunks
removed after, so a failure half-way never leaves the document missing. Every file of a request is read
and chunked before anything is written: one bad file stops the request with the index untouched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.documents.chunking import CHUNKER_VERSION, chunk_sections
from knowledge.documents.loaders import SUPPORTED_SUFFIXES, load_document
from knowledge.documents.models import SHARED, UNASSIGNED, Chunk, DocumentInfo, DocumentMeta, Section
from knowledge.errors import FileFormatError, InvalidInput, NotFound

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PLAYBOOK_DIR = DATA_DIR / "playbooks"
POLICY_DIR = DATA_DIR / "policies"
SHIPPED_KINDS = frozenset({"playbook", "policy", "guidance"})


@dataclass
class PreparedDocument:
    """A document read and chunked, not yet written."""

    meta: DocumentMeta
    chunks: list[Chunk]


def content_hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256(CHUNKER_VERSION.encode())
    for part in parts:
        digest.update(b"\x1f")
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "document"


def parse_date(value: Any, *, field: str, source: str) -> dt.date | None:
    """A front-matter or flag date: a date, an ISO string, or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise FileFormatError(f"{field} must be a date YYYY-MM-DD (got {value!r})", path=source) from None


def _str_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int):
        return tuple(str(value).replace(",", " ").split())
    return tuple(str(v) for v in value)


# --- manifest -------------------------------------------------------------------------------------------


class Manifest:
    """doc_id -> the document's metadata, chunk ids, source key and payer aliases; saved as JSON."""

    def __init__(self, path: Path, documents: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.documents: dict[str, dict[str, Any]] = documents or {}

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(path, dict(data.get("documents", {})))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "documents": self.documents}, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, self.path)

    def record(self, prepared: PreparedDocument, source_key: str) -> None:
        """Note a written document (its metadata and chunk ids)."""
        meta = prepared.meta
        self.documents[meta.doc_id] = {
            "title": meta.title,
            "source": meta.source,
            "source_key": source_key,
            "kind": meta.kind,
            "content_hash": meta.content_hash,
            "payer": meta.payer,
            "payer_id": meta.payer_id,
            "aliases": list(meta.aliases),
            "topic": meta.topic,
            "effective_from": meta.effective_from.isoformat() if meta.effective_from else None,
            "effective_to": meta.effective_to.isoformat() if meta.effective_to else None,
            "sample": meta.sample,
            "practice_id": meta.practice_id,
            "chunk_ids": [c.passage_id for c in prepared.chunks],
        }

    def doc_for_source(self, source_key: str, *, practice_id: int | None = None) -> str | None:
        """The document added from ``source_key`` for the practice (or shared), or else one added before
        documents carried their practice, which the practice then takes over."""
        found = None
        for doc_id, entry in self.documents.items():
            if entry.get("source_key") != source_key:
                continue
            owner = entry_practice(entry)
            if owner == practice_id:
                return doc_id
            if owner == UNASSIGNED:
                found = doc_id
        return found

    def info(self, doc_id: str) -> DocumentInfo:
        entry = self.documents[doc_id]
        return DocumentInfo(
            doc_id=doc_id,
            title=entry["title"],
            source=entry["source"],
            kind=entry["kind"],
            chunks=len(entry["chunk_ids"]),
            content_hash=entry["content_hash"],
            payer=entry.get("payer"),
            payer_id=entry.get("payer_id"),
            topic=entry.get("topic"),
            effective_from=entry.get("effective_from"),
            effective_to=entry.get("effective_to"),
            sample=bool(entry.get("sample")),
            practice_id=entry_practice(entry),
        )


def entry_practice(entry: Mapping[str, Any]) -> int | None:
    """The practice a manifest entry belongs to: None for shared documents, `UNASSIGNED` for a practice
    document recorded before documents carried their practice."""
    if "practice_id" in entry:
        value = entry["practice_id"]
        return None if value is None else int(value)
    return UNASSIGNED if entry.get("kind") == "practice" else None


def entry_visible_to(entry: Mapping[str, Any], practice_id: int | None) -> bool:
    """`DocumentMeta.visible_to` for a manifest entry."""
    owner = entry_practice(entry)
    return entry.get("kind") != "practice" or owner is None or owner == practice_id


def manifest_from_metadatas(path: Path, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Manifest:
    """Rebuild a manifest from the chunks' own metadata (a new HOME pointed at an existing server)."""
    manifest = Manifest(path)
    for passage_id, md in rows:
        entry = manifest.documents.setdefault(
            str(md["doc_id"]),
            {
                "title": md.get("title", ""),
                "source": md.get("source", ""),
                "source_key": md.get("source", ""),
                "kind": md.get("kind", ""),
                "content_hash": md.get("content_hash", ""),
                "payer": md.get("payer") or None,
                "payer_id": md.get("payer_id") or None,
                "aliases": [a for a in str(md.get("aliases") or "").split("|") if a],
                "topic": md.get("topic") or None,
                "effective_from": md.get("effective_from") or None,
                "effective_to": md.get("effective_to") or None,
                "sample": bool(md.get("sample")),
                "chunk_ids": [],
            },
        )
        if "practice_id" in md:
            entry["practice_id"] = None if int(md["practice_id"]) == SHARED else int(md["practice_id"])
        entry["chunk_ids"].append(passage_id)
    return manifest


# --- preparing documents ----------------------------------------------------------------------------------


def prepare_file(
    path: Path,
    *,
    doc_id: str,
    kind: str,
    source: str,
    overrides: Mapping[str, Any] | None = None,
    raw_hash: str | None = None,
    practice_id: int | None = None,
) -> PreparedDocument:
    """Read and chunk one file; flag values in ``overrides`` win over its front matter."""
    loaded = load_document(path)
    fields: dict[str, Any] = dict(loaded.metadata)
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    where = str(path)
    codes = _str_list(fields.get("carc")) + _str_list(fields.get("rarc")) + _str_list(fields.get("codes"))
    meta = DocumentMeta(
        doc_id=str(fields.get("doc_id") or doc_id),
        title=str(fields.get("title") or loaded.title),
        source=source,
        kind=kind,
        content_hash=raw_hash
        or content_hash(path.read_bytes(), json.dumps(overrides or {}, sort_keys=True, default=str)),
        payer=str(fields["payer"]) if fields.get("payer") else None,
        payer_id=str(fields["payer_id"]) if fields.get("payer_id") else None,
        topic=str(fields["topic"]) if fields.get("topic") else None,
        effective_from=parse_date(fields.get("effective_from"), field="effective_from", source=where),
        effective_to=parse_date(fields.get("effective_to"), field="effective_to", source=where),
        url=str(fields.get("source_url") or fields.get("url") or "") or None,
        sample=bool(fields.get("sample", False)),
        codes=codes,
        aliases=_str_list(fields.get("aliases")),
        practice_id=practice_id,
    )
    if meta.effective_from and meta.effective_to and meta.effective_to < meta.effective_from:
        raise FileFormatError("effective_to is before effective_from", path=where)
    return PreparedDocument(meta=meta, chunks=chunk_sections(meta, loaded.sections))


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files named, and supported files found under folders named (hidden files skipped), in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise NotFound(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise InvalidInput(f"no supported files found in {', '.join(map(str, paths))}")
    return unique


def shipped_markdown() -> Iterator[tuple[Path, str, str]]:
    """(file, doc id, kind) of every shipped playbook and policy."""
    for folder, kind in ((PLAYBOOK_DIR, "playbook"), (POLICY_DIR, "policy")):
        for path in sorted(folder.glob("*.md")):
            yield path, f"{folder.name}/{path.stem}", kind


def guidance_documents(passages: Iterable[Any]) -> list[PreparedDocument]:
    """Code-set guidance passages (``knowledge.codesets.guidance.GuidancePassage``), one document per doc id."""
    grouped: dict[str, list[Any]] = {}
    for passage in passages:
        grouped.setdefault(str(passage.doc_id), []).append(passage)
    prepared = []
    for doc_id, passages in grouped.items():
        first = passages[0]
        digest = content_hash(
            *(f"{p.title}|{'>'.join(p.section_path)}|{p.text}|{p.url}|{' '.join(p.codes)}" for p in passages)
        )
        codes = tuple(dict.fromkeys(c for p in passages for c in p.codes))
        meta = DocumentMeta(
            doc_id=doc_id,
            title=str(first.title),
            source=str(first.source),
            kind="guidance",
            content_hash=digest,
            url=first.url or None,
            codes=codes[:40],  # the codes line goes into every chunk's embedded text: keep it short
        )
        sections = [Section(path=tuple(p.section_path), text=str(p.text)) for p in passages]
        prepared.append(PreparedDocument(meta=meta, chunks=chunk_sections(meta, sections)))
    return prepared
