"""`practices add|list`: the practices this database holds (each with its own users, claims and files)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, console, emit

app = typer.Typer(help="Practices in the database: add your own, list them.", no_args_is_help=True)


@app.command("add")
def add(
    slug: Annotated[str, typer.Argument(help="Short name used by --practice and BILLING_ASSISTANT_PRACTICE.")],
    name: Annotated[str, typer.Option("--name", help="The practice's name, e.g. 'Northside Pediatrics'.")],
    npi: Annotated[str | None, typer.Option("--npi", help="The group's NPI (10 digits, check digit verified).")] = None,
    tax_id: Annotated[str | None, typer.Option("--tax-id", help="The practice's EIN (12-3456789).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a practice; then `users add EMAIL --role admin --practice SLUG` gives it its first user."""
    from knowledge.practice.practices import add_practice

    ctx = CliContext()
    with ctx.session() as session:
        practice = add_practice(session, slug=slug, name=name, npi=npi, tax_id=tax_id)
        result = {"id": practice.id, "slug": practice.slug, "name": practice.name, "npi": practice.npi}
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"Practice {r['slug']} ({r['name']}) created. Next: "
            f"billing-assistant users add EMAIL --role admin --practice {r['slug']}"
        ),
    )


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the practices with how many users, patients and claims each has."""
    from knowledge.practice.practices import list_practices

    ctx = CliContext()
    with ctx.session() as session:
        rows = [dataclasses.asdict(p) for p in list_practices(session)]

    def render(data: list[dict[str, Any]]) -> None:
        table = Table(title="Practices")
        for column in ("slug", "name", "npi", "users", "patients", "claims"):
            table.add_column(column)
        for row in data:
            table.add_row(
                row["slug"], row["name"], row["npi"] or "", str(row["users"]), str(row["patients"]), str(row["claims"])
            )
        console.print(table)

    emit(rows, as_json, render)
