"""The README's exit-code promise, through the console-script entry (`integrations.cli.main.run`).

0: done. 1: the request could not be done (a domain error, a problem found, any refused file of a
batch). 2: bad usage or a bad setting. 3: a bug. Nothing a person can type prints a traceback, and with
`--json` the failure is one JSON document on stdout too.

Most cases call `run()` in this process (what the console script calls); one runs the real console
script in a subprocess, so the entry point itself is covered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from integrations.cli import main as cli_main
from knowledge.practice.accounts import add_user
from knowledge.practice.database import make_engine, make_session_factory, session_scope, upgrade
from knowledge.practice.models import Practice, Role

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x12"
DEMO_837 = FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `billing-assistant ARGS...` as the console script does; its exit code and output."""

    def invoke(*args: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["billing-assistant", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            cli_main.run()
        out = capsys.readouterr()
        code = exited.value.code
        return Outcome(
            code=code if isinstance(code, int) else (0 if code is None else 1), stdout=out.out, stderr=out.err
        )

    return invoke


@pytest.fixture
def database(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database with the `demo` practice and one admin (no demo data: fast)."""
    url = f"sqlite:///{isolated_environment.parent / 'cli.db'}"
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        practice = Practice(slug="demo", name="Demo practice", npi="1234567893")
        session.add(practice)
        session.flush()
        add_user(session, practice_id=practice.id, email="admin@demo.example", name="A", role=Role.ADMIN, password=None)
    engine.dispose()
    return url


def assert_no_traceback(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.stderr + outcome.stdout
    assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr


# --- 0 and 1 -----------------------------------------------------------------------------------------


def test_an_x12_batch_with_one_refused_file_exits_1(cli, database: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    refused = tmp_path / "refused.835"
    refused.write_text("hello, not an interchange")
    outcome = cli("x12", "import", str(DEMO_837), str(refused))
    assert outcome.code == 1
    assert "1 errors" in outcome.stdout or "1 error" in outcome.stdout
    assert outcome.stderr.strip().startswith("error: ") and "refused.835" in outcome.stderr
    assert_no_traceback(outcome)

    as_json = cli("x12", "import", str(DEMO_837), str(refused), "--json")
    assert as_json.code == 1
    report = as_json.json()
    assert isinstance(report, dict) and report["summary"]["errors"] == 1

    good = cli("x12", "import", str(DEMO_837), "--json")
    assert good.code == 0, good.stderr  # already imported: nothing to do is not a failure


def test_x12_import_of_a_missing_file_exits_1(cli, database: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outcome = cli("x12", "import", str(tmp_path / "nowhere.835"))
    assert outcome.code == 1
    assert_no_traceback(outcome)


def test_codes_check_with_a_problem_exits_1(cli, home_cache: Path) -> None:  # type: ignore[no-untyped-def]
    clean = cli("codes", "check", "--dx", "E11.65", "--line", "99213", "--json")
    assert clean.code == 0, clean.stderr
    problem = cli("codes", "check", "--dx", "E11", "--line", "99213", "--json")  # E11 is a header, not billable
    assert problem.code == 1
    body = problem.json()
    assert isinstance(body, dict) and any(issue["severity"] == "error" for issue in body["issues"])
    text = cli("codes", "check", "--dx", "E11", "--line", "99213")
    assert text.code == 1


def test_a_domain_error_exits_1_with_json(cli, database: str) -> None:  # type: ignore[no-untyped-def]
    outcome = cli("claims", "show", "999999", "--json")
    assert outcome.code == 1
    assert outcome.json() == {"error": "not_found", "message": "No claim '999999' in this practice."}
    assert outcome.stderr.strip() == "error: No claim '999999' in this practice."


def test_a_file_that_cannot_be_written_exits_1(cli, database: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("x12", "import", str(DEMO_837)).code == 0  # claim 26463774
    (tmp_path / "a-file").write_text("a file, not a folder")
    target = tmp_path / "a-file" / "req.276"
    outcome = cli("x12", "status-request", "26463774", "--out", str(target), "--json")
    assert outcome.code == 1
    body = outcome.json()
    assert isinstance(body, dict) and body["error"] == "file_error" and "a-file" in body["message"]
    assert_no_traceback(outcome)


# --- 2: usage and settings -----------------------------------------------------------------------------


def test_an_invalid_choice_exits_2_in_one_line(cli, database: str) -> None:  # type: ignore[no-untyped-def]
    outcome = cli("users", "add", "new@demo.example", "--role", "frontdesk", "--no-password")
    assert outcome.code == 2
    assert_no_traceback(outcome)
    assert "--role" in outcome.stderr and "front_desk" in outcome.stderr

    as_json = cli("users", "add", "new@demo.example", "--role", "frontdesk", "--no-password", "--json")
    assert as_json.code == 2
    body = as_json.json()
    assert isinstance(body, dict) and body["error"] == "usage" and "--role" in body["message"]


def test_a_missing_argument_exits_2_in_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    outcome = cli("ask")
    assert outcome.code == 2
    assert_no_traceback(outcome)
    assert "question" in outcome.stderr.lower()
    as_json = cli("ask", "--json")
    assert as_json.code == 2 and as_json.json() == {"error": "usage", "message": as_json.json()["message"]}


def test_an_unknown_command_or_option_exits_2(cli) -> None:  # type: ignore[no-untyped-def]
    for args in (("frobnicate",), ("claims", "list", "--colour", "red"), ("users", "token", "a@b.c", "--days", "0")):
        outcome = cli(*args)
        assert outcome.code == 2, args
        assert_no_traceback(outcome)


def test_a_bad_setting_exits_2(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BILLING_ASSISTANT_LLM", "chatgpt")
    outcome = cli("claims", "list", "--json")
    assert outcome.code == 2
    assert "BILLING_ASSISTANT_LLM" in outcome.stderr
    assert_no_traceback(outcome)
    body = outcome.json()
    assert isinstance(body, dict) and body["error"] == "configuration"


def test_help_exits_0(cli) -> None:  # type: ignore[no-untyped-def]
    outcome = cli("--help")
    assert outcome.code == 0 and "Usage" in outcome.stdout


# --- 3: a bug --------------------------------------------------------------------------------------------


def test_a_bug_exits_3_and_json_says_internal(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from integrations.cli import setup

    def broken(*_args: object, **_kwargs: object) -> list[tuple[str, str, str]]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(setup, "settings_table", broken)
    outcome = cli("config", "--json")
    assert outcome.code == 3
    assert outcome.json() == {"error": "internal", "message": "unexpected failure (RuntimeError); see the log."}
    assert outcome.stderr.strip().splitlines()[-1] == "error: unexpected failure (RuntimeError); see the log."


# --- the console script itself ---------------------------------------------------------------------------


def test_the_console_script_keeps_the_promise(database: str, tmp_path: Path) -> None:
    refused = tmp_path / "refused.835"
    refused.write_text("not x12")
    env = dict(os.environ)
    command = [sys.executable, "-m", "integrations.cli.main"]
    usage = subprocess.run([*command, "ask"], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr, usage.stderr
    batch = subprocess.run(
        [*command, "x12", "import", str(refused), "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert batch.returncode == 1, batch.stderr
    assert json.loads(batch.stdout)["summary"]["errors"] == 1


def test_a_practice_of_your_own_then_its_first_user(cli, database: str) -> None:  # type: ignore[no-untyped-def]
    """Beyond the demo: `practices add`, then `users add --practice`; bad values and a taken slug exit 1."""
    made = cli("practices", "add", "northside", "--name", "Northside Pediatrics", "--npi", "1003000126", "--json")
    assert made.code == 0, made.stderr
    assert made.json() == {
        "id": made.json()["id"],
        "slug": "northside",
        "name": "Northside Pediatrics",
        "npi": "1003000126",
    }  # type: ignore[index]
    again = cli("practices", "add", "northside", "--name", "Other", "--json")
    assert again.code == 1 and again.json()["error"] == "conflict"  # type: ignore[index]
    bad_npi = cli("practices", "add", "south", "--name", "South", "--npi", "1234567890")
    assert bad_npi.code == 1 and "not a valid NPI" in bad_npi.stderr
    bad_slug = cli("practices", "add", "South Side", "--name", "South")
    assert bad_slug.code == 1 and "slug" in bad_slug.stderr
    user = cli("users", "add", "owner@northside.example", "--role", "admin", "--practice", "northside", "--no-password")
    assert user.code == 0, user.stderr
    listed = cli("practices", "list", "--json").json()
    assert isinstance(listed, list)
    row = next(p for p in listed if p["slug"] == "northside")
    assert (row["users"], row["patients"], row["claims"]) == (1, 0, 0)
    assert not any(p["slug"] == "south" for p in listed)  # refused ones left nothing behind


def test_import_prints_what_it_read_anyway(cli, database: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A bare ST..SE 835 (a portal download) is read with a synthesised envelope: the plain report says so."""
    text = (FIXTURES / "alshival" / "X221-multiple-claims-single-check.edi").read_text(encoding="latin-1")
    bare = tmp_path / "portal-download.835"
    bare.write_text(text[text.index("ST*835") : text.index("GE*")], encoding="latin-1")
    outcome = cli("x12", "import", str(bare))
    assert_no_traceback_anywhere(outcome)
    assert "warning:" in outcome.stdout and "no ISA/GS envelope" in outcome.stdout, outcome.stdout


def assert_no_traceback_anywhere(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.stderr + outcome.stdout


def test_codes_search_says_what_the_query_leaves_open(cli, home_cache: Path) -> None:  # type: ignore[no-untyped-def]
    plain = cli("codes", "search", "Pain, joint, knee", "--limit", "3")
    assert plain.code == 0
    assert "M25.569" in plain.stdout and "Which side?" in plain.stdout
    as_json = cli("codes", "search", "Pain, joint, knee", "--limit", "3", "--json")
    data = as_json.json()
    assert as_json.code == 0 and isinstance(data, dict)
    assert data["hits"][0]["code"] == "M25.569" and "M25.562" in data["ask"][0]
    nothing = cli("codes", "search", "zzqxv wvvq")
    assert nothing.code != 0 and "Traceback" not in nothing.stderr
