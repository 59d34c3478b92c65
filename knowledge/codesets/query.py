"""Text search over the loaded code sets: the public entry point used by tools and the CLI."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from knowledge.codesets.icd10cm import seventh_code
from knowledge.codesets.lookup import candidates, parse_system
from knowledge.codesets.models import SYSTEMS, SearchHit, SearchResult
from knowledge.codesets.search import RankedTarget, rank
from knowledge.codesets.store import CodeSets
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


def _hit(codesets: CodeSets, ranked: RankedTarget, query: str) -> SearchHit:
    index = codesets.index
    target = index.targets[ranked.target]
    code, description, billable = target.code, target.description, target.billable
    reasons: list[str] = []
    if ranked.doc is not None:
        source = index.doc_source[ranked.doc]
        text = index.doc_text[ranked.doc]
        snippet = text if len(text) <= 90 else text[:87] + "..."
        words = ", ".join(ranked.matched_terms)
        reasons.append(f"{source} “{snippet}” matched {words}" if words else f"{source} “{snippet}”")
    if ranked.semantic is not None and ranked.semantic >= 0.35:
        reasons.append(f"similar in meaning to the description (cosine {ranked.semantic:.2f})")
    if ranked.seventh is not None:
        char, meaning, _ = ranked.seventh
        code = seventh_code(code, char)
        description = f"{description}, {meaning}"
        billable = True
        reasons.append(f"7th character {char} ({meaning})")
    elif target.system == "icd10cm" and index.seventh_table[ranked.target] >= 0:
        reasons.append("needs a 7th character (look the code up for the choices)")
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
    for item in ranked:
        hit = _hit(codesets, item, text)
        if corrections:
            hit.reason += f" (spelling: {', '.join(corrections)})"
        if (hit.system, hit.code) not in seen:
            seen.add((hit.system, hit.code))
            hits.append(hit)
    if not hits:
        where = SYSTEMS[wanted] if wanted else "the loaded code sets"
        raise NotFound(f"Nothing in {where} matches {text!r}. Try other words, or a code.")
    return SearchResult(query=text, system=wanted, semantic=vector is not None, hits=hits[:limit])
