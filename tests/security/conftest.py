"""Fixtures of the security suite: the web tests' demo practice (and a second practice), served by the real
app; the people of both practices signed in; and Slack requesters as the Slack adapter builds them.

The suite is written as an attacker and a careless colleague would use the product: each test names the
finding it reproduces (issue 14) and asserts what was stored or sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.types import Channel, Requester
from integrations.web.ratelimit import LoginThrottle
from knowledge.practice.models import Claim, ClaimStatus, Coverage, Patient, Role, User
from tests.integrations.web.conftest import OTHER_EMAIL, WebPractice, web_practice

__all__ = ["OTHER_EMAIL", "web_practice"]

ADMIN = "admin@demo.example"
BILLER = "biller@demo.example"
CODER = "coder@demo.example"
FRONT_DESK = "frontdesk@demo.example"


@pytest.fixture
def fresh_throttle(web_practice: WebPractice) -> Iterator[LoginThrottle]:
    """The production sign-in limits (not the loose ones the other tests sign in under), for one test."""
    saved = web_practice.app.state.login_limiter
    throttle = LoginThrottle()
    web_practice.app.state.login_limiter = throttle
    yield throttle
    web_practice.app.state.login_limiter = saved


def user_id(web: WebPractice, email: str) -> int:
    with Session(web.engine) as session:
        return int(session.scalars(select(User.id).where(User.email == email)).one())


def requester(web: WebPractice, email: str, channel: Channel = Channel.WEB) -> Requester:
    with Session(web.engine) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return Requester(user.practice_id, user.id, user.role, channel, "security-test")


def patient_of(web: WebPractice, claim_number: str) -> tuple[str, str, str, str]:
    """First name, last name, birth date and member id of a claim's patient."""
    with Session(web.engine) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
        patient = session.get(Patient, claim.patient_id)
        assert patient is not None and patient.birth_date is not None
        member = session.scalars(select(Coverage.member_id).where(Coverage.patient_id == patient.id)).first()
        assert member is not None
        return patient.first_name, patient.last_name, patient.birth_date.isoformat(), member


@pytest.fixture(scope="module")
def biller(web_practice: WebPractice) -> TestClient:
    return web_practice.sign_in(BILLER)


@pytest.fixture(scope="module")
def front_desk(web_practice: WebPractice) -> TestClient:
    return web_practice.sign_in(FRONT_DESK)


@pytest.fixture(scope="module")
def outsider(web_practice: WebPractice) -> TestClient:
    """The admin of the second practice."""
    return web_practice.sign_in(OTHER_EMAIL)


def denied_claim(web: WebPractice) -> Claim:
    return web.claim(Claim.status == ClaimStatus.DENIED)


__all__ += ["ADMIN", "BILLER", "CODER", "FRONT_DESK", "Role"]
