"""Text search over the loaded code sets: the public entry point used by tools and the CLI."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from knowledge.codesets.icd10cm import seventh_code
from knowledge.codesets.lookup import candidates, parse_system
from knowledge.codesets.models import SYSTEMS, SearchHit, SearchResult
from knowledge.codesets.search import CONTEXT_LABEL, SIDE_WORDS, RankedTarget, rank
from knowledge.codesets.store import CodeSets
from knowledge.codesets.text import index_segments, query_words, term_display
from knowledge.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 300
MAX_LIMIT = 50


def _query_vector(codesets: CodeSets, query: str) -> npt.NDArray[np.float32] | None:
    if codesets.vector_index() is None:
        return None
    if codesets.encoder is None:
        from knowledge.embeddings import get_embedder

        codesets.encoder = get_embedder()
    vector: npt.NDArray[np.float32] = codesets.encoder.encode([query])[0]
    return vector


_SOURCE_NAMES = {
    "description": "its description",
    "short description": "its short description",
    "inclusion term": "its inclusion term",
    "includes note": "its “includes” note",
    CONTEXT_LABEL: "its place in the Tabular",
    "name": "its name",
    "definition": "its definition",
}


def _quote(text: str) -> str:
    return f"“{text if len(text) <= 90 else text[:87] + '...'}”"


def _hit(codesets: CodeSets, ranked: RankedTarget, query: str, shown: dict[str, str]) -> SearchHit:
    """One hit and, in words a coder reads, why it matched (which text, which of the query's words).

    ``shown``: each stemmed term and the word the person typed (``term_display``, once per search)."""
    index = codesets.index
    target = index.targets[ranked.target]
    code, description, billable = target.code, target.description, target.billable
    reasons: list[str] = []
    if ranked.doc is not None:
        source = index.doc_source[ranked.doc]
        where = _SOURCE_NAMES.get(source, source)
        words = ", ".join(dict.fromkeys(shown.get(term, term) for term in ranked.matched_terms))
        if ranked.via is not None:
            header = index.targets[ranked.via]
            where = f"it sits under {header.code} {header.description}, whose {where.removeprefix('its ')}"
        text = index.doc_text[ranked.doc]
        if source == CONTEXT_LABEL:
            # The parents by code, nearest last: "M25.5 Pain in joint › M25.56 Pain in knee".
            chain: list[str] = []
            parent = int(index.parent[ranked.via if ranked.via is not None else ranked.target])
            while parent >= 0 and len(chain) < 2:
                chain.insert(0, f"{index.targets[parent].code} {index.targets[parent].description}")
                parent = int(index.parent[parent])
            where = f"with its parents ({' › '.join(chain)}) it"
            if ranked.via is not None:
                header = index.targets[ranked.via]
                where = (
                    f"it sits under {header.code} {header.description}, which with its parents ({' › '.join(chain)})"
                )
            quoted = ""
        elif source == "description" and ranked.via is None:
            quoted = ""
        else:
            quoted = f" {_quote(text)}"
        reasons.append(f"{where}{quoted} matches {words}" if words else f"{where}{quoted}")
    if ranked.unmatched:
        parts = index_segments(query)
        missing = [parts[i] for i in ranked.unmatched if i < len(parts)]
        if missing:
            reasons.append("nothing in it answers " + ", ".join(f"“{part}”" for part in missing))
    if ranked.semantic is not None and ranked.semantic >= 0.45 and ranked.doc is None:
        reasons.append("close in meaning to the question, though none of its words match")
    elif ranked.semantic is not None and ranked.semantic >= 0.5:
        reasons.append("close in meaning to the question too")
    if ranked.seventh is not None:
        char, meaning, _ = ranked.seventh
        code = seventh_code(code, char)
        description = f"{description}, {meaning}"
        billable = True
        reasons.append(f"7th character {char} ({meaning})")
    elif target.system == "icd10cm" and index.seventh_table[ranked.target] >= 0:
        reasons.append("needs a 7th character (look the code up for the choices)")
    elif billable is False:
        reasons.append("a header: bill one of the codes under it")
    if not target.active:
        reasons.append("no longer active")
    return SearchHit(
        system=target.system,
        code=code,
        description=description,
        billable=billable,
        score=round(ranked.score, 4),
        reason="; ".join(reasons) or "matched",
    )


def _questions(codesets: CodeSets, query: str, ranked: list[RankedTarget]) -> list[str]:
    """What the query leaves open that the best code depends on: the side, the 7th character.

    The search ranks the code for "side not documented" first rather than guess; this says so, with
    the codes for each side, so that a coder can pick from the record."""
    index = codesets.index
    if not ranked:
        return []
    best = ranked[0]
    target = index.targets[best.target]
    if target.system != "icd10cm":
        return []
    asks: list[str] = []
    words = {word.term for word in query_words(query)[0]}
    parent = int(index.parent[best.target])
    if not SIDE_WORDS & words and parent >= 0:
        siblings = [int(t) for t in index.children_of(parent)]
        sided = [t for t in siblings if index.sided[t]]
        if sided:
            listed = ", ".join(f"{index.targets[t].code} {index.targets[t].description}" for t in sided[:4])
            asks.append(f"Which side? The question names none, so {target.code} comes first; by side: {listed}.")
    table_id = int(index.seventh_table[best.target])
    if table_id >= 0 and best.seventh is None:
        table = index.seventh_tables[table_id]
        choices = ", ".join(f"{seventh_code(target.code, char)} {meaning}" for char, meaning in list(table.items())[:4])
        asks.append(f"Which encounter? {target.code} needs a 7th character: {choices}.")
    return asks


def search_codes(
    codesets: CodeSets, query: str, *, system: str | None = None, limit: int = 10, semantic: bool = True
) -> SearchResult:
    """The codes that best match ``query`` (a description as a coder would write it, or a code)."""
    text = " ".join((query or "").split())
    if not text:
        raise InvalidInput("Empty search: describe the diagnosis, service or adjustment in a few words.")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"The search text is too long ({len(text)} characters; at most {MAX_QUERY_LENGTH}).")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.")
    wanted = parse_system(system)
    systems = {wanted} if wanted else None
    hits: list[SearchHit] = []
    # A code typed into the search box comes first, as itself.
    if len(text) <= 12 and " " not in text:
        for found_system, code in candidates(codesets, text.upper()):
            if systems and found_system not in systems:
                continue
            target_id = codesets.index.target_of.get(f"{found_system}:{code}")
            if target_id is not None:
                target = codesets.index.targets[target_id]
                hits.append(
                    SearchHit(
                        system=found_system,
                        code=code,
                        description=target.description,
                        billable=target.billable,
                        score=1.0,
                        reason="the query is this code",
                    )
                )
    vector = _query_vector(codesets, text) if semantic else None
    ranked, corrections = rank(
        codesets.index,
        text,
        systems=systems,
        limit=limit,
        vectors=codesets.vectors if vector is not None else None,
        query_vector=vector,
    )
    seen = {(h.system, h.code) for h in hits}
    asks = _questions(codesets, text, ranked) if not hits else []
    shown = term_display(text)
    for item in ranked:
        hit = _hit(codesets, item, text, shown)
        if corrections:
            hit.reason += f" (spelling: {', '.join(corrections)})"
        if (hit.system, hit.code) not in seen:
            seen.add((hit.system, hit.code))
            hits.append(hit)
    if not hits:
        where = SYSTEMS[wanted] if wanted else "the loaded code sets"
        raise NotFound(f"Nothing in {where} matches {text!r}. Try other words, or a code.")
    return SearchResult(query=text, system=wanted, semantic=vector is not None, hits=hits[:limit], ask=asks)
