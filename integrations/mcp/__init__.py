"""`billing-assistant mcp`: the Model Context Protocol adapter (the server itself is in `server.py`).

This module only declares the command, so that other commands do not import the MCP SDK.
"""

from __future__ import annotations

import ipaddress
import logging
from enum import StrEnum
from typing import Annotated

import typer

from knowledge.errors import InvalidInput

log = logging.getLogger("billing_assistant.mcp")


class Transport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


def mcp(
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="stdio: email of the practice user every call acts as (the client cannot change it). "
            "Not for http, where each request's MCP token names its user.",
        ),
    ] = None,
    practice: Annotated[
        str | None, typer.Option("--practice", help="stdio: practice slug (default: BILLING_ASSISTANT_PRACTICE).")
    ] = None,
    transport: Annotated[
        Transport, typer.Option("--transport", help="stdio (a desktop client starts the server) or http.")
    ] = Transport.STDIO,
    host: Annotated[
        str | None,
        typer.Option(help="Address for --transport http (default 127.0.0.1; give 0.0.0.0 to listen beyond it)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port for --transport http (the endpoint is /mcp).")] = 8765,
) -> None:
    """Serve the assistant's tools and chat over MCP; writes stay proposals.

    stdio acts as --user. http serves many people: every request carries `Authorization: Bearer <MCP
    token>` (`billing-assistant users mcp-token create EMAIL`) and runs as that token's user; without a
    valid one it is refused (401)."""
    if transport is Transport.STDIO:
        if user is None:
            raise InvalidInput("--user EMAIL is required with --transport stdio (who every call acts as).")
        if host is not None:
            raise InvalidInput("--host applies to --transport http only.")
    elif user is not None or practice is not None:
        # The client must not pick who it is: over HTTP the token says it, per request.
        raise InvalidInput(
            "--user and --practice apply to stdio only: over http each request's MCP token names its user "
            "(`billing-assistant users mcp-token create EMAIL`)."
        )

    from assistant.service import build_agent_service
    from integrations.cli.common import CliContext
    from integrations.cli.logs import configure_logging
    from integrations.mcp.server import (
        McpAdapter,
        McpTokenVerifier,
        build_server,
        requester_for,
        run_http,
        run_stdio,
        token_requester,
    )

    ctx = CliContext()
    configure_logging(ctx.settings.log_level)  # stderr: stdout is the stdio transport's
    service = build_agent_service(ctx.settings, engine=ctx.engine)
    try:
        if transport is Transport.STDIO:
            assert user is not None
            slug = practice or ctx.settings.practice
            requester = requester_for(service, practice_slug=slug, email=user)
            requester()  # a wrong practice or user fails now, in one line, not at the client's first call
            run_stdio(build_server(McpAdapter(service, requester, practice_slug=slug)))
        else:
            server = build_server(McpAdapter(service), bind=token_requester)
            bind = host or "127.0.0.1"
            if not _loopback(bind):
                log.warning("MCP over HTTP on %s: reachable beyond this machine; put TLS in front of it", bind)
            run_http(server, McpTokenVerifier(service), host=bind, port=port, log_level=ctx.settings.log_level)
    finally:
        service.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    app.command()(mcp)
