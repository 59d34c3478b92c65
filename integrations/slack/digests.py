"""Slack's side of the worklist digests (`assistant/digests.py`): the `/denials digest ...` command, the post
itself, and the background loop that posts the due ones.

The post is the worklist answer as Slack shows any answer in that channel (`blocks.reply_messages`, patient
fields withheld where the channel is not cleared for them), under a heading naming the digest. Every worker
runs the loop; the subscription's compare-and-set claim makes one of them post each digest.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Literal

from slack_sdk import WebClient

from assistant.digests import FREQUENCIES, DigestRun, Digests, DigestView, Due
from assistant.settings import Settings
from assistant.types import AgentReply, Channel, Requester
from integrations.slack import blocks
from integrations.slack.identity import channel_kind
from knowledge.errors import InvalidInput

log = logging.getLogger("billing_assistant.slack")

DIGEST_USAGE = "Usage: `/denials digest daily`, `/denials digest weekly`, `/denials digest off` or `/denials digest`."
#: How often the loop looks for due digests (they are due at a full hour: a minute late is on time).
CHECK_SECONDS = 60.0
_OFF = {"off", "stop", "none", "unsubscribe", "cancel"}


@dataclass(frozen=True)
class DigestCommand:
    action: Literal["subscribe", "unsubscribe", "show"]
    frequency: str | None = None


def digest_command(command: str, text: str) -> DigestCommand | None:
    """`/denials digest ...` as a subscription change; None for any other command text (a question)."""
    words = text.lower().split()
    if command != "/denials" or not words or words[0] not in {"digest", "digests"}:
        return None
    rest = words[1:]
    if not rest or rest in (["status"], ["show"]):
        return DigestCommand("show")
    if len(rest) == 1 and rest[0] in FREQUENCIES:
        return DigestCommand("subscribe", rest[0])
    if len(rest) == 1 and rest[0] in _OFF:
        return DigestCommand("unsubscribe")
    raise InvalidInput(DIGEST_USAGE)


def _when(view: DigestView) -> str:
    every = "every day" if view.frequency == "daily" else "every Monday"
    return f"{every} at {view.due_at:%H:%M} UTC (next: {view.due_at:%Y-%m-%d %H:%M} UTC)"


def answer_digest_command(digests: Digests, request: DigestCommand, requester: Requester, channel_id: str) -> str:
    """Do what the command asks and say it in one line."""
    here = "This conversation" if channel_id.startswith("D") else "This channel"
    if request.action == "subscribe":
        assert request.frequency is not None
        view = digests.subscribe(requester, channel_id=channel_id, kind="denials", frequency=request.frequency)
        return (
            f"{here} will get the open-denials worklist {_when(view)}. "
            "Patient names stay out of it unless the channel is cleared for them. `/denials digest off` stops it."
        )
    if request.action == "unsubscribe":
        stopped = digests.unsubscribe(requester, channel_id=channel_id, kind="denials")
        return f"{here} will no longer get the denials digest." if stopped else f"{here} had no denials digest."
    found = [v for v in digests.subscriptions(requester.practice_id, channel_id=channel_id) if v.kind == "denials"]
    if not found:
        return f"{here} has no denials digest. `/denials digest daily` or `/denials digest weekly` starts one."
    view = found[0]
    line = f"{here} gets the open-denials worklist {_when(view)}."
    if view.last_error:
        line += f" The last one was not posted: {view.last_error}."
    return line


class SlackDigestPoster:
    """Posts one digest to its channel with the bot's client (a `assistant.digests.Post`)."""

    def __init__(self, settings: Settings, client: WebClient) -> None:
        self.settings = settings
        self.client = client

    def channel_of(self, channel_id: str) -> Channel:
        return channel_kind(self.settings, channel_id)

    def __call__(self, view: DigestView, reply: AgentReply, requester: Requester) -> None:
        hidden = requester.channel is Channel.SLACK_CHANNEL
        messages = blocks.reply_messages(reply, web_base_url=self.settings.web_base_url, details_hidden=hidden)
        today = dt.datetime.now(dt.UTC).date().isoformat()
        heading = f"*{view.frequency.capitalize()} denials digest, {today}*"
        self.client.chat_postMessage(channel=view.channel_id, text=heading, mrkdwn=True)
        for message in messages:
            self.client.chat_postMessage(channel=view.channel_id, **message.as_kwargs())


class DigestLoop:
    """A daemon thread that posts due digests every `CHECK_SECONDS` until stopped."""

    def __init__(self, digests: Digests, poster: SlackDigestPoster, *, every: float = CHECK_SECONDS) -> None:
        self.digests = digests
        self.poster = poster
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, due: list[Due] | None = None) -> list[DigestRun]:
        return self.digests.run_due(self.poster, channel_of=self.poster.channel_of, due=due)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="slack-digests", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.run_once()
            except Exception:  # the database down for a minute: try again next round
                log.exception("digest round failed")
