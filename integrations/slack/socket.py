"""Socket Mode: the Slack app over a websocket that it opens itself, for practices without a public URL.

Slack sends the same events, commands and button clicks as in HTTP mode, wrapped in envelopes that the
app acknowledges on the socket; the listeners are the same (`create_slack_app`). The socket's address
comes from `apps.connections.open` on the Web API (SLACK_API_URL), called with the app-level token.
"""

from __future__ import annotations

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from assistant.service import AgentService
from assistant.settings import Settings
from integrations.slack.app import create_slack_app
from knowledge.errors import ConfigurationError


def socket_mode_handler(
    settings: Settings, agent: AgentService, *, client: WebClient | None = None
) -> SocketModeHandler:
    """The Socket Mode connection for these settings: `connect()` opens it and returns, `start()` blocks,
    `close()` ends it. ``client`` is the Web API client (default: one for SLACK_API_URL)."""
    if settings.slack_app_token is None:
        raise ConfigurationError(
            "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...) "
            "with the connections:write scope."
        )
    bolt = create_slack_app(settings, agent, client=client, socket_mode=True)
    return SocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
