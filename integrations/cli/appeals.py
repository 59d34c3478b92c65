"""`appeals draft|show|export|edit|sent`: appeal letters on the command line, through the agent service
(the same checks and audit as the web). The acting user is `--user` (default: the practice's first admin);
only a letter's author edits it or marks it sent."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from integrations.cli.agent import UserOption, acting_requester, agent_service
from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit

if TYPE_CHECKING:  # the agent service is imported when a command runs it (`agent_service`)
    from assistant.service import AgentService, LetterFormat
    from assistant.types import Requester
    from tools.draft_appeal import AppealDraft, AppealLetterView

app = typer.Typer(help="Draft, show, export, edit and send appeal letters.", no_args_is_help=True)


class Kind(StrEnum):
    appeal = "appeal"
    reconsideration = "reconsideration"
    redetermination = "redetermination"


class Format(StrEnum):
    docx = "docx"
    pdf = "pdf"


LetterIdArgument = Annotated[
    int, typer.Argument(min=1, max=2**31 - 1, help="The letter's id (`letter_id` of `appeals draft`).")
]


T = TypeVar("T")


def _as_user(practice: str | None, user: str | None, work: Callable[[AgentService, Requester], T]) -> T:
    """Run one service call as the acting user, and close the service whatever happens."""
    ctx = CliContext()
    requester = acting_requester(ctx, practice, user)
    service = agent_service(ctx)
    try:
        return work(service, requester)
    finally:
        service.close()


def _render_view(view: AppealLetterView) -> None:
    console.print(f"[bold]Letter {view.letter_id}[/bold]  {view.status}  claim {view.claim_number}  ({view.kind})")
    console.print(view.title, markup=False)
    console.print()
    console.print(view.body.rstrip(), markup=False)  # the body's "[...]" blanks are text, not markup


@app.command("draft")
def draft(
    claim: Annotated[str, typer.Argument(help="Claim number of a denied claim.")],
    kind: Annotated[
        Kind | None, typer.Option(help="Kind of letter (default: the payer's first level; Medicare: redetermination).")
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="A new draft even if the claim has an open one.")] = False,
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Draft an appeal letter for a denied claim and file it as a draft (the open draft is reused)."""
    letter = _as_user(
        practice,
        user,
        lambda service, r: service.draft_appeal(claim, requester=r, kind=kind.value if kind else None, new_draft=new),
    )

    def render(result: AppealDraft) -> None:
        verb = "Open draft" if result.reused else "Drafted"
        console.print(f"[bold]{verb} {result.letter_id}[/bold]: {result.kind_label} for claim {result.claim_number}")
        for warning in result.warnings:
            console.print(f"Note: {warning}", markup=False, style="yellow")
        if result.to_complete:
            console.print("Fill in before sending: " + ", ".join(result.to_complete), markup=False)
        console.print()
        console.print(result.body.rstrip(), markup=False)
        console.print()
        console.print(
            f"Export it with `billing-assistant appeals export {result.letter_id} --format docx|pdf`.", markup=False
        )

    emit(letter, as_json, render)


@app.command("show")
def show(
    letter_id: LetterIdArgument,
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one letter: status, claim and text."""
    view = _as_user(practice, user, lambda service, r: service.appeal_letter(letter_id, requester=r))
    emit(view, as_json, _render_view)


@app.command("export")
def export(
    letter_id: LetterIdArgument,
    fmt: Annotated[Format, typer.Option("--format", help="docx or pdf.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: the letter's file name, here).")
    ] = None,
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the letter as it stands to a DOCX or PDF file."""
    chosen: LetterFormat = "docx" if fmt is Format.docx else "pdf"
    letter = _as_user(practice, user, lambda service, r: service.appeal_letter_file(letter_id, chosen, requester=r))
    target = out or Path(letter.file_name)
    target.write_bytes(letter.content)
    result = {"letter_id": letter_id, "format": chosen, "path": str(target), "bytes": len(letter.content)}
    emit(result, as_json, lambda r: console.print(f"Wrote {r['path']} ({r['bytes']} bytes).", markup=False))


@app.command("edit")
def edit(
    letter_id: LetterIdArgument,
    body_file: Annotated[Path, typer.Option("--body-file", help="A UTF-8 text file holding the new text, whole.")],
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace a draft's text (its author only, before it is sent)."""
    body = body_file.read_text(encoding="utf-8")
    view = _as_user(practice, user, lambda service, r: service.edit_appeal_letter(letter_id, body, requester=r))
    emit(view, as_json, lambda v: console.print(f"Letter {v.letter_id} updated ({len(v.body)} characters)."))


@app.command("sent")
def sent(
    letter_id: LetterIdArgument,
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mark a draft as sent to the payer (its author only); it is not edited after that."""
    view = _as_user(practice, user, lambda service, r: service.send_appeal_letter(letter_id, requester=r))
    emit(view, as_json, lambda v: console.print(f"Letter {v.letter_id} marked sent on {v.sent_at:%Y-%m-%d}."))
