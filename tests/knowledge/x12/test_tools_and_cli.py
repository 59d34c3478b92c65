"""The tools (server-bound session and practice) and the `x12` command group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from integrations.cli.x12 import app
from knowledge.errors import InvalidInput
from knowledge.practice.database import make_engine, make_session_factory, session_scope, upgrade
from knowledge.practice.models import Practice
from tests.knowledge.x12.helpers import FIXTURES, new_practice
from tools.claim_status_request import claim_status_request
from tools.import_remittance import import_remittance
from tools.x12_exceptions import x12_exceptions

DEMO_837 = FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837"
UNMATCHED_835 = FIXTURES / "linuxforhealth" / "835_005010X221A1__managed-care.835"


def test_tools_import_list_and_request(engine: Engine, tmp_path: Path) -> None:
    sessions = make_session_factory(engine)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for source in (DEMO_837, UNMATCHED_835):
        (inbox / source.name).write_bytes(source.read_bytes())
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
        with pytest.raises(InvalidInput, match="outside the inbox"):
            import_remittance("../secret.835", session=session, practice_id=practice_id, inbox_dir=inbox)
        report = import_remittance(DEMO_837.name, session=session, practice_id=practice_id, inbox_dir=inbox)
        assert report.files[0].transactions[0].claims_created == 1
        report = import_remittance(UNMATCHED_835.name, session=session, practice_id=practice_id, inbox_dir=inbox)
        assert report.files[0].transactions[0].exceptions == 2
        queue = x12_exceptions(session=session, practice_id=practice_id)
        assert queue.total == 2 and {i.kind for i in queue.items} == {"unmatched_claim"}
        assert all("no claim matches patient control number" in i.reason for i in queue.items)
        result = claim_status_request(["26463774"], session=session, practice_id=practice_id, out_dir=tmp_path)
        assert Path(result.path).is_file() and result.claim_numbers == ["26463774"]


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker:  # type: ignore[type-arg]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        session.add(Practice(slug="demo", name="Demo practice", npi="1234567893"))
    return sessions


def test_cli_import_exceptions_and_status_request(cli_database: sessionmaker, tmp_path: Path) -> None:  # type: ignore[type-arg]
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(DEMO_837), str(UNMATCHED_835), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["imported"] == 2 and data["summary"]["exceptions"] == 2
    again = runner.invoke(app, ["import", str(DEMO_837), "--json"])
    assert json.loads(again.stdout)["summary"]["already_imported"] == 1
    text = runner.invoke(app, ["import", str(UNMATCHED_835), "--dry-run"])
    assert text.exit_code == 0 and "already imported" in text.stdout

    queue = runner.invoke(app, ["exceptions", "--json"])
    assert queue.exit_code == 0 and json.loads(queue.stdout)["total"] == 2

    out = tmp_path / "req.276"
    request = runner.invoke(app, ["status-request", "26463774", "--out", str(out), "--json"])
    assert request.exit_code == 0, request.output
    assert json.loads(request.stdout)["claim_numbers"] == ["26463774"] and out.read_text().startswith("ISA*")

    bad = tmp_path / "bad.835"
    bad.write_text("hello")
    failed = runner.invoke(app, ["import", str(bad), "--json"])
    assert failed.exit_code == 1 and "not an X12 interchange" in json.loads(failed.stdout)["files"][0]["error"]
