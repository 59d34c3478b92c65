"""Tool: everything about one claim: status and its history, lines, diagnoses, remittances, balances.

The history a biller trusts is the ledger itself: every entry (charges, the 835's payments and
adjustments, patient payments, manual adjustments) with its date, where it came from and who posted it,
beside the status events (837, 277CA, 277, 835, postings) with their codes decoded. A rejected claim
(277CA) shows the rejection as its state: the reason, the fix and the timely-filing deadline that still
applies, or the amount lost when it passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.codesets.x12codes import describe_claim_status
from knowledge.practice.claims import get_claim as load_claim
from knowledge.practice.claims import remittance_claims_for
from knowledge.practice.ledger import claim_entries, totals_from_entries
from knowledge.practice.models import (
    Claim,
    ClaimStatus,
    ClaimStatusEvent,
    LedgerEntry,
    LedgerKind,
    Payment,
    RemittanceClaim,
    User,
)
from knowledge.practice.posting import PREPAYMENT_MEMO
from tools.claim_views import Balances, PatientRef, patient_ref
from tools.denial_rules import rejection_rule, remark_advice
from tools.descriptor import ToolDescriptor
from tools.filing_limits import filing_limit_for
from tools.render import money, shown
from tools.slots import per_claim

HistorySource = Literal["claim charge", "835 remittance", "patient payment posting", "adjustment posting"]


class ClaimLineView(BaseModel):
    line_number: int
    procedure_code: str
    modifiers: list[str]
    units: Decimal
    charge: Decimal
    diagnosis_pointers: list[int]
    service_date: dt.date | None


class StatusEventView(BaseModel):
    status: str
    effective_date: dt.date
    source: str
    category_code: str | None
    status_code: str | None
    note: str | None
    decoded: str = Field(
        default="",
        description="The category (277 STC01-1) and status code in words; a status code whose list is not "
        "shipped says 'description not shipped'.",
    )


class HistoryEntry(BaseModel):
    """One ledger entry, as the claim's history shows it."""

    posted_on: dt.date
    kind: str = Field(description="charge, payer_payment, patient_payment, adjustment, transfer, write_off...")
    source: HistorySource
    amount: Decimal = Field(description="Signed as in the ledger: + raises the balance, - lowers it.")
    responsibility: str = Field(description="payer or patient: whose balance the entry moves.")
    code: str | None = Field(default=None, description="GROUP-CARC of an adjustment or transfer.")
    procedure_code: str | None = Field(default=None, description="The claim line, when line-level.")
    reference: str | None = Field(default=None, description="The 835's trace number, or a payment's method.")
    note: str | None = Field(default=None, description="e.g. a prepayment / deposit, or a reversal.")
    posted_by: str = Field(description="Who posted it: the user's name, 'ERA import', or 'claim import'.")


class RejectionView(BaseModel):
    """A claim the clearinghouse or payer rejected (277CA): never received, so the filing clock runs."""

    rejected_on: dt.date
    source: str
    decoded: str = Field(description="Category and status code, short: 'A7 Acknowledgement/Rejected for ...'.")
    category_text: str | None = Field(description="The category's whole text from the shipped list.")
    reason: str | None = Field(description="The rejection's own words, as the acknowledgement gave them.")
    fix: str
    amount: Decimal = Field(description="The insurance balance: what is lost if the claim is not filed in time.")
    filing_deadline: dt.date | None = Field(description="Date of service + the payer's filing limit.")
    days_left: int | None = Field(description="Negative: the deadline passed that many days ago.")
    lost: bool = Field(description="The filing deadline passed: the amount is lost.")
    limit_basis: str | None = Field(description="The payer's limit and the policy it comes from.")
    limit_source: str | None = Field(description="Doc id of that policy.")
    deadline_note: str


class PayerMessage(BaseModel):
    """A remark code of the latest remittance that changes what front desk may collect (MA18...)."""

    code: str
    front_desk: str
    source: str = Field(description="The playbook that says so.")


class AdjustmentView(BaseModel):
    group_code: str
    reason_code: str
    amount: Decimal
    procedure_code: str | None = Field(default=None, description="The service line, when line-level.")


