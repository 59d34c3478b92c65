"""The error hierarchy of `knowledge/errors.py`, mapped once to HTTP status codes and chat messages."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from knowledge.errors import (
    ApprovalRequired,
    AssistantError,
    ConfigurationError,
    Conflict,
    DatabaseOutdated,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)

log = logging.getLogger("billing_assistant.web")

# Most specific first: FileFormatError is an InvalidInput, and so on.
STATUS: tuple[tuple[type[AssistantError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (PermissionDenied, 403),
    (Conflict, 409),
    (ApprovalRequired, 409),
    (DatabaseOutdated, 503),
    (ServiceUnavailable, 503),
    (ConfigurationError, 500),
)

DATABASE_DOWN = "The practice database cannot be reached right now; please try again shortly."


def status_for(exc: AssistantError) -> int:
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 400)


def as_assistant_error(exc: BaseException) -> AssistantError | None:
    """A domain error for an exception that is not a bug: an unreachable database is a 503, not a 500."""
    if isinstance(exc, AssistantError):
        return exc
    if isinstance(exc, OperationalError | PoolTimeout) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ServiceUnavailable(DATABASE_DOWN)
    return None


def unexpected_message(request_id: str) -> str:
    return f"Something went wrong on our side (request {request_id}); the error was logged. Please try again."
