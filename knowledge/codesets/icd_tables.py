"""ICD-10-CM index tables: Table of Drugs and Chemicals, Table of Neoplasms, External Cause Index.

Each table becomes a flat list of entries: the path of index terms ("Neoplasm, neoplastic > colon"), the
column it comes from ("Malignant Primary") and the code in that cell. Cells without a code ("-", "--")
are skipped; a trailing dash ("C79.8-") means "see the subdivisions" and is kept as the header code.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from knowledge.codesets.icd10cm import normalize_icd
from knowledge.errors import FileFormatError

TABLE_FILES: dict[str, str] = {
    "neoplasm": "icd-10-cm-neoplasm-2025.xml",
    "drug": "icd-10-cm-drug-2025.xml",
    "external_cause": "icd-10-cm-eindex-2025.xml",
}
TABLE_TITLES: dict[str, str] = {
    "neoplasm": "ICD-10-CM Table of Neoplasms (FY2025)",
    "drug": "ICD-10-CM Table of Drugs and Chemicals (FY2025)",
    "external_cause": "ICD-10-CM External Cause of Injuries Index (FY2025)",
}


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One code found in an index table, with the terms that lead to it."""

    table: str  # neoplasm | drug | external_cause
    terms: tuple[str, ...]  # main term first, then each sub-term
    column: str | None  # the table column heading (None in the External Cause Index)
    code: str  # dotted, upper case; may be a header or need a 7th character

    @property
    def text(self) -> str:
        path = ", ".join(self.terms)
        return f"{path}, {self.column}" if self.column else path


def _title(element: ET.Element) -> str:
    title = element.find("title")
    if title is None:
        return ""
    return " ".join("".join(title.itertext()).split())


def _cell_code(raw: str) -> str | None:
    code = raw.strip().rstrip("-").rstrip(".").strip()
    if not code or not code[0].isalpha():
        return None
    return normalize_icd(code)


def parse_index_table(path: Path, table: str) -> list[IndexEntry]:
    """All code-bearing entries of one index table XML."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise FileFormatError(f"not a readable ICD-10-CM index XML ({exc})", path=str(path)) from exc
    if root.tag != "ICD10CM.index":
        raise FileFormatError("expected an <ICD10CM.index> document", path=str(path))
    headings = {head.get("col", ""): " ".join("".join(head.itertext()).split()) for head in root.iter("head")}
    entries: list[IndexEntry] = []

    def walk(element: ET.Element, trail: tuple[str, ...]) -> None:
        terms = (*trail, _title(element))
        for cell in element.iterfind("cell"):
            code = _cell_code(cell.text or "")
            if code:
                entries.append(IndexEntry(table, terms, headings.get(cell.get("col", "")), code))
        for code_element in element.iterfind("code"):
            code = _cell_code(code_element.text or "")
            if code:
                entries.append(IndexEntry(table, terms, None, code))
        for term in element.iterfind("term"):
            walk(term, terms)

    for letter in root.iterfind("letter"):
        for main_term in letter.iterfind("mainTerm"):
            walk(main_term, ())
    return entries


def parse_index_tables(folder: Path) -> list[IndexEntry]:
    """The three tables from ``folder`` (files named as CDC publishes them)."""
    entries: list[IndexEntry] = []
    for table, name in TABLE_FILES.items():
        path = folder / name
        if not path.exists():
            raise FileFormatError(f"missing ICD-10-CM index table {name}", path=str(folder))
        entries.extend(parse_index_table(path, table))
    return entries