class RemittanceView(BaseModel):
    trace_number: str
    payment_date: dt.date
    payer_name: str
    claim_status_code: str = Field(description="CLP02: 1 processed as primary, 4 denied, 22 reversal...")
    billed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: list[AdjustmentView]
    remark_codes: list[str]


class ClaimDetail(BaseModel):
    claim_number: str
    payer_claim_number: str | None
    status: str
    patient: PatientRef
    member_id: str | None
    payer: str
    payer_id: str
    payer_kind: str
    provider: str | None
    service_date_from: dt.date
    service_date_to: dt.date
    submitted_on: dt.date | None
    place_of_service: str | None
    frequency_code: str
    diagnoses: list[str]
    lines: list[ClaimLineView]
    status_history: list[StatusEventView]
    history: list[HistoryEntry] = Field(default_factory=list, description="Every ledger entry, oldest first.")
    rejection: RejectionView | None = None
    payer_messages: list[PayerMessage] = Field(default_factory=list)
    remittances: list[RemittanceView]
    balances: Balances
    timely_filing_days: int
    appeal_days: int
    corrected_claim_days: int | None


def get_claim(claim_number: str, *, session: Session, practice_id: int, today: dt.date | None = None) -> ClaimDetail:
    """Get one claim by its claim number (or the payer's claim number): current status and status
    history with the claim status codes decoded, the payment history (every ledger entry: charges, the
    payer's payments and adjustments, patient payments, who posted each), service lines with codes and
    modifiers, diagnoses, every remittance with its adjustment (group + CARC) and remark (RARC) codes, the
    balances owed by the payer and by the patient, and for a rejected claim the reason, the fix and the
    timely-filing deadline."""
    claim = load_claim(session, practice_id=practice_id, claim_number=claim_number)
    remits = remittance_claims_for(session, claim_ids=[claim.id]).get(claim.id, [])
    coverage = next((c for c in claim.patient.coverages if c.id == claim.coverage_id), None)
    entries = claim_entries(session, claim_id=claim.id)
    balances = Balances.from_totals(totals_from_entries(entries))
    remittances = [_remittance_view(remit) for remit in remits]
    latest = next((r for r in reversed(remits) if r.posted and r.status_code != "22"), None)
    messages = []
    for code in dict.fromkeys(r.code for r in latest.remarks) if latest else ():
        advice = remark_advice(code)
        if advice is not None:
            messages.append(PayerMessage(code=advice.code, front_desk=advice.front_desk, source=advice.source))
    return ClaimDetail(
        claim_number=claim.claim_number,
        payer_claim_number=claim.payer_claim_number,
        status=claim.status.value,
        patient=patient_ref(claim),
        member_id=coverage.member_id if coverage else None,
        payer=claim.payer.name,
        payer_id=claim.payer.payer_id,
        payer_kind=claim.payer.kind.value,
        provider=claim.provider.name if claim.provider else None,
        service_date_from=claim.service_date_from,
        service_date_to=claim.service_date_to,
        submitted_on=claim.submitted_on,
        place_of_service=claim.place_of_service,
        frequency_code=claim.frequency_code,
        diagnoses=[d.code for d in claim.diagnoses],
        lines=[
            ClaimLineView(
                line_number=line.line_number,
                procedure_code=line.procedure_code,
                modifiers=line.modifier_list,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=[int(p) for p in line.diagnosis_pointers.split(",") if p.strip().isdigit()],
                service_date=line.service_date,
            )
            for line in claim.lines
        ],
        status_history=[_event_view(event) for event in claim.status_history],
        history=_history(session, claim, entries, remits, practice_id),
        rejection=_rejection(claim, balances, today or dt.date.today()),
        payer_messages=messages,
        remittances=remittances,
        balances=balances,
        timely_filing_days=claim.payer.timely_filing_days,
        appeal_days=claim.payer.appeal_days,
        corrected_claim_days=claim.payer.corrected_claim_days,
    )


