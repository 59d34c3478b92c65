"""Who is asking from Slack, and where: a Slack user and channel as the service's `Requester`.

A Slack user is a practice user when `users.slack_user_id` says so, or else when Slack vouches for an
email address (`users.info`: confirmed, same workspace, not a bot or a deactivated account) that belongs
to an active user of the practice; the Slack id is then remembered. Anyone else is unmapped (role None):
code and knowledge answers only, which the service enforces.

Where: a DM is `SLACK_DM`; a channel on the PHI allow list is `SLACK_PHI_CHANNEL` under the `strict`
policy; every other channel, and every channel under `dm-only`, is `SLACK_CHANNEL`, where the service
keeps patient names, birth dates and member ids out of the answer.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.settings import PhiPolicy, Settings
from assistant.types import Channel, Requester
from knowledge.errors import ConfigurationError, ServiceUnavailable
from knowledge.practice.database import session_scope
from knowledge.practice.models import Practice, Role, User

log = logging.getLogger("billing_assistant.slack")


def channel_kind(settings: Settings, channel_id: str, *, channel_type: str | None = None) -> Channel:
    """How much a reply in this Slack conversation may show."""
    if channel_type == "im" or (channel_type is None and channel_id.startswith("D")):
        return Channel.SLACK_DM
    if settings.slack_phi_policy is PhiPolicy.STRICT and channel_id in settings.slack_phi_channels:
        return Channel.SLACK_PHI_CHANNEL
    return Channel.SLACK_CHANNEL


class Directory:
    """Maps Slack users to the practice's users (the practice is the one this workspace belongs to)."""

    def __init__(self, sessions: sessionmaker[Session], *, practice_slug: str) -> None:
        self.sessions = sessions
        self.practice_slug = practice_slug

    def requester(
        self, client: WebClient, *, slack_user_id: str, team_id: str | None, channel: Channel, request_id: str
    ) -> Requester:
        practice_id, user = self._by_slack_id(slack_user_id)
        if user is None:
            email = self._verified_email(client, slack_user_id, team_id)
            if email is not None:
                user = self._link_by_email(practice_id, email, slack_user_id)
        if user is None:
            log.info("slack user unmapped request=%s slack_user=%s", request_id, slack_user_id)
            return Requester(practice_id, None, None, channel, request_id)
        user_id, role = user
        return Requester(practice_id, user_id, role, channel, request_id)

    def _practice_id(self, session: Session) -> int:
        practice_id = session.scalar(select(Practice.id).where(Practice.slug == self.practice_slug))
        if practice_id is None:
            raise ConfigurationError(
                f"BILLING_ASSISTANT_PRACTICE: no practice {self.practice_slug!r} in the database; "
                "set it to the slug of the practice this Slack workspace belongs to."
            )
        return practice_id

    def _by_slack_id(self, slack_user_id: str) -> tuple[int, tuple[int, Role] | None]:
        with session_scope(self.sessions) as session:
            practice_id = self._practice_id(session)
            user = session.scalar(
                select(User).where(User.practice_id == practice_id, User.slack_user_id == slack_user_id)
            )
            if user is None or not user.active:
                return practice_id, None
            return practice_id, (user.id, user.role)

    def _verified_email(self, client: WebClient, slack_user_id: str, team_id: str | None) -> str | None:
        try:
            response = client.users_info(user=slack_user_id)
        except SlackApiError as exc:
            log.warning("users.info failed slack_user=%s error=%s", slack_user_id, exc.response.get("error"))
            raise ServiceUnavailable("Slack did not say who you are just now; please try again.") from exc
        user: dict[str, Any] = response.get("user") or {}
        email = (user.get("profile") or {}).get("email")
        if (
            not email
            or user.get("deleted")
            or user.get("is_bot")
            or user.get("is_email_confirmed") is not True
            or (team_id and user.get("team_id") and user.get("team_id") != team_id)
        ):
            return None
        return str(email).strip().lower()

    def _link_by_email(self, practice_id: int, email: str, slack_user_id: str) -> tuple[int, Role] | None:
        with session_scope(self.sessions) as session:
            user = session.scalar(select(User).where(User.practice_id == practice_id, func.lower(User.email) == email))
            if user is None or not user.active:
                return None
            if user.slack_user_id not in (None, slack_user_id):
                # Linked to another Slack account already: an admin decides, not an email match.
                log.warning("slack user not linked: practice user %s has another slack id", user.id)
                return None
            user.slack_user_id = slack_user_id
            log.info("slack user linked by email user=%s slack_user=%s", user.id, slack_user_id)
            return user.id, user.role
