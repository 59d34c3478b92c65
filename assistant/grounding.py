"""The grounding guard: every code in an answer must appear in a tool result of the same turn.

LLMs are poor at codes, so an answer is checked before anyone sees it: a token shaped like an ICD-10-CM,
HCPCS, CPT, CARC or RARC code that no tool returned this turn is removed, and a note says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

# ICD-10-CM with its dot (E11.65, S72.001A), HCPCS Level II (G0439), CPT (99213, 0001F), group-CARC
# (CO-45), and RARC (N115, MA04, M51). Undotted ICD-10-CM codes look like RARCs or HCPCS and are caught by
# those shapes.
CODE_PATTERNS = [
    re.compile(r"\b[A-TV-Z][0-9][0-9AB]\.[0-9A-Z]{1,4}\b"),
    re.compile(r"\b[A-V][0-9]{4}\b"),
    re.compile(r"\b[0-9]{4}[0-9FTU]\b"),
    re.compile(r"\b(?:CO|PR|OA|PI)-[A-Z]?[0-9]{1,3}\b"),
    re.compile(r"\b(?:MA|N|M)[0-9]{1,3}\b"),
]
_NOT_CODES = re.compile(r"\$[\d,]+(?:\.\d{2})?|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def codes_in(text: str) -> list[str]:
    cleaned = _NOT_CODES.sub(" ", text)
    found: list[str] = []
    for pattern in CODE_PATTERNS:
        for match in pattern.findall(cleaned):
            if match not in found:
                found.append(match)
    return found


def grounded_tokens(results: list[tuple[str, dict[str, Any]]], extra_text: str = "") -> str:
    """All text of this turn's tool results (codes come only from here), plus claim-number context."""
    return json.dumps([data for _, data in results], default=str) + " " + extra_text


def guard(answer: str, results: list[tuple[str, dict[str, Any]]]) -> tuple[str, list[str]]:
    """Remove codes not present in this turn's tool results; returns the answer and the removed codes."""
    source = grounded_tokens(results)
    normalised_source = source.upper()
    removed = []
    for code in codes_in(answer):
        bare = code.split("-")[-1] if code[:3] in {"CO-", "PR-", "OA-", "PI-"} else code
        if code.upper() in normalised_source or (bare != code and re.search(rf'"{re.escape(bare)}"', source)):
            continue
        removed.append(code)
    for code in removed:
        answer = re.sub(rf"\b{re.escape(code)}\b", "[code removed]", answer)
    if removed:
        count = "a code" if len(removed) == 1 else f"{len(removed)} codes"
        answer += (
            f"\n\n_Note: {count} that did not come from the code sets or the practice's data was removed from this "
            "answer. Look codes up with `/code` to be sure._"
        )
    return answer, removed