def _remittance_view(remit: RemittanceClaim) -> RemittanceView:
    codes_by_line = {line.id: line.procedure_code for line in remit.service_lines}
    return RemittanceView(
        trace_number=remit.remittance.trace_number,
        payment_date=remit.remittance.payment_date,
        payer_name=remit.remittance.payer_name,
        claim_status_code=remit.status_code,
        billed=remit.billed_amount,
        paid=remit.paid_amount,
        patient_responsibility=remit.patient_responsibility,
        adjustments=[
            AdjustmentView(
                group_code=a.group_code,
                reason_code=a.reason_code,
                amount=a.amount,
                procedure_code=codes_by_line.get(a.service_line_id) if a.service_line_id else None,
            )
            for a in remit.adjustments
        ],
        remark_codes=list(dict.fromkeys(r.code for r in remit.remarks)),
    )


def _event_view(event: ClaimStatusEvent) -> StatusEventView:
    decoded = describe_claim_status(event.category_code, event.status_code, source=event.source)
    return StatusEventView(
        status=event.status.value,
        effective_date=event.effective_date,
        source=event.source,
        category_code=event.category_code,
        status_code=event.status_code,
        note=event.note,
        decoded=decoded.describe(short=True),
    )


def _history(
    session: Session, claim: Claim, entries: list[LedgerEntry], remits: list[RemittanceClaim], practice_id: int
) -> list[HistoryEntry]:
    """The claim's ledger entries, oldest first, each with where it came from and who posted it."""
    user_ids = {e.created_by_user_id for e in entries if e.created_by_user_id is not None}
    names: dict[int, str] = {}
    if user_ids:
        query = select(User.id, User.name).where(User.practice_id == practice_id, User.id.in_(user_ids))
        names = {row[0]: row[1] for row in session.execute(query)}
    payment_ids = {e.payment_id for e in entries if e.payment_id is not None and e.remittance_claim_id is None}
    methods: dict[int, str] = {}
    if payment_ids:
        query_methods = select(Payment.id, Payment.method).where(
            Payment.practice_id == practice_id, Payment.id.in_(payment_ids)
        )
        methods = {row[0]: row[1] for row in session.execute(query_methods)}
    traces = {r.id: r.remittance.trace_number for r in remits}
    procedures = {line.id: line.procedure_code for line in claim.lines}
    history = []
    for entry in sorted(entries, key=lambda e: (e.posted_on, e.id)):
        source: HistorySource
        if entry.remittance_claim_id is not None:
            source, reference, by = "835 remittance", traces.get(entry.remittance_claim_id), "ERA import"
        elif entry.kind is LedgerKind.CHARGE:
            source, reference, by = "claim charge", None, "claim import"
        elif entry.kind is LedgerKind.PATIENT_PAYMENT:
            source, reference, by = "patient payment posting", methods.get(entry.payment_id or 0), "poster not recorded"
        else:
            source, reference, by = "adjustment posting", None, "poster not recorded"
        user = names.get(entry.created_by_user_id or 0)
        if user:
            by = f"{by} ({user})" if source == "835 remittance" else user
        note = None
        if entry.memo == PREPAYMENT_MEMO:
            note = PREPAYMENT_MEMO
        elif entry.kind is LedgerKind.REVERSAL:
            note = "reversal"
        history.append(
            HistoryEntry(
                posted_on=entry.posted_on,
                kind=entry.kind.value,
                source=source,
                amount=entry.amount,
                responsibility=entry.responsibility.value,
                code=f"{entry.group_code}-{entry.reason_code}" if entry.group_code and entry.reason_code else None,
                procedure_code=procedures.get(entry.claim_line_id) if entry.claim_line_id else None,
                reference=reference,
                note=note,
                posted_by=by,
            )
        )
    return history


