"""Typed SQLAlchemy models of what a billing office works with.

Every row that holds practice data carries ``practice_id`` (directly, or through its claim or remittance),
and every data function filters on it: nobody reads another practice's data. Money is `Decimal`,
stored as integer cents (see ``types.py``).

The ledger is the source of truth for balances. Each entry moves an amount on one claim and says whose
responsibility it is (payer or patient):

    charge                +billed              payer side, one per claim line
    payer_payment         -paid                payer side
    adjustment            -amount              payer side (CO/OA/PI) or patient side (write-off of PR)
    transfer              -PR payer, +PR patient   moves patient responsibility (PR group) to the patient
    patient_payment       -amount              patient side
    write_off, refund, reversal                signed like the entry they correct

so that for every claim: charge = payer payments + payer adjustments + transfers to patient + insurance
balance, and transfers = patient payments + patient write-offs + patient balance.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from knowledge.practice.types import FixedPoint, Money

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(enum_cls: type[StrEnum], name: str) -> Enum:
    # Stored as plain strings: portable between SQLite and PostgreSQL and easy to extend in a migration.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        length=24,
        values_callable=lambda members: [m.value for m in members],
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Role(StrEnum):
    ADMIN = "admin"
    BILLER = "biller"
    CODER = "coder"
    FRONT_DESK = "front_desk"


class PayerKind(StrEnum):
    MEDICARE = "medicare"
    MEDICAID = "medicaid"
    COMMERCIAL = "commercial"
    OTHER = "other"


class ClaimStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    APPEALED = "appealed"
    REVERSED = "reversed"
    CLOSED = "closed"


class LedgerKind(StrEnum):
    CHARGE = "charge"
    PAYER_PAYMENT = "payer_payment"
    PATIENT_PAYMENT = "patient_payment"
    ADJUSTMENT = "adjustment"
    TRANSFER = "transfer"
    WRITE_OFF = "write_off"
    REFUND = "refund"
    REVERSAL = "reversal"


class Responsibility(StrEnum):
    PAYER = "payer"
    PATIENT = "patient"


class PaymentKind(StrEnum):
    PAYER = "payer"
    PATIENT = "patient"


class Practice(Base):
    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    npi: Mapped[str | None] = mapped_column(String(10))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("practice_id", "email", name="uq_users_practice_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    slack_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("practice_id", "npi", name="uq_providers_practice_npi"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    npi: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    taxonomy: Mapped[str | None] = mapped_column(String(10))


class Payer(Base):
    __tablename__ = "payers"
    __table_args__ = (UniqueConstraint("practice_id", "payer_id", name="uq_payers_practice_payer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    payer_id: Mapped[str] = mapped_column(String(80), doc="The payer's EDI id (NM109 of the 837/835).")
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PayerKind] = mapped_column(_enum(PayerKind, "payer_kind"))
    timely_filing_days: Mapped[int] = mapped_column(Integer, doc="Days from date of service to file a claim.")
    appeal_days: Mapped[int] = mapped_column(Integer, doc="Days from the remittance date to appeal a denial.")
    corrected_claim_days: Mapped[int | None] = mapped_column(
        Integer, doc="Days from the remittance date to send a corrected claim (None: timely filing applies)."
    )


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("practice_id", "account_number", name="uq_patients_practice_account"),
        Index("ix_patients_name_birth", "practice_id", "last_name", "first_name", "birth_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    account_number: Mapped[str] = mapped_column(String(50))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    address: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(10))

    coverages: Mapped[list[Coverage]] = relationship(back_populates="patient", cascade="all, delete-orphan")


class Coverage(Base):
    __tablename__ = "coverages"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(80))
    group_number: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[int] = mapped_column(Integer, default=1, doc="1 primary, 2 secondary, 3 tertiary.")
    relationship_code: Mapped[str] = mapped_column(String(2), default="18", doc="18 = self (X12 SBR02).")
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)

    patient: Mapped[Patient] = relationship(back_populates="coverages")
    payer: Mapped[Payer] = relationship()


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("practice_id", "claim_number", name="uq_claims_practice_claim_number"),
        Index("ix_claims_practice_status", "practice_id", "status"),
        Index("ix_claims_practice_service_date", "practice_id", "service_date_from"),
        Index("ix_claims_payer_claim_number", "practice_id", "payer_claim_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    claim_number: Mapped[str] = mapped_column(String(38), doc="Patient control number (CLM01).")
    payer_claim_number: Mapped[str | None] = mapped_column(String(50), doc="Payer claim control number (ICN).")
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    coverage_id: Mapped[int | None] = mapped_column(ForeignKey("coverages.id"))
    claim_type: Mapped[str] = mapped_column(String(1), default="P", doc="P professional (837P), I institutional.")
    service_date_from: Mapped[dt.date] = mapped_column(Date)
    service_date_to: Mapped[dt.date] = mapped_column(Date)
    place_of_service: Mapped[str | None] = mapped_column(String(2))
    frequency_code: Mapped[str] = mapped_column(String(1), default="1", doc="1 original, 7 replacement, 8 void.")
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus, "claim_status"), default=ClaimStatus.DRAFT)
    submitted_on: Mapped[dt.date | None] = mapped_column(Date)
    billed_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    paid_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    adjusted_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    patient_responsibility: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    patient_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    patient: Mapped[Patient] = relationship()
    payer: Mapped[Payer] = relationship()
    provider: Mapped[Provider | None] = relationship()
    lines: Mapped[list[ClaimLine]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimLine.line_number"
    )
    diagnoses: Mapped[list[ClaimDiagnosis]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimDiagnosis.sequence"
    )
    status_history: Mapped[list[ClaimStatusEvent]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimStatusEvent.id"
    )


class ClaimLine(Base):
    __tablename__ = "claim_lines"
    __table_args__ = (UniqueConstraint("claim_id", "line_number", name="uq_claim_lines_claim_line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    procedure_code: Mapped[str] = mapped_column(String(10))
    code_system: Mapped[str] = mapped_column(String(8), default="HC", doc="HC (CPT/HCPCS), NU (revenue code)...")
    modifiers: Mapped[str] = mapped_column(String(20), default="", doc="Up to four, comma-separated.")
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    units: Mapped[Decimal] = mapped_column(FixedPoint(3), default=Decimal("1"))
    charge: Mapped[Decimal] = mapped_column(Money())
    diagnosis_pointers: Mapped[str] = mapped_column(String(20), default="1", doc="e.g. `1,2` (1-based).")
    service_date: Mapped[dt.date | None] = mapped_column(Date)

    claim: Mapped[Claim] = relationship(back_populates="lines")

    @property
    def modifier_list(self) -> list[str]:
        return [m for m in self.modifiers.split(",") if m]


class ClaimDiagnosis(Base):
    __tablename__ = "claim_diagnoses"
    __table_args__ = (UniqueConstraint("claim_id", "sequence", name="uq_claim_diagnoses_claim_sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(8), doc="ICD-10-CM code with its dot, e.g. E11.65.")
    qualifier: Mapped[str] = mapped_column(String(3), default="ABF", doc="ABK principal, ABF other (HI01-1).")

    claim: Mapped[Claim] = relationship(back_populates="diagnoses")


class ClaimStatusEvent(Base):
    __tablename__ = "claim_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus, "claim_status"))
    category_code: Mapped[str | None] = mapped_column(String(4), doc="Claim status category (STC01-1), e.g. F1.")
    status_code: Mapped[str | None] = mapped_column(String(6), doc="Claim status code (STC01-2).")
    entity_code: Mapped[str | None] = mapped_column(String(3), doc="Entity identifier (STC01-3).")
    effective_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Money())
    source: Mapped[str] = mapped_column(String(20), doc="837, 277, 277CA, 835, demo or user.")
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    claim: Mapped[Claim] = relationship(back_populates="status_history")


class Remittance(Base):
    """An 835 transaction (one ST..SE) as received."""

    __tablename__ = "remittances"
    __table_args__ = (UniqueConstraint("practice_id", "payer_identifier", "trace_number", name="uq_remittances_trace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_identifier: Mapped[str] = mapped_column(String(80), doc="TRN03 / N1*PR identifier.")
    trace_number: Mapped[str] = mapped_column(String(80), doc="TRN02: check or EFT trace number.")
    payment_method: Mapped[str] = mapped_column(String(3), doc="BPR04: ACH, CHK, BOP, FWT or NON.")
    payment_date: Mapped[dt.date] = mapped_column(Date, doc="BPR16.")
    total_paid: Mapped[Decimal] = mapped_column(Money(), doc="BPR02.")
    source_file: Mapped[str | None] = mapped_column(String(300))
    control_number: Mapped[str | None] = mapped_column(String(20), doc="ST02.")
    status: Mapped[str] = mapped_column(
        String(20), default="posted", doc="posted, partial or exception; importing while a large 835 posts."
    )
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    content_hash: Mapped[str | None] = mapped_column(
        String(64), doc="SHA-256 of the ST..SE segments: an interrupted import of the same content resumes."
    )
    import_owner: Mapped[str | None] = mapped_column(
        String(80), doc="host:pid of the process posting it while status is importing (a lease)."
    )
    import_heartbeat: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), doc="When the importing process last committed a chunk."
    )

    payer: Mapped[Payer | None] = relationship()
    claims: Mapped[list[RemittanceClaim]] = relationship(back_populates="remittance", cascade="all, delete-orphan")
    provider_adjustments: Mapped[list[ProviderAdjustment]] = relationship(
        back_populates="remittance", cascade="all, delete-orphan"
    )


class RemittanceClaim(Base):
    """One CLP loop of an 835."""

    __tablename__ = "remittance_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    patient_control_number: Mapped[str] = mapped_column(String(38), doc="CLP01.")
    status_code: Mapped[str] = mapped_column(String(2), doc="CLP02: 1 primary, 4 denied, 22 reversal...")
    billed_amount: Mapped[Decimal] = mapped_column(Money(), doc="CLP03.")
    paid_amount: Mapped[Decimal] = mapped_column(Money(), doc="CLP04.")
    patient_responsibility: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), doc="CLP05.")
    payer_claim_number: Mapped[str | None] = mapped_column(String(50), doc="CLP07.")
    posted: Mapped[bool] = mapped_column(Boolean, default=False)
    exception_reason: Mapped[str | None] = mapped_column(String(500))

    remittance: Mapped[Remittance] = relationship(back_populates="claims")
    claim: Mapped[Claim | None] = relationship()
    service_lines: Mapped[list[RemittanceServiceLine]] = relationship(
        back_populates="remittance_claim", cascade="all, delete-orphan"
    )
    adjustments: Mapped[list[Adjustment]] = relationship(
        back_populates="remittance_claim", cascade="all, delete-orphan"
    )
    remarks: Mapped[list[RemarkCode]] = relationship(back_populates="remittance_claim", cascade="all, delete-orphan")


class RemittanceServiceLine(Base):
    """One SVC loop of an 835 claim."""

    __tablename__ = "remittance_service_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id", ondelete="CASCADE"), index=True)
    claim_line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"))
    procedure_code: Mapped[str] = mapped_column(String(10))
    modifiers: Mapped[str] = mapped_column(String(20), default="")
    billed_amount: Mapped[Decimal] = mapped_column(Money())
    paid_amount: Mapped[Decimal] = mapped_column(Money())
    units: Mapped[Decimal | None] = mapped_column(FixedPoint(3))
    service_date: Mapped[dt.date | None] = mapped_column(Date)

    remittance_claim: Mapped[RemittanceClaim] = relationship(back_populates="service_lines")


class Adjustment(Base):
    """One CAS adjustment: group code, CARC, amount and quantity (claim or service-line level)."""

    __tablename__ = "adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id", ondelete="CASCADE"), index=True)
    service_line_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_service_lines.id", ondelete="CASCADE"))
    group_code: Mapped[str] = mapped_column(String(2), doc="CO, OA, PI or PR.")
    reason_code: Mapped[str] = mapped_column(String(5), doc="Claim adjustment reason code (CARC).")
    amount: Mapped[Decimal] = mapped_column(Money())
    quantity: Mapped[Decimal | None] = mapped_column(FixedPoint(3))

    remittance_claim: Mapped[RemittanceClaim] = relationship(back_populates="adjustments")


class RemarkCode(Base):
    """A remittance advice remark code (RARC) from LQ, MOA or MIA."""

    __tablename__ = "remark_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id", ondelete="CASCADE"), index=True)
    service_line_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_service_lines.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(3), default="LQ", doc="LQ, MOA or MIA.")

    remittance_claim: Mapped[RemittanceClaim] = relationship(back_populates="remarks")


class ProviderAdjustment(Base):
    """A PLB provider-level adjustment (recoupment, interest, forward balance...)."""

    __tablename__ = "provider_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id", ondelete="CASCADE"), index=True)
    provider_identifier: Mapped[str] = mapped_column(String(50))
    fiscal_period_date: Mapped[dt.date | None] = mapped_column(Date)
    reason_code: Mapped[str] = mapped_column(String(2), doc="PLB03-1, e.g. WO, L6, FB, 72.")
    reference: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[Decimal] = mapped_column(Money(), doc="Positive reduces the payment, negative increases it.")

    remittance: Mapped[Remittance] = relationship(back_populates="provider_adjustments")


class Payment(Base):
    """Money received: a payer's remittance payment or a patient's payment."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("practice_id", "idempotency_key", name="uq_payments_idempotency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PaymentKind] = mapped_column(_enum(PaymentKind, "payment_kind"))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittances.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Money())
    method: Mapped[str] = mapped_column(String(20), doc="cash, check, card, ACH, CHK...")
    reference: Mapped[str | None] = mapped_column(String(80))
    received_on: Mapped[dt.date] = mapped_column(Date)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class LedgerEntry(Base):
    """One movement of money on a claim (see the module docstring for the signs)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("practice_id", "idempotency_key", name="uq_ledger_entries_idempotency"),
        Index("ix_ledger_entries_claim", "claim_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    claim_line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id", ondelete="CASCADE"))
    kind: Mapped[LedgerKind] = mapped_column(_enum(LedgerKind, "ledger_kind"))
    responsibility: Mapped[Responsibility] = mapped_column(_enum(Responsibility, "responsibility"))
    amount: Mapped[Decimal] = mapped_column(Money(), doc="Signed: + raises the balance, - lowers it.")
    group_code: Mapped[str | None] = mapped_column(String(2))
    reason_code: Mapped[str | None] = mapped_column(String(5))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    remittance_claim_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_claims.id", ondelete="CASCADE"))
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    posted_on: Mapped[dt.date] = mapped_column(Date)
    memo: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class X12File(Base):
    """One imported X12 transaction set, by content hash, so a second import posts nothing."""

    __tablename__ = "x12_imports"
    __table_args__ = (UniqueConstraint("practice_id", "content_hash", name="uq_x12_imports_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the ST..SE segments.")
    file_name: Mapped[str] = mapped_column(String(300))
    transaction_type: Mapped[str] = mapped_column(String(6), doc="835, 837P, 837I, 277, 277CA...")
    control_number: Mapped[str | None] = mapped_column(String(20))
    group_control_number: Mapped[str | None] = mapped_column(
        String(20), doc="GS06 of its functional group: what a 999's AK102 names (with ST02 in AK202)."
    )
    receiver_id: Mapped[str | None] = mapped_column(String(80), doc="GS03: who it was sent to (a 999's GS02).")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class X12ImportClaim(Base):
    """A claim an imported 837 transaction held, so that an acknowledgement (999) of that transaction
    finds the claims it accepted or rejected."""

    __tablename__ = "x12_import_claims"

    x12_import_id: Mapped[int] = mapped_column(ForeignKey("x12_imports.id", ondelete="CASCADE"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True, index=True)


class WorkException(Base):
    """Something a person must look at: an 835 claim that did not balance or match, a bad file..."""

    __tablename__ = "exceptions"
    __table_args__ = (Index("ix_exceptions_practice_status", "practice_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40), doc="unmatched_claim, unbalanced_claim, unbalanced_transaction...")
    reason: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str | None] = mapped_column(String(300))
    position: Mapped[str | None] = mapped_column(String(100), doc="Segment number and text, where known.")
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittances.id", ondelete="CASCADE"))
    remittance_claim_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_claims.id", ondelete="CASCADE"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="SET NULL"))
    amount: Mapped[Decimal | None] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(12), default="open", doc="open or resolved.")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRecord(Base):
    """Who did what, when, through which message: never message text or patient fields."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_practice_created", "practice_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60), doc="tool name or event, e.g. post_patient_payment.")
    outcome: Mapped[str] = mapped_column(
        String(20), doc="ok, error, pending, confirmed, cancelled, superseded, denied."
    )
    thread_id: Mapped[str | None] = mapped_column(String(80))
    message_id: Mapped[str | None] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(80))
    entity: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, server_default=func.now())


