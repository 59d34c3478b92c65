"""`billing-assistant knowledge ...`: add, remove, list and search the knowledge base.

Every command works for one practice (`--practice`, default `BILLING_ASSISTANT_PRACTICE`): what it adds
only that practice reads, and it lists, searches and removes the shipped and shared documents and that
practice's own. `--shared` works on documents every practice reads instead (it needs no database).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit
from integrations.cli.progress import ProgressDisplay
from knowledge.errors import InvalidInput

if TYPE_CHECKING:
    # The knowledge base (its readers, BM25, the vector store, then Chroma and the embedding model when it is
    # used) is imported when a command opens it, so loading this module for `--help` costs nothing.
    from knowledge.documents import DocumentInfo, IngestReport, KnowledgeBase
    from knowledge.documents.models import KnowledgeResults

app = typer.Typer(
    help="The knowledge base: playbooks, payer policies, coding guidance, your documents.", no_args_is_help=True
)

PayerOption = Annotated[str | None, typer.Option("--payer", help="Payer name or payer id.")]
DateFromOption = Annotated[str | None, typer.Option("--effective-from", help="First day in force (YYYY-MM-DD).")]
DateToOption = Annotated[str | None, typer.Option("--effective-to", help="Last day in force (YYYY-MM-DD).")]
SharedOption = Annotated[
    bool,
    typer.Option("--shared", help="Documents every practice reads, instead of the practice's own (no database)."),
]


def knowledge_base(ctx: CliContext | None = None) -> KnowledgeBase:
    from knowledge.documents import KnowledgeBase

    settings = (ctx or CliContext()).settings
    return KnowledgeBase(
        settings.resolved_home, chroma_url=settings.chroma_url, embedding_model=settings.embedding_model
    )


def _practice_id(ctx: CliContext, slug: str | None, shared: bool) -> int | None:
    """The practice the command works for; None with `--shared`."""
    if shared:
        if slug is not None:
            raise InvalidInput("--shared and --practice: give one of them")
        return None
    with ctx.session() as session:
        return ctx.practice(session, slug).id


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option}: expected a date YYYY-MM-DD (got {value!r})") from None


def _render_report(report: IngestReport) -> None:
    for label, ids in (
        ("Added", report.added),
        ("Replaced", report.replaced),
        ("Unchanged", report.unchanged),
        ("Removed", report.removed),
    ):
        if ids:
            console.print(f"{label} ({len(ids)}): {', '.join(ids)}")
    if report.chunks_written:
        console.print(f"{report.chunks_written} chunks in {report.seconds:.1f}s ({report.chunks_per_second:.1f}/s)")
    elif not (report.added or report.replaced or report.removed):
        console.print("Nothing changed.")


@app.command("add")
def add_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (PDF, DOCX, HTML, Markdown, text).")],
    payer: PayerOption = None,
    effective_from: DateFromOption = None,
    effective_to: DateToOption = None,
    practice: PracticeOption = None,
    shared: SharedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add the practice's own documents (only it reads them); unchanged files are skipped, changed ones
    replaced. A running server sees them at its next search."""
    ctx = CliContext()
    practice_id = _practice_id(ctx, practice, shared)
    kb = knowledge_base(ctx)
    with ProgressDisplay(enabled=not as_json, transient=True) as progress:
        report = kb.add(
            paths,
            payer=payer,
            effective_from=_date(effective_from, "--effective-from"),
            effective_to=_date(effective_to, "--effective-to"),
            progress=progress,
            practice_id=practice_id,
        )
    emit(report, as_json, _render_report)


@app.command("remove")
def remove_command(
    targets: Annotated[list[str], typer.Argument(help="Document ids or the paths they were added from.")],
    practice: PracticeOption = None,
    shared: SharedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Remove the practice's documents (or, with --shared, shared ones) from the knowledge base."""
    ctx = CliContext()
    practice_id = _practice_id(ctx, practice, shared)
    emit(knowledge_base(ctx).remove(targets, practice_id=practice_id), as_json, _render_report)


def _render_list(documents: list[DocumentInfo]) -> None:
    if not documents:
        console.print("The knowledge base is empty. Run `billing-assistant init` or `knowledge add PATH`.")
        return
    table = Table("Doc id", "Kind", "Title", "Payer", "In force", "Chunks")
    for doc in documents:
        dates = ""
        if doc.effective_from or doc.effective_to:
            dates = f"{doc.effective_from or '…'} to {doc.effective_to or 'now'}"
        table.add_row(escape(doc.doc_id), doc.kind, escape(doc.title), escape(doc.payer or ""), dates, str(doc.chunks))
    console.print(table)


@app.command("list")
def list_command(
    kind: Annotated[str | None, typer.Option("--kind", help="playbook, policy, guidance or practice.")] = None,
    practice: PracticeOption = None,
    shared: SharedOption = False,
    as_json: JsonOption = False,
) -> None:
    """List the indexed documents the practice reads: shipped, shared and its own."""
    ctx = CliContext()
    practice_id = _practice_id(ctx, practice, shared)
    emit(knowledge_base(ctx).list(kind=kind, practice_id=practice_id), as_json, _render_list)


def _render_results(results: KnowledgeResults) -> None:
    for note in results.notes:
        console.print(f"[yellow]{escape(note)}[/yellow]")
    if not results.passages:
        console.print("No passages found.")
    for number, passage in enumerate(results.passages, start=1):
        sample = " [dim](sample policy, not the payer's contract)[/dim]" if passage.sample else ""
        console.print(f"[bold]{number}. {escape(passage.title)}[/bold]{sample}")
        console.print(escape(passage.text))
        console.print(f"[dim]{escape(passage.citation)}  (id {escape(passage.passage_id)})[/dim]")
        if passage.note:
            console.print(f"[yellow]{escape(passage.note)}[/yellow]")
        console.print()


@app.command("search")
def search_command(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    payer: PayerOption = None,
    date: Annotated[str | None, typer.Option("--date", help="Date of service (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=50, help="How many passages.")] = 5,
    practice: PracticeOption = None,
    shared: SharedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Search what the practice reads; passages come with citations."""
    on_date = _date(date, "--date")
    ctx = CliContext()
    practice_id = _practice_id(ctx, practice, shared)
    results = knowledge_base(ctx).search_results(
        question, payer=payer, on_date=on_date, limit=limit, practice_id=practice_id
    )
    emit(results, as_json, _render_results)
