"""Hybrid search: BM25 and dense results fused by reciprocal rank, filtered by payer and date of service.

Payer: a question about one payer sees that payer's policies and the general documents (playbooks, code
guidance, the practice's own files without a payer), never another payer's policies. Date: a policy
not in force on the date of service is not cited as current. When a (payer, topic) has a version in
force on that date, older and newer versions are dropped; when only other versions exist, they are
returned marked ``in_force=False`` with a note saying so. Practice: a search for one practice sees the
shipped and shared documents and that practice's own, never another practice's (both sides filter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledge.documents.lexical import LexicalIndex
from knowledge.documents.models import OPEN_END, OPEN_START, Chunk, Passage, date_key
from knowledge.documents.store import VectorStore, payer_key, practice_where

RRF_K = 60
MAX_PER_DOCUMENT = 2
PAYER_BOOST = 0.5
GUIDANCE_CODE_BOOST = 0.5

#: Below this cosine similarity between a question and its nearest passage, nothing on file answers it.
#: Fitted on the retrieval eval (evals/retrieval/questions.jsonl, 218 questions that have an answer: 99.5%
#: have a nearest passage above 0.30; 1% are below 0.36) and on questions that have none (weather,
#: dosing, scheduling: most fall between 0.12 and 0.30). The retrieval eval reports both sides
#: (`relevance_floor`: answerable kept, unanswerable refused, from evals/retrieval/unanswerable.jsonl).
RELEVANCE_FLOOR = 0.30

# Codes named in a question: "CO-16", "PR 1", "CARC 29", "denial code 197", "N115", "MA130", "B7".
_GROUP_CODE = re.compile(r"\b(?:co|pr|oa|pi)[\s-]?([a-z]?\d{1,3})\b")
_NAMED_CODE = re.compile(
    r"\b(?:carc|rarc|reason(?: code)?|remark(?: code)?|denial(?: code)?|code)s?\s*#?\s*([a-z]{0,2}\d{1,3})\b"
)
_RARC = re.compile(r"\b(ma\d{1,3}|m\d{1,3}|n\d{1,3})\b")


def codes_in(question: str) -> set[str]:
    text = question.lower()
    found = {m.group(1) for m in _GROUP_CODE.finditer(text)}
    found |= {m.group(1) for m in _NAMED_CODE.finditer(text)}
    found |= {m.group(1) for m in _RARC.finditer(text)}
    return {code.upper() for code in found}


@dataclass(frozen=True)
class PayerRecord:
    key: str
    name: str
    payer_id: str | None
    aliases: tuple[str, ...]


def resolve_payer(asked: str, payers: Iterable[PayerRecord]) -> set[str]:
    """Payer keys matching what was asked: the name, the payer id, an alias, or a part of the name
    ("Medicare" finds "Medicare Part B")."""
    wanted = payer_key(asked)
    if not wanted:
        return set()
    words = set(wanted.split())
    matches = set()
    for payer in payers:
        names = {payer.key, payer_key(payer.payer_id), *(payer_key(a) for a in payer.aliases)}
        if wanted in names or words <= set(payer.key.split()):
            matches.add(payer.key)
    return matches


def payers_named_in(question: str, payers: Iterable[PayerRecord]) -> set[str]:
    """Payer keys whose name, payer id or alias appears as words in the question."""
    words = re.sub(r"[^A-Za-z0-9-]+", " ", question)
    text = f" {payer_key(words)} "
    found = set()
    for payer in payers:
        names = {payer.key, payer_key(payer.payer_id), *(payer_key(a) for a in payer.aliases)} - {""}
        if any(f" {name} " in text for name in names):
            found.add(payer.key)
    return found


def names_of(keys: set[str] | None, payers: Iterable[PayerRecord]) -> str | None:
    if not keys:
        return None
    return ", ".join(sorted(p.name for p in payers if p.key in keys))


def version_family(payer: str | None, topic: str | None, doc_id: str) -> tuple[str, str]:
    """Documents that are versions of one another: same payer and topic. A document without a topic
    is its own family, so an unrelated current document never hides it."""
    return (payer_key(payer), topic or f"doc:{doc_id}")


def _in_force(chunk: Chunk, day: int) -> bool:
    start = date_key(chunk.doc.effective_from, default=OPEN_START)
    end = date_key(chunk.doc.effective_to, default=OPEN_END)
    return start <= day <= end


class HybridRetriever:
    """Ranks chunks of one vector store; the BM25 side is rebuilt from the store when it changes."""

    def __init__(
        self, store: VectorStore, *, families_in_force: Callable[[int, int | None], set[tuple[str, str]]]
    ) -> None:
        self.store = store
        self._families_in_force = families_in_force
        self._lexical: LexicalIndex | None = None
        self._by_id: dict[str, int] = {}

    def invalidate(self) -> None:
        self._lexical = None

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            self._lexical = LexicalIndex(self.store.get())
            self._by_id = {c.passage_id: i for i, c in enumerate(self._lexical.chunks)}
            keys = [payer_key(c.doc.payer) for c in self._lexical.chunks]
            self._payer_numbers = {key: n for n, key in enumerate(sorted(set(keys) | {""}))}
            self._payer_of_chunk = np.array([self._payer_numbers[k] for k in keys], dtype=np.int64)
            # Who may read each chunk: -2 every practice, else the one practice (UNASSIGNED: none).
            self._owner_of_chunk = np.array(
                [-2 if c.doc.visible_to(None) else int(c.doc.practice_id or 0) for c in self._lexical.chunks],
                dtype=np.int64,
            )
        return self._lexical

    def _visible(self, practice_id: int | None) -> np.ndarray[Any, np.dtype[np.bool_]]:
        owners = self._owner_of_chunk
        allowed: np.ndarray[Any, np.dtype[np.bool_]] = owners == -2
        if practice_id is not None:
            allowed |= owners == practice_id
        return allowed

    def lexical_ranking(
        self, question: str, *, payer_keys: set[str] | None, k: int, practice_id: int | None = None
    ) -> list[str]:
        index = self.lexical
        scores = index.scores(question)
        if len(scores):
            scores = np.where(self._visible(practice_id), scores, -1.0)
        if payer_keys is not None and len(scores):
            wanted = [self._payer_numbers[k] for k in (*payer_keys, "") if k in self._payer_numbers]
            allowed = np.isin(self._payer_of_chunk, wanted)
            scores = np.where(allowed, scores, -1.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [index.chunks[i].passage_id for i in order if scores[i] > 0]

    def dense_ranking(
        self, question: str, *, payer_keys: set[str] | None, k: int, practice_id: int | None = None
    ) -> list[str]:
        return [pid for pid, _ in self.dense_hits(question, payer_keys=payer_keys, k=k, practice_id=practice_id)]

    def dense_hits(
        self, question: str, *, payer_keys: set[str] | None, k: int, practice_id: int | None = None
    ) -> list[tuple[str, float]]:
        """(passage id, cosine similarity) of the nearest passages the practice may read."""
        where: dict[str, Any] = practice_where(practice_id)
        if payer_keys is not None:
            where = {"$and": [where, {"payer_key": {"$in": sorted({*payer_keys, ""})}}]}
        return [(pid, 1.0 - distance) for pid, distance in self.store.query(question, k=k, where=where)]

    def search(
        self,
        question: str,
        *,
        payer_keys: set[str] | None = None,
        on_date: dt.date | None = None,
        limit: int = 5,
        mode: str = "hybrid",
        practice_id: int | None = None,
    ) -> list[Passage]:
        """The best passages for a question; ``mode`` "lexical" or "dense" gives the one-sided baselines.
        ``practice_id``: whose documents besides the shared ones may be read (None: shared only)."""
        index = self.lexical
        if not index.chunks:
            return []
        depth = max(limit * 6, 30)
        rankings: list[list[str]] = []
        if mode in ("hybrid", "lexical"):
            rankings.append(self.lexical_ranking(question, payer_keys=payer_keys, k=depth, practice_id=practice_id))
        if mode in ("hybrid", "dense"):
            hits = self.dense_hits(question, payer_keys=payer_keys, k=depth, practice_id=practice_id)
            rankings.append([pid for pid, _ in hits])
            best = max((similarity for _, similarity in hits), default=0.0)
            if best < RELEVANCE_FLOOR and not self._names_a_code_on_file(question, practice_id):
                return []  # nothing on file is about this: no answer beats a wrong citation
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, pid in enumerate(ranking, start=1):
                fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + rank)
        if mode == "hybrid":
            self._boost_named_codes(question, fused)
            if payer_keys:
                self._boost_payer(payer_keys, fused)
        ranked = sorted(fused.items(), key=lambda item: -item[1])
        return self._select(ranked, on_date=on_date, limit=limit, practice_id=practice_id)

    def _names_a_code_on_file(self, question: str, practice_id: int | None) -> bool:
        codes = codes_in(question)
        return bool(codes) and any(
            codes & set(chunk.doc.codes) for chunk in self.lexical.chunks if chunk.doc.visible_to(practice_id)
        )

    def _boost_named_codes(self, question: str, fused: dict[str, float]) -> None:
        """A playbook or guidance passage for a code the question names outranks passages that only
        mention the number in passing; the playbook (what to do) ranks before the bare code text."""
        codes = codes_in(question)
        if not codes:
            return
        for pid in fused:
            chunk = self.lexical.chunks[self._by_id[pid]] if pid in self._by_id else None
            if chunk is not None and codes & set(chunk.doc.codes):
                weight = 1.0 if chunk.doc.kind == "playbook" else GUIDANCE_CODE_BOOST
                fused[pid] += weight / (RRF_K + 1)

    def _boost_payer(self, payer_keys: set[str], fused: dict[str, float]) -> None:
        """A question about one payer is best answered by that payer's own policy: general playbooks
        that say "check the payer's limit" rank after it."""
        for pid in fused:
            position = self._by_id.get(pid)
            if position is not None and payer_key(self.lexical.chunks[position].doc.payer) in payer_keys:
                fused[pid] += PAYER_BOOST / (RRF_K + 1)

    def _select(
        self, ranked: list[tuple[str, float]], *, on_date: dt.date | None, limit: int, practice_id: int | None
    ) -> list[Passage]:
        day = date_key(on_date or dt.date.today(), default=OPEN_END)
        current = self._families_in_force(day, practice_id)
        per_doc: dict[str, int] = {}
        passages: list[Passage] = []
        for pid, score in ranked:
            position = self._by_id.get(pid)
            if position is None:  # stored after the BM25 index was built
                continue
            chunk = self.lexical.chunks[position]
            doc = chunk.doc
            if not doc.visible_to(practice_id):  # both rankings filter already; this is the last word
                continue
            dated = doc.effective_from is not None or doc.effective_to is not None
            in_force = _in_force(chunk, day)
            note = None
            if not in_force:
                family = version_family(doc.payer, doc.topic, doc.doc_id)
                if family in current:
                    continue  # another version is in force on that date: cite that one instead
                note = (
                    f"Not in force on {on_date or 'today'}: this version was effective "
                    f"{doc.effective_from or 'from the start'} to {doc.effective_to or 'now'}, "
                    "and no version in force on that date is on file."
                )
            if per_doc.get(doc.doc_id, 0) >= MAX_PER_DOCUMENT:
                continue
            per_doc[doc.doc_id] = per_doc.get(doc.doc_id, 0) + 1
            passages.append(to_passage(chunk, score=score, in_force=in_force if dated else None, note=note))
            if len(passages) >= limit:
                break
        return passages


def to_passage(chunk: Chunk, *, score: float = 0.0, in_force: bool | None = None, note: str | None = None) -> Passage:
    doc = chunk.doc
    return Passage(
        passage_id=chunk.passage_id,
        doc_id=doc.doc_id,
        title=doc.title,
        section_path=list(chunk.section_path),
        text=chunk.text,
        payer=doc.payer,
        payer_id=doc.payer_id,
        topic=doc.topic,
        effective_from=doc.effective_from,
        effective_to=doc.effective_to,
        page=chunk.page,
        url=doc.url,
        source=doc.source,
        sample=doc.sample,
        score=round(score, 6),
        in_force=in_force,
        note=note,
    )


def payer_records(documents: Mapping[str, Mapping[str, Any]]) -> list[PayerRecord]:
    """The payers named by documents in the manifest."""
    records: dict[str, PayerRecord] = {}
    for entry in documents.values():
        name = entry.get("payer")
        if not name:
            continue
        key = payer_key(name)
        old = records.get(key)
        aliases = tuple(entry.get("aliases") or ()) + (old.aliases if old else ())
        records[key] = PayerRecord(
            key=key, name=name, payer_id=entry.get("payer_id") or (old.payer_id if old else None), aliases=aliases
        )
    return list(records.values())
