"""The values the knowledge base hands out: sections, chunks, passages with citations, reports.

Passages and reports are pydantic models because they travel as tool results (JSON for the CLI and the
API, text for the model); sections and chunks stay plain dataclasses inside the package.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, computed_field

#: A date far enough in the future to mean "no end date" in integer date filters.
OPEN_END = 99991231
OPEN_START = 0

#: ``practice_id`` stored on the chunks of a document every practice may read (Chroma stores no None).
SHARED = 0
#: The practice of a practice document stored before documents carried one: no practice reads it until
#: it is added again with its practice.
UNASSIGNED = -1


def date_key(value: dt.date | None, *, default: int) -> int:
    """A date as an integer YYYYMMDD, which Chroma can compare with $lte / $gte."""
    return default if value is None else value.year * 10000 + value.month * 100 + value.day


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path, as a loader found it."""

    path: tuple[str, ...]
    text: str
    page: int | None = None


@dataclass
class LoadedDocument:
    """A file read into sections, with the front matter (or other metadata) it carried."""

    title: str
    sections: list[Section]
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentMeta:
    """What every chunk of one document shares; stored in the manifest and on each chunk."""

    doc_id: str
    title: str
    source: str
    kind: str  # "playbook", "policy", "guidance" or "practice"
    content_hash: str
    payer: str | None = None
    payer_id: str | None = None
    topic: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    url: str | None = None
    sample: bool = False
    codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    #: The practice whose own document this is; None: shared (every shipped document, and documents added
    #: for every practice).
    practice_id: int | None = None

    def visible_to(self, practice_id: int | None) -> bool:
        """Whether a person of ``practice_id`` may read the document (None: someone of no practice)."""
        return self.kind != "practice" or self.practice_id is None or self.practice_id == practice_id


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage: its text, where it sits in its document, and a stable id."""

    passage_id: str
    doc: DocumentMeta
    section_path: tuple[str, ...]
    text: str
    page: int | None = None

    @property
    def embedding_text(self) -> str:
        """What is embedded and indexed: the title and section path give a short passage its context."""
        heading = " > ".join((self.doc.title, *self.section_path))
        codes = f"\nCodes: {' '.join(self.doc.codes)}" if self.doc.codes else ""
        payer = f"\nPayer: {self.doc.payer}" if self.doc.payer else ""
        return f"{heading}{payer}{codes}\n{self.text}"


class Passage(BaseModel):
    """A passage that answers a question, with everything needed to cite and open it."""

    passage_id: str = Field(description="Stable id; open the passage again with get_passage(passage_id).")
    doc_id: str = Field(description="Id of the document the passage comes from.")
    title: str = Field(description="Title of the document.")
    section_path: list[str] = Field(description="Headings from the document's top down to this passage.")
    text: str = Field(description="The passage itself, quoted from the document.")
    payer: str | None = Field(default=None, description="The payer this policy applies to; None for general guidance.")
    payer_id: str | None = None
    topic: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    page: int | None = Field(default=None, description="Page number in the source file (PDF), if known.")
    url: str | None = Field(default=None, description="Public address of the source, if it has one.")
    source: str = Field(description="Where the document came from: a shipped file or the path that was added.")
    sample: bool = Field(default=False, description="True for sample policies written for the demo.")
    score: float = 0.0
    in_force: bool | None = Field(
        default=None, description="Whether the policy is in force on the date asked about (None: no date given)."
    )
    note: str | None = Field(default=None, description="A caveat, e.g. that only a superseded version was found.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def citation(self) -> str:
        """A one-line citation: title, section, payer, effective dates, page, source."""
        parts = [self.title]
        if self.section_path:
            parts.append(" > ".join(self.section_path))
        if self.payer:
            parts.append(self.payer)
        if self.effective_from or self.effective_to:
            start = self.effective_from.isoformat() if self.effective_from else "…"
            end = self.effective_to.isoformat() if self.effective_to else "present"
            parts.append(f"effective {start} to {end}")
        if self.page is not None:
            parts.append(f"p. {self.page}")
        parts.append(self.url or self.source)
        return " | ".join(parts)


class DocumentInfo(BaseModel):
    """One document in the index, as `knowledge list` shows it."""

    doc_id: str
    title: str
    source: str
    kind: str
    chunks: int
    content_hash: str
    payer: str | None = None
    payer_id: str | None = None
    topic: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    sample: bool = False
    practice_id: int | None = Field(default=None, description="The practice it belongs to; None: shared.")


class IngestReport(BaseModel):
    """What an ingest did: documents added, replaced, unchanged or removed, and how fast."""

    added: list[str] = Field(default_factory=list, description="Doc ids indexed for the first time.")
    replaced: list[str] = Field(default_factory=list, description="Doc ids whose changed content was re-indexed.")
    unchanged: list[str] = Field(default_factory=list, description="Doc ids skipped because nothing changed.")
    removed: list[str] = Field(default_factory=list, description="Doc ids taken out of the index.")
    chunks_written: int = 0
    seconds: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def chunks_per_second(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0

    def merge(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            added=self.added + other.added,
            replaced=self.replaced + other.replaced,
            unchanged=self.unchanged + other.unchanged,
            removed=self.removed + other.removed,
            chunks_written=self.chunks_written + other.chunks_written,
            seconds=self.seconds + other.seconds,
        )


class KnowledgeResults(BaseModel):
    """The answer to a knowledge search: passages with citations, and notes on how filters applied."""

    question: str
    payer: str | None = Field(default=None, description="The payer the search was limited to, if any.")
    date_of_service: dt.date | None = Field(default=None, description="Policies shown are those in force on this date.")
    passages: list[Passage] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="How filters applied, e.g. an unknown payer.")
