"""Users of a practice and how they prove who they are: argon2 passwords, sign-in sessions, API tokens,
MCP access tokens.

Passwords are stored as argon2 hashes. Sessions and API tokens are random 256-bit secrets; only their
SHA-256 is stored (a fast hash is enough for a secret nobody can guess, and it lets a request find its
token with one indexed lookup; with the lookup keyed by the hash, an attacker cannot steer a timing
difference towards a real token, so no constant-time comparison is needed on top). Disabling a user
revokes every session and token they hold.

The three kinds are kept apart (a token of one kind never resolves as another): a web session cookie, an
API token for scripts of the web API, an MCP token for one MCP client of `billing-assistant mcp --transport
http`. A leaked script token thus gives no MCP access, and revoking a person's MCP client leaves their
scripts running.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from knowledge.errors import Conflict, InvalidInput, NotFound
from knowledge.practice.models import AuthToken, Role, User

TokenKind = Literal["session", "api", "mcp"]
API_TOKEN_PREFIX = "ba_"
# A prefix per kind says what a pasted secret is for (and lets secret scanners spot one).
MCP_TOKEN_PREFIX = "ba_mcp_"
_PREFIXES: dict[str, str] = {"api": API_TOKEN_PREFIX, "mcp": MCP_TOKEN_PREFIX}
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when no user matches, so a wrong email takes as long as a wrong password. Made on first
    use, not at import: every command that acts as a user (`ask`, `appeals`, `users`) imports this module,
    and one argon2 hash costs about 0.2 s of CPU that none of them needs."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(f"Expected an email address, got {email!r}.")
    return email


# -- users ------------------------------------------------------------------------------------------------
def find_user(session: Session, *, practice_id: int, email: str) -> User:
    user = session.scalar(select(User).where(User.practice_id == practice_id, User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user {email!r} in this practice.")
    return user


def active_user(session: Session, *, practice_id: int, email: str) -> User:
    """The practice's active user with this email: who a CLI command or an MCP server acts as."""
    wanted = email.strip().lower()
    user = session.scalar(
        select(User).where(User.practice_id == practice_id, User.email == wanted, User.active.is_(True))
    )
    if user is None:
        raise NotFound(f"No active user {email!r} in this practice (see `billing-assistant users list`).")
    return user


def add_user(session: Session, *, practice_id: int, email: str, name: str, role: Role, password: str | None) -> User:
    email = normalise_email(email)
    taken = session.scalar(select(User.id).where(User.practice_id == practice_id, User.email == email))
    if taken is not None:
        raise Conflict(f"The practice already has a user {email!r}.")
    user = User(
        practice_id=practice_id,
        email=email,
        name=name.strip() or email,
        role=role,
        password_hash=hash_password(password) if password else None,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, practice_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.practice_id == practice_id).order_by(User.email)))


def set_password(session: Session, *, practice_id: int, email: str, password: str) -> User:
    """A new password; the user's sign-in sessions end (API tokens stay)."""
    user = find_user(session, practice_id=practice_id, email=email)
    user.password_hash = hash_password(password)
    _revoke_all(session, user_id=user.id, kinds=("session",))
    return user


def disable_user(session: Session, *, practice_id: int, email: str) -> User:
    """The user can no longer sign in; every session and API token of theirs is revoked."""
    user = find_user(session, practice_id=practice_id, email=email)
    user.active = False
    _revoke_all(session, user_id=user.id, kinds=("session", "api", "mcp"))
    return user


