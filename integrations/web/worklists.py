"""Worklists as tables: the denial worklist, A/R aging and timely-filing risk, sorted, paged, and as CSV.

The chat answers "open denials for UHC" with the first rows and the totals; a biller works the whole list
from here (`GET /api/worklists/{kind}`), or takes it into a spreadsheet (``?format=csv``). The rows are the
same tools' rows (`tools/denial_worklist.py`, `tools/ar_aging.py`, `tools/timely_filing_risk.py`), read
for the signed-in user's practice, so a table and the chat never disagree. Rows hold claim numbers, payers,
dates and amounts, no patient fields. Each read is audited like a claim read. The open denials by the month
they were denied (`GET /api/worklists/denials/by-month`) are that trend, from the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant import roles
from assistant.audit import record_tool_call
from assistant.types import Requester
from integrations.web.auth import Agent, CurrentRequester
from integrations.web.schemas import ERROR_RESPONSES
from knowledge.errors import InvalidInput, PermissionDenied
from knowledge.practice.database import session_scope
from knowledge.practice.models import Payer

router = APIRouter(prefix="/api/worklists", responses=ERROR_RESPONSES, tags=["worklists"])

#: As many rows as the tools list at most; the totals always count every matching claim.
MAX_ROWS = 200

Kind = Literal["denials", "aging", "filing-risk"]


class Worklist(BaseModel):
    """One page of a worklist, sorted, with the totals of every matching claim."""

    kind: str
    columns: list[str]
    rows: list[dict[str, Any]]
    total_rows: int = Field(description="Rows of the whole list (at most MAX_ROWS are listed).")
    total_claims: int = Field(description="Every matching claim, also those beyond the listed rows.")
    total_amount: Decimal
    page: int
    pages: int
    page_size: int
    sort: str
    order: Literal["asc", "desc"]
    truncated: bool = Field(description="More claims match than can be listed: narrow by payer.")
    filters: dict[str, str | int | None] = Field(
        description="The filters this page was read with (payer, reason, older_than_days, responsibility, within_days)."
    )
    payers: list[str] = Field(description="The practice's payers by name, for a filter to choose from.")


@dataclass(frozen=True)
class _Table:
    rows: list[dict[str, Any]]
    columns: list[str]
    default_sort: tuple[str, Literal["asc", "desc"]]
    total_claims: int
    total_amount: Decimal


def _denials(session: Session, requester: Requester, payer: str | None, reason: str | None, **_: Any) -> _Table:
    from tools.denial_worklist import denial_worklist

    found = denial_worklist(payer, reason, MAX_ROWS, session=session, practice_id=requester.practice_id)
    rows = [item.model_dump() | {"remark_codes": " ".join(item.remark_codes)} for item in found.items]
    columns = [
        "claim_number",
        "payer",
        "service_date",
        "denied_on",
        "reason",
        "remark_codes",
        "amount",
        "next_action",
        "deadline",
        "days_left",
    ]
    return _Table(rows, columns, ("days_left", "asc"), found.total_claims, found.total_amount)


def _aging(
    session: Session,
    requester: Requester,
    payer: str | None,
    older_than_days: int | None,
    responsibility: Literal["insurance", "patient"] | None,
    **_: Any,
) -> _Table:
    from tools.ar_aging import ar_aging

    found = ar_aging(
        payer, older_than_days, responsibility, MAX_ROWS, session=session, practice_id=requester.practice_id
    )
    rows = [item.model_dump() for item in found.oldest]
    columns = [
        "claim_number",
        "payer",
        "service_date",
        "status",
        "days",
        "bucket",
        "insurance_balance",
        "patient_balance",
        "balance",
    ]
    return _Table(rows, columns, ("days", "desc"), found.claims, found.total)


def _filing_risk(
    session: Session, requester: Requester, payer: str | None, within_days: int, knowledge_base: Any, **_: Any
) -> _Table:
    from tools.timely_filing_risk import timely_filing_risk

    found = timely_filing_risk(
        payer,
        within_days,
        MAX_ROWS,
        session=session,
        practice_id=requester.practice_id,
        knowledge_base=knowledge_base,
    )
    rows = [item.model_dump() | {"deadline_passed": False} for item in found.at_risk]
    rows += [item.model_dump() | {"deadline_passed": True} for item in found.passed]
    columns = [
        "claim_number",
        "payer",
        "status",
        "service_date",
        "submitted_on",
        "amount",
        "limit_days",
        "deadline",
        "days_left",
        "deadline_passed",
        "status_note",
    ]
    return _Table(
        rows,
        columns,
        ("days_left", "asc"),
        found.at_risk_claims + found.passed_claims,
        found.at_risk_amount + found.amount_lost,
    )


def _payer_names(session: Session, practice_id: int) -> list[str]:
    names = select(Payer.name).where(Payer.practice_id == practice_id).distinct().order_by(Payer.name)
    return list(session.scalars(names))


#: The filters each worklist takes (the others are ignored for it, and not echoed).
_FILTERS: dict[str, tuple[str, ...]] = {
    "denials": ("payer", "reason"),
    "aging": ("payer", "older_than_days", "responsibility"),
    "filing-risk": ("payer", "within_days"),
}

_TABLES: dict[str, Callable[..., _Table]] = {"denials": _denials, "aging": _aging, "filing-risk": _filing_risk}


def _sorted(rows: list[dict[str, Any]], column: str, order: str) -> list[dict[str, Any]]:
    """Rows by one column; empty values last whichever the order (a claim with no deadline is not urgent)."""
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    present.sort(key=lambda r: (r[column], str(r.get("claim_number"))), reverse=order == "desc")
    return present + missing


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:.2f}"  # plain, so a spreadsheet reads it as a number
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class DenialMonth(BaseModel):
    month: str = Field(description="YYYY-MM: the month of the remittance that denied the claims.")
    claims: int
    amount: Decimal = Field(description="Their open insurance balance.")


class DenialsByMonth(BaseModel):
    """Open denials by the month they were denied: the trend behind the denial worklist."""

    months: list[DenialMonth] = Field(description="Oldest first; every month of the window, 0 where none.")
    total_claims: int = Field(description="Every open denial that matches, also those outside the window.")
    total_amount: Decimal
    outside_claims: int = Field(description="Open denials denied before the window or with no remittance date.")
    outside_amount: Decimal


def _month_window(latest: str, months: int) -> list[str]:
    """The `months` months ending with `latest` (YYYY-MM), oldest first."""
    year, month = (int(part) for part in latest.split("-"))
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - months + 1, index + 1)]


@router.get("/denials/by-month", response_model=DenialsByMonth)
def denials_by_month(
    agent: Agent,
    requester: CurrentRequester,
    payer: Annotated[str | None, Query(max_length=100, description="Payer name or payer id.")] = None,
    reason: Annotated[str | None, Query(max_length=40, description="A CARC such as CO-16.")] = None,
    months: Annotated[int, Query(ge=1, le=36, description="How many months, ending this month.")] = 12,
) -> DenialsByMonth:
    """The user's practice's open denials counted and summed by the month they were denied, with the same rows
    and filters as `GET /api/worklists/denials` (so the chart and the table agree)."""
    from tools.denial_worklist import denial_worklist

    if not roles.may_read(requester.role, "claims"):
        raise PermissionDenied("Your role may not read claim worklists.")
    started = time.perf_counter()
    with session_scope(agent.read_sessions) as session:
        found = denial_worklist(payer, reason, 1, session=session, practice_id=requester.practice_id)
    by_month = {group.key: group for group in found.by_month}
    # The window ends this month, or later if a remittance is dated ahead of the server's clock.
    latest = max([f"{dt.date.today():%Y-%m}", *by_month])
    window = [
        DenialMonth(
            month=month,
            claims=by_month[month].claims if month in by_month else 0,
            amount=by_month[month].amount if month in by_month else Decimal("0.00"),
        )
        for month in _month_window(latest, months)
    ]
    with session_scope(agent.sessions) as session:  # who read the trend, never its figures
        record_tool_call(
            session,
            requester=requester,
            tool="denial_worklist",
            arguments={"payer": payer, "reason": reason},
            outcome="ok",
            duration_ms=int((time.perf_counter() - started) * 1000),
            thread_id=None,
            message_id=None,
            extra={"via": "api", "view": "by_month"},
        )
    shown_claims = sum(m.claims for m in window)
    shown_amount = sum((m.amount for m in window), Decimal("0"))
    return DenialsByMonth(
        months=window,
        total_claims=found.total_claims,
        total_amount=found.total_amount,
        outside_claims=found.total_claims - shown_claims,
        outside_amount=found.total_amount - shown_amount,
    )


@router.get("/{kind}", response_model=Worklist, responses={200: {"content": {"text/csv": {}}}})
def worklist(
    kind: Kind,
    agent: Agent,
    requester: CurrentRequester,
    payer: Annotated[str | None, Query(max_length=100, description="Payer name or payer id.")] = None,
    reason: Annotated[str | None, Query(max_length=40, description="denials: a CARC such as CO-16.")] = None,
    older_than_days: Annotated[int | None, Query(ge=0, le=3650, description="aging: more than N days old.")] = None,
    responsibility: Annotated[
        Literal["insurance", "patient"] | None, Query(description="aging: the insurance or the patient side.")
    ] = None,
    within_days: Annotated[int, Query(ge=1, le=365, description="filing-risk: deadline within N days.")] = 30,
    sort: Annotated[str | None, Query(max_length=40, description="A column name.")] = None,
    order: Annotated[Literal["asc", "desc"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 25,
    format: Annotated[Literal["json", "csv"], Query(description="csv: every row, for a spreadsheet.")] = "json",
) -> Worklist | Response:
    """A worklist of the user's practice as a table: one page sorted by a column, or every row as CSV."""
    if not roles.may_read(requester.role, "claims"):
        raise PermissionDenied("Your role may not read claim worklists.")
    started = time.perf_counter()
    knowledge_base = None
    if kind == "filing-risk" and (provider := agent.providers.get("knowledge_base")) is not None:
        knowledge_base = provider()
    with session_scope(agent.read_sessions) as session:
        table = _TABLES[kind](
            session,
            requester,
            payer=payer,
            reason=reason,
            older_than_days=older_than_days,
            responsibility=responsibility,
            within_days=within_days,
            knowledge_base=knowledge_base,
        )
        payers = _payer_names(session, requester.practice_id)
    applied: dict[str, str | int | None] = {
        "payer": payer,
        "reason": reason,
        "older_than_days": older_than_days,
        "responsibility": responsibility,
        "within_days": within_days,
    }
    filters = {name: applied[name] for name in _FILTERS[kind]}
    column, direction = table.default_sort
    if sort is not None:
        if sort not in table.columns:
            raise InvalidInput(f"sort must be one of {', '.join(table.columns)} (got {sort!r}).")
        column, direction = sort, order or "asc"
    elif order is not None:
        direction = order
    rows = _sorted(table.rows, column, direction)
    with session_scope(agent.sessions) as session:  # who read which list, never its rows
        record_tool_call(
            session,
            requester=requester,
            tool={"denials": "denial_worklist", "aging": "ar_aging", "filing-risk": "timely_filing_risk"}[kind],
            arguments={name: value for name, value in filters.items() if value is not None},
            outcome="ok",
            duration_ms=int((time.perf_counter() - started) * 1000),
            thread_id=None,
            message_id=None,
            extra={"via": "api", "format": format},
        )
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(table.columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in table.columns])
        name = f"{kind}-{dt.date.today().isoformat()}.csv"
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    pages = max(1, -(-len(rows) // page_size))
    shown = rows[(page - 1) * page_size : page * page_size]
    return Worklist(
        kind=kind,
        columns=table.columns,
        rows=shown,
        total_rows=len(rows),
        total_claims=table.total_claims,
        total_amount=table.total_amount,
        page=page,
        pages=pages,
        page_size=page_size,
        sort=column,
        order=direction,
        truncated=table.total_claims > len(rows),
        filters=filters,
        payers=payers,
    )
