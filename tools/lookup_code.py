"""Tool: look up one code in any loaded code set."""

from __future__ import annotations

from knowledge.codesets import CodeRecord, CodeSets, lookup


def lookup_code(code: str, system: str | None = None, *, codesets: CodeSets) -> CodeRecord:
    """Look up one medical billing code and return everything known about it.

    Works for ICD-10-CM diagnosis codes (e.g. E11.65, e1165, S72.001A), HCPCS Level II codes (G0439),
    CPT codes (99214: number recognised, descriptor only if the practice imported its licensed file),
    modifiers (GA, 25), claim adjustment reason codes (CARC 50), remark codes (RARC N115), group codes
    (CO), place of service (POS 11). The answer says whether the code is billable or a header, its parents
    and children, every instructional note (includes, excludes1/2, code first, use additional code, 7th
    characters) with the level it comes from, and HCPCS status and dates.

    system: optional, one of icd10cm, hcpcs, cpt, modifier, carc, rarc, group, pos,
    claim_status_category; guessed from the code's shape when omitted (needed for 2-digit numbers).
    """
    return lookup(codesets, code, system)