def _rejection(claim: Claim, balances: Balances, today: dt.date) -> RejectionView | None:
    """The rejection a rejected claim is in, with its fix and the filing deadline (`tools.filing_limits`)."""
    if claim.status is not ClaimStatus.REJECTED:
        return None
    event = next((e for e in reversed(claim.status_history) if e.status is ClaimStatus.REJECTED), None)
    if event is None:
        return None
    decoded = describe_claim_status(event.category_code, event.status_code, source=event.source)
    rule = rejection_rule(event.category_code, event.note)
    amount = balances.insurance_balance
    found = filing_limit_for(claim.payer, claim.service_date_from)
    if found is None:
        deadline = days_left = None
        lost = False
        note = f"No filing limit on file for {claim.payer.name}: check its policy before resubmitting."
    else:
        deadline = found.deadline(claim.service_date_from)
        days_left = (deadline - today).days
        lost = days_left < 0
        if lost:
            note = (
                f"{claim.payer.name}'s filing limit ({found.stated_as} from the date of service) passed on "
                f"{deadline}; the claim was rejected, so the payer never received it and {money(amount)} is lost "
                "to timely filing (write it off: it may not be billed to the patient)."
            )
        else:
            note = (
                f"Resubmit by {deadline} ({days_left} days left): {claim.payer.name}'s filing limit is "
                f"{found.stated_as} from the date of service, and a rejected claim does not stop it."
            )
    return RejectionView(
        rejected_on=event.effective_date,
        source=event.source,
        decoded=decoded.describe(short=True),
        category_text=decoded.category,
        reason=event.note,
        fix=rule.next_step,
        amount=amount,
        filing_deadline=deadline,
        days_left=days_left,
        lost=lost,
        limit_basis=found.basis if found else None,
        limit_source=found.doc_id if found else None,
        deadline_note=note,
    )


# -- rendering -----------------------------------------------------------------------------------------


def _event_line(event: Mapping[str, Any]) -> str:
    codes = event.get("decoded") or ":".join(c for c in (event.get("category_code"), event.get("status_code")) if c)
    return (
        f"{event['effective_date']} {event['status'].replace('_', ' ')} ({event['source']}"
        + (f": {codes}" if codes else "")
        + ")"
        + (f": {event['note']}" if event.get("note") else "")
    )


_TO_PATIENT = " to the patient"


def _money_label(entry: Mapping[str, Any]) -> tuple[str, Decimal] | None:
    """What one ledger entry adds to its posting's line, and the amount shown (None: the payer side of a
    transfer, which the patient side already shows)."""
    kind, side, code = entry["kind"], entry["responsibility"], entry.get("code")
    amount = Decimal(str(entry["amount"]))
    reversal = kind == "reversal"
    if kind == "charge":
        label, shown_amount = "charges", amount
    elif kind == "payer_payment" or (reversal and not code and side == "payer"):
        label, shown_amount = "payer paid", -amount
    elif kind == "patient_payment" or (reversal and not code and side == "patient"):
        prepaid = entry.get("note") == PREPAYMENT_MEMO
        label, shown_amount = "patient paid" + (" (prepayment / deposit)" if prepaid else ""), -amount
    elif code and code.startswith("PR") and kind in ("transfer", "reversal"):
        if side != "patient":
            return None
        label, shown_amount = f"{code}{_TO_PATIENT}", amount
    elif kind == "write_off":
        label, shown_amount = f"{code or 'write-off'} off the patient balance", -amount
    else:
        label, shown_amount = code or kind.replace("_", " "), -amount
    return (f"reversal of {label}", abs(shown_amount)) if reversal else (label, shown_amount)


