"""`eval` and `bench`: quality and speed figures, each beside its baseline, printed and saved."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, console, emit
from knowledge.errors import InvalidInput

SUITES = ("codes", "retrieval", "agent", "conversation", "x12")


def _codesets(ctx: CliContext) -> Any:
    from knowledge.codesets import load_codesets

    return load_codesets(ctx.settings.resolved_home / "cache")


def _knowledge_base(ctx: CliContext) -> Any:
    from knowledge.documents import KnowledgeBase

    settings = ctx.settings
    return KnowledgeBase(
        settings.resolved_home, chroma_url=settings.chroma_url, embedding_model=settings.embedding_model
    )


def _suite_codes(ctx: CliContext, dataset: Path | None) -> dict[str, Any]:
    from evals.codes_eval import run_codes_baselines, run_codes_eval, run_index_eval

    codesets = _codesets(ctx)
    result = run_codes_eval(codesets, dataset)
    result["baselines"] = run_codes_baselines(codesets, dataset)
    if dataset is None:  # issue 18's sets: index paths and lay words, dev and holdout apart
        result["index"] = run_index_eval(codesets)
    return result


def _suite_retrieval(ctx: CliContext, dataset: Path | None) -> dict[str, Any]:
    from evals.retrieval_eval import run_retrieval_eval

    return run_retrieval_eval(_knowledge_base(ctx), dataset)


def _suite_x12(ctx: CliContext, dataset: Path | None) -> dict[str, Any]:
    from evals.x12_eval import run_x12_eval

    return run_x12_eval(dataset)


def _suite_agent(ctx: CliContext, dataset: Path | None) -> dict[str, Any]:
    from sqlalchemy import select

    from assistant.service import build_agent_service
    from evals.agent_eval import run_agent_eval
    from knowledge.practice.models import User

    with ctx.session() as session:
        practice = ctx.practice(session, None)
        users = {
            user.role.value: user.id for user in session.scalars(select(User).where(User.practice_id == practice.id))
        }
        practice_id = practice.id
    service = build_agent_service(ctx.settings, engine=ctx.engine)
    try:
        return run_agent_eval(service, practice_id=practice_id, users=users, dataset=dataset)
    finally:
        service.close()


def _suite_conversation(ctx: CliContext, dataset: Path | None) -> dict[str, Any]:
    from evals.agent_eval import CONVERSATION_DATASET

    return _suite_agent(ctx, dataset or CONVERSATION_DATASET)


RUNNERS = {
    "codes": _suite_codes,
    "retrieval": _suite_retrieval,
    "agent": _suite_agent,
    "conversation": _suite_conversation,
    "x12": _suite_x12,
}


def _summary_rows(suite: str, figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, baseline) rows for the table."""
    rows: list[tuple[str, str, str]] = []
    if suite == "codes":
        base = figures.get("baselines", {})
        for system, stats in figures.get("systems", {}).items():
            plain = base.get("bm25_plain", {}).get("systems", {}).get(system, {})
            rows.append(
                (
                    f"{system} top-1 / top-5",
                    f"{stats['top1']} / {stats['top5']}",
                    f"BM25 {plain.get('top1', '-')} / {plain.get('top5', '-')}",
                )
            )
        rows.append(("search p50 ms", str(figures["latency_ms"]["p50"]), ""))
    elif suite == "retrieval":
        hybrid, bm25, dense = figures["hybrid"], figures["bm25_only"], figures["dense_only"]
        rows.append(
            (
                "recall@5",
                str(hybrid.get("recall_at_5")),
                f"BM25 {bm25.get('recall_at_5')}, dense {dense.get('recall_at_5')}",
            )
        )
        rows.append(("MRR", str(hybrid.get("mrr")), f"BM25 {bm25.get('mrr')}, dense {dense.get('mrr')}"))
    elif suite == "x12":
        rows.append(("835 files posted = file totals", f"{figures['passed']} / {figures['files']}", ""))
    elif suite in ("agent", "conversation"):
        for key in ("routing_accuracy", "fact_recall", "code_validity", "citation_rate", "phi_leaks"):
            if key in figures:
                rows.append((key.replace("_", " "), str(figures[key]), ""))
        for group in ("by_split", "by_category"):
            for name, part in (figures.get(group) or {}).items():
                shown = ", ".join(
                    f"{k.replace('_', ' ')} {v}"
                    for k, v in part.items()
                    if k in ("routing_accuracy", "fact_recall", "honest_rate", "referent_accuracy") and v is not None
                )
                rows.append((f"{name} ({part['cases']})", shown, ""))
        latency = figures.get("latency_ms", {})
        rows.append(("turn p50 / p95 ms", f"{latency.get('p50')} / {latency.get('p95')}", ""))
    return rows


def evaluate(
    suite_argument: Annotated[
        str | None, typer.Argument(metavar="[SUITE]", help="codes, retrieval, agent, conversation, x12 or all.")
    ] = None,
    suite: Annotated[str, typer.Option("--suite", help="codes, retrieval, agent, conversation, x12 or all.")] = "all",
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="Your own dataset for the suite, in the documented format.")
    ] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Write the figures to evals/results/.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Run the quality suites and print their figures beside their baselines."""
    chosen = (suite_argument or suite).lower()
    if chosen not in (*SUITES, "all"):
        raise InvalidInput(f"Unknown suite {chosen!r}; expected one of: {', '.join(SUITES)}, all.")
    if dataset is not None and chosen == "all":
        raise InvalidInput("--dataset needs one suite (e.g. --suite codes).")
    if dataset is not None and not dataset.exists():
        raise InvalidInput(f"--dataset: no file {dataset}")
    ctx = CliContext()
    results: dict[str, Any] = {"date": dt.date.today().isoformat()}
    for name in SUITES if chosen == "all" else (chosen,):
        with console.status(f"Running the {name} suite…") if not as_json else nullcontext():
            results[name] = RUNNERS[name](ctx, dataset)
    if save:
        from evals.results_store import save as save_results

        results["saved_to"] = str(save_results(f"eval-{chosen}", results))

    def render(data: dict[str, Any]) -> None:
        table = Table(title="Quality")
        for column in ("suite", "figure", "value", "baseline"):
            table.add_column(column)
        for name in SUITES:
            if name in data:
                for figure, value, baseline in _summary_rows(name, data[name]):
                    table.add_row(name, figure, value, baseline)
        console.print(table)

    emit(results, as_json, render)


def bench(
    only: Annotated[
        str | None, typer.Option("--only", help="codes, retrieval, x12, chat, router, startup or cli.")
    ] = None,
    claims: Annotated[int, typer.Option("--claims", help="Claims in the generated 835.")] = 10_000,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Write the figures to evals/results/.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Run the speed suites on this machine: medians, p95 and peak memory, beside their baselines."""
    from evals.bench import run_bench

    ctx = CliContext()
    results = run_bench(ctx.settings, only=only, claims=claims)
    if save:
        from evals.results_store import save as save_results

        # One suite goes to its own file: it must not replace the figures of the whole run.
        results["saved_to"] = str(save_results(f"bench-{only}" if only else "bench", results))

    def render(data: dict[str, Any]) -> None:
        table = Table(title="Speed")
        for column in ("suite", "figure", "value"):
            table.add_column(column)
        for name, figures in data.items():
            if isinstance(figures, dict):
                for key, value in figures.items():
                    if not isinstance(value, dict | list):
                        table.add_row(name, key, str(value))
        console.print(table)

    emit(results, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
    app.command("bench")(bench)
