"""`billing-assistant mcp`: the Model Context Protocol adapter (the server itself is in `server.py`).

This module only declares the command, so that other commands do not import the MCP SDK.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated

import typer

from knowledge.errors import InvalidInput


class Transport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


def mcp(
    user: Annotated[
        str,
        typer.Option("--user", help="Email of the practice user every call acts as (the client cannot change it)."),
    ],
    practice: Annotated[
        str | None, typer.Option("--practice", help="Practice slug (default: BILLING_ASSISTANT_PRACTICE).")
    ] = None,
    transport: Annotated[
        Transport, typer.Option("--transport", help="stdio (a desktop client starts the server) or http.")
    ] = Transport.STDIO,
    host: Annotated[str, typer.Option(help="Address for --transport http; loopback only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for --transport http (the endpoint is /mcp).")] = 8765,
) -> None:
    """Serve the assistant's tools and chat over MCP, as one practice user; writes stay proposals."""
    if transport is Transport.HTTP and not _loopback(host):
        # Anyone who reaches the port acts as --user: there is no sign-in on this transport yet.
        raise InvalidInput(f"--host {host}: the MCP HTTP transport listens on loopback only (127.0.0.1, ::1).")

    from assistant.service import build_agent_service
    from integrations.cli.common import CliContext
    from integrations.cli.logs import configure_logging
    from integrations.mcp.server import McpAdapter, build_server, requester_for, run_http, run_stdio

    ctx = CliContext()
    configure_logging(ctx.settings.log_level)  # stderr: stdout is the stdio transport's
    slug = practice or ctx.settings.practice
    service = build_agent_service(ctx.settings, engine=ctx.engine)
    try:
        requester = requester_for(service, practice_slug=slug, email=user)
        requester()  # a wrong practice or user fails now, in one line, not at the client's first call
        server = build_server(McpAdapter(service, requester, practice_slug=slug))
        if transport is Transport.STDIO:
            run_stdio(server)
        else:
            run_http(server, host=host, port=port, log_level=ctx.settings.log_level)
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
