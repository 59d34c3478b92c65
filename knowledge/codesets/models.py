"""The answers of the code-set layer (pydantic: JSON for the CLI and the API, text for the model)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

#: Canonical system names, and what a person may type for them.
SYSTEMS: dict[str, str] = {
    "icd10cm": "ICD-10-CM",
    "hcpcs": "HCPCS Level II",
    "cpt": "CPT",
    "modifier": "HCPCS/CPT modifier",
    "carc": "Claim Adjustment Reason Code (CARC)",
    "rarc": "Remittance Advice Remark Code (RARC)",
    "group": "Claim Adjustment Group Code",
    "pos": "Place of Service",
    "claim_status_category": "Claim Status Category Code",
}
SYSTEM_ALIASES: dict[str, str] = {
    "icd": "icd10cm",
    "icd10": "icd10cm",
    "icd-10": "icd10cm",
    "icd-10-cm": "icd10cm",
    "icd10-cm": "icd10cm",
    "dx": "icd10cm",
    "diagnosis": "icd10cm",
    "hcpcs": "hcpcs",
    "hcpcs2": "hcpcs",
    "level2": "hcpcs",
    "cpt": "cpt",
    "mod": "modifier",
    "modifier": "modifier",
    "modifiers": "modifier",
    "carc": "carc",
    "reason": "carc",
    "adjustment": "carc",
    "rarc": "rarc",
    "remark": "rarc",
    "group": "group",
    "group_code": "group",
    "pos": "pos",
    "place_of_service": "pos",
    "place-of-service": "pos",
    "claim_status_category": "claim_status_category",
    "status_category": "claim_status_category",
    "csc": "claim_status_category",
}


class CodeNote(BaseModel):
    """An instructional note and where it comes from (the code itself or an ancestor)."""

    kind: str = Field(description="includes, inclusion_term, excludes1, excludes2, code_first, ...")
    text: str
    level: str = Field(description="chapter, block, category, subcategory or code")
    source_code: str = Field(description="the code (or chapter/block) the note is written under")


class CodeRef(BaseModel):
    """A related code: a parent or a child."""

    code: str
    description: str
    kind: str
    billable: bool | None = None


class CodeRecord(BaseModel):
    """Everything known about one code."""

    system: str
    system_name: str
    code: str
    input: str = Field(description="what was asked, before normalisation")
    description: str | None
    short_description: str | None = None
    kind: str = Field(description="e.g. chapter, block, category, subcategory, code, modifier")
    valid: bool = Field(description="the code exists in the loaded code set")
    billable: bool | None = Field(default=None, description="ICD-10-CM: a complete code; None when n/a")
    parents: list[CodeRef] = Field(default_factory=list, description="nearest first")
    children: list[CodeRef] = Field(default_factory=list)
    notes: list[CodeNote] = Field(default_factory=list)
    seventh_characters: dict[str, str] = Field(default_factory=dict)
    status: str | None = None
    dates: dict[str, dt.date | None] = Field(default_factory=dict)
    attributes: dict[str, str | list[str]] = Field(default_factory=dict)
    also_in: list[str] = Field(default_factory=list, description="other systems with a code written the same")
    messages: list[str] = Field(default_factory=list)
    source: str = ""


class SearchHit(BaseModel):
    """One code found by a text search, with the reason it matched."""

    system: str
    code: str
    description: str
    billable: bool | None = None
    score: float
    reason: str


class SearchResult(BaseModel):
    query: str
    system: str | None
    semantic: bool = Field(description="semantic vectors were used (lexical only when False)")
    hits: list[SearchHit]
    ask: list[str] = Field(
        default_factory=list,
        description="what the question leaves open that the code depends on (side, 7th character), to ask",
    )


class ClaimLine(BaseModel):
    """One service line: a procedure code with its modifiers and units."""

    code: str
    modifiers: list[str] = Field(default_factory=list)
    units: int = 1


class CheckIssue(BaseModel):
    severity: Literal["error", "warning", "info"]
    kind: str = Field(
        description="invalid_code, not_billable, seventh_character, terminated, excludes1, ncci_ptp, mue, ..."
    )
    codes: list[str]
    message: str


class ClaimCheckResult(BaseModel):
    date_of_service: dt.date
    diagnoses: list[str]
    lines: list[ClaimLine]
    issues: list[CheckIssue]
    ncci_ptp_loaded: bool
    mue_loaded: bool

    @property
    def ok(self) -> bool:
        return not any(issue.severity == "error" for issue in self.issues)


class AdjustmentCode(BaseModel):
    """One decoded adjustment code: group code, CARC or RARC."""

    kind: Literal["group", "carc", "rarc"]
    code: str
    description: str
    start: dt.date | None = None
    stop: dt.date | None = None
    notes: str | None = None
    active: bool | None = Field(default=None, description="in force on the date asked about")
    as_shown: str | None = Field(
        default=None, description="the group-and-reason pair this came from, as a remittance shows it (PR-3)"
    )


class AdjustmentExplanation(BaseModel):
    items: list[AdjustmentCode]
    unknown: list[str] = Field(default_factory=list, description="inputs that matched no code")
