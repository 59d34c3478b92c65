"""`billing-assistant users ...`: add, list, token, set-password and disable, as JSON, on a migrated database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from integrations.cli.main import app
from knowledge.practice.accounts import authenticate, resolve_token
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.models import Practice


def run(*args: str) -> tuple[int, object]:
    result = CliRunner().invoke(app, [*args, "--json"])
    out = result.stdout.strip()
    return result.exit_code, json.loads(out) if out else None


def test_users_commands(isolated_environment: Path) -> None:
    engine = make_engine(f"sqlite:///{isolated_environment / 'practice.db'}")
    upgrade(engine)
    with Session(engine) as session:
        session.add(Practice(slug="demo", name="Demo"))
        session.commit()

    code, added = run(
        "users", "add", "Pat@Example.org", "--role", "biller", "--name", "Pat", "--password", "a-long-password"
    )
    assert code == 0 and isinstance(added, dict)
    assert (added["email"], added["role"], added["active"], added["can_sign_in"]) == (
        "pat@example.org",
        "biller",
        True,
        True,
    )
    assert run("users", "add", "pat@example.org", "--role", "coder", "--password", "a-long-password")[0] == 1
    assert run("users", "add", "short@example.org", "--role", "coder", "--password", "short")[0] == 1
    code, listed = run("users", "list")
    assert code == 0 and [u["email"] for u in listed] == ["pat@example.org"]  # type: ignore[attr-defined]

    code, token = run("users", "token", "pat@example.org", "--name", "month-end")
    assert code == 0 and token["token"].startswith("ba_")  # type: ignore[index]
    secret = token["token"]  # type: ignore[index]
    code, _ = run("users", "set-password", "pat@example.org", "--password", "another-long-password")
    assert code == 0
    with Session(engine) as session:
        assert authenticate(session, email="pat@example.org", password="a-long-password") is None
        assert authenticate(session, email="pat@example.org", password="another-long-password") is not None
        assert resolve_token(session, secret=secret, kind="api") is not None  # tokens survive a new password

    code, disabled = run("users", "disable", "pat@example.org")
    assert code == 0 and disabled["active"] is False  # type: ignore[index]
    with Session(engine) as session:
        assert resolve_token(session, secret=secret, kind="api") is None
        assert authenticate(session, email="pat@example.org", password="another-long-password") is None
    assert run("users", "token", "nobody@example.org")[0] == 1
