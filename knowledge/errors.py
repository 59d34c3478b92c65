"""The project's error hierarchy, in one place.

Every layer raises these; the adapters map them once (HTTP status codes in the web app, a message in
Slack, a one-line reason and exit code on the command line). They live in the lowest layer so that
tools and data code can raise them without importing from the layers above.

    AssistantError            base: anything the assistant reports to a person on purpose
    ├── InvalidInput          the request or a file is malformed (names what was expected, and where)
    │   └── FileFormatError   a file could not be read: carries the file, line/segment and the text
    ├── NotFound              a claim, code, patient, document or thread does not exist (in this practice)
    ├── PermissionDenied      the user's role does not allow this, or the data belongs to another practice
    ├── Conflict              the write was already done (idempotency key seen) or the state changed
    ├── ApprovalRequired      a write waits for a person's confirmation; carries the pending action id
    ├── ConfigurationError    a setting is missing or has a bad value; names the setting
    ├── DatabaseOutdated      the database is behind the code's migrations; says how to upgrade
    └── ServiceUnavailable    a dependency (database, vector store, LLM) cannot be reached

Anything else that escapes is a bug: it is logged with the request id and answered politely.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error the assistant reports on purpose."""

    #: A short machine-readable name, used in JSON output and API error bodies.
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(AssistantError):
    """The request or its data is malformed."""

    code = "invalid_input"


class FileFormatError(InvalidInput):
    """A file could not be read; says which file, where, and what was expected."""

    code = "file_format"

    def __init__(self, message: str, *, path: str | None = None, position: str | None = None) -> None:
        where = ", ".join(part for part in (path, position) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.position = position


class NotFound(AssistantError):
    """The thing asked for does not exist, or not in the asking user's practice."""

    code = "not_found"


class PermissionDenied(AssistantError):
    """The user's role does not allow this action."""

    code = "permission_denied"


class Conflict(AssistantError):
    """The action was already done, or the data changed under it."""

    code = "conflict"


class ApprovalRequired(AssistantError):
    """A write waits for a person's confirmation."""

    code = "approval_required"

    def __init__(self, message: str, *, action_id: str) -> None:
        super().__init__(message)
        self.action_id = action_id


class ConfigurationError(AssistantError):
    """A setting is missing or has a bad value."""

    code = "configuration"


class DatabaseOutdated(AssistantError):
    """The database schema is behind the code's migrations."""

    code = "database_outdated"


class ServiceUnavailable(AssistantError):
    """A dependency cannot be reached right now."""

    code = "service_unavailable"
