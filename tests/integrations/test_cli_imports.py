"""The command line loads only what a command uses (issue 17): `codes lookup` and `claims show` start without
the agent, the embedding model, the vector store or the web stack, and say nothing on stderr.

These are behaviour tests (which modules a real console-script process imported, what it printed), not
timings: the cold wall times are figures of `billing-assistant bench --only cli`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.codesets import CodeSets
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Claim

# Runs the console script's module as `python -m integrations.cli.main ARGS` does, then writes the names
# of every module the process imported to the file named by its first argument.
WRAPPER = """
import json, runpy, sys
report = sys.argv.pop(1)
sys.argv[0] = "billing-assistant"
try:
    runpy.run_module("integrations.cli.main", run_name="__main__", alter_sys=True)
finally:
    with open(report, "w", encoding="utf-8") as handle:
        json.dump(sorted(sys.modules), handle)
"""

# What a lookup in the code sets or the claims database has no use for.
HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "chromadb",
    "langchain",
    "langchain_core",
    "langgraph",
    "sklearn",
    "fastapi",
    "uvicorn",
    "slack_bolt",
    "mcp",
    "reportlab",
    "docx",
    "assistant.service",
    "assistant.router",
    "assistant.planner",
    "knowledge.documents",
)


def run_cli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `billing-assistant ARGS` in a fresh process; its outcome and the modules it imported."""
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        check=False,
    )
    return done, set(json.loads(report.read_text(encoding="utf-8")))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if any(name == h or name.startswith(h + ".") for h in HEAVY))


@pytest.fixture
def claims_home(home_cache: Path, isolated_environment: Path) -> str:
    """The test's HOME with a migrated database holding a small demo practice; a claim number in it."""
    engine = make_engine(f"sqlite:///{isolated_environment / 'practice.db'}")
    upgrade(engine)
    with Session(engine) as session:
        seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=10, claims=20)
        session.commit()
        number = session.scalars(select(Claim.claim_number).order_by(Claim.id)).first()
    engine.dispose()
    assert number is not None
    return number


def test_codes_lookup_loads_no_model_and_no_database(tmp_path: Path, home_cache: Path, codesets: CodeSets) -> None:
    done, modules = run_cli(tmp_path, "codes", "lookup", "E11.65", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["code"] == "E11.65" and record["system"] == "icd10cm"
    assert done.stderr == ""  # no "Loading weights" bar or warning from a model it does not use
    assert heavy_in(modules) == []
    # It opens no database, so the ORM and the migrations are not imported either.
    assert not {m for m in modules if m.split(".")[0] in {"sqlalchemy", "alembic"}}
    # Only the `codes` command module was imported, not every command of the CLI.
    assert sorted(m for m in modules if m.startswith("integrations.cli.")) == [
        "integrations.cli.codes",
        "integrations.cli.common",
    ]


def test_claims_show_loads_no_model(tmp_path: Path, claims_home: str) -> None:
    done, modules = run_cli(tmp_path, "claims", "show", claims_home, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["claim_number"] == claims_home
    assert done.stderr == ""
    assert heavy_in(modules) == []


def test_a_command_failure_still_maps_to_its_exit_code(tmp_path: Path, claims_home: str) -> None:
    """The module of a lazily loaded command raises through the same `run()` mapping (exit 1, one line)."""
    done, _ = run_cli(tmp_path, "claims", "show", "999999")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: No claim '999999' in this practice."


def test_every_listed_command_resolves_to_itself() -> None:
    """`COMMANDS` names each top-level command where it is declared; a wrong entry would hide a command."""
    import typer

    from integrations.cli.main import COMMANDS, app

    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    assert isinstance(group, typer.core.TyperGroup)
    assert group.list_commands(ctx) == list(COMMANDS)
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name, name


def test_a_mistyped_command_is_suggested_without_loading_any_command(tmp_path: Path) -> None:
    done, modules = run_cli(tmp_path, "cods", "lookup", "E11.65")
    assert done.returncode == 2
    assert "Did you mean 'codes'?" in done.stderr
    # (The entry module itself runs as `__main__`.)
    assert [m for m in modules if m.startswith(("integrations.cli.", "integrations.mcp"))] == []


def test_ask_embeds_the_question_without_torch_and_prints_nothing_on_stderr(
    tmp_path: Path, claims_home: str, home_cache: Path, shared_cache_dir: Path
) -> None:
    """`ask` needs the router's embedding of the question, but not torch, transformers or
    sentence-transformers to make it (the numpy runtime of the shipped model), nor the vector store for a
    claim's status; no "Loading weights" bar on stderr."""
    import shutil

    for router in (shared_cache_dir / "router").glob("router-*.pickle"):  # fitted once per test run
        shutil.copy2(router, home_cache / router.name)
    done, modules = run_cli(tmp_path, "ask", f"status of claim {claims_home}", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert [call["name"] for call in reply["tool_calls"]] == ["get_claim"]
    assert reply["tool_calls"][0]["arguments"] == {"claim_number": claims_home}
    assert done.stderr == ""
    never = {"torch", "transformers", "sentence_transformers", "chromadb"}
    assert sorted(m for m in modules if m.split(".")[0] in never) == []
