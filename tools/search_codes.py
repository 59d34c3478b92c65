"""Tool: find codes from a description."""

from __future__ import annotations

from knowledge.codesets import CodeSets, SearchResult
from knowledge.codesets import search_codes as _search_codes


def search_codes(query: str, system: str | None = None, limit: int = 10, *, codesets: CodeSets) -> SearchResult:
    """Search the code sets for codes matching a description written the way a coder would.

    Example queries: "type 2 diabetes with hyperglycemia", "neoplasm, colon, malignant primary",
    "fx neck of right femur initial encounter", "annual wellness visit subsequent", "medical necessity".
    Abbreviations (htn, copd, fx, w/o) and small typos are understood. Each hit carries its code, system,
    description, whether it is billable, and the reason it matched. Results are real codes of the
    loaded code sets, billable codes first when equally relevant; always confirm with lookup_code.

    system: optional filter (icd10cm, hcpcs, cpt, modifier, carc, rarc, group, pos). limit: 1-50.
    """
    return _search_codes(codesets, query, system=system, limit=limit)
