"""`billing-assistant codes ...`: look up, search and check codes; import licensed or newer lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, console, emit
from knowledge.codesets import (
    ClaimCheckResult,
    CodeRecord,
    CodeSets,
    SearchResult,
    check_claim,
    import_code_list,
    import_cpt,
    import_ncci,
    load_codesets,
    lookup,
    parse_line,
    search_codes,
)
from knowledge.errors import InvalidInput

app = typer.Typer(help="Medical codes: lookup, search, claim checks, and imports.", no_args_is_help=True)

SystemOption = Annotated[
    str | None,
    typer.Option("--system", help="icd10cm, hcpcs, cpt, modifier, carc, rarc, group, pos (default: guessed)."),
]


def _cache_dir() -> Path:
    return CliContext().settings.resolved_home / "cache"


def _codesets() -> CodeSets:
    return load_codesets(_cache_dir())


def _render_record(record: CodeRecord) -> None:
    billable = "" if record.billable is None else (" (billable)" if record.billable else " (not billable)")
    console.print(f"[bold]{record.code}[/bold]  {record.system_name} {record.kind}{billable}")
    console.print(record.description or "(no descriptor available)")
    if record.short_description:
        console.print(f"Short: {record.short_description}")
    if record.status:
        console.print(f"Status: {record.status}")
    dates = ", ".join(f"{k} {v.isoformat()}" for k, v in record.dates.items() if v)
    if dates:
        console.print(f"Dates: {dates}")
    for key, value in record.attributes.items():
        console.print(f"{key.replace('_', ' ').capitalize()}: {', '.join(value) if isinstance(value, list) else value}")
    for parent in reversed(record.parents):
        console.print(f"  ↑ {parent.code}  {parent.description}")
    if record.children:
        console.print(f"Children ({len(record.children)}):")
        for child in record.children[:40]:
            mark = " *" if child.billable else ""
            console.print(f"  ↓ {child.code}{mark}  {child.description}")
    for note in record.notes:
        console.print(escape(f"  [{note.kind}] {note.text}  ({note.level} {note.source_code})"))
    for message in record.messages:
        console.print(f"[yellow]{escape(message)}[/yellow]")
    if record.also_in:
        console.print(f"Also a code in: {', '.join(record.also_in)} (use --system)")


@app.command("lookup")
def lookup_command(code: str, system: SystemOption = None, as_json: JsonOption = False) -> None:
    """Look up one code: description, billable or header, hierarchy, notes, status and dates."""
    emit(lookup(_codesets(), code, system), as_json, _render_record)


def _render_search(result: SearchResult) -> None:
    table = Table(show_lines=False)
    for column in ("code", "system", "description", "reason"):
        table.add_column(column)
    for hit in result.hits:
        mark = "" if hit.billable is None else (" *" if hit.billable else "")
        table.add_row(hit.code + mark, hit.system, hit.description, hit.reason)
    console.print(table)
    for question in result.ask:
        console.print(f"[yellow]{escape(question)}[/yellow]")
    if not result.semantic:
        console.print("(lexical search only: run `billing-assistant init` to build the semantic vectors)")


@app.command("search")
def search_command(
    text: str,
    system: SystemOption = None,
    limit: Annotated[int, typer.Option("--limit", help="How many results (1-50).")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Find codes from a description (typos and abbreviations welcome)."""
    emit(search_codes(_codesets(), text, system=system, limit=limit), as_json, _render_search)


def _render_check(result: ClaimCheckResult) -> None:
    if not result.issues:
        console.print(f"[green]No problems found[/green] (date of service {result.date_of_service}).")
    for issue in result.issues:
        colour = {"error": "red", "warning": "yellow", "info": "cyan"}[issue.severity]
        text = escape(f"{issue.kind} {' '.join(issue.codes)}: {issue.message}")
        console.print(f"[{colour}]{issue.severity}[/{colour}] {text}")
    if not result.ncci_ptp_loaded or not result.mue_loaded:
        console.print("(NCCI PTP/MUE edits not loaded: `billing-assistant codes import-ncci FILE`)")


@app.command("check")
def check_command(
    dx: Annotated[list[str] | None, typer.Option("--dx", help="A diagnosis code (repeat).")] = None,
    line: Annotated[
        list[str] | None, typer.Option("--line", help="A service line CODE:MODIFIERS:UNITS (repeat).")
    ] = None,
    date: Annotated[str | None, typer.Option("--date", help="Date of service YYYY-MM-DD (default today).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a claim's codes: validity, 7th characters, terminated codes, Excludes1, NCCI PTP and MUE."""
    day = None
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError as exc:
            raise InvalidInput(f"Bad --date {date!r}: expected YYYY-MM-DD.") from exc
    result = check_claim(
        _codesets(), diagnoses=dx or [], lines=[parse_line(item) for item in line or []], date_of_service=day
    )
    emit(result, as_json, _render_check)
    if not result.ok:
        raise typer.Exit(1)


def _report(what: str, counts: dict[str, Any], as_json: bool) -> None:
    def render(value: dict[str, Any]) -> None:
        details = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items())
        console.print(f"Imported {what} ({details}). The code-set cache is rebuilt on next use.")

    emit(counts, as_json, render)


FileArgument = Annotated[Path, typer.Argument(help="The file to import.", exists=False)]


@app.command("import-cpt")
def import_cpt_command(file: FileArgument, as_json: JsonOption = False) -> None:
    """Load the practice's licensed CPT descriptor file (CSV code,description) into HOME."""
    cache = _cache_dir()
    count = import_cpt(cache, file)
    load_codesets(cache)
    _report("CPT descriptors", {"codes": count}, as_json)


@app.command("import-carc")
def import_carc_command(file: FileArgument, as_json: JsonOption = False) -> None:
    """Load a newer CARC list (CSV Code,Description) into HOME."""
    cache = _cache_dir()
    count = import_code_list(cache, file, kind="carc")
    load_codesets(cache)
    _report("CARC list", {"codes": count}, as_json)


@app.command("import-rarc")
def import_rarc_command(file: FileArgument, as_json: JsonOption = False) -> None:
    """Load a newer RARC list (CSV Code,Description) into HOME."""
    cache = _cache_dir()
    count = import_code_list(cache, file, kind="rarc")
    load_codesets(cache)
    _report("RARC list", {"codes": count}, as_json)


@app.command("import-ncci")
def import_ncci_command(file: FileArgument, as_json: JsonOption = False) -> None:
    """Load a CMS NCCI file (practitioner PTP edits or MUE values) into HOME."""
    _report("NCCI edits", import_ncci(_cache_dir(), file), as_json)
