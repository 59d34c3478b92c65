"""Who is calling: sign-in sessions (cookie), API tokens (bearer) and CSRF protection.

A browser signs in with email and password (`POST /api/login`) and gets a session cookie: HttpOnly,
SameSite=Lax, Secure over HTTPS or in production. The cookie holds a random secret whose SHA-256 is stored
(`auth_tokens`), so signing out or disabling the user ends it at once. Requests that change state with a
cookie session must send `X-CSRF-Token`: an HMAC of the session secret under SECRET_KEY, given to the page
by `/api/login` and `/api/me`; a cross-site page can neither read it nor forge it. Scripts send
`Authorization: Bearer <API token>` instead (no cookie, so no CSRF).

The dependencies are declared once: `CurrentUser` for any signed-in user, and the `Requester` the agent
service takes is built from it, never from the request body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request

from assistant.service import AgentService
from assistant.settings import Environment, Settings
from assistant.types import Channel, Requester
from knowledge.practice.accounts import resolve_token, token_needs_touch, touch_token
from knowledge.practice.database import session_scope
from knowledge.practice.models import Role, User

SESSION_COOKIE = "ba_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = dt.timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request."""

    user_id: int
    practice_id: int
    email: str
    name: str
    role: Role
    via: Literal["session", "token"]
    session_secret: str | None = None  # the cookie's secret, for sign-out and the CSRF token

    @classmethod
    def of(cls, user: User, *, session_secret: str | None = None) -> Principal:
        """The principal of a user signed in with a session cookie (its secret) or an API token (None)."""
        return cls(
            user_id=user.id,
            practice_id=user.practice_id,
            email=user.email,
            name=user.name,
            role=user.role,
            via="session" if session_secret is not None else "token",
            session_secret=session_secret,
        )

    def requester(self, request_id: str) -> Requester:
        return Requester(
            practice_id=self.practice_id,
            user_id=self.user_id,
            role=self.role,
            channel=Channel.WEB,
            request_id=request_id,
        )


def csrf_token(settings: Settings, session_secret: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + session_secret.encode(), hashlib.sha256).hexdigest()


def cookie_secure(settings: Settings, request: Request) -> bool:
    return request.url.scheme == "https" or settings.environment is Environment.PRODUCTION


def _unauthorised(message: str = "Sign in first.") -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


# Dependencies that only read request state are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, a hop per dependency per request that costs more than the work under load.
async def get_agent(request: Request) -> AgentService:
    agent: AgentService = request.app.state.agent
    return agent


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def current_user(
    request: Request,
    agent: Annotated[AgentService, Depends(get_agent)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Principal:
    """The signed-in user, from a bearer token or the session cookie; 401 without, 403 on a bad CSRF token."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthorised("Expected `Authorization: Bearer <API token>`.")
        return _resolve(agent, secret.strip(), "api")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise _unauthorised()
    principal = _resolve(agent, cookie, "session")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(settings, cookie)):
            raise HTTPException(status_code=403, detail="Missing or wrong CSRF token: reload the page.")
    return principal


def _resolve(agent: AgentService, secret: str, kind: Literal["session", "api"]) -> Principal:
    # Every request passes here: read without the write lock, and write `last_used_at` (every few
    # minutes per token) in its own short transaction.
    with session_scope(agent.read_sessions) as session:
        found = resolve_token(session, secret=secret, kind=kind)
        if found is None:
            raise _unauthorised("Your session has ended; sign in again." if kind == "session" else "Unknown token.")
        token, user = found
        principal = Principal.of(user, session_secret=secret if kind == "session" else None)
        stale = token_needs_touch(token)
    if stale:
        with session_scope(agent.sessions) as session:
            touch_token(session, token_id=token.id)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
Agent = Annotated[AgentService, Depends(get_agent)]
AppSettings = Annotated[Settings, Depends(get_settings)]
RequestId = Annotated[str, Depends(request_id)]


async def current_requester(user: CurrentUser, rid: RequestId) -> Requester:
    return user.requester(rid)


CurrentRequester = Annotated[Requester, Depends(current_requester)]
