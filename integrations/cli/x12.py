"""`billing-assistant x12 ...`: import X12 files, list the exceptions queue, write 276 status requests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit, err_console
from integrations.cli.progress import ProgressDisplay

if TYPE_CHECKING:  # each command imports what it runs (the X12 readers and writers are many modules)
    from knowledge.x12.importer import ImportReport
    from tools.x12_exceptions import ExceptionList

app = typer.Typer(help="X12 files from and for the clearinghouse: 837, 277, 835 in; 276 out.", no_args_is_help=True)


@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="X12 files or folders (835, 837P/I, 277/277CA).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be imported; save nothing.")] = False,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import X12 files: 837 claims, 277/277CA statuses, and 835 remittances (auto-posted).

    The import is a job: it waits its turn behind an import already running (on SQLite one runs at a
    time) and then runs here with a progress bar; large 835s post in committed chunks, and an import
    stopped part-way resumes when the same files are imported again. A dry run reads and reports only.
    """
    from knowledge.errors import AssistantError
    from knowledge.practice.database import check_schema
    from knowledge.x12 import jobs
    from knowledge.x12.importer import import_x12

    ctx = CliContext()
    check_schema(ctx.engine)
    with ctx.session(check=False) as session:
        practice_id = ctx.practice(session, practice).id
    job_id: int | None = None
    with ProgressDisplay(enabled=not as_json, transient=True) as progress:
        if dry_run:  # writes nothing, so it need not wait for anyone
            report: ImportReport | None = import_x12(
                ctx.sessions, practice_id=practice_id, paths=paths, dry_run=True, progress=progress
            )
        else:
            with ctx.session(check=False) as session:
                job_id = jobs.submit(session, practice_id=practice_id, paths=paths).id
            said: list[str] = []

            def waiting(job: jobs.JobView) -> None:
                line = job.line()
                if not as_json and line not in said:
                    said.append(line)
                    err_console.print(line, markup=False, highlight=False)

            try:
                report = jobs.run_when_free(ctx.sessions, job_id, progress=progress, waiting=waiting)
            except KeyboardInterrupt:
                jobs.cancel(ctx.sessions, job_id)
                raise
    if report is None:  # the job failed before it had a report (the reason is on the job)
        assert job_id is not None
        with ctx.session(check=False) as session:
            failed = jobs.get_job(session, practice_id=practice_id, job_id=job_id)
        raise AssistantError(failed.error or "the import stopped")  # exit 1 with the reason, like any refusal
    emit(_import_json(report, job_id), as_json, lambda _: _render_import(report))
    errors = report.errors
    if errors:  # one refused file or transaction makes the batch a failure, whatever else was imported
        many = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        reason = " ".join(f"the import was not complete: {errors[0]}{many}".split())
        err_console.print(f"error: {reason}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command("jobs")
def jobs_command(
    limit: Annotated[int, typer.Option("--limit", help="How many of the newest to list.")] = 20,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the practice's import jobs: queued, running (with progress), done or failed."""
    from knowledge.x12 import jobs

    ctx = CliContext()
    with ctx.session() as session:
        practice_id = ctx.practice(session, practice).id
        found = jobs.list_jobs(session, practice_id=practice_id, limit=limit)
    emit(
        [job.model_dump(mode="json", exclude={"report"}) for job in found],
        as_json,
        lambda _: console.print("\n".join(job.line() for job in found) or "No import jobs.", markup=False),
    )


@app.command("worker")
def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Run the queued jobs, then stop.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run queued import jobs (what chat and the web submit) until stopped; `serve` starts one for you."""
    import threading

    from knowledge.practice.database import check_schema
    from knowledge.x12 import jobs

    ctx = CliContext()
    check_schema(ctx.engine)
    stop = threading.Event()
    try:
        ran = jobs.work(ctx.sessions, stop=stop, once=once)
    except KeyboardInterrupt:
        ran = 0
    emit({"jobs_run": ran}, as_json, lambda r: console.print(f"Ran {r['jobs_run']} import job(s)."))


def _import_json(report: ImportReport, job_id: int | None = None) -> dict[str, Any]:
    data = report.model_dump(mode="json")
    data["job_id"] = job_id
    data["summary"] = {
        "imported": report.count("imported"),
        "already_imported": report.count("already_imported"),
        "skipped": report.count("skipped"),
        "errors": len(report.errors),
        "claims_posted": report.claims_posted,
        "exceptions": report.exceptions,
    }
    return data


def _render_import(report: ImportReport) -> None:
    prefix = "[dry run] " if report.dry_run else ""
    for file in report.files:
        console.print(f"[bold]{prefix}{file.path}[/bold]")
        if file.error:
            console.print(f"  [red]error:[/red] {file.error}")
        for warning in file.warnings:  # read anyway (a count that does not match, a synthesised envelope)
            console.print(f"  [yellow]warning:[/yellow] {escape(warning)}", highlight=False)
        for t in file.transactions:
            what = f"  ST {t.control_number} {t.transaction_type} ({t.version}): {t.status.replace('_', ' ')}"
            if t.status == "imported":
                if t.transaction_type == "835":
                    what += (
                        f"; {t.claims_posted}/{t.claims_in_file} claims posted, paid {t.paid_posted}, "
                        f"adjusted {t.adjustments_posted}, check total {t.total_paid}"
                    )
                elif t.transaction_type.startswith("837"):
                    what += f"; {t.claims_created} claims created, {t.claims_updated} updated"
                else:
                    what += f"; {t.status_events} status events"
                if t.exceptions:
                    what += f"; [yellow]{t.exceptions} sent to the exceptions queue[/yellow]"
            console.print(what)
            for warning in t.warnings:
                console.print(f"    [yellow]warning:[/yellow] {escape(warning)}", highlight=False)
            for message in t.messages[:20]:
                console.print(f"    - {message}")
    console.print(
        f"{prefix}{report.count('imported')} transactions imported, {report.count('already_imported')} already "
        f"imported, {report.count('skipped')} skipped, {len(report.errors)} errors; "
        f"{report.claims_posted} claims posted, {report.exceptions} exceptions."
    )


@app.command("exceptions")
def exceptions_command(
    status: Annotated[str, typer.Option("--status", help="open, resolved or all.")] = "open",
    limit: Annotated[int, typer.Option("--limit", help="How many of the newest to list.")] = 50,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List what X12 imports could not post and why (the exceptions queue)."""
    from tools.x12_exceptions import x12_exceptions

    ctx = CliContext()
    with ctx.session() as session:
        practice_id = ctx.practice(session, practice).id
        result = x12_exceptions(status, limit, session=session, practice_id=practice_id)
    emit(result, as_json, _render_exceptions)


def _render_exceptions(result: ExceptionList) -> None:
    if not result.items:
        console.print(f"No {result.status} exceptions.")
        return
    table = Table(show_lines=True)
    for column in ("id", "kind", "claim", "amount", "reason"):
        table.add_column(column)
    for item in result.items:
        table.add_row(str(item.id), item.kind, item.claim_number or "", str(item.amount or ""), item.reason)
    console.print(table)
    console.print(f"{len(result.items)} of {result.total} {result.status} exceptions.")


@app.command("status-request")
def status_request_command(
    claim_numbers: Annotated[list[str], typer.Argument(help="Claim numbers (patient control numbers).")],
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: 276-<control>.x12).")] = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a 276 claim status request (005010X212) for the clearinghouse."""
    from knowledge.x12.writer276 import write_276

    ctx = CliContext()
    with ctx.session() as session:
        practice_id = ctx.practice(session, practice).id
        target = out or Path("276-pending.x12")
        request = write_276(session, practice_id=practice_id, claim_numbers=claim_numbers, out=target)
        if out is None:
            target = target.replace(Path(f"276-{request.control_number}.x12"))
    result = {
        "path": str(target),
        "claim_numbers": request.claim_numbers,
        "payers": request.payers,
        "control_number": request.control_number,
        "segments": request.segments,
    }
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"Wrote {r['path']}: status request for {len(r['claim_numbers'])} claims to {r['payers']} payers."
        ),
    )
