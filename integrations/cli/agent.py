"""`ask`, `chat` and `actions`: the agent on the command line (the same service the web and Slack use)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit
from knowledge.errors import AssistantError, NotFound

if TYPE_CHECKING:
    # The agent service brings LangChain, the router and the models: imported by the commands that run
    # it, so that loading this module (`appeals`, `--help`) costs nothing.
    from assistant.service import AgentService
    from assistant.types import ActionResult, AgentReply, Requester

UserOption = Annotated[
    str | None,
    typer.Option("--user", help="Email of the practice user you act as (default: the practice's first admin)."),
]

actions_app = typer.Typer(help="Confirm or cancel a write the assistant proposed.", no_args_is_help=True)


def acting_requester(ctx: CliContext, practice_slug: str | None, email: str | None) -> Requester:
    """Who a command acts as: `--user` (an active user of the practice) or else the practice's first admin."""
    from sqlalchemy import select

    from assistant.types import Channel, Requester
    from knowledge.practice.accounts import active_user
    from knowledge.practice.models import Role, User

    with ctx.session() as session:
        practice = ctx.practice(session, practice_slug)
        if email:
            user = active_user(session, practice_id=practice.id, email=email)
        else:
            query = select(User).where(User.practice_id == practice.id, User.active.is_(True))
            found = session.scalar(query.where(User.role == Role.ADMIN).order_by(User.id))
            if found is None:
                raise NotFound("The practice has no admin user: pass --user EMAIL.")
            user = found
        return Requester(
            practice_id=practice.id,
            user_id=user.id,
            role=user.role,
            channel=Channel.CLI,
            request_id=uuid.uuid4().hex[:12],
        )


def agent_service(ctx: CliContext) -> AgentService:
    from assistant.service import build_agent_service

    return build_agent_service(ctx.settings, engine=ctx.engine)


def _render_reply(reply: AgentReply) -> None:
    from rich.markdown import Markdown

    console.print(Markdown(reply.answer))
    if reply.citations:
        for citation in reply.citations:
            where = f" — {citation.section}" if citation.section else ""
            console.print(f"[dim][{citation.number}] {citation.title}{where} ({citation.url or citation.source})[/dim]")
    if reply.pending_action:
        action = reply.pending_action
        console.print(
            f"[yellow]Pending action {action.id}[/yellow]: confirm with "
            f"`billing-assistant actions confirm {action.id}` or cancel with "
            f"`billing-assistant actions cancel {action.id}`."
        )


def ask(
    question: Annotated[str, typer.Argument(help="What you would type in the chat.")],
    user: UserOption = None,
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this conversation (thread id).")] = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the assistant one question. JSON output has the answer, citations, tool calls and any pending action."""
    ctx = CliContext()
    requester = acting_requester(ctx, practice, user)
    service = agent_service(ctx)
    try:
        reply = service.ask(question, requester=requester, thread_id=thread)
    finally:
        service.close()
    emit(reply, as_json, _render_reply)


def chat(user: UserOption = None, practice: PracticeOption = None) -> None:
    """Talk with the assistant; writes are confirmed at a prompt. Ctrl-D or `exit` ends."""
    from rich.prompt import Confirm, Prompt

    ctx = CliContext()
    requester = acting_requester(ctx, practice, user)
    service = agent_service(ctx)
    thread: str | None = None
    console.print("[dim]Ask about claims, denials, codes or policies. `exit` to leave.[/dim]")
    try:
        while True:
            try:
                text = Prompt.ask("[bold]you[/bold]")
            except (EOFError, KeyboardInterrupt):
                break
            if text.strip().lower() in {"exit", "quit"}:
                break
            if not text.strip():
                continue
            try:
                with console.status("Working…"):
                    reply = service.ask(text, requester=requester, thread_id=thread)
            except AssistantError as exc:
                console.print(f"[red]{exc.message}[/red]")
                continue
            thread = reply.thread_id
            _render_reply(reply)
            if reply.pending_action:
                decide = Confirm.ask(f"Confirm: {reply.pending_action.summary}", default=False)
                try:
                    result = (service.confirm if decide else service.cancel)(
                        reply.pending_action.id, requester=requester
                    )
                    console.print(result.message)
                except AssistantError as exc:
                    console.print(f"[red]{exc.message}[/red]")
    finally:
        service.close()


def _decide(action_id: str, user: str | None, practice: str | None, as_json: bool, confirm: bool) -> None:
    ctx = CliContext()
    requester = acting_requester(ctx, practice, user)
    service = agent_service(ctx)
    try:
        result = (service.confirm if confirm else service.cancel)(action_id, requester=requester)
    finally:
        service.close()

    def render(outcome: ActionResult) -> None:
        console.print(f"{outcome.status}: {outcome.message}")

    emit(result, as_json, render)
    if result.status == "failed":
        raise typer.Exit(1)


@actions_app.command("confirm")
def confirm_action(
    action_id: Annotated[str, typer.Argument(help="The pending action's id.")],
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a pending write (once) as this user, if the user's role allows it."""
    _decide(action_id, user, practice, as_json, confirm=True)


@actions_app.command("cancel")
def cancel_action(
    action_id: Annotated[str, typer.Argument(help="The pending action's id.")],
    user: UserOption = None,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drop a pending write: nothing is written."""
    _decide(action_id, user, practice, as_json, confirm=False)


def register(app: typer.Typer) -> None:
    app.command()(ask)
    app.command()(chat)
    app.add_typer(actions_app, name="actions")
