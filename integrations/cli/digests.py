"""`billing-assistant digests`: the Slack worklist digests channels subscribed to (`/denials digest daily`).

`serve` posts the due ones itself; `digests run` is for a deployment that runs Slack without the web app,
or wants cron to decide when (it posts what is due now, once, whichever process gets there first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit
from knowledge.errors import ConfigurationError

if TYPE_CHECKING:
    from assistant.digests import DigestRun, DigestView

app = typer.Typer(help="Slack worklist digests: list the subscriptions, post the due ones.", no_args_is_help=True)


@app.command("list")
def list_digests(practice: PracticeOption = None, as_json: JsonOption = False) -> None:
    """The practice's digest subscriptions: channel, worklist, how often, next due, last sent, last error."""
    from assistant.digests import Digests
    from assistant.service import build_agent_service

    ctx = CliContext()
    with ctx.session() as session:
        practice_id = ctx.practice(session, practice).id
    service = build_agent_service(ctx.settings)
    try:
        found = Digests(service, hour=ctx.settings.slack_digest_hour).subscriptions(practice_id)
    finally:
        service.close()

    def render(views: list[DigestView]) -> None:
        table = Table(title=f"{len(views)} digest subscription(s)")
        for column in ("id", "channel", "worklist", "every", "next due (UTC)", "last sent (UTC)", "last error"):
            table.add_column(column)
        for view in views:
            table.add_row(
                str(view.id),
                view.channel_id,
                view.kind,
                view.frequency,
                f"{view.due_at:%Y-%m-%d %H:%M}",
                f"{view.last_sent_at:%Y-%m-%d %H:%M}" if view.last_sent_at else "-",
                view.last_error or "-",
            )
        console.print(table)

    emit([v.as_dict() for v in found] if as_json else found, as_json, render)


@app.command("run")
def run_digests(as_json: JsonOption = False) -> None:
    """Post every digest that is due now to its Slack channel (needs SLACK_BOT_TOKEN)."""
    settings = CliContext().settings
    if settings.slack_bot_token is None:
        raise ConfigurationError("SLACK_BOT_TOKEN is not set: digests are posted by the Slack bot.")
    from slack_sdk import WebClient

    from assistant.digests import Digests
    from assistant.service import build_agent_service
    from integrations.slack.digests import SlackDigestPoster

    token = settings.slack_bot_token.get_secret_value()
    client = (
        WebClient(token=token, base_url=f"{settings.slack_api_url}/") if settings.slack_api_url else WebClient(token)
    )
    service = build_agent_service(settings)
    try:
        poster = SlackDigestPoster(settings, client)
        runs = Digests(service, hour=settings.slack_digest_hour).run_due(poster, channel_of=poster.channel_of)
    finally:
        service.close()

    def render(done: list[DigestRun]) -> None:
        if not done:
            console.print("No digest is due.")
        for run in done:
            console.print(f"digest {run.subscription_id} ({run.kind} to {run.channel_id}): {run.outcome} {run.detail}")

    result: Any = [r.as_dict() for r in runs] if as_json else runs
    emit(result, as_json, render)
    if any(r.outcome == "failed" for r in runs):
        raise typer.Exit(1)
