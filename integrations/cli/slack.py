"""`billing-assistant slack`: run the Slack app on its own, in Socket Mode or as an HTTP endpoint.

The web app (`billing-assistant serve`) already answers Slack at `/slack/events` when the bot token and
signing secret are set; this command is for running Slack without the web chat, or behind a firewall
(Socket Mode needs no public URL, only the app-level token).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from integrations.cli.common import CliContext
from integrations.cli.logs import configure_logging
from knowledge.errors import ConfigurationError

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from assistant.service import AgentService
    from assistant.settings import Settings
    from integrations.slack.digests import DigestLoop

app = typer.Typer(help="Run the Slack app (Socket Mode, or HTTP at /slack/events).", add_completion=False)


@app.callback(invoke_without_command=True)
def slack(
    socket: Annotated[
        bool, typer.Option("--socket", help="Connect with Socket Mode (needs SLACK_APP_TOKEN; no public URL).")
    ] = False,
    host: Annotated[str, typer.Option(help="HTTP mode: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP mode: port to listen on.")] = 3000,
) -> None:
    """Answer Slack: mentions, DMs, /claim, /code, /denials and the confirmation buttons."""
    from assistant.service import build_agent_service

    settings = CliContext().settings
    configure_logging(settings.log_level)
    if settings.slack_bot_token is None:
        raise ConfigurationError(
            "SLACK_BOT_TOKEN is not set: the bot token (xoxb-...) from the Slack app's OAuth page."
        )
    if socket:
        from integrations.slack.socket import socket_mode_handler

        if settings.slack_app_token is None:  # checked before the agent service is built
            raise ConfigurationError(
                "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...) "
                "with the connections:write scope."
            )
        agent = build_agent_service(settings)
        _warm_up_in_background(settings, agent)
        handler = socket_mode_handler(settings, agent)
        _digest_loop(settings, agent, handler.app.client).start()  # the channels' digests, as `serve` posts them
        handler.start()  # type: ignore[no-untyped-call]
        return
    if settings.slack_signing_secret is None:
        raise ConfigurationError(
            "SLACK_SIGNING_SECRET is not set: the signing secret from the Slack app's Basic Information page."
        )
    import uvicorn
    from fastapi import FastAPI

    from integrations.slack.http import mount_slack

    agent = build_agent_service(settings)
    _warm_up_in_background(settings, agent)
    web = FastAPI(title="Billing-office assistant: Slack")
    mount_slack(web, settings=settings, agent=agent)
    web.state.slack_digests.start()
    uvicorn.run(web, host=host, port=port, log_level=settings.log_level.lower())


def _warm_up_in_background(settings: Settings, agent: AgentService) -> None:
    """Load the code sets, the knowledge index, the router and the fast erf, as `serve` does, so the first
    mention does not wait for them; a part that fails is logged and left to the question that needs it."""
    import threading

    from assistant.resources import warm_up

    threading.Thread(target=warm_up, args=(settings, agent.providers), name="warm-up", daemon=True).start()


def _digest_loop(settings: Settings, agent: AgentService, client: WebClient) -> DigestLoop:
    from assistant.digests import Digests
    from integrations.slack.digests import DigestLoop, SlackDigestPoster

    return DigestLoop(Digests(agent, hour=settings.slack_digest_hour), SlackDigestPoster(settings, client))
