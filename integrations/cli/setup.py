"""`init`, `serve` and `config`: setting the assistant up and running it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.table import Table

from assistant.settings import settings_table
from integrations.cli.common import CliContext, JsonOption, console, emit
from knowledge.practice.database import session_scope, upgrade
from knowledge.practice.demo import seed_demo_practice


def init(
    demo: Annotated[bool, typer.Option("--demo", help="Also create the demo practice (once).")] = False,
    reset_demo: Annotated[
        bool, typer.Option("--reset-demo", help="Replace an existing demo practice with a fresh one.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date the demo practice is generated up to (YYYY-MM-DD; default today)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Set up HOME: apply database migrations and, with --demo, create the demo practice."""
    ctx = CliContext()
    settings = ctx.settings
    settings.resolved_home.mkdir(parents=True, exist_ok=True)
    before, after = upgrade(ctx.engine)
    result: dict[str, Any] = {
        "home": str(settings.resolved_home),
        "database": {"url": ctx.engine.url.render_as_string(hide_password=True), "from": before, "to": after},
    }
    if demo or reset_demo:
        on = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
        with session_scope(ctx.sessions) as session:
            report = seed_demo_practice(session, as_of=on, reset=reset_demo)
        result["demo"] = {"created": report.created, "counts": report.counts}
        if report.credentials:
            result["demo"]["credentials"] = report.credentials

    def render(data: dict[str, Any]) -> None:
        database = data["database"]
        moved = "already current" if database["from"] == database["to"] else f"migrated to {database['to']}"
        console.print(f"HOME: {data['home']}")
        console.print(f"Database: {database['url']} ({moved})")
        if "demo" in data:
            counts = data["demo"]["counts"]
            state = "created" if data["demo"]["created"] else "already present"
            console.print(
                f"Demo practice {state}: {counts['patients']} patients, {counts['claims']} claims, "
                f"{counts['payers']} payers, {counts['remittances']} remittances."
            )
            if data["demo"].get("credentials"):
                table = Table(title="Demo sign-ins (shown once; only hashes are stored)")
                table.add_column("email")
                table.add_column("password")
                for email, password in data["demo"]["credentials"].items():
                    table.add_row(email, password)
                console.print(table)

    emit(result, as_json, render)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web app (chat page, JSON API and Slack endpoint) with uvicorn."""
    import uvicorn

    from integrations.web.app import create_app

    ctx = CliContext()
    app = create_app(ctx.settings)
    uvicorn.run(app, host=host, port=port, log_level=ctx.settings.log_level.lower())


def config(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the README's configuration table.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show every setting: its variable, default and meaning."""
    rows = settings_table()
    if markdown:
        console.print("| Variable | Default | Meaning |\n|---|---|---|", soft_wrap=True)
        for name, default, description in rows:
            console.print(f"| `{name}` | {f'`{default}`' if default else ''} | {description} |", soft_wrap=True)
        return

    def render(_: Any) -> None:
        table = Table()
        for column in ("variable", "default", "meaning"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)

    emit([{"variable": n, "default": d, "description": m} for n, d, m in rows], as_json, render)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(serve)
    app.command()(config)