def authenticate(session: Session, *, email: str, password: str, practice_id: int | None = None) -> User | None:
    """The active user with this email and password (in this practice, when given); None otherwise."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    query = select(User).where(User.email == email, User.active.is_(True))
    if practice_id is not None:
        query = query.where(User.practice_id == practice_id)
    candidates = list(session.scalars(query.order_by(User.id)))
    if not candidates:
        _verify(None, password)
        return None
    for user in candidates:
        if _verify(user.password_hash, password):
            if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            return user
    return None


# -- sessions and API tokens -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedToken:
    secret: str  # shown once; only its hash is stored
    token_id: int
    expires_at: dt.datetime | None


def issue_token(
    session: Session, *, user: User, kind: TokenKind, name: str | None = None, lifetime: dt.timedelta | None = None
) -> IssuedToken:
    if not user.active:
        raise InvalidInput(f"User {user.email!r} is disabled.")
    secret = _PREFIXES.get(kind, "") + secrets.token_urlsafe(32)
    expires = _now() + lifetime if lifetime else None
    row = AuthToken(
        practice_id=user.practice_id,
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=token_hash(secret),
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return IssuedToken(secret=secret, token_id=row.id, expires_at=expires)


def resolve_token(session: Session, *, secret: str, kind: TokenKind) -> tuple[AuthToken, User] | None:
    """The live token and its active user for a presented secret; None if unknown, expired or revoked."""
    if not secret or len(secret) > 200:
        return None
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == token_hash(secret), AuthToken.kind == kind))
    if row is None or row.revoked_at is not None:
        return None
    now = _now()
    if row.expires_at is not None and _aware(row.expires_at) <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.practice_id != row.practice_id:
        return None
    return row, user


TOUCH_EVERY = dt.timedelta(minutes=5)


def token_needs_touch(token: AuthToken) -> bool:
    """Whether the token's `last_used_at` is stale enough to write: at most every few minutes, so that
    a busy page does not turn every read into a write."""
    return token.last_used_at is None or _now() - _aware(token.last_used_at) > TOUCH_EVERY


def touch_token(session: Session, *, token_id: int) -> None:
    """Record that a token was used just now (callers check `token_needs_touch` first)."""
    session.execute(update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=_now()))


def revoke_token(session: Session, *, secret: str) -> bool:
    moved = session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == token_hash(secret), AuthToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    return bool(getattr(moved, "rowcount", 0))


def list_tokens(session: Session, *, user_id: int, kind: TokenKind = "api") -> list[AuthToken]:
    return list(
        session.scalars(
            select(AuthToken).where(AuthToken.user_id == user_id, AuthToken.kind == kind).order_by(AuthToken.id)
        )
    )


def _revoke_all(session: Session, *, user_id: int, kinds: tuple[str, ...]) -> None:
    session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.kind.in_(kinds), AuthToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def find_token(session: Session, *, secret: str, kind: TokenKind) -> AuthToken | None:
    """The token row of a presented secret whatever its state (revoked, expired): to audit a refusal in
    the practice it belongs to. Use `resolve_token` to decide whether it may be used."""
    if not secret or len(secret) > 200:
        return None
    return session.scalar(select(AuthToken).where(AuthToken.token_hash == token_hash(secret), AuthToken.kind == kind))


def practice_tokens(session: Session, *, practice_id: int, kind: TokenKind) -> list[tuple[AuthToken, User]]:
    """Every token of this kind in the practice, with its user, oldest first (for `users mcp-token list`)."""
    rows = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.practice_id == practice_id, AuthToken.kind == kind)
        .order_by(AuthToken.id)
    )
    return [(token, user) for token, user in rows.tuples()]


def revoke_token_by_id(session: Session, *, practice_id: int, token_id: int, kind: TokenKind) -> AuthToken:
    """Revoke one token of the practice by its id (the secret is shown once, so an admin names the id).
    Another practice's token answers `NotFound`, like a missing one; revoking twice is harmless."""
    row = session.scalar(
        select(AuthToken).where(AuthToken.id == token_id, AuthToken.practice_id == practice_id, AuthToken.kind == kind)
    )
    if row is None:
        raise NotFound(f"No {kind} token {token_id} in this practice.")
    if row.revoked_at is None:
        row.revoked_at = _now()
    return row
