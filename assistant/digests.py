"""Worklist digests: a Slack channel subscribes (`/denials digest daily`) and gets the worklist each morning.

A digest is the chat answer the subscriber would get by asking for the worklist in that channel, so the
same descriptors, role checks, patient-field rules of the channel and audit apply: the digest is asked *as
the person who subscribed* (the server supplies who, never the message), and stops, saying why, if that
person is deactivated or loses access. Each run asks in a thread of its own, so yesterday's digest is no
referent for today's.

Many workers, one post: a subscription is due when ``due_at`` has passed; a worker claims it by moving
``due_at`` to the next slot with a compare-and-set UPDATE (``WHERE due_at = <the value it read>``). Only one
UPDATE can match, on SQLite and PostgreSQL alike, so each digest is posted once, whoever runs first. A post
that fails is not retried within the slot (a channel flooded by retries is worse than one missed digest);
the error is kept on the subscription for `billing-assistant digests list`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assistant import roles
from assistant.audit import record_tool_call
from assistant.service import AgentService
from assistant.types import AgentReply, Channel, Requester
from knowledge.errors import InvalidInput, PermissionDenied
from knowledge.practice.database import session_scope
from knowledge.practice.models import DigestSubscription, User

log = logging.getLogger("billing_assistant.digests")

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
#: What each kind of digest asks, and the tool whose access it needs.
KINDS: dict[str, tuple[str, str]] = {"denials": ("denial worklist", "denial_worklist")}
#: Weekly digests go out on Mondays.
WEEKLY_ON = 0


@dataclass(frozen=True)
class DigestView:
    """A subscription as people see it (no patient data: a channel id, a kind, times)."""

    id: int
    channel_id: str
    kind: str
    frequency: str
    due_at: dt.datetime
    last_sent_at: dt.datetime | None
    last_error: str | None
    subscribed_by_user_id: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "kind": self.kind,
            "frequency": self.frequency,
            "due_at": _iso(self.due_at),
            "last_sent_at": _iso(self.last_sent_at),
            "last_error": self.last_error,
            "subscribed_by_user_id": self.subscribed_by_user_id,
        }


@dataclass(frozen=True)
class DigestRun:
    """What one claimed digest came to: sent, or why not."""

    subscription_id: int
    channel_id: str
    kind: str
    outcome: Literal["sent", "failed", "skipped"]
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "subscription_id": self.subscription_id,
            "channel_id": self.channel_id,
            "kind": self.kind,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Due:
    """A subscription found due, with the ``due_at`` that was read (what the claim compares against)."""

    subscription_id: int
    due_at: dt.datetime
    frequency: str


#: Delivers one digest: the subscription, the answer, and who it was asked as (for the channel's rules).
Post = Callable[[DigestView, AgentReply, Requester], None]


def next_due(frequency: str, after: dt.datetime, *, hour: int) -> dt.datetime:
    """The first digest slot strictly after ``after``: ``hour``:00 UTC each day, or each Monday for weekly."""
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"A digest is daily or weekly, not {frequency!r}.")
    after = _aware(after)
    slot = after.replace(hour=hour, minute=0, second=0, microsecond=0)
    if slot <= after:
        slot += dt.timedelta(days=1)
    if frequency == "weekly":
        slot += dt.timedelta(days=(WEEKLY_ON - slot.weekday()) % 7)
    return slot


class Digests:
    """Subscriptions and runs over one agent service (its database, its tools, its audit)."""

    def __init__(self, service: AgentService, *, hour: int, clock: Callable[[], dt.datetime] | None = None) -> None:
        if not 0 <= hour <= 23:
            raise InvalidInput(f"The digest hour is 0-23 (UTC), not {hour}.")
        self.service = service
        self.hour = hour
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # -- subscriptions ----------------------------------------------------------------------------------
    def subscribe(self, requester: Requester, *, channel_id: str, kind: str, frequency: str) -> DigestView:
        """Subscribe a channel (or a DM) to a digest, or change how often it comes; audited."""
        started = time.perf_counter()
        tool = self._check(requester, kind)
        if frequency not in FREQUENCIES:
            raise InvalidInput(f"A digest is daily or weekly, not {frequency!r}.")
        now = self.clock()
        with session_scope(self.service.sessions) as session:
            found = self._find(session, requester.practice_id, channel_id, kind)
            if found is None:
                found = DigestSubscription(practice_id=requester.practice_id, channel_id=channel_id, kind=kind)
                session.add(found)
            found.frequency = frequency
            found.created_by_user_id = requester.user_id
            found.due_at = next_due(frequency, now, hour=self.hour)
            found.last_error = None
            session.flush()
            self._audit(session, requester, "digest_subscribe", found, started, tool)
            return _view(found)

    def unsubscribe(self, requester: Requester, *, channel_id: str, kind: str) -> bool:
        """Stop a channel's digest; False when it had none. Audited."""
        started = time.perf_counter()
        tool = self._check(requester, kind)
        with session_scope(self.service.sessions) as session:
            found = self._find(session, requester.practice_id, channel_id, kind)
            if found is None:
                return False
            self._audit(session, requester, "digest_unsubscribe", found, started, tool)
            session.delete(found)
            return True

    def subscriptions(self, practice_id: int, *, channel_id: str | None = None) -> list[DigestView]:
        with session_scope(self.service.read_sessions) as session:
            query = select(DigestSubscription).where(DigestSubscription.practice_id == practice_id)
            if channel_id is not None:
                query = query.where(DigestSubscription.channel_id == channel_id)
            return [_view(s) for s in session.scalars(query.order_by(DigestSubscription.id))]

    # -- runs -------------------------------------------------------------------------------------------
    def due(self) -> list[Due]:
        """The subscriptions whose slot has passed, as read now (a worker then claims each one)."""
        now = self.clock()
        with session_scope(self.service.read_sessions) as session:
            query = select(DigestSubscription).where(DigestSubscription.due_at <= now).order_by(DigestSubscription.id)
            return [Due(s.id, s.due_at, s.frequency) for s in session.scalars(query)]

    def run_due(
        self, post: Post, *, channel_of: Callable[[str], Channel], due: list[Due] | None = None
    ) -> list[DigestRun]:
        """Post every digest that is due (``due``: as read by `due`) and that this worker claims first."""
        now = self.clock()
        runs = []
        for item in self.due() if due is None else due:
            if not self._claim(item.subscription_id, item.due_at, next_due(item.frequency, now, hour=self.hour)):
                continue  # another worker took it
            runs.append(self._run(item.subscription_id, post, channel_of, now))
        return runs

    def _claim(self, subscription_id: int, seen_due_at: dt.datetime, new_due_at: dt.datetime) -> bool:
        with session_scope(self.service.sessions) as session:
            claimed = session.execute(
                update(DigestSubscription)
                .where(DigestSubscription.id == subscription_id, DigestSubscription.due_at == seen_due_at)
                .values(due_at=new_due_at)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(claimed, "rowcount", 0) == 1)

    def _run(
        self, subscription_id: int, post: Post, channel_of: Callable[[str], Channel], now: dt.datetime
    ) -> DigestRun:
        with session_scope(self.service.read_sessions) as session:
            found = session.get(DigestSubscription, subscription_id)
            if found is None:
                return DigestRun(subscription_id, "", "", "skipped", "unsubscribed meanwhile")
            view = _view(found)
            user = session.get(User, found.created_by_user_id) if found.created_by_user_id else None
            practice_id = found.practice_id
        question, tool = KINDS.get(view.kind, ("", ""))
        request_id = f"digest-{uuid.uuid4().hex[:8]}"
        requester = Requester(
            practice_id,
            user.id if user else None,
            user.role if user and user.active else None,
            channel_of(view.channel_id),
            request_id,
        )
        if user is None or not user.active or not question or not self._allowed(requester, tool):
            detail = "the person who subscribed no longer has access; subscribe again to resume"
            self._finish(subscription_id, error=detail)
            log.info("digest %s skipped: %s", subscription_id, detail)
            return DigestRun(subscription_id, view.channel_id, view.kind, "skipped", detail)
        try:
            name = f"digest:{subscription_id}:{now.date().isoformat()}"
            reply = self.service.ask(question, requester=requester, thread_id=name)
            post(view, reply, requester)
        except Exception as exc:  # kept on the subscription (the type only: no PHI), logged in full
            detail = f"{type(exc).__name__}: the digest could not be posted"
            log.exception("digest %s failed request=%s", subscription_id, request_id)
            self._finish(subscription_id, error=detail)
            return DigestRun(subscription_id, view.channel_id, view.kind, "failed", detail)
        self._finish(subscription_id, sent_at=now)
        log.info("digest %s sent request=%s kind=%s", subscription_id, request_id, view.kind)
        return DigestRun(subscription_id, view.channel_id, view.kind, "sent")

    def _finish(self, subscription_id: int, *, sent_at: dt.datetime | None = None, error: str | None = None) -> None:
        with session_scope(self.service.sessions) as session:
            found = session.get(DigestSubscription, subscription_id)
            if found is None:
                return
            if sent_at is not None:
                found.last_sent_at = sent_at
            found.last_error = error[:300] if error else None

    # -- checks -----------------------------------------------------------------------------------------
    def _allowed(self, requester: Requester, tool: str) -> bool:
        spec = self.service.specs_by_name.get(tool)
        return spec is not None and roles.may_read(requester.role, spec.access)

    def _check(self, requester: Requester, kind: str) -> str:
        if kind not in KINDS:
            raise InvalidInput(f"There is no {kind!r} digest; there is: {', '.join(sorted(KINDS))}.")
        tool = KINDS[kind][1]
        if requester.role is None or not self._allowed(requester, tool):
            with session_scope(self.service.sessions) as session:
                record_tool_call(
                    session,
                    requester=requester,
                    tool="digest_subscribe",
                    arguments={"kind": kind},
                    outcome="denied",
                    duration_ms=0,
                    thread_id=None,
                    message_id=None,
                )
            raise PermissionDenied("Only the practice's staff with access to its claims can subscribe to a digest.")
        return tool

    @staticmethod
    def _find(session: Session, practice_id: int, channel_id: str, kind: str) -> DigestSubscription | None:
        return session.scalar(
            select(DigestSubscription).where(
                DigestSubscription.practice_id == practice_id,
                DigestSubscription.channel_id == channel_id,
                DigestSubscription.kind == kind,
            )
        )

    @staticmethod
    def _audit(
        session: Session,
        requester: Requester,
        action: str,
        found: DigestSubscription,
        started: float,
        tool: str,
    ) -> None:
        record_tool_call(
            session,
            requester=requester,
            tool=action,
            arguments={"kind": found.kind, "frequency": found.frequency, "tool": tool},
            outcome="ok",
            duration_ms=int((time.perf_counter() - started) * 1000),
            thread_id=None,
            message_id=None,
            entity="digest_subscription",
            entity_id=str(found.id),
            extra={"slack_channel": found.channel_id},
        )


def _view(found: DigestSubscription) -> DigestView:
    return DigestView(
        id=found.id,
        channel_id=found.channel_id,
        kind=found.kind,
        frequency=found.frequency,
        due_at=_aware(found.due_at),
        last_sent_at=_aware(found.last_sent_at) if found.last_sent_at else None,
        last_error=found.last_error,
        subscribed_by_user_id=found.created_by_user_id,
    )


def _aware(when: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back; every time here is UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return _aware(when).isoformat() if when else None
