"""Read PDF, DOCX, HTML, Markdown and text files into sections that keep their heading path and page.

Every loader raises ``FileFormatError`` naming the file when it cannot read it or finds no text, so a
bad file never reaches the index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from knowledge.documents.models import LoadedDocument, Section
from knowledge.errors import FileFormatError

SUPPORTED_SUFFIXES = frozenset({".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".text"})

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_document(path: Path) -> LoadedDocument:
    """Read one file into a document; the loader is chosen by the file's suffix."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise FileFormatError(
            f"unsupported file type {suffix or '(none)'}; expected one of {', '.join(sorted(SUPPORTED_SUFFIXES))}",
            path=str(path),
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"cannot read the file ({exc.strerror})", path=str(path)) from None
    if not raw.strip():
        raise FileFormatError("the file is empty", path=str(path))
    try:
        document = loader(path, raw)
    except FileFormatError:
        raise
    except Exception as exc:  # the parsers raise many kinds; all mean "this file is not what it claims"
        raise FileFormatError(
            f"not a readable {suffix[1:].upper()} file ({type(exc).__name__}: {exc})", path=str(path)
        ) from None
    document.sections = [s for s in document.sections if s.text.strip()]
    if not document.sections:
        raise FileFormatError("no text found in the file", path=str(path))
    return document


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _title_from_path(path: Path) -> str:
    return re.sub(r"[_-]+", " ", path.stem).strip().capitalize() or path.name


class _Sections:
    """Collects a document's text under the headings in force (the same for Markdown, HTML and DOCX)."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []

    def line(self, text: str) -> None:
        self._lines.append(text)

    def heading(self, level: int, text: str) -> None:
        """Start a section; a top-level heading that repeats the title is not repeated in the path."""
        self.flush()
        if level == 1 and text == self.title and not self._stack:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))

    def flush(self) -> list[Section]:
        text = "\n".join(self._lines).strip()
        if text:
            self.sections.append(Section(path=tuple(h for _, h in self._stack), text=text))
        self._lines.clear()
        return self.sections


def split_markdown(body: str, title: str) -> list[Section]:
    """Sections under Markdown headings; a leading H1 equal to the title is not repeated in the path."""
    sections = _Sections(title)
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _MD_HEADING.match(line)
        if match is None:
            sections.line(line)
        else:
            sections.heading(len(match.group(1)), match.group(2).strip())
    return sections.flush()


def _load_markdown(path: Path, raw: bytes) -> LoadedDocument:
    import frontmatter

    post = frontmatter.loads(_decode(raw))
    metadata: dict[str, Any] = dict(post.metadata)
    body = str(post.content)
    title = str(metadata.get("title") or "")
    if not title:
        first = next(
            (m.group(2) for m in map(_MD_HEADING.match, body.splitlines()) if m and len(m.group(1)) == 1), None
        )
        title = first or _title_from_path(path)
    return LoadedDocument(title=title, sections=split_markdown(body, title), metadata=metadata)


def _load_text(path: Path, raw: bytes) -> LoadedDocument:
    text = _decode(raw)
    if "\x00" in text:
        raise FileFormatError("binary data in a text file", path=str(path))
    title = _title_from_path(path)
    return LoadedDocument(title=title, sections=[Section(path=(), text=text.strip())])


def _load_html(path: Path, raw: bytes) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(raw), "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript"]):
        tag.decompose()
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    root = soup.body or soup
    collected = _Sections(title)
    for element in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote"]):
        name = element.name or ""
        if name.startswith("h") and len(name) == 2:
            level, heading = int(name[1]), element.get_text(" ", strip=True)
            if not collected.title and level == 1:
                collected.flush()
                collected.title = title = heading
                continue
            collected.heading(level, heading)
        else:
            # Text nested in a list item or table cell is taken with its container, once.
            if element.find_parent(["li", "td", "th"] if name not in {"td", "th"} else ["li"]) is not None:
                continue
            text = element.get_text(" ", strip=True)
            if text:
                collected.line(f"- {text}" if name == "li" else text)
    sections = collected.flush()
    if not sections:
        body_text = root.get_text("\n", strip=True)
        sections = [Section(path=(), text=body_text)] if body_text else []
    return LoadedDocument(title=title or _title_from_path(path), sections=sections)


def _load_docx(path: Path, raw: bytes) -> LoadedDocument:
    import io

    import docx

    document = docx.Document(io.BytesIO(raw))
    title = str(document.core_properties.title or "")
    collected = _Sections()
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = str(paragraph.style.name if paragraph.style is not None else "")
        if style == "Title":
            title = title or text
            continue
        match = re.match(r"Heading (\d)", style)
        if match:
            collected.heading(int(match.group(1)), text)
        else:
            collected.line(text)
    sections = collected.flush()
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        table_text = "\n".join(r for r in rows if r.strip(" |"))
        if table_text:
            sections.append(Section(path=("Table",), text=table_text))
    return LoadedDocument(title=title or _title_from_path(path), sections=sections)


def _load_pdf(path: Path, raw: bytes) -> LoadedDocument:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(raw))
    title = ""
    if reader.metadata is not None and reader.metadata.title:
        title = str(reader.metadata.title)
    sections = [
        Section(path=(), text=(page.extract_text() or "").strip(), page=number)
        for number, page in enumerate(reader.pages, start=1)
    ]
    return LoadedDocument(title=title or _title_from_path(path), sections=sections)


_LOADERS: dict[str, Callable[[Path, bytes], LoadedDocument]] = {
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".txt": _load_text,
    ".text": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".docx": _load_docx,
    ".pdf": _load_pdf,
}