def _money_lines(history: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Ledger entries grouped by posting (one 835 answer, one payment, one adjustment): (date, text)."""
    groups: dict[tuple[str, str, str, str], dict[str, Decimal]] = {}
    for entry in history:
        key = (str(entry["posted_on"]), entry["source"], str(entry.get("reference") or ""), entry["posted_by"])
        sums = groups.setdefault(key, {})
        labelled = _money_label(entry)
        if labelled is not None:
            label, amount = labelled
            sums[label] = sums.get(label, Decimal("0")) + amount
    lines = []
    for (day, source, reference, by), sums in groups.items():
        what = "; ".join(
            f"{label.removesuffix(_TO_PATIENT)} {money(total)}{_TO_PATIENT if label.endswith(_TO_PATIENT) else ''}"
            for label, total in sums.items()
        )
        if source == "835 remittance":
            where = f"835 remittance {reference}: " if reference else "835 remittance: "
        else:
            where = "adjustment: " if source == "adjustment posting" else ""
        method = f" by {reference}" if source == "patient payment posting" and reference else ""
        lines.append((day, f"{day} {where}{what}{method} ({by})"))
    return lines


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    patient = data.get("patient") or {}
    header = (
        f"**Claim {data['claim_number']}**: {data['status'].replace('_', ' ')} "
        f"({data['payer']}, DOS {data['service_date_from']}, billed {money(data['balances']['billed'])})."
    )
    lines = [header]
    rejection = data.get("rejection")
    if rejection:
        lines.append(
            f"**Rejected** on {rejection['rejected_on']} ({rejection['source']}: {rejection['decoded']})"
            + (f": {rejection['reason']}" if rejection.get("reason") else "")
            + "."
        )
        lines.append(f"**Fix:** {rejection['fix']}")
        lines.append(f"**Timely filing:** {rejection['deadline_note']}")
    if isinstance(patient, dict) and shown(patient.get("name")):
        lines.append(f"Patient: {patient['name']} (born {patient.get('birth_date')}), member {data.get('member_id')}.")
    if data.get("provider"):
        lines.append(f"Rendering provider: {data['provider']}.")
    balances = data["balances"]
    lines.append(
        f"Payer paid {money(balances['payer_paid'])}, adjusted {money(balances['adjusted'])}, patient responsibility "
        f"{money(balances['patient_responsibility'])} (paid {money(balances['patient_paid'])}); open: insurance "
        f"{money(balances['insurance_balance'])}, patient {money(balances['patient_balance'])}."
    )
    service = service_lines(data)
    if service:
        lines.append(service)
    for message in data.get("payer_messages") or []:
        lines.append(f"**{message['code']}:** {message['front_desk']}")
    # Same day: what was received (837, 277CA, 835) first, then the money, then the status a posting set.
    timeline = [
        (str(e["effective_date"]), 2 if e["source"] == "posting" else 0, _event_line(e))
        for e in data.get("status_history") or []
    ]
    timeline += [(day, 1, text) for day, text in _money_lines(data.get("history") or [])]
    if timeline:
        lines.append("**History** (oldest first):")
        lines += [f"- {text}" for _, _, text in sorted(timeline, key=lambda item: item[:2])]
    return "\n".join(lines)


def service_lines(data: Mapping[str, Any]) -> str:
    """ "Lines: 99213-25 $135.00 x1, 36415 $20.00. Diagnoses: E11.65, I10.": what was billed, as a biller reads
    a claim (a denial answer shows it too: "co-16 m51, whats missing" is a question about these)."""
    billed = ", ".join(
        f"{line['procedure_code']}{'-' + '-'.join(line['modifiers']) if line['modifiers'] else ''} "
        f"{money(line['charge'])}" + (f" x{_units(line['units'])}" if Decimal(str(line["units"])) != 1 else "")
        for line in data.get("lines") or []
    )
    if not billed:
        return ""
    diagnoses = ", ".join(data.get("diagnoses") or [])
    return f"Lines: {billed}." + (f" Diagnoses: {diagnoses}." if diagnoses else "")


def _units(value: Any) -> str:
    units = Decimal(str(value))
    return str(units.quantize(Decimal(1))) if units == units.to_integral_value() else str(units.normalize())


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What is the status of claim 2001?",
    "Can you pull up claim 1042?",
    "How much is still owed on claim 1500?",
    "What's the patient balance on claim 1188?",
    "Has claim 1007 been paid yet?",
    "Show me the history of claim 1333",
    "What lines and diagnoses are on claim 1276?",
    "When did Aetna pay claim 1610 and how much?",
    "Is claim 1911 still pending with the payer?",
    "What does the patient owe on claim 1425 after insurance?",
    "Look up payer claim number 26301000123 for me",
    "Show the remittances posted to claim 1734",
    "clm 2001 status?",
    "bal on clm 1042",
    "pt resp on clm 1500?",
    "ins bal remaining clm 1188",
    "clm 1007 pd yet?",
    "dos + cpts on clm 1333",
    "era posted to clm 1276?",
    "uhc pd amt on clm 1610",
    "clm 1911 status hx",
    "whats the pt owe on 1425 after ins",
    "cliam 2001 stauts",
    "status 1042",
    "1500 balance?",
    "claim 1188 details",
    "where is 1007 at",
    "1333 paid or not",
    "clm1276 lines dx mods",
    "show claim 1610",
    "1911 amt owed",
    "and the balance on that one?",
    "what's its status now?",
    "has it been paid?",
    "how much does the patient owe on it",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "status of claim 1500",
    "where is clm 1002",
    "any update on 1090?",
    "whats the bal on 1041",
    "show me claim 1043",
    "look up clm# 1001",
    "did 3100 get paid?",
    "claim 1017 status pls",
    "1044 status?",
    "how much does the pt owe on 1500",
    "what did medicare pay on clm 1043",
    "dx codes on claim 1500?",
    "what cpt was billed on clm 1042",
    "DOS for claim 1110?",
    "is 1010 still pending",
    "chk status of 1117",
    "stauts on claim 1058",
    "did aetna send an era for 1001 yet",
    "status of claim 1500?",
    "whats going on with clm 1043",
    "status of claim 1044",
    "whats the ins bal on 1043",
    "bal due from pt on clm 1041?",
    "whats the copay on 1500",
    "status on clm # 2001?",
    "whats the ins paid amt on 1001",
    "pt on the phone asking what she owes for 1043",
    "has 1500 been paid yet?",
    "check on claim 1002 for me",
    "what's the balance on 1500",
    "any update on clm#1002?",
    # One claim's details.
    "pull up 1188",
    "pull up 1042 and 2001",
    "1188??",
    "what did aetna pay on 1188",
    "rendering provider on 1188",
    "who was the provider on clm 2001",
    "what modifier was on the line for 1188",
    # More phrasings as staff type them (2026-12-02).
    "1042 status pls",
    "where are we on clm 1184",
    "can u check if 1188 got paid",
    "pt called asking if her ins ever paid for the visit, claim 1043",
    "what's the remaining balance on 1500 after the era posted",
    "is there still an ins bal on clm 2001?",
    "amt pt owes 1184",
    "pull clm 1610 for me real quick",
    "did bcbs ever pay on 1911",
    "when was 1425 last updated",
    "1734 - submitted date?",
    "when did clm 1276 go out",
    "what dos is on 1333",
    "member id on claim 1042",
    "which payer is 1188 billed to",
    "claim 1500 billed amt vs paid amt",
    "how much did we bill on 1007 and how much came back",
    "pt's responsibility on 1043 after the deductible",
    "status check 1184 thx",
    "quick q, has uhc processed 1610 yet",
    "hi can you look at claim 1002 and tell me where its at",
    "stat on 1041?",
    "is 1188 closed out or is there still money owed",
    "pls pull up the details for clm # 1500",
    "what icd codes did we bill on 1184",
    "how many units were billed on 1043",
    "any payments posted on 2001 yet",
    "was 1042 accepted by the payer",
    "claim 1911 - paid in full?",
    "clam 1333 staus",
    "waht is the balance for 1276",
    "front desk here, pt at the window wants to know what she still owes on 1500",
    "payer claim # for 1188",
    "open bal on 1007",
    "status history for 1425",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "hey so pt Jane Sample is on line 2, wants to know if her ins ever picked up the october visit, its claim 1043",
    "where does 1184 stand right now",
    "can you tell me what's outstanding on 1188, both the ins and pt portion",
    "1500: who's the payer, what dos, what's left",
    "trying to figure out if anything ever came in on clm 2001 from the insurance",
    "I think 1610 got paid last week but not sure, can you confirm",
    "what did we charge for the visit on 1911",
    "lines on 1425 pls, need to see the modifiers",
    "curious if 1734 ever got accepted or if it's still sitting there",
    # The EOB or ERA of a claim is the remittance the claim shows (2026-12-03).
    "eob on 1188 pls",
    "pull the eob for clm 2001",
    "what did the eob say on 1500",
    "remit details for 1610",
    "need to see the era for 1911",
    "1276 remit?",
    "can i see what the payer sent back on 1425",
    "what did the pt pay so far on 1043",
    "how much has the patient paid on 1188 already",
)

DESCRIPTOR = ToolDescriptor(
    func=get_claim,
    access="claims",
    step="Looking up claim {claim_number}",
    summary="a claim's status, history, lines, remittances and balances",
    examples=EXAMPLES,
    card="claim",
    phi_fields=("patient", "member_id"),
    referents=("claim", "payer", "patient"),
    plan=per_claim,
    render=render,
)
