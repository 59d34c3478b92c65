"""The MCP server: the product's tools and its chat, for MCP clients (desktop AI apps, IDE agents).

A thin adapter like the web app, Slack and the CLI. The tool list derives from the descriptors
(`assistant/registry.py`): the name, the docstring as the description and the model's input schema
(`ToolDescriptor.args_schema`: the ordinary parameters, never the server-bound keyword-only ones). A call
goes through `assistant.tooling.call_tool`, the path chat takes, so role checks, practice scoping, patient
field redaction and the audit record are the same; the ``ask`` tool sends a message through
`AgentService.ask`, the whole conversation engine.

Who is asking is the server's, never the client's. Over stdio (a local process the person starts
themselves) it is the practice and user named at start (``billing-assistant mcp --user EMAIL``), looked up
again at every call so a user deactivated meanwhile is refused at once. Over streamable HTTP one server
serves many people, so it is the MCP access token each HTTP request carries (``Authorization: Bearer``;
``billing-assistant users mcp-token create``): the SDK's bearer authentication (`McpTokenVerifier`, a
`TokenVerifier`) resolves it on every request to its practice, user and role, a missing, unknown, expired
or revoked token (or a disabled user) is answered 401 before any tool runs, and the handlers read the
request's verified token off the SDK's request context (`token_requester`). The SDK also binds an MCP
session to the token that opened it, so one client cannot continue another's session. The client only
sends business arguments (an argument the tool does not take, ``practice_id`` for one, is refused). A
write only proposes: the result names the pending action and how a person confirms it, and nothing here
confirms one.

Errors: a domain error (`knowledge.errors.AssistantError`) becomes a tool result with ``isError`` and the
one-line message (`error_result`); anything else is logged with the request id and answered in one line.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.stdio import stdio_server
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.actions import record_refusal
from assistant.service import AgentService, owned_thread_id
from assistant.tooling import RequestContext, ToolSpec, allowed_specs, call_tool
from assistant.types import AgentReply, Channel, Requester
from knowledge.errors import AssistantError, InvalidInput, NotFound, PermissionDenied
from knowledge.practice.accounts import active_user, find_token, resolve_token, token_needs_touch, touch_token
from knowledge.practice.database import session_scope
from knowledge.practice.models import AuthToken, ConversationThread, Practice, Role, User

log = logging.getLogger("billing_assistant.mcp")

SERVER_NAME = "billing-assistant"
ASK_TOOL = "ask"

INSTRUCTIONS = (
    "Tools of a medical practice's billing office: codes, claims, denials, worklists, policies and "
    "payments. The `ask` tool puts a question to the office's own assistant. Writes (payments, "
    "adjustments, remittance imports) are only proposed: a person confirms them outside this client."
)

Requesters = Callable[[], Requester]
"""Who asks, resolved when a call runs (in a worker thread: it may read the database)."""
RequestBinder = Callable[[ServerRequestContext[Any]], Requesters]
"""Who asks in one MCP request, from what the transport verified for it (the HTTP request's token)."""


class AskArguments(BaseModel):
    """What the `ask` tool takes."""

    message: str = Field(description="What you would type in the billing assistant's chat.")
    thread_id: str | None = Field(
        default=None, description="Continue this conversation: the thread_id of an earlier answer."
    )


ASK_DESCRIPTION = (
    "Ask the billing office's assistant, as a person would in its chat (e.g. 'status of claim 1042', "
    "'why was 1043 denied?'). It picks and runs the tools itself and answers in Markdown with citations; "
    "a write it proposes waits for a person's confirmation. Pass the returned thread_id to follow up."
)


def requester_for(service: AgentService, *, practice_slug: str, email: str) -> Requesters:
    """The requester the server binds: the practice's active user with this email, looked up at each call."""
    wanted = email.strip().lower()

    def current() -> Requester:
        with session_scope(service.read_sessions) as session:
            practice = session.scalar(select(Practice).where(Practice.slug == practice_slug))
            if practice is None:
                raise NotFound(f"No practice {practice_slug!r} in the database.")
            user = active_user(session, practice_id=practice.id, email=wanted)
            return Requester(
                practice_id=practice.id,
                user_id=user.id,
                role=user.role,
                channel=Channel.MCP,
                request_id=uuid.uuid4().hex[:12],
            )

    return current


TOKEN_CLIENT_PREFIX = "mcp-token:"


class McpTokenVerifier:
    """The SDK's `TokenVerifier` for MCP access tokens: on every HTTP request, the presented secret to the
    live token, its active user and their practice, as an `AccessToken` whose claims carry them.

    The SDK's `BearerAuthBackend` calls it and answers 401 (with ``WWW-Authenticate: Bearer``) when it
    returns None, so a refused request never reaches a handler. A refused token that is known (revoked,
    expired, its user disabled) is audited as ``denied`` in its practice; an unknown one has no practice to
    be recorded in and is only logged (without the secret)."""

    def __init__(self, service: AgentService) -> None:
        self.service = service

    async def verify_token(self, token: str) -> AccessToken | None:
        # The database is synchronous: off the event loop, like the tool calls.
        return await anyio.to_thread.run_sync(self.verify, token)

    def verify(self, secret: str) -> AccessToken | None:
        with session_scope(self.service.read_sessions) as session:
            found = resolve_token(session, secret=secret, kind="mcp")
            refused = find_token(session, secret=secret, kind="mcp") if found is None else None
            known = (refused.id, refused.practice_id, refused.user_id) if refused is not None else None
            access = _access_token(session, *found) if found is not None else None
            stale = found is not None and token_needs_touch(found[0])
        if access is None:
            self._refused(known)
            return None
        if stale:  # at most every few minutes per token, in its own short transaction (as the web API does)
            with session_scope(self.service.sessions) as session:
                touch_token(session, token_id=int((access.claims or {})["token_id"]))
        return access

    def _refused(self, known: tuple[int, int, int] | None) -> None:
        if known is None:
            log.warning("mcp request refused: unknown token")
            return
        token_id, practice_id, user_id = known
        log.warning("mcp request refused: token %s is revoked or expired, or its user disabled", token_id)
        requester = Requester(
            practice_id=practice_id,
            user_id=user_id,
            role=None,
            channel=Channel.MCP,
            request_id=uuid.uuid4().hex[:12],
        )
        with session_scope(self.service.sessions) as session:
            record_refusal(
                session,
                requester=requester,
                event="mcp_request",
                entity="mcp_token",
                entity_id=str(token_id),
                error=PermissionDenied("The MCP token is revoked or expired, or its user is disabled."),
            )


def _access_token(session: Session, token: AuthToken, user: User) -> AccessToken:
    """What the SDK keeps of a verified token: who it acts as (the secret itself is not kept)."""
    practice = session.get(Practice, token.practice_id)
    claims = {
        "token_id": token.id,
        "practice_id": token.practice_id,
        "practice_slug": practice.slug if practice is not None else "",
        "user_id": user.id,
        "role": user.role.value,
    }
    # client_id names the token: the SDK binds each MCP session to the token that opened it.
    name = f"{TOKEN_CLIENT_PREFIX}{token.id}"
    return AccessToken(token=name, client_id=name, scopes=[], subject=str(user.id), claims=claims)


def token_requester(ctx: ServerRequestContext[Any]) -> Requesters:
    """The requester of one MCP request over HTTP: the practice, user and role `McpTokenVerifier` resolved
    for this very HTTP request (read off the SDK's request context, so each request of a shared server
    acts as its own token's user). No verified token: refused (the SDK answers 401 before that)."""
    scope = getattr(ctx.request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    claims = user.access_token.claims if isinstance(user, AuthenticatedUser) else None

    def current() -> Requester:
        if not claims:
            raise PermissionDenied("This request carries no valid MCP token.")
        return Requester(
            practice_id=int(claims["practice_id"]),
            user_id=int(claims["user_id"]),
            role=Role(claims["role"]),
            channel=Channel.MCP,
            request_id=uuid.uuid4().hex[:12],
        )

    return current


def bearer_auth(host: str, port: int) -> AuthSettings:
    """The SDK's auth settings for a server that only checks tokens it issued itself (no OAuth flow, no
    protected-resource metadata). ``issuer_url`` is required by the model but only used by those two."""
    shown = f"[{host}]" if ":" in host else host
    return AuthSettings(issuer_url=f"http://{shown}:{port}", resource_server_url=None)


def error_result(error: AssistantError) -> types.CallToolResult:
    """The one mapping of the project's errors to MCP: a tool result with ``isError`` and the message."""
    return _error(error.code, error.message)


def _error(code: str, message: str) -> types.CallToolResult:
    # `call_tool` already turned a tool's domain error into ``{"error": code, "message": ...}``.
    return types.CallToolResult(
        content=[types.TextContent(text=message)],
        structured_content={"error": code, "message": message},
        is_error=True,
    )


class McpAdapter:
    """Lists and runs the tools for a requester; each call is one request of the service.

    ``requester`` is the server-wide one (stdio: the ``--user``); over HTTP there is none and each call
    names its own (`token_requester`)."""

    def __init__(
        self, service: AgentService, requester: Requesters | None = None, *, practice_slug: str | None = None
    ) -> None:
        self.service = service
        self.requester = requester
        self.practice_slug = practice_slug  # for the text of a proposal; looked up when not given
        # Direct tool calls of this server's run share one thread (a pending action names its thread).
        self.session_name = f"mcp:{uuid.uuid4().hex[:16]}"
        self._threads: set[str] = set()
        self._thread_lock = threading.Lock()  # calls run in worker threads, possibly at once

    def _who(self, requester: Requesters | None) -> Requester:
        bound = requester or self.requester
        if bound is None:
            raise PermissionDenied("This request carries no valid MCP token.")
        return bound()

    # -- listing ----------------------------------------------------------------------------------------
    def tools(self, requester: Requesters | None = None) -> list[types.Tool]:
        who = self._who(requester)
        listed = [
            types.Tool(
                name=spec.name,
                description=spec.description,
                input_schema=spec.args_schema().model_json_schema(),
                annotations=types.ToolAnnotations(
                    read_only_hint=spec.access != "write" and not spec.writes_draft,
                    destructive_hint=False,  # a write only proposes; a person confirms it elsewhere
                ),
            )
            for spec in allowed_specs(self.service.specs, who)
        ]
        listed.append(
            types.Tool(
                name=ASK_TOOL,
                description=ASK_DESCRIPTION,
                input_schema=AskArguments.model_json_schema(),
                annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False),
            )
        )
        return listed

    # -- calls ------------------------------------------------------------------------------------------
    def call(self, name: str, arguments: dict[str, Any], requester: Requesters | None = None) -> types.CallToolResult:
        """One tool call as ``requester`` (default: the server's); never raises: every failure is a result
        with ``isError``."""
        request_id = "-"
        try:
            who = self._who(requester)
            request_id = who.request_id
            if name == ASK_TOOL:
                return self._ask(_parsed(AskArguments, ASK_TOOL, arguments), who)
            spec = self.service.specs_by_name.get(name)
            if spec is None:
                raise NotFound(f"No tool named {name!r}; the tool list has the ones this server offers.")
            model = spec.args_schema()
            parsed = _parsed(model, name, arguments)
            # Only what the client sent: the function's own defaults apply to the rest, as in chat.
            values = {field: getattr(parsed, field) for field in parsed.model_fields_set}
            return self._run(spec, values, who)
        except AssistantError as exc:
            return error_result(exc)
        except Exception:  # a bug: the log has the details, the client gets one line
            log.exception("mcp tool call failed", extra={"tool": name, "request_id": request_id})
            return error_result(AssistantError(f"The {name} tool failed unexpectedly; the error was logged."))

    def _run(self, spec: ToolSpec, arguments: dict[str, Any], requester: Requester) -> types.CallToolResult:
        thread_id = self._thread(requester)
        session = self.service.sessions()
        read_session = self.service.read_sessions()
        try:
            ctx = RequestContext(
                requester=requester,
                session=session,
                read_session=read_session,
                thread_id=thread_id,
                message_id=uuid.uuid4().hex[:16],
                providers=self.service.providers,
            )
            data = call_tool(spec, arguments, ctx)  # role check, scoping, redaction, audit: as in chat
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            read_session.close()
        if "error" in data:
            return _error(str(data["error"]), str(data.get("message", data["error"])))
        if "pending_action" in data:
            return types.CallToolResult(
                content=[types.TextContent(text=self._proposed(data["pending_action"], requester))],
                structured_content=data,
            )
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(data, default=str))], structured_content=data
        )

    def _thread(self, requester: Requester) -> str:
        """This run's thread for direct tool calls, owned by the requester (created once, on first use)."""
        thread_id = owned_thread_id(requester, self.session_name)
        with self._thread_lock:
            if thread_id not in self._threads:
                with session_scope(self.service.sessions) as session:
                    if session.get(ConversationThread, thread_id) is None:
                        session.add(
                            ConversationThread(
                                id=thread_id,
                                practice_id=requester.practice_id,
                                user_id=requester.user_id,
                                channel=requester.channel.value,
                                external_id=self.session_name,
                                title="Tool calls from an MCP client",
                            )
                        )
                self._threads.add(thread_id)
        return thread_id

    def _proposed(self, action: dict[str, Any], requester: Requester) -> str:
        roles = ", ".join(action.get("required_roles") or []) or "a role that may confirm it"
        where = f"--practice {self.practice_slug or self._slug(requester.practice_id)}"
        return (
            f"Proposed, not written: {action['summary']}\n"
            f"Pending action {action['id']}. Nothing is written until a person whose role is {roles} confirms it "
            f"(`billing-assistant actions confirm {action['id']} {where} --user EMAIL`, or POST "
            f"/api/actions/{action['id']}/confirm on the web app); cancel it with "
            f"`billing-assistant actions cancel {action['id']} {where}`. This client cannot confirm it."
        )

    def _slug(self, practice_id: int) -> str:
        with session_scope(self.service.read_sessions) as session:
            return session.scalar(select(Practice.slug).where(Practice.id == practice_id)) or str(practice_id)

    def _ask(self, arguments: AskArguments, requester: Requester) -> types.CallToolResult:
        reply = self.service.ask(arguments.message, requester=requester, thread_id=arguments.thread_id)
        return types.CallToolResult(
            content=[types.TextContent(text=self._answer_text(reply, requester))],
            structured_content=reply.model_dump(mode="json"),
        )

    def _answer_text(self, reply: AgentReply, requester: Requester) -> str:
        parts = [reply.answer]
        for citation in reply.citations:
            where = f" — {citation.section}" if citation.section else ""
            parts.append(f"[{citation.number}] {citation.title}{where} ({citation.url or citation.source})")
        if reply.pending_action is not None:
            parts.append(self._proposed(reply.pending_action.model_dump(mode="json"), requester))
        parts.append(f"(thread_id: {reply.thread_id})")
        return "\n\n".join(parts)


