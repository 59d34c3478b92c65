"""Socket Mode end to end: the real Bolt app and Socket Mode client over a real websocket to a local
stand-in of Slack's socket endpoint, with the Web API played by the local stand-in (SLACK_API_URL)."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import Engine

from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.settings import load_settings
from integrations.slack.socket import socket_mode_handler
from knowledge.codesets import CodeSets
from knowledge.errors import ConfigurationError
from tests.fixtures.slack_api import BOT_USER_ID, TEAM_ID, SlackApiStandIn
from tests.fixtures.socket_mode import SocketModeStandIn, socket_mode
from tests.integrations.slack.conftest import BOT_TOKEN, DM_CHANNEL, SLACK_USERS, TOOLS, WEB, demo_facts

__all__ = ["socket_mode"]

APP_TOKEN = "xapp-1-test-app-token"


def test_socket_mode_answers_a_direct_message_and_a_slash_command(
    practice_engine: Engine, slack_api: SlackApiStandIn, socket_mode: SocketModeStandIn, codesets: CodeSets
) -> None:
    for slack_id, email in SLACK_USERS.items():
        slack_api.add_user(slack_id, email)
    slack_api.socket_url = socket_mode.url
    settings = load_settings(
        database_url=practice_engine.url.render_as_string(hide_password=False),
        web_base_url=WEB,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=f"{slack_api.base_url}/api",
    )
    agent = AgentService(
        settings,
        engine=practice_engine,
        tool_specs=[spec for spec in default_tool_specs() if spec.name in TOOLS],
        providers={"codesets": lambda: codesets},
    )
    facts = demo_facts(practice_engine)
    handler = socket_mode_handler(settings, agent)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
        assert socket_mode.connected.wait(15), "the app did not open the socket"
        opened = slack_api.named("apps.connections.open")
        assert [call.authorization for call in opened] == [f"Bearer {APP_TOKEN}"]  # the app-level token asks

        ts = f"{time.time():.6f}"
        message = {
            "type": "message",
            "channel_type": "im",
            "user": "U0BILLER",
            "text": f"status of claim {facts.claim_number}",
            "ts": ts,
            "channel": DM_CHANNEL,
            "team": TEAM_ID,
            "event_ts": ts,
        }
        event_id = socket_mode.send(
            "events_api",
            {
                "team_id": TEAM_ID,
                "api_app_id": "A0APP",
                "event": message,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            },
        )
        socket_mode.wait_ack(event_id)
        calls = slack_api.wait_for(
            lambda calls: any(c.method == "chat.update" and c.body.get("channel") == DM_CHANNEL for c in calls),
            what="the answer to the direct message",
        )
        answer = next(c for c in calls if c.method == "chat.update" and c.body.get("channel") == DM_CHANNEL)
        assert facts.claim_number in answer.text() and "denied" in answer.text().lower()

        response_url = slack_api.response_url()
        command_id = socket_mode.send(
            "slash_commands",
            {
                "team_id": TEAM_ID,
                "channel_id": DM_CHANNEL,
                "user_id": "U0BILLER",
                "command": "/code",
                "text": "E11.65",
                "api_app_id": "A0APP",
                "response_url": response_url,
                "trigger_id": "1.2.abc",
            },
        )
        socket_mode.wait_ack(command_id)
        path = response_url.removeprefix(slack_api.base_url)
        posted = slack_api.wait_for(
            lambda calls: any(c.method == "response_url" and c.path == path for c in calls), what="the /code answer"
        )
        code_answer = next(c for c in posted if c.method == "response_url" and c.path == path)
        assert "E11.65" in code_answer.text() and "hyperglycemia" in code_answer.text().lower()
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        agent.close()


def test_socket_mode_needs_the_app_token() -> None:
    settings = load_settings(slack_bot_token=BOT_TOKEN)
    with pytest.raises(ConfigurationError, match="SLACK_APP_TOKEN"):
        socket_mode_handler(settings, AgentService(settings))