class ConversationThread(Base):
    """A conversation with the assistant (web chat, Slack thread or DM, CLI). Messages live in the agent's
    checkpoints; this row is what lists and scopes them."""

    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_practice_user", "practice_id", "user_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(20), doc="web, slack_dm, slack_channel or cli.")
    external_id: Mapped[str | None] = mapped_column(String(120), doc="Slack channel:thread_ts, for instance.")
    title: Mapped[str] = mapped_column(String(200), default="New conversation")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class PendingAction(Base):
    """A write the assistant proposed; it runs only when a person with the right role confirms it."""

    __tablename__ = "pending_actions"
    __table_args__ = (Index("ix_pending_actions_practice_status", "practice_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    tool: Mapped[str] = mapped_column(String(60))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(500), doc="What will be written, in words.")
    status: Mapped[str] = mapped_column(String(12), default="pending", doc="pending, confirmed, cancelled, failed.")
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Feedback(Base):
    """A thumbs up or down on an answer, kept for evals."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    message_id: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    value: Mapped[int] = mapped_column(Integer, doc="+1 or -1.")
    comment: Mapped[str | None] = mapped_column(
        Text, doc="What the person wrote with a 'Not helpful' (what was wrong); at most 2,000 characters."
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AuthToken(Base):
    """A web sign-in session, an API token or an MCP access token of a user. Only the SHA-256 of the secret is
    stored: the secret itself is a random 256-bit value shown once (in the cookie, by `users token` or by
    `users mcp-token create`). The kind is a plain string, so a new kind needs no migration."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12), doc="session (web sign-in), api (scripts) or mcp (an MCP client).")
    name: Mapped[str | None] = mapped_column(String(100), doc="What an API token is for.")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="SHA-256 hex of the secret.")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AppealLetter(Base):
    """An appeal, reconsideration or Medicare redetermination letter drafted for a claim: a draft a person
    edits until it is marked sent. Who drafted, last edited and sent it is kept on the row."""

    __tablename__ = "appeal_letters"
    __table_args__ = (Index("ix_appeal_letters_practice_claim", "practice_id", "claim_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), doc="appeal, reconsideration or redetermination.")
    status: Mapped[str] = mapped_column(String(12), default="draft", doc="draft or sent.")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, doc="The form's fields as drafted (CMS-20027 for a redetermination), for the exports."
    )
    citations: Mapped[list[Any]] = mapped_column(JSON, default=list, doc="The policy passages the letter cites.")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LimitCounter(Base):
    """One rate-limit or sign-in-throttle counter, shared by every worker (`knowledge/practice/limits.py`).

    Not practice data: the key is a namespace and a SHA-256 of what is counted (a user, a client address,
    an account), so neither addresses nor typed emails are stored. Times are Unix seconds as floats, since
    the limiters do arithmetic on them in every worker alike; a row whose `expires_at` has passed counts as
    absent and is pruned."""

    __tablename__ = "limit_counters"
    __table_args__ = (Index("ix_limit_counters_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[float] = mapped_column(Float, doc="Tokens left (a bucket) or failures counted (a throttle).")
    at: Mapped[float] = mapped_column(Float, doc="When `value` was last brought up to date (a window's start).")
    until: Mapped[float] = mapped_column(Float, doc="Locked until (0: not locked).")
    expires_at: Mapped[float] = mapped_column(Float, doc="After this the row means nothing and may be deleted.")


class SlackEvent(Base):
    """A Slack event id already taken by a worker: the primary key makes the first INSERT win, so an event
    Slack retries to another worker is answered once. Kept for an hour (Slack retries within minutes)."""

    __tablename__ = "slack_events"
    __table_args__ = (Index("ix_slack_events_expires_at", "expires_at"),)

    event_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    received_at: Mapped[float] = mapped_column(Float, doc="Unix seconds.")
    expires_at: Mapped[float] = mapped_column(Float, doc="Unix seconds; pruned after.")


class ImportJob(Base):
    """An X12 import queued for the worker (`knowledge/x12/jobs.py`): who asked, which files, how far it is.

    Jobs are how large imports run without stalling chat: a worker process claims the oldest queued job,
    posts it in chunks and writes its progress here, where the CLI, `/api/jobs/{id}` and the web chat read
    it. On SQLite one job runs at a time (the others wait their turn); on PostgreSQL several workers take
    different jobs at once (`FOR UPDATE SKIP LOCKED`)."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paths: Mapped[list[str]] = mapped_column(JSON, doc="The files or folders to import, as resolved paths.")
    label: Mapped[str] = mapped_column(String(300), doc="What to call it in progress lines (file names, no PHI).")
    status: Mapped[str] = mapped_column(String(12), default="queued", doc="queued, running, done or failed.")
    progress_text: Mapped[str] = mapped_column(String(200), default="")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="The import report when done.")
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(80), doc="host:pid of the worker running it.")
    heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DigestSubscription(Base):
    """A Slack channel that asked for a worklist digest (`/denials digest daily`): what, how often, when next.

    The digest is posted by whichever worker finds it due first (`assistant/digests.py`): the worker moves
    ``due_at`` forward in the same transaction that claims it, so N workers post it once."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (
        UniqueConstraint("practice_id", "channel_id", "kind", name="uq_digest_subscriptions_channel_kind"),
        Index("ix_digest_subscriptions_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(40), doc="Slack channel (or DM) id the digest goes to.")
    kind: Mapped[str] = mapped_column(String(20), doc="Which worklist: denials.")
    frequency: Mapped[str] = mapped_column(String(10), doc="daily or weekly.")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), doc="When the next digest is due (UTC).")
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300), doc="Why the last post failed (no PHI).")
