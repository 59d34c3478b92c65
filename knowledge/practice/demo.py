"""The demo practice: a realistic, deterministic practice to try the assistant on.

Everything is generated from a seeded random generator and an "as of" date, so the same date gives the
same practice. Identities are obviously fake (Demo City, member ids starting DM, example.com emails).
Codes are real: ICD-10-CM FY2026 billable codes, HCPCS Level II codes and CPT code *numbers* (no CPT
descriptors, which are AMA content). Outcomes follow what billing offices see: paid, paid with patient
responsibility (PR-1/2/3) after contractual adjustments (CO-45), denials with the CARC/RARC pairs that
usually travel together, front-end rejections and claims still pending. Every claim's ledger balances.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from knowledge.practice.ledger import (
    adjustment_entries,
    apply_totals,
    charge_entries,
    derive_status,
    new_entry,
    payer_payment_entry,
    totals_from_entries,
)
from knowledge.practice.models import (
    Adjustment,
    AuditRecord,
    Claim,
    ClaimDiagnosis,
    ClaimLine,
    ClaimStatus,
    ClaimStatusEvent,
    ConversationThread,
    Coverage,
    Feedback,
    LedgerEntry,
    LedgerKind,
    Patient,
    Payer,
    PayerKind,
    Payment,
    PaymentKind,
    PendingAction,
    Practice,
    Provider,
    RemarkCode,
    Remittance,
    RemittanceClaim,
    RemittanceServiceLine,
    Responsibility,
    Role,
    User,
    WorkException,
    X12File,
)
from knowledge.practice.types import ZERO, money

DEMO_SLUG = "demo"
SEED = 20261122

# (name, payer id, kind, timely filing days, appeal days, corrected-claim days, allowed share of charge).
# The windows match the sample policies in knowledge/data/policies/ (a test keeps them in step).
PAYERS: list[tuple[str, str, PayerKind, int, int, int | None, Decimal]] = [
    ("Medicare Part B", "00882", PayerKind.MEDICARE, 365, 120, 365, Decimal("0.52")),
    ("State Medicaid", "SKMD0", PayerKind.MEDICAID, 365, 60, 365, Decimal("0.45")),
    ("Aetna", "60054", PayerKind.COMMERCIAL, 90, 180, 180, Decimal("0.68")),
    ("Blue Cross Blue Shield", "BCBS1", PayerKind.COMMERCIAL, 180, 180, 180, Decimal("0.70")),
    ("UnitedHealthcare", "87726", PayerKind.COMMERCIAL, 90, 365, 365, Decimal("0.66")),
    ("Cigna", "62308", PayerKind.COMMERCIAL, 90, 180, 180, Decimal("0.64")),
]

PROVIDERS = [
    ("1245319599", "Dana Whitfield MD", "207Q00000X"),
    ("1679576722", "Marcus Oyelaran DO", "207R00000X"),
    ("1932102084", "Priya Raman NP", "363LF0000X"),
]

FIRST_NAMES = [
    "Alex",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Parker",
    "Rowan",
    "Emerson",
    "Finley",
    "Hayden",
    "Reese",
    "Sawyer",
    "Elliot",
    "Skyler",
    "Dakota",
    "Marlowe",
    "Harper",
    "Lane",
    "Blair",
    "Drew",
    "Kendall",
    "Logan",
    "Peyton",
    "Robin",
    "Sage",
    "Tatum",
]
LAST_NAMES = [
    "Demoson",
    "Sampleton",
    "Fakely",
    "Testwood",
    "Mockridge",
    "Placeholder",
    "Examplar",
    "Fictitia",
    "Pretendo",
    "Specimen",
    "Dummyfield",
    "Trialborne",
    "Prototyp",
    "Modelsen",
    "Mockingham",
    "Stubbins",
    "Fixturely",
    "Sandboxer",
    "Templeton",
    "Draftley",
]

# Diagnosis groups: codes that go together on one visit (ICD-10-CM FY2026, all billable).
DIAGNOSIS_SETS = [
    ["E11.9", "I10"],
    ["E11.65", "E78.5"],
    ["E11.22", "N18.30", "I10"],
    ["I10", "E78.00"],
    ["J06.9"],
    ["J02.9"],
    ["J20.9", "R05.9"],
    ["J45.909"],
    ["J44.9", "R06.02"],
    ["M54.50"],
    ["M54.2"],
    ["M25.561"],
    ["M17.11"],
    ["F41.1"],
    ["F32.A"],
    ["K21.9"],
    ["E66.9", "Z68.30"],
    ["N39.0"],
    ["E03.9"],
    ["D64.9", "R53.83"],
    ["E55.9"],
    ["I25.10", "I10"],
    ["I48.91"],
    ["G47.00"],
    ["L03.115"],
    ["S93.401A"],
    ["H10.9"],
    ["J01.90"],
    ["R10.9"],
    ["R51.9"],
    ["R73.03", "Z71.3"],
    ["E11.40", "Z79.4"],
]
PREVENTIVE_DIAGNOSES = [["Z00.00"], ["Z00.01", "E78.5"], ["Z23"], ["Z12.31"], ["Z13.1"], ["Z13.220"]]

# Procedure codes with a demo fee (CPT numbers only, never descriptors; HCPCS Level II codes).
FEES: dict[str, Decimal] = {
    "99202": Decimal("110.00"),
    "99203": Decimal("165.00"),
    "99204": Decimal("245.00"),
    "99212": Decimal("85.00"),
    "99213": Decimal("135.00"),
    "99214": Decimal("195.00"),
    "99215": Decimal("265.00"),
    "99395": Decimal("210.00"),
    "99396": Decimal("225.00"),
    "36415": Decimal("15.00"),
    "80053": Decimal("48.00"),
    "85025": Decimal("32.00"),
    "83036": Decimal("40.00"),
    "80061": Decimal("55.00"),
    "84443": Decimal("52.00"),
    "81003": Decimal("18.00"),
    "87880": Decimal("35.00"),
    "93000": Decimal("60.00"),
    "94010": Decimal("85.00"),
    "96372": Decimal("38.00"),
    "90471": Decimal("30.00"),
    "90686": Decimal("42.00"),
    "73562": Decimal("95.00"),
    "20610": Decimal("150.00"),
    "G0439": Decimal("190.00"),
    "G0438": Decimal("260.00"),
    "G0008": Decimal("30.00"),
    "Q2035": Decimal("45.00"),
    "J1100": Decimal("18.00"),
    "J3420": Decimal("25.00"),
    "J1030": Decimal("22.00"),
    "G0444": Decimal("30.00"),
}
ROUTINE_VISITS = ["99212", "99213", "99213", "99213", "99214", "99214", "99215", "99203", "99204", "99202"]
ADD_ONS: dict[str, list[list[str]]] = {
    "E11": [["36415", "83036"], ["36415", "80053"]],
    "I10": [["93000"], ["36415", "80061"]],
    "J02": [["87880"]],
    "J45": [["94010"]],
    "J44": [["94010"]],
    "N39": [["81003"]],
    "E03": [["36415", "84443"]],
    "D64": [["36415", "85025"]],
    "M17": [["20610", "J1030"], ["73562"]],
    "J06": [["96372", "J1100"]],
    "E55": [["96372", "J3420"]],
}

# Denials: (CARC group, CARC, RARC or None, share of denials), the pairs billing offices see most.
DENIALS: list[tuple[str, str, str | None, int]] = [
    ("CO", "16", "M51", 14),
    ("CO", "50", "N115", 12),
    ("CO", "97", "M15", 12),
    ("CO", "29", None, 6),
    ("CO", "197", "N54", 10),
    ("CO", "11", "M76", 10),
    ("CO", "4", "N519", 7),
    ("OA", "18", "N522", 8),
    ("CO", "22", "MA04", 8),
    ("CO", "B7", "N570", 5),
    ("CO", "27", None, 4),
    ("CO", "151", "N362", 4),
]


@dataclass
class DemoReport:
    """What `seed_demo_practice` made (or found)."""

    practice_id: int
    created: bool
    counts: dict[str, int]
    credentials: dict[str, str] = field(default_factory=dict)


def demo_practice_counts(session: Session, practice_id: int) -> dict[str, int]:
    def count(model: type, *criteria: object) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)  # type: ignore[arg-type]

    claims_by_status = dict(
        session.execute(
            select(Claim.status, func.count()).where(Claim.practice_id == practice_id).group_by(Claim.status)
        ).all()
    )
    counts = {
        "providers": count(Provider, Provider.practice_id == practice_id),
        "payers": count(Payer, Payer.practice_id == practice_id),
        "patients": count(Patient, Patient.practice_id == practice_id),
        "claims": count(Claim, Claim.practice_id == practice_id),
        "remittances": count(Remittance, Remittance.practice_id == practice_id),
        "payments": count(Payment, Payment.practice_id == practice_id),
        "ledger_entries": count(LedgerEntry, LedgerEntry.practice_id == practice_id),
        "users": count(User, User.practice_id == practice_id),
    }
    for status, number in sorted(claims_by_status.items()):
        counts[f"claims_{status.value if hasattr(status, 'value') else status}"] = int(number)
    return counts


def remove_demo_practice(session: Session) -> bool:
    """Delete the demo practice and everything in it (the database cascades from the practice row)."""
    practice = session.scalar(select(Practice).where(Practice.slug == DEMO_SLUG))
    if practice is None:
        return False
    # Rows that reference each other within the practice are removed child-first so that SQLite
    # (which checks foreign keys per statement) and PostgreSQL agree.
    pid = practice.id
    claim_ids = select(Claim.id).where(Claim.practice_id == pid)
    for model in (Feedback, AuditRecord, PendingAction, ConversationThread, WorkException, X12File):
        session.execute(delete(model).where(model.practice_id == pid))
    session.execute(delete(LedgerEntry).where(LedgerEntry.practice_id == pid))
    session.execute(delete(Remittance).where(Remittance.practice_id == pid))
    session.execute(delete(Payment).where(Payment.practice_id == pid))
    session.execute(delete(ClaimStatusEvent).where(ClaimStatusEvent.claim_id.in_(claim_ids)))
    session.execute(delete(ClaimLine).where(ClaimLine.claim_id.in_(claim_ids)))
    session.execute(delete(ClaimDiagnosis).where(ClaimDiagnosis.claim_id.in_(claim_ids)))
    session.execute(delete(Claim).where(Claim.practice_id == pid))
    session.execute(delete(Coverage).where(Coverage.practice_id == pid))
    session.execute(delete(User).where(User.practice_id == pid))
    session.execute(delete(Patient).where(Patient.practice_id == pid))
    session.execute(delete(Practice).where(Practice.id == pid))
    session.flush()
    return True


def seed_demo_practice(
    session: Session, *, as_of: dt.date, patients: int = 320, claims: int = 2100, reset: bool = False
) -> DemoReport:
    """Create the demo practice (once). With `reset`, an existing demo practice is replaced."""
    existing = session.scalar(select(Practice).where(Practice.slug == DEMO_SLUG))
    if existing is not None and not reset:
        return DemoReport(existing.id, created=False, counts=demo_practice_counts(session, existing.id))
    if existing is not None:
        remove_demo_practice(session)
    builder = _DemoBuilder(session, as_of=as_of)
    practice = builder.build(patient_count=patients, claim_count=claims)
    return DemoReport(
        practice.id,
        created=True,
        counts=demo_practice_counts(session, practice.id),
        credentials=builder.credentials,
    )


class _DemoBuilder:
    def __init__(self, session: Session, *, as_of: dt.date) -> None:
        self.session = session
        self.as_of = as_of
        self.rng = random.Random(SEED)
        self.credentials: dict[str, str] = {}
        self.remittances: dict[tuple[int, dt.date], Remittance] = {}

    # -- reference data -------------------------------------------------------------------------
    def build(self, *, patient_count: int, claim_count: int) -> Practice:
        session = self.session
        practice = Practice(
            slug=DEMO_SLUG, name="Riverbend Family Medicine (demo)", npi="1003000126", tax_id="00-0000000"
        )
        session.add(practice)
        session.flush()
        self.practice = practice
        self._users()
        self.providers = [Provider(practice_id=practice.id, npi=n, name=name, taxonomy=t) for n, name, t in PROVIDERS]
        self.payers = [
            Payer(
                practice_id=practice.id,
                name=name,
                payer_id=pid,
                kind=kind,
                timely_filing_days=tf,
                appeal_days=appeal,
                corrected_claim_days=corrected,
            )
            for name, pid, kind, tf, appeal, corrected, _ in PAYERS
        ]
        self.allowed_share = {pid: share for _, pid, *_, share in PAYERS}
        session.add_all([*self.providers, *self.payers])
        session.flush()
        patients = [self._patient(number) for number in range(patient_count)]
        session.add_all(patients)
        session.flush()
        self.patients = patients
        for number in range(claim_count):
            self._claim(1001 + number)
            if number % 200 == 199:
                session.flush()
        session.flush()
        for remittance in self.remittances.values():
            self._pay_remittance(remittance)
        session.flush()
        self._apply_all_totals()
        session.flush()
        return practice

    def _users(self) -> None:
        hasher = PasswordHasher()
        for role, email, name in [
            (Role.ADMIN, "admin@demo.example", "Avery Admin"),
            (Role.BILLER, "biller@demo.example", "Blake Biller"),
            (Role.CODER, "coder@demo.example", "Corey Coder"),
            (Role.FRONT_DESK, "frontdesk@demo.example", "Frankie Frontdesk"),
        ]:
            # Passwords are random and shown once by `init --demo`; only their argon2 hash is stored.
            password = secrets.token_urlsafe(12)
            self.credentials[email] = password
            self.session.add(
                User(
                    practice_id=self.practice.id,
                    email=email,
                    name=name,
                    role=role,
                    password_hash=hasher.hash(password),
                )
            )

    def _patient(self, number: int) -> Patient:
        rng = self.rng
        age_days = rng.randint(2 * 365, 90 * 365)
        patient = Patient(
            practice_id=self.practice.id,
            account_number=f"A{100000 + number}",
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            birth_date=self.as_of - dt.timedelta(days=age_days),
            sex=rng.choice("FM"),
            address=f"{rng.randint(1, 999)} Sample Street",
            city="Demo City",
            state="ZZ",
            postal_code="00000",
        )
        age = age_days // 365
        if age >= 65:
            payer = self.payers[0]
        elif (age < 19 and rng.random() < 0.5) or rng.random() < 0.15:
            payer = self.payers[1]
        else:
            payer = rng.choice(self.payers[2:])
        prefix = {"00882": "1EG4", "SKMD0": "MD"}.get(payer.payer_id, "DM")
        patient.coverages.append(
            Coverage(
                practice_id=self.practice.id,
                payer_id=payer.id,
                member_id=f"{prefix}{rng.randint(10**7, 10**8 - 1)}",
                group_number=None if payer.kind is not PayerKind.COMMERCIAL else f"G{rng.randint(1000, 9999)}",
                priority=1,
                effective_from=dt.date(self.as_of.year - 3, 1, 1),
            )
        )
        return patient

    # -- claims ---------------------------------------------------------------------------------
    def _procedures(self, diagnoses: list[str], payer: Payer, preventive: bool, age: int) -> list[str]:
        rng = self.rng
        if preventive:
            if payer.kind is PayerKind.MEDICARE:
                codes = [rng.choice(["G0439", "G0439", "G0438"])]
                if "Z23" in diagnoses:
                    codes = ["G0008", "Q2035"]
            else:
                codes = [("99395" if age < 40 else "99396")]
                if "Z23" in diagnoses:
                    codes = ["90471", "90686"]
            return codes
        codes = [rng.choice(ROUTINE_VISITS[:7] if rng.random() < 0.85 else ROUTINE_VISITS[7:])]
        extras = ADD_ONS.get(diagnoses[0][:3])
        if extras and rng.random() < 0.6:
            codes += rng.choice(extras)
        return codes

    def _claim(self, number: int) -> None:
        rng, session = self.rng, self.session
        patient = rng.choice(self.patients)
        coverage = patient.coverages[0]
        payer = next(p for p in self.payers if p.id == coverage.payer_id)
        provider = rng.choice(self.providers)
        days_ago = rng.randint(1, 364)
        service_date = self.as_of - dt.timedelta(days=days_ago)
        assert patient.birth_date is not None
        age = (service_date - patient.birth_date).days // 365
        preventive = rng.random() < 0.18
        diagnoses = list(rng.choice(PREVENTIVE_DIAGNOSES if preventive else DIAGNOSIS_SETS))
        procedures = self._procedures(diagnoses, payer, preventive, age)
        claim = Claim(
            practice_id=self.practice.id,
            claim_number=str(number),
            patient_id=patient.id,
            payer_id=payer.id,
            provider_id=provider.id,
            coverage_id=coverage.id,
            claim_type="P",
            service_date_from=service_date,
            service_date_to=service_date,
            place_of_service="11",
            frequency_code="1",
            status=ClaimStatus.SUBMITTED,
            submitted_on=service_date + dt.timedelta(days=rng.randint(1, 4)),
        )
        for sequence, code in enumerate(diagnoses, start=1):
            claim.diagnoses.append(
                ClaimDiagnosis(sequence=sequence, code=code, qualifier="ABK" if sequence == 1 else "ABF")
            )
        for line_number, code in enumerate(procedures, start=1):
            modifiers = (
                "25"
                if line_number == 1
                and code.startswith("992")
                and len(procedures) > 1
                and code != "99211"
                and any(p in {"20610", "96372"} for p in procedures)
                else ""
            )
            claim.lines.append(
                ClaimLine(
                    line_number=line_number,
                    procedure_code=code,
                    modifiers=modifiers,
                    units=Decimal("1"),
                    charge=FEES[code],
                    diagnosis_pointers=",".join(str(i) for i in range(1, min(len(diagnoses), 4) + 1)),
                    service_date=service_date,
                )
            )
        session.add(claim)
        session.flush()
        self._status(claim, ClaimStatus.SUBMITTED, claim.submitted_on or service_date, "837", None, None)
        session.add_all(
            charge_entries(claim, posted_on=claim.submitted_on or service_date, key_prefix=f"demo:{number}:charge")
        )
        self._outcome(claim, payer, days_ago, forced_denial=("CO", "50", "N115") if number == 1042 else None)

    def _status(
        self,
        claim: Claim,
        status: ClaimStatus,
        on: dt.date,
        source: str,
        category: str | None,
        code: str | None,
        note: str | None = None,
    ) -> None:
        claim.status = status
        self.session.add(
            ClaimStatusEvent(
                claim_id=claim.id,
                status=status,
                category_code=category,
                status_code=code,
                entity_code="PR" if category else None,
                effective_date=on,
                source=source,
                note=note,
            )
        )

    def _outcome(
        self, claim: Claim, payer: Payer, days_ago: int, forced_denial: tuple[str, str, str | None] | None
    ) -> None:
        rng = self.rng
        submitted = claim.submitted_on or claim.service_date_from
        if forced_denial is None and days_ago < 12:
            return  # just submitted: no answer yet
        if forced_denial is None and rng.random() < 0.03:
            self._status(
                claim,
                ClaimStatus.REJECTED,
                submitted + dt.timedelta(days=1),
                "277CA",
                "A7",
                "562",
                "Rejected at the clearinghouse: billing provider NPI not on file with the payer",
            )
            return
        self._status(claim, ClaimStatus.ACCEPTED, submitted + dt.timedelta(days=1), "277CA", "A2", "20")
        if forced_denial is None and days_ago < 30 and rng.random() < 0.5:
            self._status(claim, ClaimStatus.PENDING, submitted + dt.timedelta(days=7), "277", "P1", "20")
            return
        paid_on = submitted + dt.timedelta(days=rng.randint(14, 30))
        paid_on = min(paid_on, self.as_of)
        payment_date = paid_on + dt.timedelta(days=(4 - paid_on.weekday()) % 7)  # payers pay on Fridays
        payment_date = min(payment_date, self.as_of)
        remittance = self._remittance(claim.payer_id, payment_date)
        if forced_denial is not None or rng.random() < 0.12:
            denial = forced_denial or self._pick_denial()
            self._adjudicate_denied(claim, remittance, denial)
        else:
            self._adjudicate_paid(claim, payer, remittance)

    def _pick_denial(self) -> tuple[str, str, str | None]:
        weights = [weight for *_, weight in DENIALS]
        group, carc, rarc, _ = self.rng.choices(DENIALS, weights=weights)[0]
        return group, carc, rarc

    def _remittance(self, payer_id: int, payment_date: dt.date) -> Remittance:
        key = (payer_id, payment_date)
        if key not in self.remittances:
            payer = next(p for p in self.payers if p.id == payer_id)
            remittance = Remittance(
                practice_id=self.practice.id,
                payer_id=payer_id,
                payer_name=payer.name,
                payer_identifier=payer.payer_id,
                trace_number=f"{payer.payer_id}{payment_date:%Y%m%d}{len(self.remittances):04d}",
                payment_method="ACH",
                payment_date=payment_date,
                total_paid=ZERO,
                source_file="demo",
                control_number=f"{len(self.remittances) + 1:04d}",
                status="posted",
            )
            self.session.add(remittance)
            self.session.flush()
            self.remittances[key] = remittance
        return self.remittances[key]

    def _remit_claim(
        self, claim: Claim, remittance: Remittance, status_code: str, paid: Decimal, patient_share: Decimal
    ) -> RemittanceClaim:
        remit_claim = RemittanceClaim(
            remittance_id=remittance.id,
            claim_id=claim.id,
            patient_control_number=claim.claim_number,
            status_code=status_code,
            billed_amount=sum((line.charge for line in claim.lines), ZERO),
            paid_amount=paid,
            patient_responsibility=patient_share,
            payer_claim_number=f"{remittance.payer_identifier}{claim.id:09d}",
            posted=True,
        )
        claim.payer_claim_number = remit_claim.payer_claim_number
        self.session.add(remit_claim)
        self.session.flush()
        remittance.total_paid += paid
        return remit_claim

    def _adjudicate_denied(self, claim: Claim, remittance: Remittance, denial: tuple[str, str, str | None]) -> None:
        group, carc, rarc = denial
        remit_claim = self._remit_claim(claim, remittance, "4", ZERO, ZERO)
        for line in claim.lines:
            service_line = RemittanceServiceLine(
                remittance_claim_id=remit_claim.id,
                claim_line_id=line.id,
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                billed_amount=line.charge,
                paid_amount=ZERO,
                units=line.units,
                service_date=line.service_date,
            )
            self.session.add(service_line)
            self.session.flush()
            self.session.add(
                Adjustment(
                    remittance_claim_id=remit_claim.id,
                    service_line_id=service_line.id,
                    group_code=group,
                    reason_code=carc,
                    amount=line.charge,
                    quantity=None,
                )
            )
            if rarc:
                self.session.add(
                    RemarkCode(
                        remittance_claim_id=remit_claim.id,
                        service_line_id=service_line.id,
                        code=rarc,
                        source="LQ",
                    )
                )
            # The denial is recorded with its codes but not written off: the balance stays open on the
            # payer side until a person appeals, corrects or writes it off.
        self._status(
            claim,
            ClaimStatus.DENIED,
            remittance.payment_date,
            "835",
            "F2",
            "88" if carc == "16" else "65",
            f"Denied {group}-{carc}" + (f" with {rarc}" if rarc else ""),
        )

    def _adjudicate_paid(self, claim: Claim, payer: Payer, remittance: Remittance) -> None:
        rng = self.rng
        share = self.allowed_share[payer.payer_id]
        copay = Decimal(rng.choice([0, 20, 25, 30, 40])) if payer.kind is PayerKind.COMMERCIAL else ZERO
        deductible_left = money(rng.choice([0, 0, 0, 50, 120])) if payer.kind is not PayerKind.MEDICAID else ZERO
        lines_paid: list[tuple[ClaimLine, Decimal, list[tuple[str, str, Decimal]]]] = []
        for index, line in enumerate(claim.lines):
            allowed = money(line.charge * share)
            adjustments: list[tuple[str, str, Decimal]] = [("CO", "45", line.charge - allowed)]
            remaining = allowed
            if index == 0 and copay and copay < remaining:
                adjustments.append(("PR", "3", copay))
                remaining -= copay
            if deductible_left and remaining > 0:
                applied = min(deductible_left, remaining)
                adjustments.append(("PR", "1", applied))
                remaining -= applied
                deductible_left -= applied
            if payer.kind is PayerKind.MEDICARE and remaining > 0 and line.procedure_code not in {"G0439", "G0438"}:
                coinsurance = money(remaining * Decimal("0.20"))
                adjustments.append(("PR", "2", coinsurance))
                remaining -= coinsurance
            lines_paid.append((line, remaining, adjustments))
        paid = sum((amount for _, amount, _ in lines_paid), ZERO)
        patient_share = sum((a for _, _, adjs in lines_paid for g, _, a in adjs if g == "PR"), ZERO)
        remit_claim = self._remit_claim(claim, remittance, "1", paid, patient_share)
        if patient_share and payer.kind is PayerKind.MEDICARE and rng.random() < 0.3:
            # MA18: the claim was crossed over to the patient's supplemental insurer.
            self.session.add(RemarkCode(remittance_claim_id=remit_claim.id, code="MA18", source="MOA"))
        for line, line_paid, adjustments in lines_paid:
            service_line = RemittanceServiceLine(
                remittance_claim_id=remit_claim.id,
                claim_line_id=line.id,
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                billed_amount=line.charge,
                paid_amount=line_paid,
                units=line.units,
                service_date=line.service_date,
            )
            self.session.add(service_line)
            self.session.flush()
            key = f"demo:{claim.claim_number}:{line.line_number}"
            if line_paid:
                self.session.add(
                    payer_payment_entry(
                        claim=claim,
                        amount=line_paid,
                        posted_on=remittance.payment_date,
                        key=f"{key}:paid",
                        claim_line_id=line.id,
                        remittance_claim_id=remit_claim.id,
                    )
                )
            for group, carc, amount in adjustments:
                if not amount:
                    continue
                self.session.add(
                    Adjustment(
                        remittance_claim_id=remit_claim.id,
                        service_line_id=service_line.id,
                        group_code=group,
                        reason_code=carc,
                        amount=amount,
                    )
                )
                self.session.add_all(
                    adjustment_entries(
                        claim=claim,
                        group_code=group,
                        reason_code=carc,
                        amount=amount,
                        posted_on=remittance.payment_date,
                        key=f"{key}:adj:{group}{carc}",
                        claim_line_id=line.id,
                        remittance_claim_id=remit_claim.id,
                    )
                )
        status = ClaimStatus.PARTIALLY_PAID if patient_share else ClaimStatus.PAID
        self._status(claim, status, remittance.payment_date, "835", "F1", "65" if patient_share else "1")
        if patient_share and rng.random() < 0.55:
            self._patient_payment(
                claim,
                patient_share if rng.random() < 0.8 else money(patient_share / 2),
                remittance.payment_date + dt.timedelta(days=rng.randint(3, 25)),
            )

    def _patient_payment(self, claim: Claim, amount: Decimal, on: dt.date) -> None:
        on = min(on, self.as_of)
        payment = Payment(
            practice_id=self.practice.id,
            kind=PaymentKind.PATIENT,
            patient_id=claim.patient_id,
            amount=amount,
            method=self.rng.choice(["card", "cash", "check"]),
            reference=None,
            received_on=on,
            idempotency_key=f"demo:{claim.claim_number}:patient-payment",
        )
        self.session.add(payment)
        self.session.flush()
        self.session.add(
            new_entry(
                claim=claim,
                kind=LedgerKind.PATIENT_PAYMENT,
                responsibility=Responsibility.PATIENT,
                amount=-amount,
                posted_on=on,
                idempotency_key=f"demo:{claim.claim_number}:patient-payment",
                payment_id=payment.id,
            )
        )

    def _pay_remittance(self, remittance: Remittance) -> None:
        payment = Payment(
            practice_id=self.practice.id,
            kind=PaymentKind.PAYER,
            payer_id=remittance.payer_id,
            remittance_id=remittance.id,
            amount=remittance.total_paid,
            method="ACH",
            reference=remittance.trace_number,
            received_on=remittance.payment_date,
            idempotency_key=f"demo:remittance:{remittance.trace_number}",
        )
        self.session.add(payment)
        self.session.flush()
        remitted = select(RemittanceClaim.id).where(RemittanceClaim.remittance_id == remittance.id)
        self.session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.remittance_claim_id.in_(remitted), LedgerEntry.kind == LedgerKind.PAYER_PAYMENT)
            .values(payment_id=payment.id)
        )

    def _apply_all_totals(self) -> None:
        """Recompute every claim's cached amounts from its ledger in one pass."""
        entries: dict[int, list[LedgerEntry]] = {}
        for entry in self.session.scalars(select(LedgerEntry).where(LedgerEntry.practice_id == self.practice.id)):
            entries.setdefault(entry.claim_id, []).append(entry)
        for claim in self.session.scalars(select(Claim).where(Claim.practice_id == self.practice.id)):
            totals = totals_from_entries(entries.get(claim.id, []))
            apply_totals(claim, totals)
            claim.status = derive_status(claim.status, totals)  # the rule the posting paths use: $0 open is paid
