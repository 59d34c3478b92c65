"""Persistence for 835 posting: ledger entries and remittance rows as plain rows, written in bulk.

What to write is decided elsewhere (`knowledge.x12.matching`, `knowledge.x12.balancing`, orchestrated by
`knowledge.x12.posting`); this module only knows the tables: the plain-row ledger entry, the claim update
statement, bulk inserts and updates through the driver, and primary keys allocated up front. Kept apart because
these are the parts tuned for speed at 10,000 claims, and they follow the ledger's rules rather than the
835's.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import Date, DateTime, Dialect, Enum, String, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from knowledge.practice.ledger import Leg, adjustment_legs, payer_payment_leg
from knowledge.practice.models import (
    Base,
    Claim,
    LedgerKind,
    RemittanceClaim,
    RemittanceServiceLine,
    Responsibility,
)
from knowledge.practice.types import FixedPoint
from knowledge.x12.parse835 import CasItem


def bulk_insert(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many rows given as dicts (every row with the same keys); see `insert_rows`."""
    if not rows:
        return
    keys = list(rows[0])
    insert_rows(session, model, keys, [tuple(row[key] for key in keys) for row in rows])


def insert_rows(
    session: Session,
    model: type[Base],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: Mapping[str, Any] | None = None,
) -> None:
    """INSERT many rows through the driver's executemany, converting values with the columns' own types.

    Each row holds one value per name in `columns`; `shared` holds the values every row has (the
    practice, the posting date), converted once. `created_at`, unless given, gets the time of the batch.
    The same stored values as `session.execute(insert(table), rows)`, without SQLAlchemy's per-row
    parameter assembly, which costs more than the database at 100,000 rows: values are converted column
    by column (`_converted`), and the rows handed to the driver are assembled by `zip`.
    """
    if not rows:
        return
    table = _table(model)
    connection = session.connection()
    dialect = connection.dialect
    constants = dict(shared or {})
    if "created_at" in table.c and "created_at" not in constants and "created_at" not in columns:
        constants["created_at"] = dt.datetime.now(dt.UTC)
    given = dict(zip(columns, zip(*rows, strict=True), strict=True))  # one tuple of values per column
    # A column that is NULL in every row is left out of the INSERT, which stores the same NULL: the driver
    # binds each None only after a failed adapter lookup, a sixth of the cost of a ledger row.
    kept = {key: values for key, values in given.items() if not _omitted(table, key, values)}
    constants = {key: value for key, value in constants.items() if not _omitted(table, key, (value,))}
    given = kept if kept or constants else dict([next(iter(given.items()))])  # an INSERT names a column
    sql, order, positional = _insert_sql(table, dialect, (*given, *constants))
    values: list[Iterable[Any]] = []
    for key in order:
        column_type = table.c[key].type
        if key in given:
            values.append(_converted(column_type, dialect, given[key]))
        else:
            values.append(itertools.repeat(_converted(column_type, dialect, (constants[key],))[0], len(rows)))
    params: list[Any] = list(zip(*values, strict=True))
    if not positional:
        params = [dict(zip(order, row, strict=True)) for row in params]
    connection.exec_driver_sql(sql, params)


def _omitted(table: Table, key: str, values: Sequence[Any]) -> bool:
    """Whether an INSERT may leave the column out for these values: all None, and nothing but NULL is what
    leaving it out stores (no server default, not the primary key)."""
    column = table.c[key]
    return not any(value is not None for value in values) and column.server_default is None and not column.primary_key


