"""Synthetic 835s (for the benchmark and tests) and the claims they pay.

`synthetic_claims` is deterministic, so the claims seeded in a database and the 835 written for them
agree without holding either in memory. `seed_claims_for_835` creates, from an 835's own CLP/SVC data,
the claims it refers to, so a real sample file can be posted in a test or an eval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from knowledge.practice.ledger import charge_entries
from knowledge.practice.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Patient,
    Payer,
    PayerKind,
    Responsibility,
)
from knowledge.practice.types import money
from knowledge.x12.envelope import scan_file
from knowledge.x12.parse835 import ClaimPayment, read_835
from knowledge.x12.segments import iter_segments
from knowledge.x12.values import ZERO, SegmentError

SYNTHETIC_PAYER_ID = "SYNTH01"
CODES = ("99213", "99214", "80053", "85025", "93000", "36415", "71046", "97110")


@dataclass(frozen=True)
class SyntheticLine:
    code: str
    charge: Decimal
    paid: Decimal
    contractual: Decimal
    coinsurance: Decimal


@dataclass(frozen=True)
class SyntheticClaim:
    number: str
    last_name: str
    first_name: str
    service_date: dt.date
    lines: tuple[SyntheticLine, ...]
    denied: bool

    @property
    def billed(self) -> Decimal:
        return sum((line.charge for line in self.lines), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((line.paid for line in self.lines), ZERO)

    @property
    def patient_share(self) -> Decimal:
        return sum((line.coinsurance for line in self.lines), ZERO)


def synthetic_claims(count: int, *, prefix: str = "SYN") -> Iterator[SyntheticClaim]:
    """`count` claims with 1-3 lines; every 25th is denied (CO-50), the rest paid with CO-45 and PR-2."""
    start = dt.date(2026, 1, 5)
    for index in range(count):
        lines = []
        for line_index in range(1 + index % 3):
            charge = Decimal(80 + (index * 7 + line_index * 13) % 220)
            denied = index % 25 == 0
            allowed = money(charge * Decimal("0.70"))
            coinsurance = ZERO if denied else money(allowed * Decimal("0.20"))
            paid = ZERO if denied else allowed - coinsurance
            lines.append(
                SyntheticLine(
                    code=CODES[(index + line_index) % len(CODES)],
                    charge=money(charge),
                    paid=paid,
                    contractual=money(charge) if denied else money(charge) - allowed,
                    coinsurance=coinsurance,
                )
            )
        yield SyntheticClaim(
            number=f"{prefix}{index:07d}",
            last_name=f"PATIENT{index % 997:03d}",
            first_name="ALEX",
            service_date=start + dt.timedelta(days=index % 300),
            lines=tuple(lines),
            denied=index % 25 == 0,
        )


def write_synthetic_835(path: Path, *, count: int, prefix: str = "SYN", trace: str = "SYNTHTRACE1") -> Path:
    """Write an 835 paying `synthetic_claims(count)`: one ST..SE, a PLB interest line, balanced."""
    total_paid = sum((claim.paid for claim in synthetic_claims(count, prefix=prefix)), ZERO)
    interest = Decimal("12.34")
    segments = 0
    with path.open("w", encoding="latin-1", newline="") as out:

        def put(*elements: object) -> None:
            nonlocal segments
            out.write("*".join(str(e) for e in elements) + "~\n")
            segments += 1

        out.write(
            "ISA*00*          *00*          *ZZ*SYNTHPAYER     *ZZ*SYNTHPRACTICE  *260301*1200*^*00501*"
            "000000001*0*T*:~\n"
        )
        out.write("GS*HP*SYNTHPAYER*SYNTHPRACTICE*20260301*1200*1*X*005010X221A1~\n")
        put("ST", "835", "0001")
        put(
            "BPR",
            "I",
            total_paid + interest,
            "C",
            "ACH",
            "CCP",
            "01",
            "999999999",
            "DA",
            "123456",
            "1512345678",
            "",
            "01",
            "999988880",
            "DA",
            "98765",
            "20260301",
        )
        put("TRN", "1", trace, "1512345678")
        put("DTM", "405", "20260228")
        put("N1", "PR", "SYNTHETIC HEALTH PLAN")
        put("REF", "2U", SYNTHETIC_PAYER_ID)
        put("N1", "PE", "SYNTHETIC PRACTICE", "XX", "1234567893")
        put("LX", "1")
        for claim in synthetic_claims(count, prefix=prefix):
            status = "4" if claim.denied else "1"
            put(
                "CLP",
                claim.number,
                status,
                claim.billed,
                claim.paid,
                claim.patient_share or "",
                "12",
                f"ICN{claim.number}",
            )
            put("NM1", "QC", "1", claim.last_name, claim.first_name, "", "", "", "MI", f"M{claim.number}")
            put("DTM", "232", f"{claim.service_date:%Y%m%d}")
            for line in claim.lines:
                put("SVC", f"HC:{line.code}", line.charge, line.paid, "", "1")
                put("DTM", "472", f"{claim.service_date:%Y%m%d}")
                if claim.denied:
                    put("CAS", "CO", "50", line.contractual)
                else:
                    put("CAS", "CO", "45", line.contractual)
                    put("CAS", "PR", "2", line.coinsurance)
        put("PLB", "1234567893", "20261231", "L6:INTEREST", -interest)
        put("SE", segments + 1, "0001")
        out.write("GE*1*1~\nIEA*1*000000001~\n")
    return path


def _synthetic_payer(session: Session, practice_id: int) -> Payer:
    payer = session.scalar(select(Payer).where(Payer.practice_id == practice_id, Payer.payer_id == SYNTHETIC_PAYER_ID))
    if payer is None:
        payer = Payer(
            practice_id=practice_id,
            payer_id=SYNTHETIC_PAYER_ID,
            name="SYNTHETIC HEALTH PLAN",
            kind=PayerKind.COMMERCIAL,
            timely_filing_days=180,
            appeal_days=180,
        )
        session.add(payer)
        session.flush()
    return payer


def seed_synthetic_claims(session: Session, *, practice_id: int, count: int, prefix: str = "SYN") -> int:
    """Create the claims `write_synthetic_835` pays (bulk inserts: this is set-up, not what is measured)."""
    payer = _synthetic_payer(session, practice_id)
    patients: dict[str, int] = {}
    batch: list[SyntheticClaim] = []

    def flush() -> None:
        for claim in batch:
            if claim.last_name not in patients:
                patient = Patient(
                    practice_id=practice_id,
                    account_number=f"{prefix}-{claim.last_name}",
                    first_name=claim.first_name,
                    last_name=claim.last_name,
                )
                session.add(patient)
                session.flush()
                patients[claim.last_name] = patient.id
        claim_ids = session.scalars(
            insert(Claim).returning(Claim.id, sort_by_parameter_order=True),
            [
                dict(
                    practice_id=practice_id,
                    claim_number=c.number,
                    patient_id=patients[c.last_name],
                    payer_id=payer.id,
                    service_date_from=c.service_date,
                    service_date_to=c.service_date,
                    status=ClaimStatus.SUBMITTED,
                    billed_amount=c.billed,
                    submitted_on=c.service_date,
                )
                for c in batch
            ],
        ).all()
        line_rows = [
            dict(
                claim_id=claim_id,
                line_number=n,
                procedure_code=line.code,
                charge=line.charge,
                service_date=c.service_date,
            )
            for claim_id, c in zip(claim_ids, batch, strict=True)
            for n, line in enumerate(c.lines, start=1)
        ]
        line_ids = session.scalars(
            insert(ClaimLine).returning(ClaimLine.id, sort_by_parameter_order=True), line_rows
        ).all()
        session.execute(
            insert(LedgerEntry),
            [
                dict(
                    practice_id=practice_id,
                    claim_id=row["claim_id"],
                    claim_line_id=line_id,
                    kind=LedgerKind.CHARGE,
                    responsibility=Responsibility.PAYER,
                    amount=row["charge"],
                    posted_on=row["service_date"],
                    idempotency_key=f"charge:{row['claim_id']}:{row['line_number']}",
                )
                for row, line_id in zip(line_rows, line_ids, strict=True)
            ],
        )
        batch.clear()

    made = 0
    for claim in synthetic_claims(count, prefix=prefix):
        batch.append(claim)
        made += 1
        if len(batch) >= 1000:
            flush()
    if batch:
        flush()
    session.flush()
    return made


def seed_claims_for_835(session: Session, *, practice_id: int, path: Path) -> int:
    """Create the claims an 835 pays, from its own CLP/SVC data (claim numbers made unique when reused)."""
    payer = _synthetic_payer(session, practice_id)
    made = 0
    for info in scan_file(path):
        if info.set_id != "835":
            continue
        segments = iter_segments(
            path, start=info.start, end=info.end, first_number=info.first_number, delimiters=info.delimiters
        )
        try:
            for record in read_835(segments):
                if isinstance(record, ClaimPayment) and not record.is_reversal:
                    _seed_one(session, practice_id=practice_id, payer=payer, payment=record, made=made)
                    made += 1
        except SegmentError:
            continue  # a transaction that cannot be read seeds no more claims; its import says why
    session.flush()
    return made


def _seed_one(session: Session, *, practice_id: int, payer: Payer, payment: ClaimPayment, made: int) -> None:
    last = payment.patient_last or "UNKNOWN"
    first = payment.patient_first or "UNKNOWN"
    patient = session.scalar(
        select(Patient).where(
            Patient.practice_id == practice_id, Patient.last_name == last, Patient.first_name == first
        )
    )
    if patient is None:
        patient = Patient(practice_id=practice_id, account_number=f"SEED{made:05d}", first_name=first, last_name=last)
        session.add(patient)
        session.flush()
    number = payment.patient_control_number
    taken = session.scalar(select(Claim.id).where(Claim.practice_id == practice_id, Claim.claim_number == number))
    if taken is not None:
        number = f"{number}-{made}"[:38]
    dates = [line.service_date for line in payment.lines if line.service_date]
    start = payment.service_from or (min(dates) if dates else dt.date(2020, 1, 1))
    end = payment.service_to or (max(dates) if dates else start)
    claim = Claim(
        practice_id=practice_id,
        claim_number=number,
        payer_claim_number=payment.payer_claim_number,
        patient_id=patient.id,
        payer_id=payer.id,
        service_date_from=start,
        service_date_to=max(start, end),
        status=ClaimStatus.SUBMITTED,
        billed_amount=payment.billed,
    )
    if payment.lines and sum((line.billed for line in payment.lines), ZERO) == payment.billed:
        charges = [(line.procedure_code or "UNKNOWN", ",".join(line.modifiers), line.billed) for line in payment.lines]
    else:
        charges = [("UNKNOWN", "", payment.billed)]
    for number_, (code, modifiers, charge) in enumerate(charges, start=1):
        claim.lines.append(
            ClaimLine(
                line_number=number_,
                procedure_code=code[:10],
                modifiers=modifiers[:20],
                charge=charge,
                service_date=start,
            )
        )
    session.add(claim)
    session.flush()
    session.add_all(charge_entries(claim, posted_on=start))
