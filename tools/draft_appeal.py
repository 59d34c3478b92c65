"""Tool: draft an appeal, reconsideration or Medicare redetermination letter for a denied claim.

The letter is a template filled from the facts the other tools return: the claim (`get_claim`), its
remittance, the decoded CARC/RARC codes, the playbook and the payer's policy in force (`explain_denial`),
plus the payer's own passage on the kind of request. Every code in it comes from those results; what the
data does not hold (the payer's mailing address, an authorization number) is left as a ``[...]`` blank and
listed in ``to_complete``. The draft is filed against the claim with who drafted it; its author edits it
(`edit_appeal_letter`), downloads it (`tools/letters_export.py`) and marks it sent (`mark_appeal_sent`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from knowledge.codesets import CodeSets
from knowledge.documents import KnowledgeBase
from knowledge.documents.models import Passage
from knowledge.errors import InvalidInput
from knowledge.practice import letters
from knowledge.practice.claims import get_claim as load_claim
from knowledge.practice.models import AppealLetter, Claim, Practice, User
from tools.descriptor import ToolDescriptor
from tools.explain_denial import NOT_DENIAL, DeadlineView, DenialExplanation, explain_denial
from tools.get_claim import ClaimDetail, RemittanceView, get_claim
from tools.render import money, passage_line, shown
from tools.slots import Slots, per_claim

LetterKind = Literal["appeal", "reconsideration", "redetermination"]

KIND_LABELS: dict[str, str] = {
    "appeal": "first-level appeal",
    "reconsideration": "reconsideration request",
    "redetermination": "Medicare redetermination request (CMS-20027)",
}

#: What to ask the knowledge base for the payer's passage on each kind of request, and the words of the
#: section that passage should come from.
KIND_QUERIES: dict[str, tuple[str, str]] = {
    "appeal": ("first-level provider appeal written appeal deadline", "first-level"),
    "reconsideration": ("reconsideration claim payment dispute provider portal", "reconsideration"),
    "redetermination": ("Level 1 redetermination MAC CMS-20027 120 days", "redetermination"),
}

#: Why the claim should be paid, by CARC: the letter's argument. Blanks are facts the database lacks.
ARGUMENTS: dict[str, str] = {
    "50": (
        "The enclosed medical records document that the services billed were medically necessary for the "
        "patient's condition on the date of service (diagnoses {diagnoses}) and meet the coverage criteria "
        "of the payer's policy."
    ),
    "151": "The enclosed records document the number of services and units billed and why each was necessary.",
    "197": (
        "The service was authorized before it was rendered: authorization [authorization number], "
        "issued [authorization date], enclosed."
    ),
    "29": (
        "The claim was filed within the filing limit: the enclosed clearinghouse acceptance report shows it "
        "was received on [acceptance date]."
    ),
    "11": "The diagnoses billed ({diagnoses}) support the services, as the enclosed records document.",
    "97": (
        "The service was separate and distinct from the other services of the day, as the enclosed records "
        "document; it is not included in another service."
    ),
    "B7": (
        "The rendering provider ({provider}) was enrolled with the payer on the date of service; the "
        "enrollment confirmation is enclosed."
    ),
}
DEFAULT_ARGUMENT = "The enclosed records support payment of the services as billed."

#: What to enclose, by CARC (the remittance is always enclosed).
ENCLOSURES: dict[str, list[str]] = {
    "50": ["Medical records for the date of service (visit note, orders and results)"],
    "151": ["Medical records documenting each service and unit billed"],
    "197": ["The authorization"],
    "29": ["Proof of timely filing (clearinghouse acceptance report or the payer's acknowledgement)"],
    "11": ["Medical records documenting the diagnoses"],
    "97": ["Medical records documenting the separate service"],
    "B7": ["The provider's enrollment confirmation"],
}
DEFAULT_ENCLOSURES = ["Medical records for the date of service"]

_BLANK = re.compile(r"\[(?!\d+\])[^\]]+\]")  # a blank to fill, not a citation marker "[1]"


class AppealDraft(BaseModel):
    """A letter drafted and filed against a claim, with the facts it was built from."""

    letter_id: int
    status: str = Field(description="draft until its author marks it sent.")
    kind: LetterKind
    kind_label: str
    title: str
    claim_number: str
    payer: str
    service_date: dt.date
    remittance_date: dt.date | None
    amount_in_dispute: Decimal
    body: str = Field(description="The letter's text; it names the patient.")
    fields: dict[str, str] = Field(description="The letter's fields (CMS-20027's for a redetermination).")
    codes: list[str] = Field(description="Every code the letter names, each from the claim or its remittance.")
    deadline: DeadlineView | None = Field(description="The deadline to send it by.")
    policy: list[Passage] = Field(description="The payer's policy passages the letter cites.")
    playbook: list[Passage] = Field(description="The denial playbook passages it followed.")
    to_complete: list[str] = Field(description="Blanks the person must fill before sending.")
    warnings: list[str]
    drafted_by: str | None
    created_at: dt.datetime
    reused: bool = Field(default=False, description="True: the claim's open draft of this kind was returned.")
    downloads: list[str] = Field(default_factory=lambda: ["docx", "pdf"])


class AppealLetterView(BaseModel):
    """A filed letter as the web, the CLI and the exports read it."""

    letter_id: int
    claim_number: str
    kind: str
    status: str
    title: str
    body: str
    fields: dict[str, Any]
    citations: list[dict[str, Any]]
    created_by_user_id: int | None
    updated_by_user_id: int | None
    sent_by_user_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None


def draft_appeal(
    claim_number: str,
    kind: LetterKind | None = None,
    new_draft: bool = False,
    *,
    session: Session,
    practice_id: int,
    user_id: int | None,
    codesets: CodeSets,
    knowledge_base: KnowledgeBase,
    today: dt.date | None = None,
) -> AppealDraft:
    """Draft an appeal letter for a denied claim and file it as a draft against the claim, for the person
    to edit, download (DOCX or PDF) and send. `kind` is "appeal" (first-level appeal), "reconsideration"
    (a payment dispute before a formal appeal) or "redetermination" (Medicare's first level, with the
    CMS-20027 fields); leave it empty to use the payer's first level (Medicare: redetermination). The
    letter holds the claim, date of service, the remittance's adjustment and remark codes with their
    official text, the payer's policy passages (cited) and the deadline. The claim's open draft of the same
    kind is returned instead of a second one unless `new_draft` is true."""
    on = today or dt.date.today()
    claim = get_claim(claim_number, session=session, practice_id=practice_id)
    chosen = _kind_for(kind, claim.payer_kind)
    row = load_claim(session, practice_id=practice_id, claim_number=claim.claim_number)
    practice, user = letters.letter_parties(session, practice_id=practice_id, user_id=user_id)
    if not new_draft:
        existing = letters.open_draft(session, practice_id=practice_id, claim_id=row.id, kind=chosen)
        if existing is not None:
            explanation = _explanation(claim.claim_number, session, practice_id, codesets, knowledge_base, on)
            return _result(existing, claim, explanation, user, reused=True)
    explanation = _explanation(claim.claim_number, session, practice_id, codesets, knowledge_base, on)
    if not explanation.denied:
        raise InvalidInput(
            f"Claim {claim.claim_number} has no denial on its latest remittance: there is nothing to appeal. "
            + explanation.next_step
        )
    policy = _policy(knowledge_base, claim, chosen, explanation, practice_id)
    letter = _compose(claim, explanation, policy, chosen, practice, user, on)
    stored = letters.file_letter(
        session,
        practice_id=practice_id,
        claim_id=row.id,
        kind=chosen,
        title=letter["title"],
        body=letter["body"],
        fields=letter["fields"],
        citations=[p.model_dump(mode="json") for p in policy],
        user_id=user.id if user else None,
    )
    return _result(stored, claim, explanation, user, reused=False)


def get_appeal_letter(letter_id: int, *, session: Session, practice_id: int) -> AppealLetterView:
    """One filed letter of the practice (for the web and CLI views and the downloads)."""
    return _view(session, letters.get_letter(session, practice_id=practice_id, letter_id=letter_id))


def edit_appeal_letter(
    letter_id: int, body: str, *, session: Session, practice_id: int, user_id: int | None
) -> AppealLetterView:
    """Replace a draft's text (its author only, before it is sent)."""
    letter = letters.update_letter_body(
        session, practice_id=practice_id, letter_id=letter_id, user_id=user_id, body=body
    )
    return _view(session, letter)


