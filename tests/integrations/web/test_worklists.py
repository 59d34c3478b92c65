"""Worklists as tables (`/api/worklists/{kind}`): the same rows as the chat's tools, sorted, paged, as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.practice.models import AuditRecord
from tests.integrations.web.conftest import OTHER_EMAIL, WebPractice
from tools.denial_worklist import denial_worklist

BILLER = "biller@demo.example"


@pytest.fixture(scope="module")
def biller(web_practice: WebPractice) -> TestClient:
    return web_practice.sign_in(BILLER)


def test_the_denial_worklist_pages_and_sorts_every_open_denial(web_practice: WebPractice, biller: TestClient) -> None:
    with Session(web_practice.engine) as session:
        expected = denial_worklist(limit=200, session=session, practice_id=web_practice.practice_id)
    first = biller.get("/api/worklists/denials", params={"sort": "amount", "order": "desc", "page_size": 5})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["total_claims"] == expected.total_claims and body["total_rows"] == len(expected.items)
    assert Decimal(body["total_amount"]) == expected.total_amount
    assert body["pages"] == -(-len(expected.items) // 5) and len(body["rows"]) == min(5, len(expected.items))
    amounts = [Decimal(r["amount"]) for r in body["rows"]]
    assert amounts == sorted(amounts, reverse=True)
    second = biller.get("/api/worklists/denials", params={"sort": "amount", "order": "desc", "page_size": 5, "page": 2})
    seen = {r["claim_number"] for r in body["rows"]}
    assert not seen & {r["claim_number"] for r in second.json()["rows"]}  # page 2 continues, repeats nothing
    assert set(body["columns"]) >= {"claim_number", "payer", "reason", "amount", "deadline"}


def test_csv_has_every_row_plain_amounts_and_no_patient_fields(web_practice: WebPractice, biller: TestClient) -> None:
    response = biller.get("/api/worklists/aging", params={"format": "csv", "older_than_days": 90})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="aging-')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    listed = biller.get("/api/worklists/aging", params={"older_than_days": 90}).json()
    assert len(rows) == listed["total_rows"] > 0
    assert all(int(r["days"]) > 90 for r in rows)
    assert all(Decimal(r["balance"]) == Decimal(r["insurance_balance"]) + Decimal(r["patient_balance"]) for r in rows)
    assert not {"patient", "patient_name", "birth_date", "member_id"} & set(rows[0])
    with Session(web_practice.engine) as session:  # the read is audited, its rows are not
        audit = session.scalars(select(AuditRecord).order_by(AuditRecord.id.desc())).first()
        assert audit is not None and audit.action == "ar_aging"


def test_filing_risk_lists_passed_deadlines_beside_the_ones_at_risk(biller: TestClient) -> None:
    body = biller.get("/api/worklists/filing-risk", params={"within_days": 60, "page_size": 200}).json()
    passed = [r for r in body["rows"] if r["deadline_passed"]]
    assert all(r["days_left"] < 0 for r in passed) and all(r["days_left"] >= 0 for r in body["rows"] if r not in passed)


def test_filters_narrow_the_list_and_are_echoed_with_the_practices_payers(biller: TestClient) -> None:
    everything = biller.get("/api/worklists/denials", params={"page_size": 200}).json()
    payers = everything["payers"]
    assert payers == sorted(payers) and {r["payer"] for r in everything["rows"]} <= set(payers)
    assert everything["filters"] == {"payer": None, "reason": None}
    payer = everything["rows"][0]["payer"]
    reason = everything["rows"][0]["reason"]
    body = biller.get("/api/worklists/denials", params={"payer": payer, "reason": reason, "page_size": 200}).json()
    assert body["filters"] == {"payer": payer, "reason": reason}
    assert body["rows"] and all(r["payer"] == payer and r["reason"] == reason for r in body["rows"])
    assert body["total_rows"] == sum(1 for r in everything["rows"] if r["payer"] == payer and r["reason"] == reason)
    aging = biller.get("/api/worklists/aging", params={"responsibility": "patient", "older_than_days": 30}).json()
    assert aging["filters"] == {"payer": None, "older_than_days": 30, "responsibility": "patient"}
    assert biller.get("/api/worklists/filing-risk").json()["filters"] == {"payer": None, "within_days": 30}


def test_another_practice_sees_none_of_these_claims(web_practice: WebPractice) -> None:
    other = web_practice.sign_in(OTHER_EMAIL)
    body = other.get("/api/worklists/denials").json()
    assert body["total_claims"] == 0 and body["rows"] == []


def test_bad_requests_say_what_is_expected(biller: TestClient, web_practice: WebPractice) -> None:
    wrong = biller.get("/api/worklists/denials", params={"sort": "patient_name"})
    assert wrong.status_code == 422 and "claim_number" in wrong.json()["message"]
    assert biller.get("/api/worklists/payroll").status_code == 422
    assert web_practice.client().get("/api/worklists/denials").status_code == 401


def test_denials_by_month_add_up_to_the_worklist_and_fill_empty_months(
    web_practice: WebPractice, biller: TestClient
) -> None:
    with Session(web_practice.engine) as session:
        expected = denial_worklist(limit=200, session=session, practice_id=web_practice.practice_id)
    response = biller.get("/api/worklists/denials/by-month", params={"months": 24})
    assert response.status_code == 200, response.text
    body = response.json()
    months = [m["month"] for m in body["months"]]
    assert len(months) == 24 and months == sorted(months) and months[-1] == f"{dt.date.today():%Y-%m}"
    for month in body["months"]:  # each month's figures are the worklist's rows denied that month
        rows = [i for i in expected.items if i.denied_on is not None and f"{i.denied_on:%Y-%m}" == month["month"]]
        assert month["claims"] == len(rows)
        assert Decimal(month["amount"]) == sum((i.amount for i in rows), Decimal("0"))
    assert sum(m["claims"] for m in body["months"]) + body["outside_claims"] == body["total_claims"]
    assert body["total_claims"] == expected.total_claims and Decimal(body["total_amount"]) == expected.total_amount
    assert sum(1 for m in body["months"] if m["claims"]) > 1 and any(m["claims"] == 0 for m in body["months"])
    short = biller.get("/api/worklists/denials/by-month", params={"months": 3}).json()
    assert [m["month"] for m in short["months"]] == months[-3:]
    with Session(web_practice.engine) as session:  # the read is audited, its figures are not
        audit = session.scalars(select(AuditRecord).order_by(AuditRecord.id.desc())).first()
        assert audit is not None and audit.action == "denial_worklist" and audit.practice_id == web_practice.practice_id
    other = web_practice.sign_in(OTHER_EMAIL).get("/api/worklists/denials/by-month").json()
    assert other["total_claims"] == 0 and all(m["claims"] == 0 for m in other["months"])
    assert biller.get("/api/worklists/denials/by-month", params={"months": 0}).status_code == 422
    assert web_practice.client().get("/api/worklists/denials/by-month").status_code == 401
