"""What to do about a denial, by reason code, and the deadline that goes with it; what to do about a
clearinghouse or payer rejection (277CA), by claim status category; and what front desk may do when a
remittance says the claim was forwarded to another payer (MA18 and similar remark codes).

Compact tables rather than prose so that the next step and its deadline are computed, not guessed;
the denial playbooks in `knowledge/data/playbooks/` give the detail and are cited beside it (a test checks
that every remark-code entry here says what its playbook section says).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

Action = Literal["corrected_claim", "appeal", "verify", "no_action", "bill_other", "resubmit"]


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
        "resubmit": "timely_filing",
        "no_action": None,
    }[action]
    return next((d for d in all_deadlines if d.kind == wanted), None)


# --- rejections (277CA, before the payer adjudicates) -----------------------------------------------------

#: Why a rejected claim is resubmitted as an original: it never reached adjudication.
_AS_NEW = (
    "then send it again as a new original claim (frequency code 1): a rejected claim never reached the "
    "payer's adjudication, so it is not a corrected (7) claim, and the filing limit keeps running until "
    "the payer accepts it."
)

#: Claim status categories (STC01-1) that reject a claim, and the fix for each.
REJECTION_RULES: dict[str, DenialRule] = {
    "A3": DenialRule(
        "resubmit", "Read the status code and entity of the rejection, correct what they name, " + _AS_NEW, "rejection"
    ),
    "A4": DenialRule(
        "resubmit",
        "The payer cannot find the claim: check the payer id and the member's id on the claim, " + _AS_NEW,
        "rejection",
    ),
    "A6": DenialRule(
        "resubmit", "Add the missing information the status code names, " + _AS_NEW, "rejection missing information"
    ),
    "A7": DenialRule(
        "resubmit",
        "Correct the invalid information the status code names, " + _AS_NEW,
        "rejection invalid information",
    ),
    "A8": DenialRule(
        "resubmit",
        "Fix the fields that contradict each other (the status code names them), " + _AS_NEW,
        "rejection relational field",
    ),
}
DEFAULT_REJECTION = DenialRule("resubmit", "Correct what the rejection names, " + _AS_NEW, "rejection")

#: More precise fixes for what a rejection's text names (the clearinghouse's words, in the status note).
_REJECTION_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\bNPI\b", re.I),
        "Check the NPI on the claim (billing provider: loop 2010AA) against the provider's NPPES record, and "
        "that the payer has that NPI on file (enrolled, and linked to the practice's tax ID); ",
    ),
    (
        re.compile(r"\b(member|subscriber|insured)\b.*\b(id|number)\b|\beligib", re.I),
        "Verify the patient's eligibility and member id with the payer for the date of service; ",
    ),
    (
        re.compile(r"\b(birth|DOB)\b", re.I),
        "Check the patient's name and date of birth against the insurance card; ",
    ),
)


def rejection_rule(category_code: str | None, reason: str | None = None) -> DenialRule:
    """The fix for a rejection: by its category, made precise by what its text names (an NPI, a member
    id...) when it names something the hints know."""
    rule = REJECTION_RULES.get((category_code or "").upper(), DEFAULT_REJECTION)
    for pattern, hint in _REJECTION_HINTS:
        if reason and pattern.search(reason):
            return DenialRule(rule.action, hint + _AS_NEW, rule.topic)
    return rule


# --- remark codes that forward the claim (crossover) ------------------------------------------------------

#: Where the remark-code advice below is written out, with the code's official text.
REMARK_PLAYBOOK = "playbooks/rarc-remark-codes"


@dataclass(frozen=True)
class RemarkAdvice:
    """What a remark code that forwards the claim to another payer means for collecting from the patient."""

    code: str
    front_desk: str  # what front desk may do, as the playbook section says it
    source: str = REMARK_PLAYBOOK


REMARK_ADVICE: dict[str, RemarkAdvice] = {
    advice.code: advice
    for advice in (
        RemarkAdvice(
            "MA18",
            "Medicare forwarded the claim to the patient's supplemental insurer (crossover): wait for the "
            "supplemental insurer's payment before billing the patient the remainder, and do not send that "
            "insurer a claim of its own unless it has not answered.",
        ),
        RemarkAdvice(
            "N89",
            "The claim was forwarded to more than one other payer: wait for each of them to answer before "
            "billing the patient the remainder.",
        ),
        RemarkAdvice(
            "MA07",
            "The claim was also forwarded to Medicaid: wait for Medicaid's decision before billing the "
            "patient anything.",
        ),
        RemarkAdvice(
            "N367",
            "The claim was forwarded to the patient's spending account (FSA/HSA) processor: wait for it "
            "before billing the patient the remainder.",
        ),
        RemarkAdvice(
            "MA19",
            "Medicare did not forward the claim (the supplemental insurer's information was wrong): verify "
            "the supplemental coverage and send that insurer the claim with this remittance before billing "
            "the patient the remainder.",
        ),
        RemarkAdvice(
            "MA08",
            "Medicare did not forward the claim (not a Medigap plan, or a non-participating provider): send "
            "the supplemental insurer the claim with this remittance before billing the patient the remainder.",
        ),
    )
}


def remark_advice(code: str) -> RemarkAdvice | None:
    return REMARK_ADVICE.get(code.strip().upper())