def mark_appeal_sent(letter_id: int, *, session: Session, practice_id: int, user_id: int | None) -> AppealLetterView:
    """Mark a draft as sent to the payer (its author only); it is not edited after that."""
    letter = letters.mark_letter_sent(session, practice_id=practice_id, letter_id=letter_id, user_id=user_id)
    return _view(session, letter)


# -- building the letter ------------------------------------------------------------------------------


def _kind_for(requested: str | None, payer_kind: str) -> LetterKind:
    medicare = payer_kind == "medicare"
    if requested in (None, "", "appeal") and medicare:
        return "redetermination"  # Medicare's first level of appeal
    if requested in (None, ""):
        return "appeal"
    if requested == "redetermination" and not medicare:
        raise InvalidInput("A redetermination is Medicare's first level of appeal; this claim's payer is not Medicare.")
    if requested == "reconsideration" and medicare:
        raise InvalidInput(
            "A Medicare reconsideration (QIC, form CMS-20033) follows a redetermination decision; "
            "draft the redetermination first."
        )
    if requested not in KIND_LABELS:
        raise InvalidInput(f"Unknown letter kind {requested!r}; expected appeal, reconsideration or redetermination.")
    return requested  # type: ignore[return-value]


def _explanation(
    claim_number: str, session: Session, practice_id: int, codesets: CodeSets, kb: KnowledgeBase, on: dt.date
) -> DenialExplanation:
    return explain_denial(
        claim_number, session=session, practice_id=practice_id, codesets=codesets, knowledge_base=kb, today=on
    )


