"""`users add|list|disable|set-password|token|mcp-token`: the people who may sign in to the web chat, API
tokens, and the access tokens of MCP clients."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit
from knowledge.errors import InvalidInput
from knowledge.practice.accounts import add_user, disable_user, find_user, issue_token, list_users, set_password
from knowledge.practice.models import AuthToken, Role, User

app = typer.Typer(help="Users of the practice (web sign-in) and their API tokens.", no_args_is_help=True)

EmailArgument = Annotated[str, typer.Argument(help="The user's email address (their sign-in name).")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="The password (10+ characters). Default: asked for without echo. Prefer the prompt: options "
        "end up in shell history.",
    ),
]


def _view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "active": user.active,
        "can_sign_in": user.active and user.password_hash is not None,
        "slack_user_id": user.slack_user_id,
    }


def _password(given: str | None, as_json: bool) -> str:
    if given is not None:
        return given
    if as_json:
        raise InvalidInput("--password is required with --json (no prompt).")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise InvalidInput("The two passwords differ.")
    return first


@app.command("add")
def add(
    email: EmailArgument,
    role: Annotated[Role, typer.Option("--role", help="admin, biller, coder or front_desk.")],
    name: Annotated[str, typer.Option("--name", help="Full name shown in the chat.")] = "",
    password: PasswordOption = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No web sign-in (e.g. a Slack-only user); set one later.")
    ] = False,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user to the practice."""
    secret = None if no_password else _password(password, as_json)
    ctx = CliContext()
    with ctx.session() as session:
        found = ctx.practice(session, practice)
        user = add_user(session, practice_id=found.id, email=email, name=name, role=role, password=secret)
        result = _view(user)
    emit(result, as_json, lambda r: console.print(f"Added {r['email']} ({r['role']}) to practice {found.slug}."))


@app.command("list")
def list_(practice: PracticeOption = None, as_json: JsonOption = False) -> None:
    """List the practice's users."""
    ctx = CliContext()
    with ctx.session() as session:
        found = ctx.practice(session, practice)
        rows = [_view(user) for user in list_users(session, practice_id=found.id)]

    def render(data: list[dict[str, Any]]) -> None:
        table = Table(title=f"Users of {found.slug}")
        for column in ("email", "name", "role", "active", "can sign in"):
            table.add_column(column)
        for row in data:
            table.add_row(row["email"], row["name"], row["role"], str(row["active"]), str(row["can_sign_in"]))
        console.print(table)

    emit(rows, as_json, render)


@app.command("disable")
def disable(email: EmailArgument, practice: PracticeOption = None, as_json: JsonOption = False) -> None:
    """Stop a user from signing in; their sessions and API tokens end at once."""
    ctx = CliContext()
    with ctx.session() as session:
        user = disable_user(session, practice_id=ctx.practice(session, practice).id, email=email)
        result = _view(user)
    emit(result, as_json, lambda r: console.print(f"Disabled {r['email']}; their sessions and tokens are revoked."))


@app.command("set-password")
def set_password_(
    email: EmailArgument, password: PasswordOption = None, practice: PracticeOption = None, as_json: JsonOption = False
) -> None:
    """Set a user's password; their web sessions end (API tokens stay)."""
    secret = _password(password, as_json)
    ctx = CliContext()
    with ctx.session() as session:
        user = set_password(session, practice_id=ctx.practice(session, practice).id, email=email, password=secret)
        result = _view(user)
    emit(result, as_json, lambda r: console.print(f"Password of {r['email']} set."))


@app.command("token")
def token(
    email: EmailArgument,
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. `month-end script`.")] = "script",
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Expire after this many days (default: never).")
    ] = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API token for scripts (`Authorization: Bearer <token>`). It is shown once; only its hash
    is stored. It acts with the user's role, and ends when the user is disabled."""
    import datetime as dt

    ctx = CliContext()
    with ctx.session() as session:
        user = find_user(session, practice_id=ctx.practice(session, practice).id, email=email)
        issued = issue_token(
            session, user=user, kind="api", name=name, lifetime=dt.timedelta(days=days) if days else None
        )
        result = {
            "email": user.email,
            "name": name,
            "token": issued.secret,
            "token_id": issued.token_id,
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        }

    def render(data: dict[str, Any]) -> None:
        console.print(f"API token for {data['email']} ({data['name']}); shown once, keep it safe:")
        console.print(data["token"], soft_wrap=True)

    emit(result, as_json, render)


