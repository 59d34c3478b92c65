"""`billing-assistant knowledge ...` commands and the `search_knowledge` tool."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from integrations.cli.knowledge import app
from knowledge.documents import KnowledgeBase
from tools.search_knowledge import search_knowledge

NOTE = "# Billing office notes\n\n## Statements\n\nPatient statements go out on the 5th of every month.\n"


def test_cli_add_list_search_remove(tmp_path: Path, isolated_environment: Path) -> None:
    path = tmp_path / "office-notes.md"
    path.write_text(NOTE, encoding="utf-8")
    runner = CliRunner()
    # --shared: documents every practice reads, which need no practice database (the practice-scoped
    # commands are tested in tests/security/test_practice_stores.py).
    added = runner.invoke(
        app, ["add", str(path), "--shared", "--payer", "Acme Health", "--effective-from", "2024-01-01", "--json"]
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["added"] == ["practice/office-notes"]

    listed = json.loads(runner.invoke(app, ["list", "--shared", "--json"]).stdout)
    assert [(d["doc_id"], d["payer"], d["effective_from"]) for d in listed] == [
        ("practice/office-notes", "Acme Health", "2024-01-01")
    ]

    found = runner.invoke(app, ["search", "when do statements go out", "--shared", "--date", "2024-02-01", "--json"])
    body = json.loads(found.stdout)
    assert body["passages"][0]["doc_id"] == "practice/office-notes"
    assert body["passages"][0]["section_path"] == ["Statements"]
    assert body["date_of_service"] == "2024-02-01"

    text = runner.invoke(app, ["search", "when do statements go out", "--shared"])
    assert "Billing office notes" in text.stdout and "office-notes" in text.stdout

    removed = runner.invoke(app, ["remove", str(path), "--shared", "--json"])
    assert json.loads(removed.stdout)["removed"] == ["practice/office-notes"]
    assert json.loads(runner.invoke(app, ["list", "--shared", "--json"]).stdout) == []
    # The index lives in the HOME the settings point at.
    assert (isolated_environment / "chroma").is_dir()


def test_cli_rejects_a_bad_date(isolated_environment: Path) -> None:
    result = CliRunner().invoke(app, ["search", "anything", "--date", "May 1st"])
    assert result.exit_code != 0
    assert "--date" in str(result.exception)


def test_search_knowledge_tool(shipped_kb: KnowledgeBase) -> None:
    results = search_knowledge(
        "does Medicare want modifier 25 here?", "Medicare Part B", dt.date(2025, 3, 3), knowledge_base=shipped_kb
    )
    assert results.payer == "Medicare Part B"
    assert results.date_of_service == dt.date(2025, 3, 3)
    top = results.passages[0]
    assert top.doc_id == "policies/medicare-part-b-modifiers"
    assert "Modifier 25" in top.section_path
    assert top.sample is True and top.url
    assert search_knowledge.__doc__ and "payer" in search_knowledge.__doc__