def _policy(
    kb: KnowledgeBase, claim: ClaimDetail, kind: str, explanation: DenialExplanation, practice_id: int
) -> list[Passage]:
    """The payer's passage on this kind of request first, then the denial topic's passages; the payer's own
    policy in force on the date of service only (general guidance is the playbook's job)."""
    query, section_word = KIND_QUERIES[kind]
    found = [
        p
        for p in kb.search(query, payer=claim.payer, on_date=claim.service_date_from, limit=6, practice_id=practice_id)
        if p.payer
    ]
    found.sort(key=lambda p: section_word not in " ".join(p.section_path).lower())
    chosen: list[Passage] = []
    for passage in [*found[:1], *explanation.policy[:1]]:
        if passage.passage_id not in {p.passage_id for p in chosen}:
            chosen.append(passage)
    return chosen


def _us(day: dt.date | None) -> str:
    return day.strftime("%m/%d/%Y") if day else "[date]"


def _line_text(line: Any) -> str:
    code = line.procedure_code + ("-" + "-".join(line.modifiers) if line.modifiers else "")
    units = f"{line.units.normalize():f}"
    return f"Line {line.line_number}: {code}, {units} unit{'s' if units != '1' else ''}, {money(line.charge)}"


def _reasons(explanation: DenialExplanation, remit: RemittanceView | None) -> list[str]:
    """One line per code on the remittance, with the official text."""
    text = {(item.kind, item.code): item.description for item in explanation.decoded}
    lines = []
    for adjustment in remit.adjustments if remit else []:
        group = text.get(("group", adjustment.group_code), "")
        reason = text.get(("carc", adjustment.reason_code), "")
        on_line = f", line {adjustment.procedure_code}" if adjustment.procedure_code else ""
        lines.append(
            f"{adjustment.group_code}-{adjustment.reason_code} ({money(adjustment.amount)}{on_line}): "
            f"{group}{'; ' if group and reason else ''}{reason}"
        )
    for code in remit.remark_codes if remit else []:
        lines.append(f"{code}: {text.get(('rarc', code), '')}")
    return lines


def _cite(passage: Passage, number: int) -> str:
    since = f", in force from {_us(passage.effective_from)}" if passage.effective_from else ""
    section = " > ".join(passage.section_path)
    return f'{passage.payer} policy "{passage.title}" ({section}{since}) [{number}]: "{" ".join(passage.text.split())}"'


