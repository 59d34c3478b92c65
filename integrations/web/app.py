"""The FastAPI application factory: the chat page, the JSON API and the Slack endpoint in one app.

Nothing is built at import time. `create_app(settings)` checks the database schema, builds the agent
service (unless one is given, as tests do), and wires the routes, the request-id middleware and the error
mapping (`errors.py`: each domain error class to one status code). Logs carry request ids, routes,
statuses and user ids, never message text or patient fields.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.service import AgentService, build_agent_service
from assistant.settings import Settings
from integrations.slack.http import mount_slack
from integrations.web.api import router
from integrations.web.errors import as_assistant_error, status_for, unexpected_message
from integrations.web.ratelimit import LoginThrottle, TokenBucket
from integrations.web.worklists import router as worklists_router
from knowledge.errors import AssistantError
from knowledge.practice.database import check_schema
from knowledge.practice.limits import DatabaseCounterStore

STATIC_DIR = Path(__file__).parent / "static"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

#: Questions per user: a burst of CHAT_BURST, then one every 60 / CHAT_PER_MINUTE seconds.
CHAT_BURST = 20
CHAT_PER_MINUTE = 30.0

access_log = logging.getLogger("billing_assistant.web.access")
log = logging.getLogger("billing_assistant.web")

HTTP_ERROR_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
}


class RequestContextMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` if sane, else a new one), echoes it in the
    response, and writes one access line: method, route template, status, duration. The route template,
    not the path: paths and query strings can carry what a person typed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            access_log.info(
                "%s %s %s %.0f ms",
                scope["method"],
                getattr(route, "path", "(no route)"),
                status,
                (time.perf_counter() - started) * 1000,
                extra={"request_id": request_id},
            )


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def _error(
    status: int, code: str, message: str, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": code, "message": message, "request_id": _request_id(request)}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: Settings, *, agent: AgentService | None = None) -> FastAPI:
    """Build the web app for these settings; the database schema is checked before serving.

    `agent` is the one agent service the routes use (built with `build_agent_service(settings)` when not
    given). `app.state.chat_limiter` is the per-user token bucket of /api/chat and `app.state.login_limiter` the
    sign-in throttle (`ratelimit.LoginThrottle`), both counted in the practice database so that every
    worker shares them; replace them to tune."""
    if agent is None:
        agent = build_agent_service(settings)
    else:
        check_schema(agent.engine)
    service = agent

    # Chat turns run on their own pool, sized by CHAT_CONCURRENCY; a turn beyond it waits in the pool's
    # queue without holding a thread. Offline turns are CPU work under one interpreter lock: on the 50-user
    # load test, two at a time gave p95 0.26 s where forty at once gave 0.6-1 s.
    turns = ThreadPoolExecutor(max_workers=settings.resolved_chat_concurrency, thread_name_prefix="chat-turn")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        digests = getattr(app.state, "slack_digests", None)  # mounted with Slack (see `mount_slack`)
        if digests is not None:
            digests.start()
        yield
        if digests is not None:
            digests.stop()
        turns.shutdown(wait=True, cancel_futures=True)
        service.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Billing-office assistant",
        version="0.1.0",
        description="Chat with the billing-office assistant: claims, denials, codes, payer policies and "
        "payments. Sign in with `POST /api/login` (cookie session; send `X-CSRF-Token` on POST) or send "
        "`Authorization: Bearer <API token>` (`billing-assistant users token`).",
    )
    app.state.settings = settings
    app.state.agent = agent
    app.state.turns = turns
    # Limits are counted in the practice database, so every worker on it holds a client back alike.
    limits = DatabaseCounterStore(agent.engine)
    app.state.chat_limiter = TokenBucket(
        capacity=CHAT_BURST, per_second=CHAT_PER_MINUTE / 60, store=limits, namespace="chat"
    )
    app.state.login_limiter = LoginThrottle(store=limits)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(router)
    app.include_router(worklists_router)
    _error_handlers(app)

    @app.get("/", include_in_schema=False)
    def chat_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_page_headers())

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    mount_slack(app, settings=settings, agent=agent)  # POST /slack/events when Slack is configured

    return app


def _page_headers() -> dict[str, str]:
    # The page loads only its own files: a stray script in an answer could not run, or call out.
    return {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        status = status_for(exc)
        log.info("%s answered %d", exc.code, status, extra={"request_id": _request_id(request)})
        return _error(status, exc.code, exc.message, request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail), request, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        return _error(422, "invalid_input", problems or "The request is malformed.", request)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        known = as_assistant_error(exc)
        if known is not None:
            log.warning("dependency unavailable: %s", type(exc).__name__, extra={"request_id": _request_id(request)})
            return _error(status_for(known), known.code, known.message, request)
        log.error("unexpected failure", exc_info=exc, extra={"request_id": _request_id(request)})
        return _error(500, "internal", unexpected_message(_request_id(request)), request)


__all__ = ["create_app"]