# -- MCP access tokens -------------------------------------------------------------------------------------
mcp_tokens = typer.Typer(
    help="Access tokens of MCP clients (`billing-assistant mcp --transport http`): each acts as one user.",
    no_args_is_help=True,
)
app.add_typer(mcp_tokens, name="mcp-token")


def _token_view(token: AuthToken, user: User) -> dict[str, Any]:
    return {
        "token_id": token.id,
        "email": user.email,
        "role": user.role.value,
        "name": token.name,
        "created_at": token.created_at.isoformat() if token.created_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


@mcp_tokens.command("create")
def mcp_token_create(
    email: EmailArgument,
    name: Annotated[str, typer.Option("--name", help="Which client it is for, e.g. `claude-desktop`.")] = "mcp client",
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Expire after this many days (default: never).")
    ] = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an MCP access token for a user. It is printed once (only its SHA-256 is stored); the client
    sends it as `Authorization: Bearer <token>` and every call runs as this user, with their role, in their
    practice. It ends when revoked or when the user is disabled."""
    import datetime as dt

    ctx = CliContext()
    with ctx.session() as session:
        found = ctx.practice(session, practice)
        user = find_user(session, practice_id=found.id, email=email)
        issued = issue_token(
            session, user=user, kind="mcp", name=name, lifetime=dt.timedelta(days=days) if days else None
        )
        result = {
            "practice": found.slug,
            "email": user.email,
            "role": user.role.value,
            "name": name,
            "token": issued.secret,
            "token_id": issued.token_id,
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        }

    def render(data: dict[str, Any]) -> None:
        console.print(f"MCP token {data['token_id']} for {data['email']} ({data['name']}); shown once, keep it safe:")
        console.print(data["token"], soft_wrap=True)

    emit(result, as_json, render)


@mcp_tokens.command("list")
def mcp_token_list(
    email: Annotated[str | None, typer.Argument(help="Only this user's tokens (default: everyone's).")] = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the practice's MCP tokens (never the secrets: they are not stored)."""
    from knowledge.practice.accounts import normalise_email, practice_tokens

    ctx = CliContext()
    with ctx.session() as session:
        found = ctx.practice(session, practice)
        wanted = normalise_email(email) if email else None
        rows = [
            _token_view(token, user)
            for token, user in practice_tokens(session, practice_id=found.id, kind="mcp")
            if wanted is None or user.email == wanted
        ]

    def render(data: list[dict[str, Any]]) -> None:
        table = Table(title=f"MCP tokens of {found.slug}")
        for column in ("id", "email", "name", "created", "last used", "revoked"):
            table.add_column(column)
        for row in data:
            table.add_row(
                str(row["token_id"]),
                row["email"],
                row["name"] or "",
                (row["created_at"] or "")[:16],
                (row["last_used_at"] or "")[:16],
                str(row["revoked"]),
            )
        console.print(table)

    emit(rows, as_json, render)


@mcp_tokens.command("revoke")
def mcp_token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (`users mcp-token list`).")],
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an MCP token: the client's next request is refused (401)."""
    from knowledge.practice.accounts import revoke_token_by_id

    ctx = CliContext()
    with ctx.session() as session:
        found = ctx.practice(session, practice)
        token = revoke_token_by_id(session, practice_id=found.id, token_id=token_id, kind="mcp")
        user = session.get(User, token.user_id)
        assert user is not None  # a token's user is deleted with it (foreign key, cascade)
        result = _token_view(token, user)
    emit(result, as_json, lambda r: console.print(f"Revoked MCP token {r['token_id']} of {r['email']}."))