def _compose(
    claim: ClaimDetail,
    explanation: DenialExplanation,
    policy: list[Passage],
    kind: LetterKind,
    practice: Practice,
    user: User | None,
    on: dt.date,
) -> dict[str, Any]:
    remit = claim.remittances[-1] if claim.remittances else None
    denial = next(
        (
            a
            for a in (remit.adjustments if remit else [])
            if f"{a.group_code}-{a.reason_code}" in _denial_codes(explanation)
        ),
        None,
    )
    carc = denial.reason_code if denial else ""
    diagnoses = ", ".join(claim.diagnoses) or "[diagnoses]"
    argument = ARGUMENTS.get(carc, DEFAULT_ARGUMENT).format(
        diagnoses=diagnoses, provider=claim.provider or "[rendering provider]"
    )
    enclosures = [
        f"Copy of the remittance advice (trace {remit.trace_number}, {_us(remit.payment_date)})"
        if remit
        else "Copy of the remittance advice",
        *ENCLOSURES.get(carc, DEFAULT_ENCLOSURES),
    ]
    reasons = _reasons(explanation, remit)
    services = [_line_text(line) for line in claim.lines]
    citations = [_cite(p, n) for n, p in enumerate(policy, start=1)]
    deadline = explanation.deadline
    requester = user.name if user else "[your name]"
    contact = user.email if user else "[email]"
    title = f"{KIND_LABELS[kind][:1].upper()}{KIND_LABELS[kind][1:]}: claim {claim.claim_number} ({claim.payer})"
    if kind == "redetermination":
        late = deadline is not None and deadline.days_left < 0
        fields = {
            "1. Beneficiary's name": claim.patient.name,
            "2. Medicare number": claim.member_id or "[Medicare number]",
            "3. Item or service you wish to appeal": "; ".join(services),
            "4. Date the service or item was received": _us(claim.service_date_from),
            "5. Date of the initial determination notice": _us(remit.payment_date if remit else None),
            "6. If the initial determination notice was received more than 120 days ago, the reason for not "
            "making this request earlier": "[Reason for filing late (good cause)]" if late else "Not applicable.",
            "7. Additional information Medicare should consider": (
                "I do not agree with the determination of my claim. MY REASONS ARE: " + argument
            ),
            "8. Requester's name": requester,
            "Requester's relationship to the beneficiary": f"Provider (billing office of {practice.name})",
            "Requester's address": "[practice mailing address]",
            "Requester's telephone number": "[phone]",
            "Requester's email": contact,
            "9. Evidence": "I have evidence to submit (enclosed): " + "; ".join(enclosures) + ".",
            "10. Medicare contractor that made the determination": f"{claim.payer} (payer ID {claim.payer_id})",
            "Claim number": claim.claim_number,
            "Medicare claim number (ICN)": claim.payer_claim_number or "[ICN from the remittance]",
            "Provider NPI": practice.npi or "[NPI]",
        }
        body = [
            "MEDICARE REDETERMINATION REQUEST",
            "First level of appeal; the fields of form CMS-20027",
            "",
            *(f"{label}: {value}" for label, value in fields.items()),
            "",
            "Codes on the initial determination:",
            *(f"- {line}" for line in reasons),
            "",
            f"Diagnoses billed: {diagnoses}.",
            *(["", "Policy cited:", *citations] if citations else []),
            "",
            (
                f"Filed within the redetermination window: due by {_us(deadline.date)} ({deadline.basis})."
                if deadline and deadline.days_left >= 0
                else f"The redetermination window closed on {_us(deadline.date)} ({deadline.basis}); "
                "item 6 gives the reason for filing late."
                if deadline
                else ""
            ),
            "",
            "Signature of the requester: ______________________    Date signed: __________",
        ]
    else:
        fields = {
            "Patient": claim.patient.name,
            "Date of birth": _us(claim.patient.birth_date),
            "Member ID": claim.member_id or "[member ID]",
            "Claim number": claim.claim_number,
            "Payer claim number": claim.payer_claim_number or "[payer claim number]",
            "Date of service": _us(claim.service_date_from),
            "Rendering provider": claim.provider or "[rendering provider]",
            "Billed": money(claim.balances.billed),
            "Paid": money(claim.balances.payer_paid),
            "Amount in dispute": money(explanation.amount_at_stake),
        }
        opening = (
            f"We request a first-level appeal of {claim.payer}'s denial of the claim above"
            if kind == "appeal"
            else f"We request a reconsideration of {claim.payer}'s payment decision on the claim above"
        )
        processed = (
            f", processed on {_us(remit.payment_date)} (remittance trace {remit.trace_number})." if remit else "."
        )
        window = "appeal" if kind == "appeal" else "reconsideration"
        body = [
            practice.name,
            f"NPI {practice.npi or '[NPI]'}    TIN {practice.tax_id or '[TIN]'}",
            "[practice mailing address and phone]",
            "",
            _us(on),
            "",
            f"{claim.payer}, Provider {'Appeals' if kind == 'appeal' else 'Reconsiderations'}",
            "[payer's appeal mailing address or portal]",
            "",
            f"RE: {KIND_LABELS[kind][:1].upper()}{KIND_LABELS[kind][1:]}",
            *(f"{label}: {value}" for label, value in fields.items()),
            "",
            "To whom it may concern:",
            "",
            opening + processed,
            "",
            "Services billed:",
            *(f"- {line}" for line in services),
            f"Diagnoses: {diagnoses}.",
            "",
            "The remittance gives these reasons:",
            *(f"- {line}" for line in reasons),
            "",
            "Why the claim should be paid:",
            argument,
            *(["", "Policy cited:", *citations] if citations else []),
            "",
            (
                f"This {window} is sent within {claim.payer}'s window: it is due by {_us(deadline.date)} "
                f"({deadline.basis})."
                if deadline and deadline.days_left >= 0
                else ""
            ),
            f"Please reprocess the claim and pay the {money(explanation.amount_at_stake)} in dispute.",
            "",
            "Enclosures:",
            *(f"- {item}" for item in enclosures),
            "",
            "Sincerely,",
            "",
            requester,
            f"Billing office, {practice.name}",
            contact,
            "[phone]",
        ]
    text = "\n".join(body)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return {"title": title, "body": text, "fields": fields}


