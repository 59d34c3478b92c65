"""Adding, re-adding, replacing and removing the practice's own documents (embedded Chroma)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge.documents import KnowledgeBase
from knowledge.errors import FileFormatError, NotFound
from tests.knowledge.documents.files import write_docx, write_pdf

REFUND_POLICY = """---
title: Refund policy
topic: refunds
---
# Refund policy

## Credit balances

Refund patient credit balances within 60 days of identifying the overpayment.

## Insurance overpayments

Return insurance overpayments after the payer's recoupment letter, never before it is confirmed.
"""


def _stored_ids(kb: KnowledgeBase) -> list[str]:
    return sorted(c.passage_id for c in kb.store.get())


def test_add_folder_of_mixed_files_and_cite_them(kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "refunds.md").write_text(REFUND_POLICY, encoding="utf-8")
    write_docx(
        folder / "front-desk.docx",
        title="Front desk manual",
        sections={"Insurance cards": ["Scan both sides of the insurance card at every visit."]},
    )
    write_pdf(
        folder / "contract.pdf",
        [["Sample contract cover page."], ["Claims must be filed within 95 days."]],
        title="Acme Health contract",
    )
    (folder / ".hidden.md").write_text("# Hidden\n\nnot indexed", encoding="utf-8")

    report = kb.add([folder])

    assert sorted(report.added) == ["practice/contract", "practice/front-desk", "practice/refunds"]
    assert report.chunks_written == len(_stored_ids(kb)) == sum(d.chunks for d in kb.list())

    pdf_hit = kb.search("how many days to file claims under the Acme contract", limit=3)[0]
    assert (pdf_hit.doc_id, pdf_hit.page, pdf_hit.title) == ("practice/contract", 2, "Acme Health contract")
    assert pdf_hit.source == str((folder / "contract.pdf").resolve())

    docx_hit = kb.search("scan insurance card", limit=1)[0]
    assert (docx_hit.doc_id, docx_hit.section_path) == ("practice/front-desk", ["Insurance cards"])

    md_hit = kb.search("refund credit balance deadline", limit=1)[0]
    assert (md_hit.doc_id, md_hit.section_path, md_hit.topic) == ("practice/refunds", ["Credit balances"], "refunds")
    assert kb.get_passage(md_hit.passage_id).text == md_hit.text


def test_readding_unchanged_changed_and_removing(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "refunds.md"
    path.write_text(REFUND_POLICY, encoding="utf-8")
    kb.add([path])
    before = _stored_ids(kb)
    old_overpayment = kb.search("insurance overpayments recoupment", limit=1)[0]

    again = kb.add([path])
    assert (again.unchanged, again.added, again.replaced, again.chunks_written) == (["practice/refunds"], [], [], 0)
    assert _stored_ids(kb) == before

    path.write_text(REFUND_POLICY.replace("never before it is confirmed", "within 30 days"), encoding="utf-8")
    changed = KnowledgeBase(kb.home).add([path])  # a new instance reads the manifest from disk
    assert changed.replaced == ["practice/refunds"]
    assert changed.chunks_written == 1  # only the edited passage is embedded again
    after = _stored_ids(kb)
    assert len(after) == len(before)
    assert old_overpayment.passage_id not in after
    with pytest.raises(NotFound):
        kb.get_passage(old_overpayment.passage_id)
    assert "within 30 days" in kb.search("insurance overpayments recoupment", limit=1)[0].text

    removed = kb.remove([str(path)])
    assert removed.removed == ["practice/refunds"]
    assert kb.list() == []
    assert _stored_ids(kb) == []
    assert kb.search("refund credit balance") == []
    with pytest.raises(NotFound):
        kb.remove(["practice/refunds"])


def test_bad_file_leaves_the_index_unchanged(kb: KnowledgeBase, tmp_path: Path) -> None:
    good = tmp_path / "refunds.md"
    good.write_text(REFUND_POLICY, encoding="utf-8")
    kb.add([good])
    before = (_stored_ids(kb), kb.list())

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a-good.md").write_text("# Notes\n\nSome notes.", encoding="utf-8")
    (folder / "b-empty.txt").write_bytes(b"")
    with pytest.raises(FileFormatError) as caught:
        kb.add([folder])
    assert str(folder / "b-empty.txt") in str(caught.value)

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(FileFormatError, match=r"broken\.pdf"):
        kb.add([broken])
    assert (_stored_ids(kb), kb.list()) == before


def test_flags_override_front_matter_and_only_old_version_is_flagged(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "acme-filing.md"
    path.write_text("---\npayer: Someone Else\n---\n# Acme filing\n\nFile Acme claims within 95 days.\n", "utf-8")
    kb.add([path], payer="Acme Health", effective_from=dt.date(2020, 1, 1), effective_to=dt.date(2022, 12, 31))
    [info] = kb.list()
    assert (info.payer, info.effective_from, info.effective_to) == (
        "Acme Health",
        dt.date(2020, 1, 1),
        dt.date(2022, 12, 31),
    )

    in_force = kb.search("Acme filing limit", payer="Acme Health", on_date=dt.date(2021, 6, 1))[0]
    assert (in_force.in_force, in_force.note) == (True, None)

    results = kb.search_results("Acme filing limit", payer="acme health", on_date=dt.date(2024, 6, 1))
    [old] = results.passages
    assert old.in_force is False
    assert old.note is not None and "2022-12-31" in old.note
    assert any("not in force" in note for note in results.notes)

    unknown = kb.search_results("Acme filing limit", payer="Nobody Health")
    assert unknown.passages == []  # only general documents would be shown, and there are none
    assert "Acme Health" in unknown.notes[0]


def test_progress_reports_every_chunk(kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(5):
        sections = "\n\n".join(f"## Part {j}\n\nRule {i}.{j} for the front desk." for j in range(20))
        (folder / f"rules-{i}.md").write_text(f"# Rules {i}\n\n{sections}\n", encoding="utf-8")
    reports: list[tuple[str, int, int]] = []
    report = kb.add([folder], progress=lambda what, done, total: reports.append((what, done, total)))
    assert reports[0] == ("Indexing", 0, 100) and reports[-1] == ("Indexing", 100, 100) == (
        "Indexing",
        report.chunks_written,
        100,
    )
    done = [d for _, d, _ in reports]
    assert done == sorted(done) and len(reports) > 2  # several batches, never going backwards
    assert len(report.added) == 5 and kb.store.count() == 100