def _parsed(model: type[BaseModel], tool: str, arguments: dict[str, Any]) -> Any:
    """The arguments checked against the tool's schema; what is wrong as one `InvalidInput` line."""
    unknown = sorted(set(arguments) - set(model.model_fields))
    if unknown:
        raise InvalidInput(
            f"{tool} takes no argument {', '.join(unknown)}: it takes "
            f"{', '.join(model.model_fields) or 'no arguments'} (who and which practice are the server's)."
        )
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidInput(f"Bad arguments for {tool}: {problems}.") from None


def build_server(adapter: McpAdapter, *, bind: RequestBinder | None = None) -> Server[Any]:
    """The MCP server of one adapter (no I/O until it is run). ``bind`` names the requester of each request
    (`token_requester` over HTTP); without it every request is the adapter's own requester."""

    def who(ctx: ServerRequestContext[Any]) -> Requesters | None:
        return bind(ctx) if bind is not None else None

    async def list_tools(
        ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            tools = await anyio.to_thread.run_sync(adapter.tools, who(ctx))
        except AssistantError as exc:  # the bound user was removed: nothing to offer
            log.warning("mcp tool list refused: %s", exc.code)
            tools = []
        return types.ListToolsResult(tools=tools)

    async def call_tool_handler(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        # The service is synchronous (database, models): run it off the event loop.
        return await anyio.to_thread.run_sync(adapter.call, params.name, dict(params.arguments or {}), who(ctx))

    return Server(
        SERVER_NAME,
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool_handler,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("billing-assistant")
    except PackageNotFoundError:
        return "0"


def run_stdio(server: Server[Any]) -> None:
    """Serve one client on stdin/stdout until it closes them (stray prints go to stderr meanwhile)."""

    async def serve() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve)


def http_app(server: Server[Any], verifier: McpTokenVerifier, *, host: str, port: int) -> Any:
    """The streamable HTTP app at ``/mcp``: every request needs a valid MCP token (401 without one);
    DNS-rebinding protection is on for a loopback host (the SDK's default)."""
    return server.streamable_http_app(host=host, auth=bearer_auth(host, port), token_verifier=verifier)


def run_http(server: Server[Any], verifier: McpTokenVerifier, *, host: str, port: int, log_level: str) -> None:
    """Serve `http_app` on HOST:PORT until stopped."""
    import uvicorn

    app = http_app(server, verifier, host=host, port=port)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False)