def _denial_codes(explanation: DenialExplanation) -> set[str]:
    return {a.split(" ")[0] for a in explanation.adjustments} - {f"{g}-{r}" for g, r in NOT_DENIAL}


def _codes(claim: ClaimDetail, explanation: DenialExplanation) -> list[str]:
    """The codes a letter may name: the claim's and its latest remittance's, nothing else."""
    codes = [line.procedure_code for line in claim.lines]
    codes += [m for line in claim.lines for m in line.modifiers]
    codes += claim.diagnoses
    codes += [a.split(" ")[0] for a in explanation.adjustments]
    codes += [item.code for item in explanation.decoded if item.kind == "rarc"]
    return list(dict.fromkeys(codes))


def _result(
    letter: AppealLetter, claim: ClaimDetail, explanation: DenialExplanation, user: User | None, *, reused: bool
) -> AppealDraft:
    kind: LetterKind = letter.kind  # type: ignore[assignment]
    blanks = list(dict.fromkeys(_BLANK.findall(letter.body)))
    warnings = []
    deadline = explanation.deadline
    if deadline is not None and deadline.days_left < 0:
        warnings.append(f"The {deadline.kind.replace('_', ' ')} deadline passed on {deadline.date} ({deadline.basis}).")
    if explanation.action != "appeal":
        warnings.append(f"The playbook's next step for this denial is not an appeal: {explanation.next_step}")
    if any(p.sample for p in (Passage.model_validate(c) for c in letter.citations)):
        warnings.append("The cited policy is a sample written for the demo: check the payer's current manual.")
    if reused:
        warnings.append(f"This claim already had an open draft ({letter.created_at:%Y-%m-%d}); it was not replaced.")
    return AppealDraft(
        letter_id=letter.id,
        status=letter.status,
        kind=kind,
        kind_label=KIND_LABELS[kind],
        title=letter.title,
        claim_number=claim.claim_number,
        payer=claim.payer,
        service_date=claim.service_date_from,
        remittance_date=explanation.remittance_date,
        amount_in_dispute=explanation.amount_at_stake,
        body=letter.body,
        fields={str(k): str(v) for k, v in letter.fields.items()},
        codes=_codes(claim, explanation),
        deadline=deadline,
        policy=[Passage.model_validate(c) for c in letter.citations],
        playbook=explanation.playbook,
        to_complete=blanks,
        warnings=warnings,
        drafted_by=user.name if user else None,
        created_at=letter.created_at,
        reused=reused,
    )


def _view(session: Session, letter: AppealLetter) -> AppealLetterView:
    claim = session.get(Claim, letter.claim_id)
    return AppealLetterView(
        letter_id=letter.id,
        claim_number=claim.claim_number if claim else "",
        kind=letter.kind,
        status=letter.status,
        title=letter.title,
        body=letter.body,
        fields=letter.fields,
        citations=letter.citations,
        created_by_user_id=letter.created_by_user_id,
        updated_by_user_id=letter.updated_by_user_id,
        sent_by_user_id=letter.sent_by_user_id,
        created_at=letter.created_at,
        updated_at=letter.updated_at,
        sent_at=letter.sent_at,
    )


# -- the descriptor -----------------------------------------------------------------------------------


