"""The money rules of 835 posting: whether a matched claim posts, how, and the status it gets.

Pure functions of the parsed CLP and the claim's ledger totals, with no session and no SQL, so the rules
a biller asks about (why a claim did not post, why it is denied rather than paid) can be read and tested
apart from matching (`knowledge.x12.matching`), the rows written (`knowledge.x12.rows`) and the
orchestration (`knowledge.x12.posting`). The claim's own balance (billed - paid = the sum of its CAS
amounts, claim and line level) is `ClaimPayment.balance_problem`, next to the parsed values it checks.
"""

from __future__ import annotations

from decimal import Decimal

from knowledge.practice.ledger import ClaimTotals
from knowledge.practice.models import ClaimStatus
from knowledge.x12.matching import _ClaimRef
from knowledge.x12.parse835 import ClaimPayment
from knowledge.x12.values import ZERO

DENIAL_GROUPS = {"CO", "PI", "OA", "CR"}

#: Zero-pay reasons that settle a claim rather than deny it: the contractual write-down, and "the prior
#: payer's adjudication" on a secondary claim.
SETTLING_REASONS = frozenset({"45", "23"})


def _resend_key(claim: _ClaimRef, payment: ClaimPayment) -> tuple[int, str, Decimal, Decimal]:
    return (claim.id, payment.patient_control_number[:38], payment.billed, payment.paid)


def is_open_denial(payment: ClaimPayment) -> bool:
    """A denial to work (appeal, correct or write off by hand): nothing paid, and either the payer says
    denied (CLP02 4) or every adjustment is a CO/PI/OA denial reason."""
    if payment.is_reversal or payment.paid != ZERO or claim_status_after(payment) is not ClaimStatus.DENIED:
        return False
    reasons = {a.reason for a in payment.all_adjustments()}
    return payment.status_code == "4" or not (reasons & SETTLING_REASONS)


def claim_status_after(payment: ClaimPayment) -> ClaimStatus:
    """paid / partially_paid / denied / reversed, from what the payer said about the claim."""
    if payment.is_reversal:
        return ClaimStatus.REVERSED
    groups = {a.group for a in payment.all_adjustments()}
    if payment.paid == ZERO and (payment.status_code == "4" or (groups and groups <= DENIAL_GROUPS)):
        return ClaimStatus.DENIED
    if payment.paid != ZERO and any(
        line.paid == ZERO and any(a.group in DENIAL_GROUPS for a in line.adjustments) for line in payment.lines
    ):
        return ClaimStatus.PARTIALLY_PAID
    return ClaimStatus.PAID


def insurance_balance_problem(payment: ClaimPayment, claim: _ClaimRef, totals: ClaimTotals) -> tuple[str, str] | None:
    """(exception kind, reason) when the claim's insurance balance is not the billed amount the payer
    adjudicated: a claim already posted (a duplicate, or a second payer's remittance that needs
    coordination of benefits) or whose charges differ goes to a person. None when it may post."""
    if totals.insurance_balance == payment.billed:
        return None
    kind = "already_posted" if totals.payer_paid or totals.adjusted else "billed_mismatch"
    return (
        kind,
        f"CLP {payment.patient_control_number!r} adjudicates billed {payment.billed}, but claim "
        f"{claim.claim_number} has an insurance balance of {totals.insurance_balance} "
        f"(billed {totals.billed}, paid {totals.payer_paid}, adjusted {totals.adjusted}, "
        f"patient {totals.patient_responsibility}): it was already posted, needs coordination "
        f"of benefits with another payer, or its charges differ; post it by hand "
        f"(segment {payment.segment_number}: {payment.segment_text})",
    )


def balances_by_line(payment: ClaimPayment) -> bool:
    """Whether the payment can post per service line (SVC03): the lines' billed amounts add up to the
    claim's and each line balances on its own (billed - paid = its CAS amounts); else it posts on the
    claim."""
    return bool(payment.lines) and (
        sum((line.billed for line in payment.lines), ZERO) == payment.billed
        and all(line.balance_gap() == ZERO for line in payment.lines)
    )
