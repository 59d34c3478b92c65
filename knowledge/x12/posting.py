"""Posting an 835 to the ledger, and the claim status that follows.

Rules (each refusal becomes a WorkException with a reason a biller can act on; nothing is posted
silently):
- the transaction posts only if BPR02 = sum of CLP04 - sum of PLB (checked by the first pass);
- a CLP is matched to a claim by patient control number (CLP01) whose patient agrees with NM1*QC, then
  by payer claim number (CLP07) with patient and service dates, then by patient, service date and
  billed amount; none or several is an exception;
- a claim posts only if billed - paid = the sum of its CAS amounts (claim and line level), and only if
  the claim's insurance balance is the billed amount the payer adjudicated: a claim already posted (a
  duplicate, or a second payer's remittance that needs coordination of benefits) goes to a person;
- a reversal (CLP02 = 22) reverses the ledger entries of the payment it takes back, entry by entry; the
  corrected claim that follows posts like any other;
- once: a remittance is identified by payer + TRN02 + the claims it pays. An 835 whose every claim an
  earlier remittance of the same payer posted with the same amounts (a re-sent ERA with a new ST02 or
  TRN02) posts nothing (`ResentRemittance`); the same payer and TRN02 with other claims is a `Conflict`;
  the payment row is written only when a claim of the remittance posts (or it has PLBs only).
Payments are posted per service line (SVC03) when the lines balance, else on the claim. Rows are
written in batches and dropped from the session after each, so memory stays flat on large files.

Large files in chunks: given `commit`, the poster commits after each batch of `BATCH_SIZE` claims, so the
database's write lock is held for one batch at a time and chat keeps writing between them. The
remittance is `importing` until `finish`, and holds a lease (`knowledge.practice.leases`): if the process
dies mid-file, importing the same content again resumes after the last committed batch (the CLP loops
are posted in file order, so the remittance's stored claim rows say how far it got) and nothing is
posted twice (each ledger entry's idempotency key is unique). While every claim so far is one an earlier
remittance already posted (a re-sent ERA, which must leave nothing behind), nothing is committed early.

This module is the orchestration (the remittance, its batches, checkpoints, resuming, the plan of each
batch); the pieces it calls live beside it: `matching` (which claim and lines a CLP/SVC pays),
`balancing` (the money rules: whether a claim posts, its status) and `rows` (the plain rows and bulk
writes). They do not import this module; the names other modules imported from here are re-exported.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from knowledge.errors import Conflict
from knowledge.practice.leases import current_owner, holder_alive
from knowledge.practice.ledger import derive_status, totals_from_entries
from knowledge.practice.models import (
    Adjustment,
    ClaimStatusEvent,
    LedgerEntry,
    LedgerKind,
    Payer,
    Payment,
    PaymentKind,
    ProviderAdjustment,
    RemarkCode,
    Remittance,
    RemittanceClaim,
    RemittanceServiceLine,
    WorkException,
)
from knowledge.practice.types import money
from knowledge.x12.balancing import (
    DENIAL_GROUPS,
    SETTLING_REASONS,
    _resend_key,
    balances_by_line,
    claim_status_after,
    insurance_balance_problem,
    is_open_denial,
)
from knowledge.x12.matching import ClaimMatcher, _ClaimRef, _match_line
from knowledge.x12.parse835 import (
    CasItem,
    ClaimPayment,
    ProviderAdjustmentItem,
    RemittanceHeader,
)
from knowledge.x12.rows import (
    _ADJUSTMENT_COLUMNS,
    _UPDATE_CLAIM,
    ENTRY_COLUMNS,
    _adjustment_row,
    _allocate_ids,
    _EntryRow,
    adjustment_rows,
    bulk_insert,
    entry_values,
    execute_rows,
    insert_rows,
    payment_row,
)
from knowledge.x12.values import ZERO

# The public names, including those now defined in balancing and rows: imports from here keep working.
__all__ = [
    "BATCH_SIZE",
    "DENIAL_GROUPS",
    "IMPORTING",
    "SETTLING_REASONS",
    "PostingStats",
    "RemittancePoster",
    "ResentRemittance",
    "adjustment_rows",
    "bulk_insert",
    "claim_status_after",
    "is_open_denial",
    "payment_row",
]

BATCH_SIZE = 500
_REMITTANCE_CLAIM_COLUMNS = (
    "id",
    "claim_id",
    "patient_control_number",
    "status_code",
    "billed_amount",
    "paid_amount",
    "patient_responsibility",
    "payer_claim_number",
    "posted",
    "exception_reason",
)
_SERVICE_LINE_COLUMNS = (
    "id",
    "remittance_claim_id",
    "claim_line_id",
    "procedure_code",
    "modifiers",
    "billed_amount",
    "paid_amount",
    "units",
    "service_date",
)
#: The status of a remittance whose chunks are still being committed.
IMPORTING = "importing"


@dataclass
class PostingStats:
    claims: int = 0
    posted: int = 0
    exceptions: int = 0
    paid_posted: Decimal = ZERO
    adjustments_posted: Decimal = ZERO
    provider_adjustments: Decimal = ZERO
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    remittance_id: int | None = None
    resumed_after: int = 0

    def note(self, reason: str) -> None:
        if len(self.reasons) < 50:
            self.reasons.append(reason)


class ResentRemittance(Exception):
    """Every claim payment of this 835 was posted before from `earlier` (same payer, same amounts)."""

    def __init__(self, claims: int, earlier: Remittance) -> None:
        # the message is read after the session is rolled back, so it is built now
        self.message = (
            f"a re-sent ERA: the same {claims} claim payments from payer {earlier.payer_identifier!r} were "
            f"imported from {earlier.source_file or 'an earlier file'} (remittance {earlier.id}, trace "
            f"{earlier.trace_number!r}, paid {earlier.payment_date}): nothing posted, no second payment written"
        )
        super().__init__(self.message)
        self.claims = claims
        self.earlier_id = earlier.id


def _key(*parts: object) -> str:
    return ":".join(map(str, parts))[:160]


class RemittancePoster:
    """Stores one 835 as received and posts it; feed it `start`, then claims and PLBs, then `finish`."""

    def __init__(
        self,
        session: Session,
        *,
        practice_id: int,
        source_file: str,
        control_number: str,
        transaction_problem: str | None,
        user_id: int | None = None,
        release_memory: bool = True,
        content_hash: str | None = None,
        commit: Callable[[], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """`commit` (optional) commits the session: given, each full batch is committed as it is posted
        (see the module docstring); `on_batch` is told how many claims are done after each committed
        batch, when no transaction is open."""
        self.session = session
        self.content_hash = content_hash
        # An unbalanced transaction posts nothing: it is written whole or not at all, never in chunks.
        self.commit = commit if transaction_problem is None else None
        self.on_batch = on_batch
        self._skip = 0
        self._suspect_resend = self.commit is not None
        self.release_memory = release_memory
        self.practice_id = practice_id
        self._matcher = ClaimMatcher(session, practice_id)
        self.source_file = source_file[-300:]
        self.control_number = control_number
        self.transaction_problem = transaction_problem
        self.user_id = user_id
        self.stats = PostingStats()
        self._pending: list[ClaimPayment] = []
        self._header: RemittanceHeader | None = None
        self._remittance_id = 0
        self._payment_id: int | None = None
        self._payer_id: int | None = None
        self._identifier = ""
        self._prefix = ""
        self._same_trace: Remittance | None = None
        self._claim_keys: list[tuple[str, Decimal, Decimal]] = []
        self._resent_from: dict[int, int] = {}

    # -- the remittance and its payment ---------------------------------------------------------------
    def start(self, header: RemittanceHeader) -> None:
        session = self.session
        identifier = (header.payer_identifier or header.payer_id_code or header.payer_name or "unknown")[:80]
        trace = header.trace_number[:80]
        self._identifier = identifier
        self._header = header
        existing = session.scalar(
            select(Remittance).where(
                Remittance.practice_id == self.practice_id,
                Remittance.payer_identifier == identifier,
                Remittance.trace_number == trace,
            )
        )
        if existing is not None and existing.status == IMPORTING:
            self._resume(existing, header)
            return
        if existing is not None:
            # The same payer and trace again (a re-sent ERA with a new ST02, or another file): nothing is
            # written; `finish` says whether it pays the same claims (posts nothing) or differs (a conflict).
            self._same_trace = existing
            return
        payer = self._find_payer(header)
        remittance = Remittance(
            practice_id=self.practice_id,
            payer_id=payer.id if payer else None,
            payer_name=(header.payer_name or identifier)[:200],
            payer_identifier=identifier,
            trace_number=trace,
            payment_method=header.payment_method[:3] or "NON",
            payment_date=self._posted_on(),
            total_paid=header.total_paid,
            source_file=self.source_file,
            control_number=self.control_number[:20],
            status="exception" if self.transaction_problem else IMPORTING if self.commit else "posted",
            content_hash=self.content_hash,
            import_owner=current_owner() if self.commit else None,
            import_heartbeat=dt.datetime.now(dt.UTC) if self.commit else None,
        )
        session.add(remittance)
        session.flush()
        self._remittance_id = remittance.id
        self._payer_id = remittance.payer_id
        self.stats.remittance_id = remittance.id
        self.stats.warnings.extend(header.notes)
        self._prefix = _key("835", identifier[:40], trace[:50])
        if self.transaction_problem:
            session.add(
                WorkException(
                    practice_id=self.practice_id,
                    kind="unbalanced_transaction",
                    reason=f"Remittance {trace!r} from {remittance.payer_name}: {self.transaction_problem}. "
                    "No claim of it was posted.",
                    source_file=self.source_file,
                    position=f"ST {self.control_number}"[:100],
                    remittance_id=remittance.id,
                    amount=header.total_paid,
                )
            )
            self.stats.exceptions += 1
            self.stats.note(self.transaction_problem)

    def _resume(self, existing: Remittance, header: RemittanceHeader) -> None:
        """Carry on an import of this remittance that stopped part-way (its process died)."""
        if self.content_hash is None or existing.content_hash != self.content_hash:
            raise Conflict(
                f"payment trace {existing.trace_number!r} from payer {existing.payer_identifier!r} is being "
                f"imported from another file ({existing.source_file or 'unknown'}, remittance {existing.id}), "
                "which has not finished: import that file again to finish it, then compare the two"
            )
        if self.commit is None or holder_alive(existing.import_owner, existing.import_heartbeat):
            raise Conflict(
                f"remittance {existing.id} (trace {existing.trace_number!r}) is being imported right now "
                "by another import: wait for it to finish"
            )
        done = self.session.execute(
            select(
                func.count(RemittanceClaim.id),
                func.count(RemittanceClaim.id).filter(RemittanceClaim.posted.is_(True)),
                func.coalesce(func.sum(RemittanceClaim.paid_amount).filter(RemittanceClaim.posted.is_(True)), 0),
                func.coalesce(func.sum(RemittanceClaim.billed_amount).filter(RemittanceClaim.posted.is_(True)), 0),
            ).where(RemittanceClaim.remittance_id == existing.id)
        ).one()
        claims, posted, paid, billed = int(done[0]), int(done[1]), money(Decimal(done[2])), money(Decimal(done[3]))
        self._skip = claims
        self._suspect_resend = False  # chunks of it were committed: it was not a re-sent ERA
        self._remittance_id = existing.id
        self._payer_id = existing.payer_id
        self._prefix = _key("835", self._identifier[:40], existing.trace_number[:50])
        self._payment_id = self.session.scalar(
            select(Payment.id).where(Payment.remittance_id == existing.id, Payment.kind == PaymentKind.PAYER)
        )
        stats = self.stats
        stats.remittance_id = existing.id
        stats.resumed_after = claims
        stats.claims, stats.posted, stats.exceptions = claims, posted, claims - posted
        stats.paid_posted, stats.adjustments_posted = paid, billed - paid  # balanced claims: CAS = billed - paid
        stats.warnings.extend(header.notes)
        stats.warnings.append(
            f"resumed an import that stopped after {claims} of the remittance's claims had been committed "
            "(nothing of those is posted again)"
        )
        existing.import_owner = current_owner()
        existing.import_heartbeat = dt.datetime.now(dt.UTC)
        self.session.flush()

    def _write_payment(self) -> None:
        """The remittance's payment row, written once and only when money of it posts (a claim, or a
        remittance of provider adjustments only), so a re-sent or refused ERA leaves no second payment."""
        header = self._header
        if self._payment_id is not None or header is None or header.total_paid == ZERO:
            return
        amount = header.total_paid if header.credit_debit != "D" else -header.total_paid
        payment = Payment(
            practice_id=self.practice_id,
            kind=PaymentKind.PAYER,
            payer_id=self._payer_id,
            remittance_id=self._remittance_id,
            amount=amount,
            method=(header.payment_method or "NON")[:20],
            reference=header.trace_number[:80],
            received_on=self._posted_on(),
            idempotency_key=_key(self._prefix, "payment")[:120],
            created_by_user_id=self.user_id,
        )
        self.session.add(payment)
        self.session.flush()
        self._payment_id = payment.id

    def _find_payer(self, header: RemittanceHeader) -> Payer | None:
        for identifier in (header.payer_id_code, header.payer_identifier):
            if identifier:
                payer = self.session.scalar(
                    select(Payer).where(Payer.practice_id == self.practice_id, Payer.payer_id == identifier)
                )
                if payer is not None:
                    return payer
        if header.payer_name:
            payers = self.session.scalars(
                select(Payer).where(
                    Payer.practice_id == self.practice_id, func.upper(Payer.name) == header.payer_name.upper()
                )
            ).all()
            if len(payers) == 1:
                return payers[0]
        return None

    # -- claims and provider adjustments ---------------------------------------------------------------
    def add_claim(self, claim: ClaimPayment) -> None:
        if self._same_trace is not None:
            self.stats.claims += 1
            self._claim_keys.append((claim.patient_control_number, claim.billed, claim.paid))
            return
        if self._skip:
            self._skip -= 1  # committed before the import stopped
            return
        self._pending.append(claim)
        if len(self._pending) >= BATCH_SIZE:
            self._post_batch()
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Commit the batch just posted (chunked imports), refresh the lease, report progress."""
        if self.commit is None or self._suspect_resend:
            return
        self.session.execute(
            update(Remittance)
            .where(Remittance.id == self._remittance_id)
            .values(import_heartbeat=dt.datetime.now(dt.UTC))
        )
        self.commit()
        if self.on_batch is not None:  # told only between transactions: it may write progress elsewhere
            self.on_batch(self.stats.claims)

    def add_provider_adjustment(self, item: ProviderAdjustmentItem) -> None:
        if self._same_trace is not None:
            return
        self.session.add(
            ProviderAdjustment(
                remittance_id=self._remittance_id,
                provider_identifier=item.provider_identifier[:50],
                fiscal_period_date=item.fiscal_period,
                reason_code=item.reason[:2],
                reference=(item.reference or "")[:50] or None,
                amount=item.amount,
            )
        )
        self.stats.provider_adjustments += item.amount

    def finish(self) -> PostingStats:
        """Post what is pending and settle the remittance's status.

        Raises `ResentRemittance` (the caller rolls back: nothing of it is kept) when every claim of this
        835 was already posted from an earlier remittance of the same payer with the same amounts, and
        `Conflict` when the payer's trace number was imported before with other claim payments.
        """
        if self._same_trace is not None:
            self._finish_same_trace(self._same_trace)
        self._post_batch()
        if self.stats.claims and self.stats.posted == 0 and len(self._resent_from) == 1:
            resent = sum(self._resent_from.values())
            if resent == self.stats.claims:
                (earlier_id,) = self._resent_from
                earlier = self.session.get(Remittance, earlier_id)
                assert earlier is not None
                raise ResentRemittance(self.stats.claims, earlier)
        if not self.stats.claims and not self.transaction_problem:
            self._write_payment()  # provider adjustments only: the payment is the money of those
        remittance = self.session.get(Remittance, self._remittance_id)
        assert remittance is not None
        remittance.import_owner = None
        if self.transaction_problem or (self.stats.claims and self.stats.posted == 0):
            remittance.status = "exception"
        elif self.stats.posted < self.stats.claims:
            remittance.status = "partial"
        else:
            remittance.status = "posted"
        self.session.flush()
        return self.stats

    def _finish_same_trace(self, existing: Remittance) -> None:
        rows = self.session.execute(
            select(RemittanceClaim.patient_control_number, RemittanceClaim.billed_amount, RemittanceClaim.paid_amount)
            .where(RemittanceClaim.remittance_id == existing.id)
            .order_by(RemittanceClaim.id)
        ).all()
        before = sorted((row[0], row[1], row[2]) for row in rows)
        if before and before == sorted(self._claim_keys):
            raise ResentRemittance(len(before), existing)
        raise Conflict(
            f"payment trace {existing.trace_number!r} from payer {existing.payer_identifier!r} was already "
            f"imported (remittance {existing.id}, file {existing.source_file or 'unknown'}) with other claim "
            "payments: compare the two files before posting anything by hand"
        )

    # -- the batch ---------------------------------------------------------------------------------------
    def _post_batch(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        session = self.session
        self.stats.claims += len(batch)
        if self.transaction_problem:
            plans = [
                _Plan(payment, None, "", "the remittance does not balance (see its exception)", [], None)
                for payment in batch
            ]
        else:
            plans = self._plan(batch)
        if self._suspect_resend:
            # Still a possible re-sent ERA only if every claim so far was posted before by one remittance.
            resent = sum(self._resent_from.values())
            self._suspect_resend = len(self._resent_from) == 1 and resent == self.stats.claims

        # The CLP loops as received, with what became of each.
        claim_row_ids = _allocate_ids(session, RemittanceClaim, len(plans))
        insert_rows(
            session,
            RemittanceClaim,
            _REMITTANCE_CLAIM_COLUMNS,
            [
                (
                    row_id,
                    plan.claim.id if plan.claim else None,
                    plan.payment.patient_control_number[:38],
                    plan.payment.status_code,
                    plan.payment.billed,
                    plan.payment.paid,
                    plan.payment.patient_responsibility,
                    (plan.payment.payer_claim_number or "")[:50] or None,
                    plan.posts,
                    plan.reason[:500] if plan.reason else None,
                )
                for plan, row_id in zip(plans, claim_row_ids, strict=True)
            ],
            {"remittance_id": self._remittance_id},
        )
        line_row_ids = _allocate_ids(session, RemittanceServiceLine, sum(len(plan.payment.lines) for plan in plans))
        next_line = iter(line_row_ids)
        insert_rows(
            session,
            RemittanceServiceLine,
            _SERVICE_LINE_COLUMNS,
            [
                (
                    next(next_line),
                    row_id,
                    plan.line_ids[index] if plan.line_ids else None,
                    line.procedure_code,
                    ",".join(line.modifiers)[:20],
                    line.billed,
                    line.paid,
                    line.units,
                    line.service_date,
                )
                for plan, row_id in zip(plans, claim_row_ids, strict=True)
                for index, line in enumerate(plan.payment.lines)
            ],
        )
        adjustments: list[tuple[object, ...]] = []
        remarks: list[tuple[object, ...]] = []
        exceptions: list[tuple[object, ...]] = []
        entries: list[tuple[object, ...]] = []
        events: list[tuple[object, ...]] = []
        next_line = iter(line_row_ids)
        posted_on = self._posted_on()
        if any(plan.posts for plan in plans):
            self._write_payment()
        for plan, row_id in zip(plans, claim_row_ids, strict=True):
            payment = plan.payment
            for line in payment.lines:
                line_id = next(next_line)
                adjustments += [_adjustment_row(row_id, line_id, item) for item in line.adjustments]
                remarks += [(row_id, line_id, code[:6], "LQ") for code in line.remarks]
            adjustments += [_adjustment_row(row_id, None, item) for item in payment.adjustments]
            remarks += [(row_id, None, code[:6], source) for source, code in payment.remarks]
            if plan.kind and not self.transaction_problem:
                exceptions.append(
                    (
                        plan.kind,
                        plan.reason,
                        f"segment {payment.segment_number}: {payment.segment_text}"[:100],
                        row_id,
                        plan.claim.id if plan.claim else None,
                        payment.paid,
                    )
                )
                self.stats.exceptions += 1
                self.stats.note(plan.reason)
            if plan.posts and plan.claim is not None:
                for entry in plan.entries:
                    entry.remittance_claim_id = row_id
                    if entry.pays_remittance:
                        entry.payment_id = self._payment_id
                    entries.append(entry_values(entry))
                events.append(self._status_event(payment, plan.claim))
                self.stats.posted += 1
                self.stats.paid_posted += payment.paid
                self.stats.adjustments_posted += payment.adjustment_total()
        insert_rows(session, Adjustment, _ADJUSTMENT_COLUMNS, adjustments)
        insert_rows(session, RemarkCode, ("remittance_claim_id", "service_line_id", "code", "source"), remarks)
        insert_rows(
            session,
            WorkException,
            ("kind", "reason", "position", "remittance_claim_id", "claim_id", "amount"),
            exceptions,
            {
                "practice_id": self.practice_id,
                "source_file": self.source_file,
                "remittance_id": self._remittance_id,
                "status": "open",
            },
        )
        insert_rows(
            session,
            LedgerEntry,
            ENTRY_COLUMNS,
            entries,
            {"practice_id": self.practice_id, "posted_on": posted_on, "created_by_user_id": self.user_id},
        )
        insert_rows(
            session,
            ClaimStatusEvent,
            ("claim_id", "status", "status_code", "amount", "note"),
            events,
            {"category_code": None, "entity_code": "PR", "effective_date": posted_on, "source": "835"},
        )
        updates = {plan.claim.id: plan.claim for plan in plans if plan.posts and plan.claim is not None}
        if updates:
            execute_rows(session, _UPDATE_CLAIM, [claim.update_row() for claim in updates.values()])
        session.flush()
        if self.release_memory:
            session.expunge_all()

    # -- matching and deciding -------------------------------------------------------------------------
    def _plan(self, batch: list[ClaimPayment]) -> list[_Plan]:
        matched = self._matcher.match_batch(batch)
        ledger = self._load_entries({claim.id for _, claim, _ in matched if claim is not None})
        open_denials = [claim is not None and is_open_denial(payment) for payment, claim, _ in matched]
        # A denial leaves the insurance balance where it was, so the balance cannot tell a denial sent
        # again from a new one: the same denial an earlier remittance of this payer posted is a duplicate.
        denied_before = self._posted_before(
            {claim.id for (_, claim, _), denial in zip(matched, open_denials, strict=True) if claim and denial}
        )

        plans: list[_Plan] = []
        touched: dict[int, _ClaimRef] = {}
        for (payment, claim, reason), open_denial in zip(matched, open_denials, strict=True):
            if claim is None:
                plans.append(_Plan(payment, None, "unmatched_claim", reason, [], None))
                continue
            existing = ledger[claim.id]
            problem = payment.balance_problem()
            if problem is not None:
                plans.append(_Plan(payment, claim, "unbalanced_claim", problem, [], None))
                continue
            line_ids: list[int | None] | None = None
            if payment.is_reversal:
                reversal = self._reversal_rows(payment, claim, existing)
                if isinstance(reversal, str):
                    plans.append(_Plan(payment, claim, "unmatched_reversal", reversal, [], None))
                    continue
                new = reversal
            else:
                totals = totals_from_entries(cast("list[LedgerEntry]", existing))
                refused = insurance_balance_problem(payment, claim, totals)
                if refused is not None:
                    plans.append(_Plan(payment, claim, refused[0], refused[1], [], None))
                    continue
                earlier = denied_before.get(_resend_key(claim, payment)) if open_denial else None
                if earlier is not None:
                    plans.append(
                        _Plan(
                            payment,
                            claim,
                            "already_posted",
                            f"CLP {payment.patient_control_number!r} denies claim {claim.claim_number} the way "
                            f"remittance {earlier} of this payer already did (billed {payment.billed}, paid "
                            f"{payment.paid}): the denial was posted before; nothing posted again "
                            f"(segment {payment.segment_number}: {payment.segment_text})",
                            [],
                            None,
                        )
                    )
                    continue
                new, line_ids = self._payment_rows(payment, claim, denied=open_denial)
            existing.extend(new)
            plans.append(_Plan(payment, claim, None, "", new, line_ids))
            touched[claim.id] = claim
        for claim_id, claim in touched.items():
            claim.totals = totals_from_entries(cast("list[LedgerEntry]", ledger[claim_id]))
        self._note_resent([plan for plan in plans if plan.kind == "already_posted"])
        return plans

    def _note_resent(self, plans: list[_Plan]) -> None:
        """Count the claims an earlier remittance of the same payer already posted with the same amounts
        (a re-sent ERA, whatever its ST02 or TRN02): `finish` posts nothing when that is every claim."""
        earlier = self._posted_before({plan.claim.id for plan in plans if plan.claim is not None})
        for plan in plans:
            assert plan.claim is not None
            remittance_id = earlier.get(_resend_key(plan.claim, plan.payment))
            if remittance_id is not None:
                self._resent_from[remittance_id] = self._resent_from.get(remittance_id, 0) + 1

    def _posted_before(self, ids: set[int]) -> dict[tuple[int, str, Decimal, Decimal], int]:
        """(claim id, CLP01, billed, paid) -> the earlier remittance of this payer that posted it."""
        if not ids:
            return {}
        rows = (
            self.session.connection()
            .execute(
                select(
                    RemittanceClaim.claim_id,
                    RemittanceClaim.patient_control_number,
                    RemittanceClaim.billed_amount,
                    RemittanceClaim.paid_amount,
                    RemittanceClaim.remittance_id,
                )
                .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
                .where(
                    Remittance.practice_id == self.practice_id,
                    Remittance.payer_identifier == self._identifier,
                    Remittance.id != self._remittance_id,
                    RemittanceClaim.posted.is_(True),
                    RemittanceClaim.claim_id.in_(ids),
                )
            )
            .all()
        )
        return {(row[0], row[1], row[2], row[3]): row[4] for row in rows if row[0] is not None}

    def _load_entries(self, claim_ids: set[int]) -> dict[int, list[_EntryRow]]:
        found: dict[int, list[_EntryRow]] = defaultdict(list)
        if not claim_ids:
            return found
        columns = (
            LedgerEntry.id,
            LedgerEntry.claim_id,
            LedgerEntry.kind,
            LedgerEntry.responsibility,
            LedgerEntry.amount,
            LedgerEntry.reverses_entry_id,
            LedgerEntry.remittance_claim_id,
            LedgerEntry.claim_line_id,
            LedgerEntry.group_code,
            LedgerEntry.reason_code,
            LedgerEntry.payment_id,
        )
        query = select(*columns).where(LedgerEntry.claim_id.in_(claim_ids)).order_by(LedgerEntry.id)
        for row in self.session.connection().execute(query).all():
            entry_id, claim_id, kind, side, amount, reverses, claim_row, line, group, reason, payment = tuple(row)
            # by position (the field order of `_EntryRow`): every entry of every claim the remittance pays
            found[claim_id].append(
                _EntryRow(claim_id, kind, side, amount, "", entry_id, reverses, claim_row, line, group, reason, payment)
            )
        return found

    # -- ledger rows -------------------------------------------------------------------------------------
    def _posted_on(self) -> dt.date:
        # read_835 yields a header only with a payment date (BPR16, or DTM*405 with a warning)
        assert self._header is not None and self._header.payment_date is not None
        return self._header.payment_date

    def _payment_rows(
        self, payment: ClaimPayment, claim: _ClaimRef, *, denied: bool
    ) -> tuple[list[_EntryRow], list[int | None] | None]:
        """The entries a CLP that posts makes; `denied`: it is an open denial (`is_open_denial`)."""
        # The keys are `_key`'s joins written as f-strings (the same text: cutting to 160 characters before or
        # after appending gives the same string), ~80,000 of them for a 10,000-claim remittance.
        prefix = f"{self._prefix}:{payment.sequence}"
        made: list[_EntryRow] = []
        # A denial is recorded with its codes (the Adjustment rows) but not written off: the balance stays
        # open on the payer side until a person appeals, corrects or writes it off. Patient responsibility
        # (PR) on a denied claim still moves to the patient.

        def adjust(item: CasItem, key: str, line_id: int | None) -> list[_EntryRow]:
            if denied and item.group != "PR":
                return []
            return adjustment_rows(claim.id, item.group, item.reason, item.amount, key, line_id)

        def pay(amount: Decimal, key: str, line_id: int | None, memo: str | None = None) -> None:
            if amount != ZERO:
                row = payment_row(claim.id, amount, key, line_id, None, memo)
                row.pays_remittance = True  # linked to the remittance's payment once that is written
                made.append(row)

        by_line = balances_by_line(payment)
        if not by_line:
            pay(payment.paid, f"{prefix}:pay"[:160], None)
            for number, item in enumerate(payment.all_adjustments(), start=1):
                made += adjust(item, f"{prefix}:A{number}"[:160], None)
            return made, None
        used: set[int] = set()
        line_ids: list[int | None] = []
        lines_paid = ZERO
        for index, line in enumerate(payment.lines, start=1):
            claim_line = _match_line(claim.lines, line, used)
            line_id = claim_line.id if claim_line else None
            if line_id is not None:
                used.add(line_id)
            line_ids.append(line_id)
            pay(line.paid, f"{prefix}:L{index}:pay"[:160], line_id)
            lines_paid += line.paid
            for number, item in enumerate(line.adjustments, start=1):
                made += adjust(item, f"{prefix}:L{index}:A{number}"[:160], line_id)
        for number, item in enumerate(payment.adjustments, start=1):
            made += adjust(item, f"{prefix}:C{number}"[:160], None)
        # Claim-level CAS is what separates the lines' payments from CLP04: the payer paid CLP04.
        pay(
            payment.paid - lines_paid,
            f"{prefix}:claim-level"[:160],
            None,
            "claim-level adjustments change the service lines' payments",
        )
        return made, line_ids

    def _reversal_rows(
        self, payment: ClaimPayment, claim: _ClaimRef, existing: list[_EntryRow]
    ) -> list[_EntryRow] | str:
        """Reverse, entry by entry, the posting this CLP02 = 22 takes back."""
        originals = self.session.scalars(
            select(RemittanceClaim.id)
            .where(
                RemittanceClaim.claim_id == claim.id,
                RemittanceClaim.posted.is_(True),
                RemittanceClaim.status_code != "22",
                RemittanceClaim.paid_amount == -payment.paid,
                RemittanceClaim.billed_amount == -payment.billed,
            )
            .order_by(RemittanceClaim.id.desc())
        ).all()
        reversed_ids = {e.reverses_entry_id for e in existing if e.reverses_entry_id is not None}
        for original in originals:
            to_reverse = [e for e in existing if e.remittance_claim_id == original and e.kind != LedgerKind.CHARGE]
            if not to_reverse or any(e.id in reversed_ids for e in to_reverse):
                continue
            prefix = _key(self._prefix, payment.sequence, "rev")
            return [
                _EntryRow(
                    claim_id=claim.id,
                    kind=LedgerKind.REVERSAL,
                    responsibility=entry.responsibility,
                    amount=-entry.amount,
                    idempotency_key=_key(prefix, entry.id),
                    reverses_entry_id=entry.id,
                    claim_line_id=entry.claim_line_id,
                    group_code=entry.group_code,
                    reason_code=entry.reason_code,
                    pays_remittance=entry.kind == LedgerKind.PAYER_PAYMENT,
                    memo=f"reversal (CLP02 22) of remittance claim {original}",
                )
                for entry in to_reverse
            ]
        return (
            f"CLP {payment.patient_control_number!r} reverses a payment (CLP02 22, billed {payment.billed}, "
            f"paid {payment.paid}) but claim {claim.claim_number} has no posted payment of {-payment.paid} "
            f"on {-payment.billed} billed to take back: find the original remittance and post the reversal "
            f"by hand (segment {payment.segment_number}: {payment.segment_text})"
        )

    def _status_event(self, payment: ClaimPayment, claim: _ClaimRef) -> tuple[object, ...]:
        """The claim's status event (claim, status, CLP02, paid, note); its new status and payer claim number
        are kept on `claim` for the claim's update."""
        status = derive_status(claim_status_after(payment), claim.totals)  # the ledger decides paid/closed
        codes = [f"{a.group}-{a.reason} {a.amount}" for a in payment.all_adjustments()]
        remarks = [code for _, code in payment.remarks] + [code for line in payment.lines for code in line.remarks]
        note = "; ".join(codes)
        if remarks:
            note += ("; " if note else "") + "remarks " + ",".join(remarks)
        claim.status = status
        if payment.payer_claim_number and not claim.payer_claim_number and not payment.is_reversal:
            claim.payer_claim_number = payment.payer_claim_number[:50]
            claim.new_payer_claim_number = True
        return (claim.id, status, payment.status_code, payment.paid, note[:300] or None)


@dataclass
class _Plan:
    payment: ClaimPayment
    claim: _ClaimRef | None
    kind: str | None
    reason: str
    entries: list[_EntryRow]
    line_ids: list[int | None] | None

    @property
    def posts(self) -> bool:
        return self.kind is None and self.claim is not None and not self.reason
