"""`billing-assistant appeals ...` through the console-script entry (`integrations.cli.main.run`), on the
demo practice with the real code sets and the shipped knowledge index: draft, show, export (DOCX and
PDF), edit and mark sent, with the README's exit codes (0 done, 1 not done, 2 usage)."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.cli import main as cli_main
from knowledge.codesets import CodeSets
from knowledge.practice.accounts import add_user
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import AppealLetter, AuditRecord, Practice, Role

CLAIM = "1042"  # a denied claim of the demo practice
BILLER = "biller@demo.example"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(scope="module")
def appeals_home(
    tmp_path_factory: pytest.TempPathFactory, shipped_home: Path, codesets_cache_dir: Path, codesets: CodeSets
) -> Path:
    """A HOME with the shipped knowledge index, the built code sets and a small demo practice (plus another)."""
    home = tmp_path_factory.mktemp("cli-appeals") / "home"
    shutil.copytree(shipped_home, home)
    (home / "cache").mkdir(exist_ok=True)
    for pickle_file in codesets_cache_dir.glob("codesets-*"):
        shutil.copy2(pickle_file, home / "cache" / pickle_file.name)
    engine = make_engine(f"sqlite:///{home / 'practice.db'}")
    upgrade(engine)
    with Session(engine) as session:
        seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=30, claims=120)
        other = Practice(slug="other", name="Another practice")
        session.add(other)
        session.flush()
        add_user(session, practice_id=other.id, email="owner@other.example", name="O", role=Role.ADMIN, password=None)
        session.commit()
    engine.dispose()
    return home


@pytest.fixture
def cli(appeals_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `billing-assistant ARGS...` as the console script does, on the appeals HOME."""
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(appeals_home))
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", f"sqlite:///{appeals_home / 'practice.db'}")

    def invoke(*args: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["billing-assistant", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            cli_main.run()
        out = capsys.readouterr()
        code = exited.value.code
        return Outcome(code if isinstance(code, int) else (0 if code is None else 1), out.out, out.err)

    return invoke


def _letter(home: Path, letter_id: int) -> AppealLetter:
    engine = make_engine(f"sqlite:///{home / 'practice.db'}")
    with Session(engine) as session:
        letter = session.get(AppealLetter, letter_id)
        assert letter is not None
        session.expunge(letter)
    engine.dispose()
    return letter


def _audit_actions(home: Path, letter_id: int) -> list[tuple[str, str]]:
    engine = make_engine(f"sqlite:///{home / 'practice.db'}")
    with Session(engine) as session:
        rows = session.execute(
            select(AuditRecord.action, AuditRecord.outcome)
            .where(AuditRecord.entity == "appeal_letter", AuditRecord.entity_id == str(letter_id))
            .order_by(AuditRecord.id)
        ).all()
    engine.dispose()
    return [(action, outcome) for action, outcome in rows]


def test_draft_show_export_edit_and_send(cli, appeals_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    drafted = cli("appeals", "draft", CLAIM, "--new", "--json")
    assert drafted.code == 0, drafted.stderr
    letter = drafted.json()
    letter_id = letter["letter_id"]
    assert letter["claim_number"] == CLAIM and letter["status"] == "draft" and letter["reused"] is False
    again = cli("appeals", "draft", CLAIM, "--json")
    assert again.code == 0 and again.json()["letter_id"] == letter_id and again.json()["reused"] is True

    shown = cli("appeals", "show", str(letter_id), "--json")
    assert shown.code == 0, shown.stderr
    assert shown.json()["body"] == letter["body"] and shown.json()["claim_number"] == CLAIM
    text = cli("appeals", "show", str(letter_id))
    assert text.code == 0 and letter["body"].splitlines()[0] in text.stdout

    word_file, pdf_file = tmp_path / "letter.docx", tmp_path / "letter.pdf"
    exported = cli("appeals", "export", str(letter_id), "--format", "docx", "--out", str(word_file), "--json")
    assert exported.code == 0, exported.stderr
    assert exported.json() == {
        "letter_id": letter_id,
        "format": "docx",
        "path": str(word_file),
        "bytes": word_file.stat().st_size,
    }
    paragraphs = [p.text for p in docx.Document(io.BytesIO(word_file.read_bytes())).paragraphs]
    assert letter["body"].splitlines()[0] in paragraphs
    assert cli("appeals", "export", str(letter_id), "--format", "pdf", "--out", str(pdf_file)).code == 0
    assert pdf_file.read_bytes().startswith(b"%PDF")

    new_body = tmp_path / "body.txt"
    new_body.write_text(letter["body"] + "Reference: our file AB-77.\n", encoding="utf-8")
    edited = cli("appeals", "edit", str(letter_id), "--body-file", str(new_body), "--json")
    assert edited.code == 0, edited.stderr
    assert edited.json()["body"].endswith("Reference: our file AB-77.\n")
    assert _letter(appeals_home, letter_id).body == new_body.read_text(encoding="utf-8")

    sent = cli("appeals", "sent", str(letter_id), "--json")
    assert sent.code == 0, sent.stderr
    assert sent.json()["status"] == "sent" and _letter(appeals_home, letter_id).status == "sent"
    twice = cli("appeals", "sent", str(letter_id), "--json")
    assert twice.code == 1 and twice.json()["error"] == "conflict"
    late = cli("appeals", "edit", str(letter_id), "--body-file", str(new_body))
    assert late.code == 1 and late.stderr.startswith("error: ")

    assert _audit_actions(appeals_home, letter_id) == [
        ("draft_appeal", "ok"),
        ("draft_appeal", "ok"),
        ("get_appeal_letter", "ok"),
        ("get_appeal_letter", "ok"),
        ("download_appeal_letter", "ok"),
        ("download_appeal_letter", "ok"),
        ("edit_appeal_letter", "ok"),
        ("mark_appeal_sent", "ok"),
    ]


def test_only_the_author_changes_a_letter_and_other_practices_do_not_see_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    letter_id = cli("appeals", "draft", CLAIM, "--new", "--json").json()["letter_id"]
    body = tmp_path / "body.txt"
    body.write_text("My wording.\n", encoding="utf-8")
    colleague = cli("appeals", "edit", str(letter_id), "--body-file", str(body), "--user", BILLER, "--json")
    assert colleague.code == 1 and colleague.json()["error"] == "permission_denied"
    assert cli("appeals", "sent", str(letter_id), "--user", BILLER).code == 1
    assert cli("appeals", "show", str(letter_id), "--user", BILLER).code == 0  # same practice: may read

    other = cli("appeals", "show", str(letter_id), "--practice", "other", "--json")
    assert other.code == 1 and other.json()["error"] == "not_found"
    outside = tmp_path / "out.pdf"
    assert (
        cli("appeals", "export", str(letter_id), "--format", "pdf", "--out", str(outside), "--practice", "other").code
        == 1
    )
    assert not outside.exists()


def test_failures_exit_1_and_bad_usage_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    not_denied = cli("appeals", "draft", "1002", "--json")  # a paid claim: nothing to appeal
    assert not_denied.code == 1 and not_denied.json()["error"] == "invalid_input"
    missing = cli("appeals", "show", "999999", "--json")
    assert missing.code == 1 and missing.json()["error"] == "not_found"
    unreadable = cli("appeals", "edit", "1", "--body-file", str(tmp_path / "nowhere.txt"), "--json")
    assert unreadable.code == 1 and unreadable.json()["error"] == "file_error"
    for args in (
        ("appeals", "show", "abc"),
        ("appeals", "show", "0"),
        ("appeals", "show", "99999999999999999999"),
        ("appeals", "export", "1", "--format", "txt"),
        ("appeals", "draft", CLAIM, "--kind", "letter"),
        ("appeals", "edit", "1"),
        ("appeals",),
    ):
        outcome = cli(*args)
        assert outcome.code == 2, (args, outcome.code, outcome.stderr)
        assert "Traceback" not in outcome.stderr + outcome.stdout
