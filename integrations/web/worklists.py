"""Worklists as tables: the denial worklist, A/R aging and timely-filing risk, sorted, paged, and as CSV.

The chat answers "open denials for UHC" with the first rows and the totals; a biller works the whole list
from here (`GET /api/worklists/{kind}`), or takes it into a spreadsheet (``?format=csv``). The rows are the
same tools' rows (`tools/denial_worklist.py`, `tools/ar_aging.py`, `tools/timely_filing_risk.py`), read
for the signed-in user's practice, so a table and the chat never disagree. Rows hold claim numbers, payers,
dates and amounts, no patient fields. Each read is audited like a claim read.
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
from sqlalchemy.orm import Session

from assistant import roles
from assistant.audit import record_tool_call
from assistant.types import Requester
from integrations.web.auth import Agent, CurrentRequester
from integrations.web.schemas import ERROR_RESPONSES
from knowledge.errors import InvalidInput, PermissionDenied
from knowledge.practice.database import session_scope

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
            arguments={"payer": payer, "reason": reason},
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
    )
