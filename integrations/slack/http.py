"""The Slack endpoint of the web app: events, slash commands and interactivity all at `POST /slack/events`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from assistant.digests import Digests
from assistant.service import AgentService
from assistant.settings import Settings
from integrations.slack.app import create_slack_app
from integrations.slack.digests import DigestLoop, SlackDigestPoster

log = logging.getLogger("billing_assistant.slack")

SLACK_PATH = "/slack/events"


def mount_slack(app: FastAPI, *, settings: Settings, agent: AgentService, client: WebClient | None = None) -> None:
    """Add `POST /slack/events` when the bot token and signing secret are set; otherwise do nothing.

    Bolt checks each request's signature (401 when it is missing, wrong or older than five minutes),
    acknowledges within Slack's 3 seconds and answers in the background. `client` is for tests (a Web API
    client pointed at a local stand-in); the Bolt app is kept on `app.state.slack_app`, and the loop that posts
    the channels' due worklist digests on `app.state.slack_digests` (the web app starts and stops it with its
    lifespan; `billing-assistant digests run` posts them from cron instead).
    """
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        log.info("slack endpoint not mounted: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not both set")
        return
    bolt = create_slack_app(settings, agent, client=client)
    app.state.slack_app = bolt
    app.state.slack_digests = DigestLoop(
        Digests(agent, hour=settings.slack_digest_hour), SlackDigestPoster(settings, bolt.client)
    )

    @app.post(SLACK_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Bolt's dispatch is synchronous (signature check, ack): keep it off the event loop.
        bolt_response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)
