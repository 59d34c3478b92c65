"""Persistence for 835 posting: ledger entries and remittance rows as plain rows, written in bulk.

What to write is decided elsewhere (`knowledge.x12.matching`, `knowledge.x12.balancing`, orchestrated by
`knowledge.x12.posting`); this module only knows the tables: the plain-row ledger entry, the claim update
statement, bulk inserts through the driver, and primary keys allocated up front. Kept apart because
these are the parts tuned for speed at 10,000 claims, and they follow the ledger's rules rather than the
835's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from knowledge.practice.ledger import Leg, adjustment_legs, payer_payment_leg
from knowledge.practice.models import (
    Base,
    Claim,
    LedgerKind,
    RemittanceClaim,
    RemittanceServiceLine,
    Responsibility,
)
from knowledge.x12.parse835 import CasItem


def bulk_insert(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many rows through the driver's executemany, converting values with the columns' own types.

    Same SQL and the same stored values as `session.execute(insert(table), rows)`, without SQLAlchemy's
    per-row parameter assembly, which costs more than the database at 100,000 rows. Every row must have
    the same keys; `created_at` gets the time of the batch.
    """
    if not rows:
        return
    table = _table(model)
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    if "created_at" in table.c and "created_at" not in keys:
        keys.append("created_at")
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    order = list(compiled.positiontup or []) if compiled.positional else keys
    processors = [
        (index, process)
        for index, key in enumerate(order)
        if (process := table.c[key].type.bind_processor(dialect)) is not None
    ]
    now = dt.datetime.now(dt.UTC)
    converted: list[Any] = []
    for row in rows:
        values = [row[key] if key != "created_at" else row.get(key, now) for key in order]
        for index, process in processors:
            if values[index] is not None:
                values[index] = process(values[index])
        converted.append(tuple(values) if compiled.positional else dict(zip(order, values, strict=True)))
    connection.exec_driver_sql(compiled.string, converted)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


_CLAIMS = _table(Claim)
_UPDATE_CLAIM = (
    update(_CLAIMS)
    .where(_CLAIMS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        billed_amount=bindparam("b_billed"),
        paid_amount=bindparam("b_paid"),
        adjusted_amount=bindparam("b_adjusted"),
        patient_responsibility=bindparam("b_patient"),
        patient_paid=bindparam("b_patient_paid"),
        payer_claim_number=func.coalesce(_CLAIMS.c.payer_claim_number, bindparam("b_icn", type_=String())),
        updated_at=bindparam("b_now"),
    )
)


def _allocate_ids(session: Session, model: type[RemittanceClaim | RemittanceServiceLine], count: int) -> list[int]:
    """Primary keys for rows inserted in bulk, so their children can point at them without RETURNING
    (SQLite cannot return ids of a multi-row insert in order, so SQLAlchemy would insert row by row)."""
    if count == 0:
        return []
    table = model.__tablename__
    if session.get_bind().dialect.name == "postgresql":
        query = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")
        return [int(v) for v in session.scalars(query, {"table": table, "count": count})]
    # SQLite: this transaction already wrote the remittance, so it holds the write lock until commit.
    highest = session.scalar(select(func.max(model.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


@dataclass(slots=True)
class _EntryRow:
    """A ledger entry as a plain row: the attributes `totals_from_entries` reads, and the insert values.

    A 10,000-claim remittance makes ~80,000 entries; building them as ORM objects (`ledger.new_entry`)
    costs more than the whole rest of the import, so posting builds plain rows with the same columns, from
    the same rules (`ledger.adjustment_legs`, `ledger.payer_payment_leg`) the ORM path uses.
    """

    claim_id: int
    kind: LedgerKind
    responsibility: Responsibility
    amount: Decimal
    idempotency_key: str
    id: int | None = None
    reverses_entry_id: int | None = None
    remittance_claim_id: int | None = None
    claim_line_id: int | None = None
    group_code: str | None = None
    reason_code: str | None = None
    payment_id: int | None = None
    memo: str | None = None
    pays_remittance: bool = False

    def insert_row(self, practice_id: int, posted_on: dt.date, user_id: int | None) -> dict[str, object]:
        return {
            "practice_id": practice_id,
            "claim_id": self.claim_id,
            "claim_line_id": self.claim_line_id,
            "kind": self.kind,
            "responsibility": self.responsibility,
            "amount": self.amount,
            "group_code": self.group_code,
            "reason_code": self.reason_code,
            "payment_id": self.payment_id,
            "remittance_claim_id": self.remittance_claim_id,
            "reverses_entry_id": self.reverses_entry_id,
            "posted_on": posted_on,
            "memo": self.memo,
            "idempotency_key": self.idempotency_key,
            "created_by_user_id": user_id,
        }


def _leg_row(claim_id: int, leg: Leg, line_id: int | None, **extra: Any) -> _EntryRow:
    """A ledger rule's leg as a plain row (the columns a leg does not decide come in `extra`)."""
    return _EntryRow(
        claim_id=claim_id,
        kind=leg.kind,
        responsibility=leg.responsibility,
        amount=leg.amount,
        idempotency_key=leg.idempotency_key,
        claim_line_id=line_id,
        **extra,
    )


def payment_row(
    claim_id: int, amount: Decimal, key: str, line_id: int | None, payment_id: int | None, memo: str | None = None
) -> _EntryRow:
    """A payer payment, by the ledger's own rule (`ledger.payer_payment_leg`), as a plain row."""
    return _leg_row(claim_id, payer_payment_leg(amount, key), line_id, payment_id=payment_id, memo=memo)


def adjustment_rows(
    claim_id: int, group_code: str, reason_code: str, amount: Decimal, key: str, line_id: int | None
) -> list[_EntryRow]:
    """One CAS adjustment, by the ledger's own rule (`ledger.adjustment_legs`, which the ORM path uses
    too), as plain rows."""
    return [
        _leg_row(claim_id, leg, line_id, group_code=group_code, reason_code=reason_code)
        for leg in adjustment_legs(group_code, amount, key)
    ]


def _adjustment_row(claim_row_id: int, line_id: int | None, item: CasItem) -> dict[str, object]:
    return {
        "remittance_claim_id": claim_row_id,
        "service_line_id": line_id,
        "group_code": item.group,
        "reason_code": item.reason,
        "amount": item.amount,
        "quantity": item.quantity,
    }
