"""Sign-in: malformed input is a 4xx, throttling is keyed by client and account, a lock-out is bounded
and ends when an administrator resets the password (issue 14: `practice: "\\ud800"` gave 500; ten wrong
passwords from anyone locked the real user out)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from integrations.web.ratelimit import LoginThrottle
from knowledge.practice.accounts import set_password
from tests.integrations.web.conftest import WebPractice
from tests.security.conftest import CODER
from tests.security.test_endpoints import send


def _from(web: WebPractice, address: str) -> TestClient:
    return TestClient(web.app, client=(address, 50000))


def _login(client: TestClient, email: str, password: str, **extra: str) -> int:
    return client.post("/api/login", json={"email": email, "password": password, **extra}).status_code


def test_malformed_sign_in_bodies_are_refused_not_crashed(web_practice: WebPractice) -> None:
    client = web_practice.client()
    bodies = [
        {"email": "biller@demo.example", "password": "x" * 12, "practice": "\ud800"},
        {"email": "\ud800@demo.example", "password": "x" * 12},
        {"email": "biller@demo.example", "password": "\udfff" * 3},
        {"email": "biller@demo.example\x00", "password": "x" * 12},
        {"email": "biller@demo.example", "password": "x", "practice": "demo\n"},
        {"email": "", "password": ""},
        {"email": ["biller@demo.example"], "password": "x"},
        {"email": "biller@demo.example", "password": None},
        {"email": "b" * 10_000, "password": "x"},
        {"email": "biller@demo.example", "password": "x" * 1025},
        {},
        [],
        "email",
        None,
    ]
    for body in bodies:
        response = send(client, "POST", "/api/login", body)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
        assert response.json()["error"] in ("invalid_input", "unauthenticated")
    assert (
        client.post("/api/login", content=b"\xff\xfe{", headers={"content-type": "application/json"}).status_code < 500
    )


def test_wrong_passwords_from_one_client_do_not_lock_out_the_real_user(
    web_practice: WebPractice, fresh_throttle: LoginThrottle
) -> None:
    attacker = _from(web_practice, "203.0.113.7")
    statuses = [_login(attacker, CODER, f"wrong-password-{n}") for n in range(fresh_throttle.pair_failures + 2)]
    assert statuses[: fresh_throttle.pair_failures] == [401] * fresh_throttle.pair_failures
    assert statuses[-1] == 429
    locked = attacker.post("/api/login", json={"email": CODER, "password": web_practice.credentials[CODER]})
    assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= fresh_throttle.max_lockout
    # the real user, elsewhere, still signs in
    assert _login(_from(web_practice, "198.51.100.2"), CODER, web_practice.credentials[CODER]) == 200


def test_one_client_cannot_spray_many_accounts(web_practice: WebPractice, fresh_throttle: LoginThrottle) -> None:
    fresh_throttle = LoginThrottle(clock=lambda: 1000.0)  # no refill while the test runs
    web_practice.app.state.login_limiter = fresh_throttle
    sprayer = _from(web_practice, "203.0.113.9")
    statuses = [
        _login(sprayer, f"user{n}@demo.example", "wrong-password") for n in range(int(fresh_throttle.client_burst) + 1)
    ]
    assert statuses[-1] == 429 and statuses[0] == 401


def test_an_account_lock_is_bounded_and_cleared_by_a_password_reset(
    web_practice: WebPractice, fresh_throttle: LoginThrottle
) -> None:
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    web_practice.app.state.login_limiter = throttle
    email = "frontdesk@demo.example"
    # many clients, each under its own limit, together lock the account for a bounded time
    for n in range(throttle.account_failures):
        assert _login(_from(web_practice, f"192.0.2.{n % 200}"), email, "wrong-password") == 401
    newcomer = _from(web_practice, "198.51.100.77")
    refused = newcomer.post("/api/login", json={"email": email, "password": web_practice.credentials[email]})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= throttle.max_lockout
    now[0] += throttle.max_lockout + 1
    assert _login(newcomer, email, web_practice.credentials[email]) == 200  # it ends by itself

    for n in range(throttle.account_failures):
        _login(_from(web_practice, f"192.0.2.{n % 200}"), email, "wrong-password")
    assert _login(newcomer, email, web_practice.credentials[email]) == 429
    # an administrator resets the password (`billing-assistant users set-password`): the lock ends at once
    with Session(web_practice.engine) as session:
        set_password(session, practice_id=web_practice.practice_id, email=email, password="a-new-password-42")
        session.commit()
    try:
        assert _login(newcomer, email, "a-new-password-42") == 200
    finally:
        with Session(web_practice.engine) as session:
            set_password(
                session, practice_id=web_practice.practice_id, email=email, password=web_practice.credentials[email]
            )
            session.commit()


def test_a_successful_sign_in_clears_that_clients_failures(
    web_practice: WebPractice, fresh_throttle: LoginThrottle
) -> None:
    client = _from(web_practice, "198.51.100.40")
    for _ in range(fresh_throttle.pair_failures - 1):
        assert _login(client, CODER, "wrong-password") == 401
    assert _login(client, CODER, web_practice.credentials[CODER]) == 200
    for _ in range(fresh_throttle.pair_failures - 1):
        assert _login(client, CODER, "wrong-password") == 401
    assert _login(client, CODER, web_practice.credentials[CODER]) == 200
