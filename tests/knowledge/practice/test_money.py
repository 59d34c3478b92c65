from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from knowledge.practice.models import Payment, PaymentKind, Practice


def _payment(practice: Practice, amount: object, key: str) -> Payment:
    return Payment(
        practice_id=practice.id,
        kind=PaymentKind.PATIENT,
        amount=amount,
        method="cash",
        received_on=dt.date(2026, 1, 1),
        idempotency_key=key,
    )


def test_amounts_are_exact_decimals_in_both_databases(engine: Engine) -> None:
    with Session(engine) as session:
        practice = Practice(slug="p", name="P")
        session.add(practice)
        session.flush()
        for index, amount in enumerate(["0.10", "0.20", "1234567.89", "-0.30"]):
            session.add(_payment(practice, Decimal(amount), f"k{index}"))
        session.commit()
        total = session.scalar(select(func.sum(Payment.amount)))
        amounts = session.scalars(select(Payment.amount).order_by(Payment.id)).all()
    assert total == Decimal("1234567.89")
    assert amounts == [Decimal("0.10"), Decimal("0.20"), Decimal("1234567.89"), Decimal("-0.30")]


def test_floats_are_refused(engine: Engine) -> None:
    with Session(engine) as session:
        practice = Practice(slug="p", name="P")
        session.add(practice)
        session.flush()
        session.add(_payment(practice, 0.1, "k"))
        with pytest.raises(StatementError, match="never float"):
            session.flush()


def test_the_same_idempotency_key_cannot_be_written_twice(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with Session(engine) as session:
        practice = Practice(slug="p", name="P")
        session.add(practice)
        session.flush()
        session.add(_payment(practice, Decimal("40.00"), "copay-1"))
        session.flush()
        session.add(_payment(practice, Decimal("40.00"), "copay-1"))
        with pytest.raises(IntegrityError):
            session.flush()
