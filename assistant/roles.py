"""What each role may do. One table, read by the tool registry and the confirmation step."""

from __future__ import annotations

from knowledge.practice.models import Role

#: Read access by kind of tool. `None` is a user we could not map to the practice (e.g. an unknown Slack
#: user): code and knowledge answers only, never claim data.
READ_ACCESS: dict[Role | None, frozenset[str]] = {
    Role.ADMIN: frozenset({"codes", "knowledge", "claims"}),
    Role.BILLER: frozenset({"codes", "knowledge", "claims"}),
    Role.CODER: frozenset({"codes", "knowledge", "claims"}),
    Role.FRONT_DESK: frozenset({"codes", "knowledge", "claims"}),
    None: frozenset({"codes", "knowledge"}),
}


def may_read(role: Role | None, access: str) -> bool:
    return access in READ_ACCESS.get(role, frozenset())


def may_propose(role: Role | None) -> bool:
    """Anyone known to the practice may ask for a write; whether it runs is decided at confirmation."""
    return role is not None


def may_confirm(role: Role | None, confirm_roles: tuple[str, ...]) -> bool:
    return role is not None and role.value in confirm_roles
