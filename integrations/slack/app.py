"""The Slack app (Bolt): mentions, DMs, slash commands, confirmation buttons and feedback.

Every listener acknowledges at once (Slack wants an answer within 3 seconds) and does the slow work in a
lazy listener on Bolt's thread pool: it shows that it is working ("Working on it…", then `chat.update`
with the answer, or an ephemeral reply through the command's `response_url`), and says in Slack when
something goes wrong: a domain error as its own polite message, anything else as an apology with a
reference that is in the log. One `@app.error` handler covers whatever escapes a listener.

Where patient fields may be shown is decided per conversation (see `identity.channel_kind`); the service
keeps them out of replies on `SLACK_CHANNEL`, and such replies link to the web chat for details.
Slack re-sends an event it thinks was missed (`X-Slack-Retry-Num`), perhaps to another worker; each event
id is answered once, by the worker whose insert of it into the practice database wins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from assistant.digests import Digests
from assistant.service import AgentService
from assistant.settings import Settings
from assistant.types import AgentReply, Channel, Requester
from integrations.slack import blocks
from integrations.slack.digests import answer_digest_command, digest_command
from integrations.slack.identity import Directory, channel_kind
from knowledge.errors import AssistantError, ConfigurationError, InvalidInput, PermissionDenied
from knowledge.practice.limits import DatabaseEventLedger, EventLedger

log = logging.getLogger("billing_assistant.slack")

WORKING = "Working on it…"
COMMANDS = ("/claim", "/code", "/denials")
USAGE = {
    "/claim": "Usage: `/claim NUMBER`, e.g. `/claim 1042`.",
    "/code": "Usage: `/code CODE-OR-TEXT`, e.g. `/code E11.65`, `/code CO-45 N115` or `/code type 2 diabetes`.",
    "/denials": "Usage: `/denials [PAYER]`, e.g. `/denials` or `/denials Aetna`; "
    "`/denials digest daily|weekly|off` for the worklist each morning.",
}
_CLAIM_NUMBER = re.compile(r"^#?([A-Za-z0-9][A-Za-z0-9-]{0,29})$")
_CODE_TOKEN = re.compile(r"^[A-Za-z]{0,3}[-‑ ]?[A-Za-z0-9]*\d[A-Za-z0-9.]*$")


def command_question(command: str, text: str) -> str:
    """The question a slash command asks the agent; raises InvalidInput with the usage line."""
    text = " ".join(text.split())
    if command == "/claim":
        match = _CLAIM_NUMBER.match(text)
        if not match:
            raise InvalidInput(USAGE[command])
        return f"status of claim {match.group(1)}"
    if command == "/code":
        if not text:
            raise InvalidInput(USAGE[command])
        tokens = text.split()
        if all(_CODE_TOKEN.match(token) for token in tokens):
            return text if len(tokens) > 1 else f"what is {text}"
        return f"codes for {text}"
    if command == "/denials":
        return f"denial worklist for {text}" if text else "denial worklist"
    raise InvalidInput(f"Unknown command {command}.")


def _request_id() -> str:
    return uuid.uuid4().hex[:12]


def _details_hidden(requester: Requester, reply: AgentReply) -> bool:
    """Replies about claims in a channel where patient fields are hidden link to the web chat."""
    if requester.channel is not Channel.SLACK_CHANNEL or requester.role is None:
        return False
    return (
        reply.phi_hidden
        or reply.pending_action is not None
        or any(card.kind in blocks.CLAIM_CARD_KINDS for card in reply.cards)
    )


def _apology(request_id: str) -> str:
    return f"Sorry, something went wrong on my side and I could not answer. (Reference: {request_id}.)"


def create_slack_app(
    settings: Settings,
    agent: AgentService,
    *,
    client: WebClient | None = None,
    socket_mode: bool = False,
) -> App:
    """The Bolt app for these settings. No network calls here: the bot's identity is fetched (auth.test)
    on the first request, through `client` (default: a client for SLACK_API_URL, or Slack's own API)."""
    if settings.slack_bot_token is None:
        raise ConfigurationError("SLACK_BOT_TOKEN: the Slack bot token (xoxb-...) is not set.")
    token = settings.slack_bot_token.get_secret_value()
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise ConfigurationError("SLACK_SIGNING_SECRET: the Slack signing secret is not set.")
    if client is None and settings.slack_api_url:
        client = WebClient(token=token, base_url=f"{settings.slack_api_url}/")
    if client is not None and client.token is None:
        client.token = token
    app = App(
        **({"client": client} if client is not None else {"token": token}),
        signing_secret=secret,
        process_before_response=False,
        token_verification_enabled=False,
        request_verification_enabled=bool(secret),
        listener_executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-listener"),
        name="billing-assistant",
        logger=log,
    )
    SlackHandlers(settings, agent).register(app)
    return app


class SlackHandlers:
    """The listeners, with what they share: the agent, the settings and the user directory."""

    def __init__(self, settings: Settings, agent: AgentService) -> None:
        self.settings = settings
        self.agent = agent
        self.directory = Directory(agent.sessions, practice_slug=settings.practice)
        # In the practice database, so an event Slack retries to another worker is still answered once.
        self.seen: EventLedger = DatabaseEventLedger(agent.engine)
        self.digests = Digests(agent, hour=settings.slack_digest_hour)

    def register(self, app: App) -> None:
        app.middleware(self.answer_each_event_once)
        app.event("app_mention")(ack=self.ack, lazy=[self.answer_mention])
        app.event("message")(ack=self.ack, lazy=[self.answer_direct_message])
        for command in COMMANDS:
            app.command(command)(ack=self.ack_command, lazy=[self.answer_command])
        app.action(re.compile(f"^({re.escape(blocks.CONFIRM_PREFIX)}|{re.escape(blocks.CANCEL_PREFIX)})"))(
            ack=self.ack, lazy=[self.decide]
        )
        app.action(re.compile(r"^feedback:(up|down)$"))(ack=self.ack, lazy=[self.record_feedback])
        app.error(self.on_error)

    # -- acknowledgements (fast; nothing slow happens before these return) ------------------------------
    @staticmethod
    def ack(ack: Callable[..., Any]) -> None:
        ack()

    @staticmethod
    def ack_command(ack: Callable[..., Any], command: dict[str, Any]) -> None:
        try:
            if digest_command(command["command"], command.get("text", "")) is None:
                command_question(command["command"], command.get("text", ""))
        except InvalidInput as exc:
            ack(response_type="ephemeral", text=exc.message)
            return
        ack(response_type="ephemeral", text=WORKING)

    def answer_each_event_once(
        self,
        body: dict[str, Any],
        next: Callable[[], Any],
        logger: logging.Logger,
    ) -> Any:
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if isinstance(event_id, str) and not self.seen.first(event_id):
            logger.info("slack event %s already answered: acknowledged, not processed again", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def on_error(self, error: Exception, body: dict[str, Any], respond: Any, logger: logging.Logger) -> None:
        request_id = _request_id()
        logger.error("slack listener failed request=%s type=%s", request_id, type(error).__name__, exc_info=error)
        if respond is not None and isinstance(body, dict) and body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False, text=_apology(request_id))

    # -- who and where ----------------------------------------------------------------------------------
    def requester(
        self, client: WebClient, *, user: str, team: str | None, channel: str, channel_type: str | None, request_id: str
    ) -> Requester:
        return self.directory.requester(
            client,
            slack_user_id=user,
            team_id=team,
            channel=channel_kind(self.settings, channel, channel_type=channel_type),
            request_id=request_id,
        )

    # -- conversations ----------------------------------------------------------------------------------
    def answer_mention(self, event: dict[str, Any], context: Any, client: WebClient) -> None:
        thread_ts = event.get("thread_ts") or event["ts"]
        self._converse(
            client,
            text=blocks.from_slack(event.get("text", ""), bot_user_id=context.bot_user_id),
            user=event["user"],
            team=context.team_id or event.get("team"),
            channel=event["channel"],
            channel_type=event.get("channel_type"),
            thread_ts=thread_ts,
            conversation=thread_ts,
        )

    def answer_direct_message(self, event: dict[str, Any], context: Any, client: WebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bots (and our own messages): nothing to answer
        thread_ts = event.get("thread_ts")
        # A DM's top-level messages are one conversation per day; a reply thread is its own conversation.
        day = dt.datetime.fromtimestamp(float(event["ts"]), dt.UTC).date().isoformat()
        self._converse(
            client,
            text=blocks.from_slack(event.get("text", ""), bot_user_id=context.bot_user_id),
            user=event["user"],
            team=context.team_id or event.get("team"),
            channel=event["channel"],
            channel_type="im",
            thread_ts=thread_ts,
            conversation=thread_ts or day,
        )

    def _converse(
        self,
        client: WebClient,
        *,
        text: str,
        user: str,
        team: str | None,
        channel: str,
        channel_type: str | None,
        thread_ts: str | None,
        conversation: str,
    ) -> None:
        request_id = _request_id()
        working = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=WORKING)
        working_ts = working["ts"]
        try:
            requester = self.requester(
                client, user=user, team=team, channel=channel, channel_type=channel_type, request_id=request_id
            )
            # Slack's own ids name the conversation, the asker's among them: two people in one channel
            # thread hold two conversations. The service turns the name into a thread id of the mapped
            # user's, which nobody else (a web user sending this name) can read or post into.
            key = f"slack:{team}:{channel}:{conversation}:{user}"
            reply = self.agent.ask(text, requester=requester, thread_id=key)
        except AssistantError as exc:
            log.info("slack answer refused request=%s error=%s", request_id, exc.code)
            client.chat_update(channel=channel, ts=working_ts, **blocks.notice(exc.message).as_kwargs())
            return
        except Exception:
            log.exception("slack answer failed request=%s", request_id)
            client.chat_update(channel=channel, ts=working_ts, **blocks.notice(_apology(request_id)).as_kwargs())
            return
        try:
            self._deliver(client, reply, requester, user=user, channel=channel, thread_ts=thread_ts, ts=working_ts)
        except Exception:
            # Slack refused what we sent (too long, bad blocks, gone channel): still say something.
            log.exception("slack answer not delivered request=%s thread=%s", request_id, reply.thread_id)
            with contextlib.suppress(Exception):
                client.chat_update(channel=channel, ts=working_ts, **blocks.notice(_apology(request_id)).as_kwargs())
            return
        log.info(
            "slack answered request=%s thread=%s tools=%s pending=%s",
            request_id,
            reply.thread_id,
            ",".join(call.name for call in reply.tool_calls) or "-",
            reply.pending_action.id if reply.pending_action else "-",
        )

    def _deliver(
        self,
        client: WebClient,
        reply: AgentReply,
        requester: Requester,
        *,
        user: str,
        channel: str,
        thread_ts: str | None,
        ts: str,
    ) -> None:
        """The answer in place of "Working on it…" (more messages if long), then the buttons for a write."""
        messages = blocks.reply_messages(
            reply, web_base_url=self.settings.web_base_url, details_hidden=_details_hidden(requester, reply)
        )
        client.chat_update(channel=channel, ts=ts, **messages[0].as_kwargs())
        for message in messages[1:]:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.as_kwargs())
        if reply.pending_action is not None:
            buttons = blocks.confirmation_message(reply.pending_action)
            if requester.channel is Channel.SLACK_DM:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, **buttons.as_kwargs())
            else:
                client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **buttons.as_kwargs())

    def answer_command(self, command: dict[str, Any], respond: Any, client: WebClient) -> None:
        request_id = _request_id()
        try:
            digest = digest_command(command["command"], command.get("text", ""))
            question = command_question(command["command"], command.get("text", "")) if digest is None else ""
        except InvalidInput:
            return  # the usage line was the acknowledgement
        try:
            requester = self.requester(
                client,
                user=command["user_id"],
                team=command.get("team_id"),
                channel=command["channel_id"],
                channel_type="im" if command.get("channel_name") == "directmessage" else None,
                request_id=request_id,
            )
            if digest is not None:
                said = answer_digest_command(self.digests, digest, requester, command["channel_id"])
                respond(response_type="ephemeral", replace_original=True, **blocks.notice(said).as_kwargs())
                return
            reply = self.agent.ask(question, requester=requester)
        except AssistantError as exc:
            respond(response_type="ephemeral", replace_original=True, **blocks.notice(exc.message).as_kwargs())
            return
        except Exception:
            log.exception("slack command failed request=%s command=%s", request_id, command.get("command"))
            respond(response_type="ephemeral", replace_original=True, **blocks.notice(_apology(request_id)).as_kwargs())
            return
        messages = blocks.reply_messages(
            reply, web_base_url=self.settings.web_base_url, details_hidden=_details_hidden(requester, reply)
        )
        respond(response_type="ephemeral", replace_original=True, **messages[0].as_kwargs())
        for message in messages[1:]:
            respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
        if reply.pending_action is not None:
            buttons = blocks.confirmation_message(reply.pending_action)
            respond(response_type="ephemeral", replace_original=False, **buttons.as_kwargs())

    # -- buttons ----------------------------------------------------------------------------------------
    def _clicker(self, body: dict[str, Any], client: WebClient, request_id: str) -> Requester:
        user = body.get("user") or {}
        channel = (body.get("channel") or {}).get("id") or ""
        team = (body.get("team") or {}).get("id") or user.get("team_id")
        return self.requester(
            client, user=user["id"], team=team, channel=channel, channel_type=None, request_id=request_id
        )

    def decide(self, body: dict[str, Any], action: dict[str, Any], respond: Any, client: WebClient) -> None:
        request_id = _request_id()
        action_id = str(action.get("value") or "")
        confirming = str(action.get("action_id", "")).startswith(blocks.CONFIRM_PREFIX)
        try:
            requester = self._clicker(body, client, request_id)
            if confirming:
                result = self.agent.confirm(action_id, requester=requester)
            else:
                result = self.agent.cancel(action_id, requester=requester)
        except PermissionDenied as exc:
            log.info("slack decision refused request=%s action=%s", request_id, action_id)
            respond(response_type="ephemeral", replace_original=False, **blocks.notice(exc.message).as_kwargs())
            return
        except AssistantError as exc:
            respond(response_type="ephemeral", replace_original=False, **blocks.notice(exc.message).as_kwargs())
            return
        except Exception:
            log.exception("slack decision failed request=%s action=%s", request_id, action_id)
            respond(
                response_type="ephemeral", replace_original=False, **blocks.notice(_apology(request_id)).as_kwargs()
            )
            return
        log.info("slack decision request=%s action=%s status=%s", request_id, action_id, result.status)
        if result.status == "already_decided":
            # Someone (or a double click) got there first: nothing was written now; say so, change nothing.
            respond(response_type="ephemeral", replace_original=False, **blocks.notice(result.message).as_kwargs())
            return
        respond(replace_original=True, **blocks.decision_message(result).as_kwargs())

    def record_feedback(self, body: dict[str, Any], action: dict[str, Any], respond: Any, client: WebClient) -> None:
        request_id = _request_id()
        try:
            thread_id, message_id = blocks.parse_feedback_value(str(action.get("value", "")))
            requester = self._clicker(body, client, request_id)
            value = 1 if action.get("action_id") == blocks.FEEDBACK_UP else -1
            self.agent.feedback(thread_id, requester=requester, value=value, message_id=message_id)
        except (AssistantError, ValueError, KeyError) as exc:
            message = exc.message if isinstance(exc, AssistantError) else "That feedback button is not valid."
            respond(response_type="ephemeral", replace_original=False, **blocks.notice(message).as_kwargs())
            return
        except Exception:
            log.exception("slack feedback failed request=%s", request_id)
            respond(
                response_type="ephemeral", replace_original=False, **blocks.notice(_apology(request_id)).as_kwargs()
            )
            return
        respond(response_type="ephemeral", replace_original=False, **blocks.notice("Thanks, noted.").as_kwargs())
