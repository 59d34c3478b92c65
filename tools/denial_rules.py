"""What to do about a denial, by reason code, and the deadline that goes with it.

A compact table rather than prose so that the next step and its deadline are computed, not guessed;
the denial playbooks in `knowledge/data/playbooks/` give the detail and are cited beside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Action = Literal["corrected_claim", "appeal", "verify", "no_action", "bill_other"]


@dataclass(frozen=True)
class DenialRule:
    action: Action
    next_step: str
    topic: str  # what to ask the knowledge base for the payer's policy


RULES: dict[str, DenialRule] = {
    "16": DenialRule(
        "corrected_claim",
        "Add the missing or invalid information the remark code names and send a "
        "corrected claim (frequency code 7 with the payer's claim number).",
        "corrected claim",
    ),
    "4": DenialRule(
        "corrected_claim",
        "Fix the modifier on the line and send a corrected claim (frequency code 7).",
        "modifier 25 59 corrected claim",
    ),
    "11": DenialRule(
        "corrected_claim",
        "Check the diagnosis pointers and codes against the note; send a corrected "
        "claim with the supporting diagnosis, or appeal with records if it was right.",
        "corrected claim",
    ),
    "50": DenialRule(
        "appeal",
        "Appeal with the medical records showing medical necessity under the payer's "
        "coverage policy (LCD/NCD for Medicare).",
        "appeal medical necessity",
    ),
    "97": DenialRule(
        "verify",
        "Check the NCCI edit: if the service was distinct, send a corrected claim with "
        "modifier 59 or XE/XP/XS/XU and documentation; otherwise it is correctly bundled.",
        "modifier 59 NCCI bundling",
    ),
    "197": DenialRule(
        "appeal",
        "Ask the payer for a retro-authorization if its policy allows, then appeal with the "
        "authorization; otherwise the practice may not bill the patient.",
        "prior authorization",
    ),
    "18": DenialRule(
        "verify",
        "Check whether the first claim was paid; if so, no action. If this was a distinct "
        "service, send a corrected claim that shows why.",
        "duplicate claim corrected claim",
    ),
    "22": DenialRule(
        "bill_other",
        "Update coordination of benefits: bill the primary payer, then send this payer "
        "the claim with the primary's remittance.",
        "coordination of benefits",
    ),
    "29": DenialRule(
        "appeal",
        "Appeal only with proof of timely filing (clearinghouse acceptance report or the "
        "payer's acknowledgement); otherwise write it off (it may not be billed to the patient).",
        "timely filing",
    ),
    "27": DenialRule(
        "bill_other",
        "Verify eligibility on the date of service; bill the coverage in force then, or the patient if none.",
        "eligibility coverage terminated",
    ),
    "31": DenialRule(
        "corrected_claim",
        "Verify the member id, name and birth date with the payer and send a corrected claim.",
        "eligibility member id",
    ),
    "B7": DenialRule(
        "verify",
        "Check the rendering provider's enrollment and credentialing on the date of "
        "service; fix it, then resubmit or appeal.",
        "credentialing enrollment",
    ),
    "151": DenialRule("appeal", "Appeal with records that support the number of services or units.", "appeal"),
}
DEFAULT_RULE = DenialRule(
    "appeal",
    "Read the remark codes, fix what they name with a corrected claim, or appeal with records.",
    "appeal reconsideration",
)


def rule_for(reason_code: str) -> DenialRule:
    return RULES.get(reason_code.upper(), DEFAULT_RULE)


@dataclass(frozen=True)
class Deadline:
    kind: Literal["appeal", "corrected_claim", "timely_filing"]
    date: dt.date
    days_left: int
    basis: str


def deadlines(
    *,
    service_date: dt.date,
    remittance_date: dt.date | None,
    timely_filing_days: int,
    appeal_days: int,
    corrected_claim_days: int | None,
    today: dt.date,
) -> list[Deadline]:
    """The payer's windows turned into dates."""
    found = []
    filing = service_date + dt.timedelta(days=timely_filing_days)
    found.append(
        Deadline(
            "timely_filing",
            filing,
            (filing - today).days,
            f"date of service {service_date} + {timely_filing_days} days timely filing",
        )
    )
    if remittance_date is not None:
        appeal = remittance_date + dt.timedelta(days=appeal_days)
        found.append(
            Deadline(
                "appeal",
                appeal,
                (appeal - today).days,
                f"remittance date {remittance_date} + {appeal_days} days to appeal",
            )
        )
        if corrected_claim_days is not None:
            corrected = remittance_date + dt.timedelta(days=corrected_claim_days)
            basis = f"remittance date {remittance_date} + {corrected_claim_days} days for a corrected claim"
        else:
            corrected, basis = filing, "timely filing from the date of service"
        found.append(Deadline("corrected_claim", corrected, (corrected - today).days, basis))
    return found


def deadline_for(action: Action, all_deadlines: list[Deadline]) -> Deadline | None:
    wanted = {
        "corrected_claim": "corrected_claim",
        "appeal": "appeal",
        "verify": "appeal",
        "bill_other": "timely_filing",
        "no_action": None,
    }[action]
    return next((d for d in all_deadlines if d.kind == wanted), None)
