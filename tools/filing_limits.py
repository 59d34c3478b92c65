"""Timely-filing limits per payer, each from the payer policy that states it.

A small typed table beside the denial rules (`tools/denial_rules.py`) so that a filing deadline is
computed from a number someone can check, with the document it comes from. The practice's payer rows
also carry ``timely_filing_days``, but a payer created from an imported 837 gets a default there, not a
limit anyone read in a policy: this table is what a deadline is computed from, and a payer missing from it
has no limit on file (the tool says so rather than guess). A test checks every entry against its document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from knowledge.practice.models import Payer


@dataclass(frozen=True)
class FilingLimit:
    """A payer's limit, counted in days from the date of service, for services in its effective dates."""

    payer: str  # the payer's name as the policy document gives it
    payer_id: str  # EDI payer id (NM109), as in the policy's front matter
    aliases: tuple[str, ...]
    days: int
    stated_as: str  # the limit in the policy's words, e.g. "12 months"
    doc_id: str  # the policy document (knowledge/data/<doc_id>.md)
    title: str
    effective_from: dt.date
    effective_to: dt.date | None = None

    def in_force(self, service_date: dt.date) -> bool:
        return self.effective_from <= service_date and (self.effective_to is None or service_date <= self.effective_to)

    def deadline(self, service_date: dt.date) -> dt.date:
        return service_date + dt.timedelta(days=self.days)

    @property
    def basis(self) -> str:
        return f"{self.payer}: {self.stated_as} from the date of service ({self.title}, {self.doc_id})"


# Medicare's "12 months" is counted as 365 days, as the payer windows (`Payer.timely_filing_days`) and the
# deadlines of `tools/denial_rules.py` count it, so every tool gives the same date.
FILING_LIMITS: tuple[FilingLimit, ...] = (
    FilingLimit(
        "Medicare Part B",
        "00882",
        ("Medicare", "MEDICARE-B", "Part B", "Original Medicare", "MAC"),
        365,
        "12 months",
        "policies/medicare-part-b-timely-filing",
        "Medicare Part B: Timely filing",
        dt.date(2010, 1, 1),
    ),
    FilingLimit(
        "State Medicaid",
        "SKMD0",
        ("Medicaid", "MCD"),
        365,
        "365 days",
        "policies/state-medicaid-timely-filing",
        "State Medicaid: Timely filing",
        dt.date(2022, 1, 1),
    ),
    FilingLimit(
        "Aetna",
        "60054",
        (),
        120,
        "120 days",
        "policies/aetna-timely-filing-2019",
        "Aetna: Timely filing (2019-2023)",
        dt.date(2019, 1, 1),
        dt.date(2023, 12, 31),
    ),
    FilingLimit(
        "Aetna",
        "60054",
        (),
        90,
        "90 days",
        "policies/aetna-timely-filing-2024",
        "Aetna: Timely filing (2024 onward)",
        dt.date(2024, 1, 1),
    ),
    FilingLimit(
        "Blue Cross Blue Shield",
        "BCBS1",
        ("BCBS", "Blue Cross", "Blues"),
        180,
        "180 days",
        "policies/bcbs-timely-filing",
        "Blue Cross Blue Shield: Timely filing",
        dt.date(2020, 1, 1),
    ),
    FilingLimit(
        "UnitedHealthcare",
        "87726",
        ("UHC", "United", "United Healthcare"),
        90,
        "90 days",
        "policies/unitedhealthcare-timely-filing",
        "UnitedHealthcare: Timely filing",
        dt.date(2020, 1, 1),
    ),
    FilingLimit(
        "Cigna",
        "62308",
        (),
        90,
        "90 days",
        "policies/cigna-timely-filing",
        "Cigna: Timely filing",
        dt.date(2020, 1, 1),
    ),
)


def _names(limit: FilingLimit) -> set[str]:
    return {name.casefold() for name in (limit.payer, *limit.aliases)}


def filing_limit_for(payer: Payer, service_date: dt.date) -> FilingLimit | None:
    """The limit in force on the date of service for a practice's payer (by EDI payer id, else by its
    exact name or an alias: never by a partial name, so "Medicare Advantage" is not Medicare Part B)."""
    name = payer.name.strip().casefold()
    for limit in FILING_LIMITS:
        if (payer.payer_id == limit.payer_id or name in _names(limit)) and limit.in_force(service_date):
            return limit
    return None