def execute_rows(session: Session, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute `statement` once per row of parameters through the driver's executemany: the same SQL,
    and each value converted by its parameter's type for the dialect as `session.execute(statement,
    rows)` would, without SQLAlchemy's per-row parameter handling (10,000 claim updates per remittance)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    compiled = _compiled(statement, dialect)
    names = list(compiled.positiontup or []) if compiled.positional else list(rows[0])
    values = [
        _converted(compiled.binds[name].type.dialect_impl(dialect), dialect, [row[name] for row in rows])
        for name in names
    ]
    params: list[Any] = list(zip(*values, strict=True))
    if not compiled.positional:
        params = [dict(zip(names, row, strict=True)) for row in params]
    connection.exec_driver_sql(compiled.string, params)


@functools.lru_cache(maxsize=16)
def _compiled(statement: ClauseElement, dialect: Dialect) -> SQLCompiler:
    return cast(SQLCompiler, statement.compile(dialect=dialect))


@functools.lru_cache(maxsize=64)
def _insert_sql(table: Table, dialect: Dialect, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...], bool]:
    """The INSERT for `keys`, the order its parameters come in, and whether they are positional."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    order = tuple(compiled.positiontup or []) if compiled.positional else keys
    return compiled.string, order, bool(compiled.positional)


def _converted(column_type: TypeEngine[Any], dialect: Dialect, values: Sequence[Any]) -> Sequence[Any]:
    """`values` as the column's type binds them (its `bind_processor`; None stays None).

    Money is the costly one (270,000 amounts in a 10,000-claim remittance): a Decimal is scaled here with
    the same arithmetic as `FixedPoint.process_bind_param`, without its two calls per value (and with the
    rounding passed by position, which C methods parse much faster than a keyword); anything else (an int,
    a str) goes through the type itself, which also refuses floats.
    """
    if isinstance(column_type, FixedPoint) and column_type.impl_instance.bind_processor(dialect) is None:
        # the processor's own arithmetic (its int factor becomes this Decimal when it multiplies)
        quantum, factor = Decimal(1).scaleb(-column_type.places), Decimal(10**column_type.places)
        process_bind = column_type.process_bind_param
        return [
            None
            if value is None
            else int(value.quantize(quantum, ROUND_HALF_UP) * factor)
            if type(value) is Decimal
            else process_bind(value, dialect)
            for value in values
        ]
    process = column_type.bind_processor(dialect)
    if process is None:
        if dialect.name == "sqlite" and isinstance(column_type, Date | DateTime):
            return _adapted_by_sqlite3(dialect.loaded_dbapi, values)
        return values
    if isinstance(column_type, Enum):  # a handful of distinct values: each is converted once
        memo: dict[Any, Any] = {}
        return [
            None if value is None else memo[value] if value in memo else memo.setdefault(value, process(value))
            for value in values
        ]
    return [None if value is None else process(value) for value in values]


def _adapted_by_sqlite3(sqlite3: Any, values: Sequence[Any]) -> list[Any]:
    """Dates and times as the driver itself adapts them when it binds them (`sqlite3.adapt`, with its
    registered adapters), the same text stored; done here because the driver's adapter, run for every row,
    costs more than the insert (a whole batch shares one posting date and one `created_at`)."""
    adapt, protocol = sqlite3.adapt, sqlite3.PrepareProtocol
    days: dict[dt.date, Any] = {}
    adapted: list[Any] = []
    for value in values:
        if type(value) is dt.date:  # a few distinct days: each adapted once
            text = days.get(value)
            if text is None:
                text = days[value] = adapt(value, protocol, value)
            adapted.append(text)
        else:
            adapted.append(None if value is None else adapt(value, protocol, value))
    return adapted


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


#: The ledger columns a row's `entry_values` are for, in their order (each is the row's attribute of that name).
ENTRY_COLUMNS = (
    "claim_id",
    "claim_line_id",
    "kind",
    "responsibility",
    "amount",
    "group_code",
    "reason_code",
    "payment_id",
    "remittance_claim_id",
    "reverses_entry_id",
    "memo",
    "idempotency_key",
)
#: A row's values for `ENTRY_COLUMNS` (the practice, posting date and user are the batch's).
entry_values: Callable[[_EntryRow], tuple[Any, ...]] = operator.attrgetter(*ENTRY_COLUMNS)


def _leg_row(
    claim_id: int,
    leg: Leg,
    line_id: int | None,
    group_code: str | None = None,
    reason_code: str | None = None,
    payment_id: int | None = None,
    memo: str | None = None,
) -> _EntryRow:
    """A ledger rule's leg as a plain row (the columns a leg does not decide are the other arguments)."""
    kind, responsibility, amount, key = leg
    # By position, here and in the callers: ~80,000 rows per 10,000-claim remittance, and binding keywords
    # costs about as much again as building the row.
    return _EntryRow(
        claim_id,
        kind,
        responsibility,
        amount,
        key,
        None,  # id
        None,  # reverses_entry_id
        None,  # remittance_claim_id: the poster fills it once the claim's row has its id
        line_id,
        group_code,
        reason_code,
        payment_id,
        memo,
    )


def payment_row(
    claim_id: int, amount: Decimal, key: str, line_id: int | None, payment_id: int | None, memo: str | None = None
) -> _EntryRow:
    """A payer payment, by the ledger's own rule (`ledger.payer_payment_leg`), as a plain row."""
    return _leg_row(claim_id, payer_payment_leg(amount, key), line_id, None, None, payment_id, memo)


def adjustment_rows(
    claim_id: int, group_code: str, reason_code: str, amount: Decimal, key: str, line_id: int | None
) -> list[_EntryRow]:
    """One CAS adjustment, by the ledger's own rule (`ledger.adjustment_legs`, which the ORM path uses
    too), as plain rows."""
    legs = adjustment_legs(group_code, amount, key)
    return [_leg_row(claim_id, leg, line_id, group_code, reason_code) for leg in legs]


#: The adjustment columns `_adjustment_row` fills, in its order.
_ADJUSTMENT_COLUMNS = ("remittance_claim_id", "service_line_id", "group_code", "reason_code", "amount", "quantity")


def _adjustment_row(claim_row_id: int, line_id: int | None, item: CasItem) -> tuple[object, ...]:
    return (claim_row_id, line_id, item.group, item.reason, item.amount, item.quantity)
