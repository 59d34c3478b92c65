"""Appeal letters filed against claims: keyword-only data functions, every one scoped to a practice.

A letter is a draft its author edits until it is marked sent; a sent letter is what went to the payer
and is not edited again. Another practice's letter is "not found" (its existence is not revealed); a
colleague's draft is refused, so each draft has one author answering for its wording.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from knowledge.practice.models import AppealLetter, Practice, User

LETTER_KINDS = ("appeal", "reconsideration", "redetermination")
MAX_BODY_CHARS = 60_000


def file_letter(
    session: Session,
    *,
    practice_id: int,
    claim_id: int,
    kind: str,
    title: str,
    body: str,
    fields: dict[str, Any],
    citations: list[dict[str, Any]],
    user_id: int | None,
) -> AppealLetter:
    """Store a new draft letter for a claim of the practice."""
    if kind not in LETTER_KINDS:
        raise InvalidInput(f"Unknown letter kind {kind!r}; expected one of: {', '.join(LETTER_KINDS)}")
    letter = AppealLetter(
        practice_id=practice_id,
        claim_id=claim_id,
        kind=kind,
        status="draft",
        title=title[:200],
        body=_checked_body(body),
        fields=fields,
        citations=citations,
        created_by_user_id=user_id,
        updated_by_user_id=user_id,
    )
    session.add(letter)
    session.flush()
    return letter


def get_letter(session: Session, *, practice_id: int, letter_id: int) -> AppealLetter:
    letter = session.scalar(
        select(AppealLetter).where(AppealLetter.id == letter_id, AppealLetter.practice_id == practice_id)
    )
    if letter is None:
        raise NotFound(f"No appeal letter {letter_id} in this practice.")
    return letter


def letters_for_claim(session: Session, *, practice_id: int, claim_id: int) -> Sequence[AppealLetter]:
    """The claim's letters, newest first."""
    return session.scalars(
        select(AppealLetter)
        .where(AppealLetter.practice_id == practice_id, AppealLetter.claim_id == claim_id)
        .order_by(AppealLetter.created_at.desc(), AppealLetter.id.desc())
    ).all()


def open_draft(session: Session, *, practice_id: int, claim_id: int, kind: str) -> AppealLetter | None:
    """The claim's newest unsent draft of this kind, if any."""
    return next(
        (
            letter
            for letter in letters_for_claim(session, practice_id=practice_id, claim_id=claim_id)
            if letter.kind == kind and letter.status == "draft"
        ),
        None,
    )


def update_letter_body(
    session: Session, *, practice_id: int, letter_id: int, user_id: int | None, body: str
) -> AppealLetter:
    """Replace a draft's text: only its author may, and only before it is sent."""
    letter = _editable(session, practice_id=practice_id, letter_id=letter_id, user_id=user_id)
    letter.body = _checked_body(body)
    letter.updated_by_user_id = user_id
    letter.updated_at = dt.datetime.now(dt.UTC)
    session.flush()
    return letter


def mark_letter_sent(session: Session, *, practice_id: int, letter_id: int, user_id: int | None) -> AppealLetter:
    """Record that the author sent the letter; from then on it is kept as sent."""
    letter = _editable(session, practice_id=practice_id, letter_id=letter_id, user_id=user_id)
    now = dt.datetime.now(dt.UTC)
    letter.status = "sent"
    letter.sent_by_user_id = user_id
    letter.sent_at = now
    letter.updated_at = now
    session.flush()
    return letter


def _editable(session: Session, *, practice_id: int, letter_id: int, user_id: int | None) -> AppealLetter:
    letter = get_letter(session, practice_id=practice_id, letter_id=letter_id)
    if user_id is None or letter.created_by_user_id != user_id:
        raise PermissionDenied("Only the person who drafted this letter can edit or send it.")
    if letter.status != "draft":
        raise Conflict(f"Appeal letter {letter_id} was already {letter.status}; it is kept as it was sent.")
    return letter


def _checked_body(body: str) -> str:
    if not body.strip():
        raise InvalidInput("The letter is empty.")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"The letter is longer than {MAX_BODY_CHARS} characters.")
    return body


def letter_parties(session: Session, *, practice_id: int, user_id: int | None) -> tuple[Practice, User | None]:
    """The practice a letter is written for and the user drafting it (None: no user, e.g. a script)."""
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound(f"No practice {practice_id}.")
    user = None
    if user_id is not None:
        user = session.scalar(select(User).where(User.id == user_id, User.practice_id == practice_id))
    return practice, user
