"""Every endpoint of `/openapi.json`, signed in and not: fuzzed JSON bodies, path and query values never
get a 5xx; every state change made with the session cookie needs the CSRF token; roles are checked
(issue 14: "POST /api/login with practice "\\ud800" returns 500 (1 of 226 fuzzed requests)")."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.practice.models import ConversationThread, Feedback, PendingAction
from tests.integrations.web.conftest import WebPractice
from tests.security.conftest import CODER, FRONT_DESK

#: Values a careless or hostile client sends: wrong types, huge, empty, control and unpaired surrogate
#: characters, injection-looking text, numbers at the edges.
NASTY: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    1e308,
    "",
    " ",
    "\ud800",
    "\udfff\ud800",
    "\x00",
    "a\nb\rc\t",
    "é" * 3,
    "💥" * 10,
    "x" * 5000,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "slack:T0DEMO:D0DM:2026-11-22",
    "%00%ff",
    [],
    ["a", 1, None],
    {},
    {"$gt": ""},
]
PATH_VALUES = ["x", "0", "-1", "%00", "%ED%A0%80", "%FF", "x" * 300, "..%2F..", "E11.65", "1001", "a%20b"]


def send(client: TestClient, method: str, path: str, body: Any, **options: Any) -> Any:
    """A JSON body as a browser or script sends it (lone surrogates escaped as `\\ud800`)."""
    headers = {"content-type": "application/json", **options.pop("headers", {})}
    return client.request(method, path, content=json.dumps(body).encode(), headers=headers, **options)


def _schema(web: WebPractice) -> dict[str, Any]:
    return dict(web.client().get("/openapi.json").json())


def _operations(web: WebPractice) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in _schema(web)["paths"].items():
        for method, operation in item.items():
            found.append((method.upper(), path, operation))
    assert len(found) >= 12
    return found


def _body_fields(schema: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {})
    ref = (content.get("schema") or {}).get("$ref", "")
    if not ref:
        return []
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return list(model.get("properties", {}))


def _bodies(fields: list[str]) -> list[Any]:
    """Each field with each nasty value, the rest missing; plus whole-body oddities."""
    bodies: list[Any] = [None, [], "text", 1, {}, {"unexpected": "field"}]
    for name, value in itertools.product(fields, NASTY):
        bodies.append({name: value})
        bodies.append({**dict.fromkeys(fields, "ok"), name: value})
    return bodies


def _paths(path: str) -> list[str]:
    names = re.findall(r"{(\w+)}", path)
    if not names:
        return [path]
    return [re.sub(r"{\w+}", value, path) for value in PATH_VALUES]


def _query(operation: dict[str, Any]) -> list[dict[str, Any]]:
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    queries: list[dict[str, Any]] = [{}]
    for name in names:
        queries += [{name: value} for value in ("", "\x00", "x" * 3000, "-5", "99999999999999999999", "E11.65")]
    return queries


def test_fuzzed_requests_to_every_endpoint_never_get_a_5xx(web_practice: WebPractice, biller: TestClient) -> None:
    schema = _schema(web_practice)
    anonymous = web_practice.client()
    sent = 0
    failures: list[tuple[str, str, Any, int]] = []
    for method, template, operation in _operations(web_practice):
        if template in ("/api/logout",):
            continue  # would end the shared session; its own test signs out
        fields = _body_fields(schema, operation)
        for path, query in itertools.product(_paths(template), _query(operation)):
            bodies = _bodies(fields) if fields else [None]
            for body, client in itertools.product(bodies[:: max(1, len(bodies) // 40)], (biller, anonymous)):
                response = send(client, method, path, body, params=query)
                sent += 1
                if response.status_code >= 500 and not (template == "/api/health" and response.status_code == 503):
                    failures.append((method, path, body, response.status_code))
        for body in _bodies(fields):
            if method == "POST":
                response = send(biller, method, _paths(template)[0], body)
                sent += 1
                if response.status_code >= 500:
                    failures.append((method, template, body, response.status_code))
    assert sent > 500
    assert failures == []


def test_raw_bodies_that_are_not_json_are_a_4xx(biller: TestClient) -> None:
    for raw in (b"", b"{", b"\xff\xfe\x00", b'{"message": "\\ud800"}', b"[" * 5000, b'{"message": 1e999999}'):
        response = biller.post("/api/chat", content=raw, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (raw[:20], response.status_code)


def _count(web: WebPractice, model: type) -> int:
    with Session(web.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_every_state_change_with_the_cookie_needs_the_csrf_token(web_practice: WebPractice) -> None:
    client = web_practice.sign_in(CODER)
    token = client.headers.pop("X-CSRF-Token")
    reply = client.post("/api/chat", json={"message": "what is E11.65?"}, headers={"X-CSRF-Token": token}).json()
    before = {model: _count(web_practice, model) for model in (ConversationThread, Feedback, PendingAction)}
    posts = [
        (method, template)
        for method, template, _operation in _operations(web_practice)
        if method not in ("GET", "HEAD", "OPTIONS") and template != "/api/login"
    ]
    assert {"/api/chat", "/api/logout", "/api/threads/{thread_id}/feedback"} <= {t for _m, t in posts}
    for method, template in posts:
        path = template.replace("{thread_id}", quote(reply["thread_id"])).replace("{action_id}", "x")
        for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": "\x7f"}):
            response = client.request(method, path, json={"message": "what is E11.9?", "value": 1}, headers=headers)
            assert response.status_code == 403, (method, template, response.status_code)
    assert {model: _count(web_practice, model) for model in before} == before
    assert client.get("/api/me", headers={"X-CSRF-Token": token}).status_code == 200  # still signed in


def test_roles_are_checked_by_the_server(web_practice: WebPractice) -> None:
    front_desk = web_practice.sign_in(FRONT_DESK)
    claim = web_practice.owing_claim(skip=6)
    adjustment = front_desk.post(
        "/api/chat", json={"message": f"write off $1 small balance on claim {claim.claim_number}"}
    ).json()["pending_action"]
    assert front_desk.post(f"/api/actions/{adjustment['id']}/confirm").status_code == 403
    coder = web_practice.sign_in(CODER)
    assert coder.post(f"/api/actions/{adjustment['id']}/cancel").status_code == 403  # neither asker nor confirmer
    with Session(web_practice.engine) as session:
        action = session.get(PendingAction, adjustment["id"])
        assert action is not None and action.status == "pending"
    assert front_desk.post(f"/api/actions/{adjustment['id']}/cancel").json()["status"] == "cancelled"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "Bearer \x00", "Bearer " + "x" * 5000])
def test_bad_authorization_headers_are_a_401(web_practice: WebPractice, header: str) -> None:
    response = web_practice.client().get("/api/me", headers={"Authorization": header})
    assert response.status_code == 401