def render(data: dict[str, Any], cite: Mapping[str, int]) -> str:
    verb = "Here is the open" if data.get("reused") else "Drafted a"
    lines = [
        f"**{verb} {data['kind_label']} for claim {data['claim_number']}** ({data['payer']}, DOS "
        f"{data['service_date']}), filed as draft #{data['letter_id']} against the claim. Edit it, then "
        "download it as DOCX or PDF and mark it sent."
    ]
    deadline = data.get("deadline")
    if deadline:
        left = deadline["days_left"]
        when = f"{left} days left" if left >= 0 else f"passed {-left} days ago"
        lines.append(f"**Send by:** {deadline['date']} ({when}; {deadline['basis']}).")
    for warning in data.get("warnings") or []:
        lines.append(f"**Note:** {warning}")
    blanks = data.get("to_complete") or []
    if blanks:
        lines.append("**Fill in before sending:** " + ", ".join(blanks) + ".")
    if data.get("codes"):
        lines.append("Codes in the letter (from the claim and its remittance): " + ", ".join(data["codes"]) + ".")
    policy = data.get("policy") or []
    if policy:
        lines.append(f"**{data['payer']} policy cited:**")
        lines += [passage_line(p, cite) for p in policy]
    body = data.get("body")
    if shown(body):
        lines.append("```text\n" + str(body).rstrip() + "\n```")
    else:
        lines.append("The letter names the patient, so it is not shown here: open the draft on the web.")
    return "\n".join(lines)


_RECON = re.compile(r"\b(recon\w*|reconsider\w*)\b", re.IGNORECASE)
_REDET = re.compile(r"\b(redet\w*|cms[- ]?20027)\b", re.IGNORECASE)
_FRESH = re.compile(r"\b(new|fresh|another|second|start over|redo)\b", re.IGNORECASE)


def plan(slots: Slots) -> list[dict[str, Any]]:
    """One draft per claim named; the kind only when the message names one ("recon", "redetermination")."""
    kind = "reconsideration" if _RECON.search(slots.text) else "redetermination" if _REDET.search(slots.text) else None
    calls = per_claim(slots)
    for call in calls:
        if kind:
            call["kind"] = kind
        if _FRESH.search(slots.text):
            call["new_draft"] = True
    return calls


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "draft an appeal letter for claim 1042",
    "draft the appeal for 1042",
    "appeal letter for clm 1042",
    "write up a recon for 1188",
    "redetermination letter for the medicare denial on 1043",
    "can you write an appeal letter for claim 2001",
    "need an appeal ltr for 1500",
    "pls draft appeal clm 1188",
    "write the appeal for the uhc denial on 1042",
    "start an appeal letter for 1333, co-50",
    "draft recon request 1610",
    "reconsideration letter for aetna on 1276",
    "medicare redetermination for clm 1039",
    "fill out the cms-20027 for 1045",
    "redet request for 1027",
    "apeal leter 1042",
    "draf appeal for 1188 pls",
    "letter to appeal the denial on 1911",
    "write a letter to cigna appealing 1023",
    "appeal 1042 - need the letter",
    "prepare a first level appeal for 1029",
    "draft a medical necessity appeal for 1042",
    "can u do the appeal letter on 1734",
    "make a new appeal draft for 1042",
    "start over on the appeal letter for 1188",
    "draft the appeal for it",
    "write up the appeal letter for that one",
    "appeal letter w/ the policy cited for 1500",
    "generate the appeal docx for 1042",
    "i need a pdf appeal letter for claim 1188",
    "recon ltr for 1425 pls",
    "write the redetermination for 1061",
    # Shorthand, with the claim left to the thread (2026-12-03).
    "draft a recon on it",
    "recon for that claim pls",
    "ok draft a recon w the records we have",
    "we got the auth after the fact, do a recon letter for it",
    "can you put together a recon for the cigna one",
    "time to appeal this one, draft it",
    # The letter asked for in a word or two, the claim left to the thread (2026-12-03).
    "do the letter",
    "letter pls",
    "ok do the appeal on it",
    "type up the appeal",
    "go ahead and write it up for appeal",
    "lets fight it, draft something",
    "need to dispute this one, letter",
    "can you do a letter for that",
    "appeal it",
    "send a recon on this one, draft it up",
    "get a redet going for it",
    # A verb for the letter, the claim left to the thread (2026-12-03).
    "ok recon it",
    "redet it",
    "recon that one pls",
    "file a recon on it",
)

DESCRIPTOR = ToolDescriptor(
    func=draft_appeal,
    access="claims",
    writes_draft=True,
    step="Drafting the appeal letter for claim {claim_number}",
    summary="draft an appeal, reconsideration or Medicare redetermination letter for a denied claim (DOCX/PDF)",
    examples=EXAMPLES,
    card="letter",
    phi_fields=("body", "fields"),
    referents=("claim", "payer"),
    plan=plan,
    render=render,
    roles_hint=("admin", "biller", "coder"),
)
