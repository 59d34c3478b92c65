"""Loaders keep heading paths and pages; bad files raise FileFormatError naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.documents.chunking import MAX_CHARS, chunk_sections, split_text
from knowledge.documents.loaders import load_document
from knowledge.documents.models import DocumentMeta, Section
from knowledge.errors import FileFormatError
from tests.knowledge.documents.files import write_docx, write_pdf


def test_markdown_front_matter_and_heading_paths(tmp_path: Path) -> None:
    path = tmp_path / "policy.md"
    path.write_text(
        "---\ntitle: Referral rules\npayer: Cigna\neffective_from: 2024-01-01\n---\n"
        "# Referral rules\n\nIntro text.\n\n## Specialists\n\nReferral needed.\n\n### Exceptions\n\n"
        "OB/GYN visits.\n\n```\n# not a heading\n```\n\n## Imaging\n\nAuth needed.\n",
        encoding="utf-8",
    )
    document = load_document(path)
    assert document.title == "Referral rules"
    assert document.metadata["payer"] == "Cigna"
    assert [s.path for s in document.sections] == [
        (),
        ("Specialists",),
        ("Specialists", "Exceptions"),
        ("Imaging",),
    ]
    assert "# not a heading" in document.sections[2].text


def test_html_headings_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Front desk guide</title><script>var x;</script></head><body>"
        "<h1>Front desk guide</h1><h2>Check-in</h2><p>Scan the card.</p><ul><li>Verify <b>DOB</b></li></ul>"
        "<h2>Co-pays</h2><p>Collect at check-in.</p></body></html>",
        encoding="utf-8",
    )
    document = load_document(path)
    assert document.title == "Front desk guide"
    assert [(s.path, s.text) for s in document.sections] == [
        (("Check-in",), "Scan the card.\n- Verify DOB"),
        (("Co-pays",), "Collect at check-in."),
    ]


def test_docx_headings(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "manual.docx",
        title="Office manual",
        sections={"Refunds": ["Refund credit balances within 60 days."], "Statements": ["Monthly."]},
    )
    document = load_document(path)
    assert document.title == "Office manual"
    assert [(s.path, s.text) for s in document.sections] == [
        (("Refunds",), "Refund credit balances within 60 days."),
        (("Statements",), "Monthly."),
    ]


def test_pdf_pages(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "contract.pdf", [["Page one text."], ["Timely filing is 95 days."]], title="Contract")
    document = load_document(path)
    assert document.title == "Contract"
    assert [s.page for s in document.sections] == [1, 2]
    assert "95 days" in document.sections[1].text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.md", b"", "the file is empty"),
        ("blank.txt", b"   \n\n", "the file is empty"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "not a readable PDF file"),
        ("broken.docx", b"PK\x03\x04 not a zip", "not a readable DOCX file"),
        ("image.png", b"\x89PNG", "unsupported file type .png"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as caught:
        load_document(path)
    assert caught.value.path == str(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_chunks_stay_in_their_section_with_stable_ids() -> None:
    doc = DocumentMeta(doc_id="practice/x", title="X", source="x.md", kind="practice", content_hash="h")
    long_text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(12))
    sections = [Section(path=("A",), text=long_text), Section(path=("B",), text="Short.")]
    chunks = chunk_sections(doc, sections)
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert {c.section_path for c in chunks} == {("A",), ("B",)}
    assert chunks[-1].text == "Short."
    assert " ".join(split_text(long_text)).split() == long_text.split()  # nothing lost or repeated
    assert [c.passage_id for c in chunk_sections(doc, sections)] == [c.passage_id for c in chunks]
    assert len({c.passage_id for c in chunks}) == len(chunks)
