"""`billing-assistant codes ...` end to end through typer, on a warm cache in the test's HOME."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from integrations.cli.codes import app
from knowledge.codesets import load_codesets
from tests.codeset_fixtures import PTP_SAMPLE

runner = CliRunner()


def test_lookup_json(home_cache: Path) -> None:
    result = runner.invoke(app, ["lookup", "e1165", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["code"], data["billable"]) == ("E11.65", True)


def test_search_and_check(home_cache: Path) -> None:
    result = runner.invoke(app, ["search", "neoplasm, colon, malignant primary", "--limit", "3", "--json"])
    assert json.loads(result.stdout)["hits"][0]["code"] == "C18.9"
    check = runner.invoke(
        app,
        [
            "check",
            "--dx",
            "E11.65",
            "--dx",
            "I10",
            "--line",
            "99214:25:1",
            "--line",
            "G0439::1",
            "--date",
            "2026-03-01",
            "--json",
        ],
    )
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["issues"] == []
    bad = runner.invoke(app, ["check", "--dx", "S72.001", "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["issues"][0]["kind"] == "seventh_character"


def test_imports_write_into_home(home_cache: Path, tmp_path: Path) -> None:
    cpt = tmp_path / "cpt.csv"
    cpt.write_text("code,description\n99214,Office visit established patient (test descriptor)\n")
    result = runner.invoke(app, ["import-cpt", str(cpt), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"codes": 1}
    assert (home_cache / "imports" / "cpt.csv").exists()
    assert load_codesets(home_cache).cpt["99214"].startswith("Office visit")
    ncci = runner.invoke(app, ["import-ncci", str(PTP_SAMPLE), "--json"])
    assert json.loads(ncci.stdout) == {"ptp_edits": 14, "mue_values": 0}
