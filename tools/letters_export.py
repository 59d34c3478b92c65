"""Appeal letters as files to download: DOCX (python-docx) and PDF (reportlab).

Both take a filed letter (`tools.draft_appeal.AppealLetterView`, or anything with a ``title`` and a
``body``) and write its text as it stands, the person's edits included: the body is the letter, one
paragraph per line, lines starting "- " as list items.
"""

from __future__ import annotations

import io
from typing import Protocol
from xml.sax.saxutils import escape


class LetterText(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def body(self) -> str: ...


def file_name(letter: LetterText, extension: str) -> str:
    """A download name without patient fields: the title names only the kind, claim and payer."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in letter.title).strip("-")
    while "--" in safe:
        safe = safe.replace("--", "-")
    return f"{safe[:80] or 'appeal-letter'}.{extension}"


def to_docx(letter: LetterText) -> bytes:
    """The letter as a Word document."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    document.core_properties.title = letter.title
    for line in letter.body.splitlines():
        if line.startswith("- "):
            document.add_paragraph(line[2:], style="List Bullet")
        else:
            paragraph = document.add_paragraph(line)
            paragraph.paragraph_format.space_after = Pt(2)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def to_pdf(letter: LetterText) -> bytes:
    """The letter as a PDF (US Letter, 1-inch margins)."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    normal = styles["Normal"]
    bullet = styles["Normal"].clone("LetterBullet", leftIndent=14, bulletIndent=4)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=inch,
        rightMargin=inch,
        topMargin=inch,
        bottomMargin=inch,
        title=letter.title,
    )
    story: list[object] = []
    for line in letter.body.splitlines():
        if not line.strip():
            story.append(Spacer(1, 8))
        elif line.startswith("- "):
            story.append(Paragraph(escape(line[2:]), bullet, bulletText="•"))
        else:
            story.append(Paragraph(escape(line), normal))
    document.build(story)
    return buffer.getvalue()
