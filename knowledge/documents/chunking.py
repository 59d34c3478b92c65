"""Heading-aware chunking: a chunk never crosses a section boundary and keeps its section path.

Sections longer than ``max_chars`` are split on paragraph, then sentence boundaries. The embedding model
(all-MiniLM-L6-v2) reads at most 256 word pieces, roughly 1,000 characters of English, so chunks stay
under that. Passage ids (``playbooks.carc-29.3f69c92697fd``: the document id made URL-safe, then a hash of
everything embedded) survive re-ingesting an unchanged document, which lets the web chat link to a passage.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from knowledge.documents.models import Chunk, DocumentMeta, Section

#: Bump when chunking changes, so every document's content hash changes and the index is rebuilt.
CHUNKER_VERSION = "3"
MAX_CHARS = 900

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def _pieces(text: str, max_chars: int) -> Iterator[str]:
    """Paragraphs (or sentences of a long paragraph) no longer than max_chars."""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > max_chars:  # a run-on without punctuation: cut at a space
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > max_chars // 2 else max_chars
                yield sentence[:cut].strip()
                sentence = sentence[cut:].strip()
            if sentence:
                yield sentence


def split_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Greedily pack paragraphs into chunks of at most max_chars."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in _pieces(text, max_chars):
        if current and size + len(piece) + 2 > max_chars:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(piece)
        size += len(piece) + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def passage_id(doc: DocumentMeta, section_path: Iterable[str], text: str) -> str:
    """Hash of everything that goes into the embedded text: the same id means the same vector."""
    parts = (doc.doc_id, doc.title, doc.payer or "", " ".join(doc.codes), " > ".join(section_path), text)
    digest = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()
    # Only URL-safe characters: the web chat opens a passage at /passages/{passage_id}.
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '.', doc.doc_id)}.{digest[:12]}"


def chunk_sections(doc: DocumentMeta, sections: Iterable[Section], max_chars: int = MAX_CHARS) -> list[Chunk]:
    """The chunks of one document, in reading order, with unique stable ids."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in sections:
        for text in split_text(section.text, max_chars):
            pid = passage_id(doc, section.path, text)
            n = 1
            while pid in seen:  # the same sentence twice under one heading
                n += 1
                pid = passage_id(doc, section.path, f"{text}\x00{n}")
            seen.add(pid)
            chunks.append(Chunk(passage_id=pid, doc=doc, section_path=section.path, text=text, page=section.page))
    return chunks
