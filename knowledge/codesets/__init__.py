"""Medical code sets: ICD-10-CM (tabular list and index tables), HCPCS Level II and modifiers, CPT by
format (descriptors only from a practice's licensed file), CARC, RARC, group and claim status category
codes, place of service, and NCCI edits; with exact lookup, hybrid search and claim-line checks.

Entry points: ``load_codesets`` (cached; cold load well under 2 s), ``build_codeset_cache`` (for `init`),
``lookup``, ``search_codes``, ``check_claim``, and ``iter_guidance_passages`` for the knowledge base.
"""

from knowledge.codesets.check import check_claim, parse_line
from knowledge.codesets.guidance import GuidancePassage, iter_guidance_passages
from knowledge.codesets.lookup import guess_system, lookup, parse_system
from knowledge.codesets.models import (
    SYSTEMS,
    AdjustmentCode,
    AdjustmentExplanation,
    CheckIssue,
    ClaimCheckResult,
    ClaimLine,
    CodeNote,
    CodeRecord,
    CodeRef,
    SearchHit,
    SearchResult,
)
from knowledge.codesets.query import search_codes
from knowledge.codesets.store import (
    CodeSets,
    build_codeset_cache,
    build_vectors,
    cache_is_current,
    import_code_list,
    import_cpt,
    import_ncci,
    load_codesets,
)

__all__ = [
    "SYSTEMS",
    "AdjustmentCode",
    "AdjustmentExplanation",
    "CheckIssue",
    "ClaimCheckResult",
    "ClaimLine",
    "CodeNote",
    "CodeRecord",
    "CodeRef",
    "CodeSets",
    "GuidancePassage",
    "SearchHit",
    "SearchResult",
    "build_codeset_cache",
    "build_vectors",
    "cache_is_current",
    "check_claim",
    "guess_system",
    "import_code_list",
    "import_cpt",
    "import_ncci",
    "iter_guidance_passages",
    "load_codesets",
    "lookup",
    "parse_line",
    "parse_system",
    "search_codes",
]
