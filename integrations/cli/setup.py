"""`init`, `serve` and `config`: setting the assistant up and running it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from assistant.settings import settings_table
from integrations.cli.common import CliContext, JsonOption, console, emit
from integrations.cli.logs import configure_logging
from integrations.cli.progress import ProgressDisplay
from knowledge.errors import InvalidInput


class VectorsMode(StrEnum):
    """When `init` embeds the code descriptions and the knowledge passages (the slow part of a fresh HOME)."""

    now = "now"
    background = "background"


def init(
    demo: Annotated[bool, typer.Option("--demo", help="Also create the demo practice (once).")] = False,
    reset_demo: Annotated[
        bool, typer.Option("--reset-demo", help="Replace an existing demo practice with a fresh one.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date the demo practice is generated up to (YYYY-MM-DD; default today)."),
    ] = None,
    code_vectors: Annotated[
        bool,
        typer.Option(
            "--code-vectors/--no-code-vectors",
            help="Embed code descriptions for semantic code search (minutes, once; lexical search works without).",
        ),
    ] = True,
    knowledge_index: Annotated[
        bool,
        typer.Option("--knowledge/--no-knowledge", help="Index the shipped playbooks, policies and coding guidance."),
    ] = True,
    vectors: Annotated[
        VectorsMode,
        typer.Option(
            "--vectors",
            help="now: embed the code descriptions and index the knowledge here (minutes on a fresh HOME); "
            "background: leave both to `serve`, which answers at once and builds them while it serves.",
        ),
    ] = VectorsMode.now,
    as_json: JsonOption = False,
) -> None:
    """Set up HOME: migrations, code-set cache, knowledge index and, with --demo, the demo practice.

    Nearly free when nothing changed. With --vectors background the embedding is left to `serve`, which
    builds it while it answers (scripts/run.sh does this: the chat is up in about a minute)."""
    # Imported here, not at the top: `--help` lists this module's commands and should not pay for them.
    from knowledge.codesets import build_codeset_cache
    from knowledge.practice.database import session_scope, upgrade
    from knowledge.practice.demo import seed_demo_practice
    from knowledge.practice.folders import PracticeFolder

    ctx = CliContext()
    settings = ctx.settings
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    on = _as_of(as_of)
    before, after = upgrade(ctx.engine)
    result: dict[str, Any] = {
        "home": str(home),
        "database": {"url": ctx.engine.url.render_as_string(hide_password=True), "from": before, "to": after},
    }
    later = vectors is VectorsMode.background
    with ProgressDisplay(enabled=not as_json) as display:
        result["codesets"] = build_codeset_cache(
            home / "cache", progress=display, with_vectors=code_vectors and not later
        )
        if knowledge_index and not later:
            from knowledge.documents import KnowledgeBase, build_shipped_index

            kb = KnowledgeBase(home, chroma_url=settings.chroma_url, embedding_model=settings.embedding_model)
            indexed = build_shipped_index(kb, cache_dir=home / "cache", progress=display)
            result["knowledge"] = indexed.model_dump(mode="json")
        if later:
            result["background"] = _left_to_serve(settings, result["codesets"])
        if settings.llm == "offline":
            result["router"] = _fit_router(settings, display)
    if demo or reset_demo:
        with session_scope(ctx.sessions) as session:
            report = seed_demo_practice(session, as_of=on, reset=reset_demo)
        # The demo practice's own clearinghouse folders (what it imports in chat, where its 276s go).
        result["demo"] = {
            "created": report.created,
            "counts": report.counts,
            "inbox": str(PracticeFolder(home, "inbox").for_practice(report.practice_id)),
            "outbox": str(PracticeFolder(home, "outbox").for_practice(report.practice_id)),
        }
        if report.credentials:
            result["demo"]["credentials"] = report.credentials

    legacy = home / "inbox"
    if legacy.is_dir() and any(legacy.iterdir()):
        result["notes"] = [
            f"{legacy} is no longer read: each practice has its own inbox, HOME/practices/<practice id>/inbox; "
            "move each file to the inbox of the practice it belongs to."
        ]

    def render(data: dict[str, Any]) -> None:
        database = data["database"]
        moved = "already current" if database["from"] == database["to"] else f"migrated to {database['to']}"
        console.print(f"HOME: {data['home']}")
        console.print(f"Database: {database['url']} ({moved})")
        codes = data["codesets"]
        # How far the vectors are is said on the line about them, not among the counts of codes.
        unsaid = {"seconds", "vector_texts", "vectors_current", "vectors_checkpointed"}
        console.print(
            "Code sets: "
            + ", ".join(f"{k} {v}" for k, v in codes.items() if k not in unsaid)
            + f" ({codes['seconds']} s)"
        )
        if "background" in data:
            left = data["background"]
            how_far = (
                f"code descriptions {left['codes']['done']:,} of {left['codes']['total']:,} embedded; "
                f"knowledge index {left['knowledge']['state']}"
            )
            if left["codes"]["state"] == left["knowledge"]["state"] == "ready":
                console.print(f"Search vectors: ready ({how_far}).", soft_wrap=True)
            else:
                console.print(
                    f"Search vectors: left to `serve`, which builds them in the background while it answers "
                    f"({how_far}). Lookups, claims and keyword code search work at once; policy search and "
                    "semantic code search join when their part is ready (GET /api/health).",
                    soft_wrap=True,
                )
        if "knowledge" in data:
            knowledge = data["knowledge"]
            console.print(
                f"Knowledge index: {len(knowledge['added'])} added, {len(knowledge['replaced'])} replaced, "
                f"{len(knowledge['unchanged'])} unchanged, {knowledge['chunks_written']} passages written."
            )
        if "router" in data:
            router = data["router"]
            console.print(
                f"Request router: {router['examples']} examples, cross-validated accuracy {router['accuracy']}, "
                f"confidence floor {router['floor']}."
            )
        if "demo" in data:
            counts = data["demo"]["counts"]
            state = "created" if data["demo"]["created"] else "already present"
            console.print(
                f"Demo practice {state}: {counts['patients']} patients, {counts['claims']} claims, "
                f"{counts['payers']} payers, {counts['remittances']} remittances."
            )
            console.print(f"Its clearinghouse inbox (835s to import in chat): {data['demo']['inbox']}")
            if data["demo"].get("credentials"):
                table = Table(title="Demo sign-ins (shown once; only hashes are stored)")
                table.add_column("email")
                table.add_column("password")
                for email, password in data["demo"]["credentials"].items():
                    table.add_row(email, password)
                console.print(table)
        for note in data.get("notes", []):
            console.print(f"[yellow]{note}[/yellow]", soft_wrap=True)

    emit(result, as_json, render)


def _left_to_serve(settings: Any, codes: dict[str, Any]) -> dict[str, Any]:
    """How far the vectors `serve` will build are now (nothing is built here)."""
    from knowledge.documents import KnowledgeBase

    kb = KnowledgeBase(settings.resolved_home, chroma_url=settings.chroma_url, embedding_model=settings.embedding_model)
    knowledge = kb.index_state()
    total = int(codes.get("vector_texts", 0))
    code_state = (
        "ready" if codes.get("vectors_current") else ("building" if codes.get("vectors_checkpointed") else "missing")
    )
    return {
        "codes": {
            "state": code_state,
            "done": total if code_state == "ready" else int(codes.get("vectors_checkpointed", 0)),
            "total": total,
        },
        "knowledge": {"state": knowledge.state, "done": knowledge.done, "total": knowledge.total},
    }


def _fit_router(settings: Any, display: Any) -> dict[str, Any]:
    """Fit the offline planner's router now (saved in HOME/cache), so the first question does not wait."""
    import dataclasses

    from assistant.llm import make_chat_model

    display("Fitting the request router", 0, 1)
    planner = make_chat_model(settings)
    calibration = planner.router().calibration  # type: ignore[attr-defined]
    display("Fitting the request router", 1, 1)
    return {k: v for k, v in dataclasses.asdict(calibration).items() if k != "confusions"}


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--as-of: expected a date as YYYY-MM-DD, got {value!r}") from None


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    index: Annotated[
        bool,
        typer.Option(
            "--index/--no-index",
            help="Build missing search vectors (knowledge passages, then code descriptions) in the background "
            "while serving; resumes a build that was stopped. Progress: GET /api/health.",
        ),
    ] = True,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Start an import worker process beside the server (runs the large X12 imports chat and the "
            "web queue, so requests never wait for them). Off when workers run elsewhere (`x12 worker`).",
        ),
    ] = True,
) -> None:
    """Run the web app (chat page, JSON API and Slack endpoint) with uvicorn."""
    import subprocess
    import sys

    import uvicorn

    from assistant.resources import warm_up
    from integrations.web.app import create_app
    from knowledge.indexing import shipped_indexer

    ctx = CliContext()
    configure_logging(ctx.settings.log_level)
    app = create_app(ctx.settings)
    providers = app.state.agent.providers
    indexer = shipped_indexer(
        cache_dir=ctx.settings.resolved_home / "cache",
        codesets=providers.get("codesets"),
        knowledge_base=providers.get("knowledge_base"),
        knowledge=index,
        code_vectors=index,
    )
    app.state.indexing = indexer.status  # /api/health reports it; the chat page shows a banner until ready

    def prepare() -> None:
        # Load what is built first (the first question should not wait for it), then build what is not,
        # in the same thread: one background job at a time on a small machine.
        try:
            warm_up(ctx.settings, providers)
        except Exception:  # the first question that needs the part will say why; the build still runs
            logging.getLogger("billing_assistant.resources").warning("warm-up failed", exc_info=True)
        indexer.run()

    # Daemon: stopping the server stops the build, which continues from its checkpoints on the next start.
    threading.Thread(target=prepare, name="warm-up-and-index", daemon=True).start()
    # The app logs each request itself (route template, status, request id); uvicorn's access log would
    # write full paths and query strings, which can carry what a person typed.
    # A process, not a thread: an import is CPU-bound Python, and in this process it would take the GIL
    # from every chat request. It shares the database (and the settings, through the environment).
    jobs = subprocess.Popen([sys.executable, "-m", "integrations.cli.main", "x12", "worker"]) if worker else None
    try:
        uvicorn.run(app, host=host, port=port, log_level=ctx.settings.log_level.lower(), access_log=False)
    finally:
        if jobs is not None:  # a job it was running resumes when the next worker starts
            jobs.terminate()
            try:
                jobs.wait(timeout=10)
            except subprocess.TimeoutExpired:
                jobs.kill()


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
