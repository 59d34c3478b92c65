"""ICD-10-CM Tabular List: chapters, blocks, categories and codes with every instructional note.

The FY2026 tabular XML ships inside the `simple-icd-10-cm` package; it is parsed here directly (ElementTree) so
that every note keeps the level it comes from. Codes that take a 7th character are stored once (the
tabular entry, e.g. S72.001); the 7th-character codes (S72.001A ...) are derived on demand from the
inherited ``sevenChrDef``, which keeps the cache small and cold loads fast.
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.errors import ConfigurationError, FileFormatError

TABULAR_XML_NAME = "icd10c-tabular-April-1-2026.xml"
TABULAR_SOURCE = "ICD-10-CM FY2026 Tabular List (April 1, 2026 update)"

# The XML tags of instructional notes, and the names used in answers.
NOTE_TAGS: dict[str, str] = {
    "includes": "includes",
    "inclusionTerm": "inclusion_term",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional_code",
    "codeAlso": "code_also",
    "notes": "note",
    "sevenChrNote": "seventh_character_note",
}

_ICD_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")


@dataclass(slots=True)
class IcdNode:
    """One entry of the tabular list (chapter, block, category, subcategory or code)."""

    code: str
    kind: str  # chapter | block | category | subcategory | code
    description: str
    parent: str | None
    children: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (note kind, text), this level only
    seventh: dict[str, str] | None = None  # this level's own 7th-character definitions


@dataclass(slots=True)
class Icd10cm:
    """The parsed tabular list, keyed by code (dotted, upper case)."""

    version: str
    nodes: dict[str, IcdNode]
    chapters: list[str]

    def seventh_chars(self, code: str) -> dict[str, str] | None:
        """The 7th-character definitions in force at ``code`` (its own or the nearest ancestor's)."""
        key: str | None = code
        while key is not None:
            node = self.nodes[key]
            if node.seventh is not None:
                return node.seventh
            key = node.parent
        return None

    def allowed_seventh(self, code: str) -> dict[str, str]:
        """The 7th characters valid on the tabular leaf ``code`` (empty when it takes none)."""
        table = self.seventh_chars(code) if self.needs_seventh(code) else None
        if not table:
            return {}
        plain = code.replace(".", "")
        # The S06 category note: "7th characters D and S do not apply to codes in category S06 with
        # 6th character 7 ... or 8"; it is prose in the XML, so it is applied here.
        if plain.startswith("S06") and len(plain) == 6 and plain[5] in "78":
            return {char: text for char, text in table.items() if char not in "DS"}
        return table

    def needs_seventh(self, code: str) -> bool:
        """True for a tabular leaf that is only billable with a 7th character."""
        node = self.nodes.get(code)
        return node is not None and not node.children and self.seventh_chars(code) is not None

    def ancestors(self, code: str) -> list[str]:
        """Parents from the nearest up to the chapter."""
        out: list[str] = []
        parent = self.nodes[code].parent
        while parent is not None:
            out.append(parent)
            parent = self.nodes[parent].parent
        return out


def default_tabular_path() -> Path:
    """The tabular XML inside the installed `simple-icd-10-cm` package.

    Found without importing the package: its import parses the whole XML (about two seconds).
    """
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("the simple-icd-10-cm package is not installed (it ships the ICD-10-CM XML)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / TABULAR_XML_NAME


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _node_kind(code: str, parent_kind: str) -> str:
    return "category" if parent_kind == "block" else "subcategory"


def parse_tabular(path: Path) -> Icd10cm:
    """Parse the ICD-10-CM tabular XML into nodes with their own notes and 7th-character tables."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise FileFormatError(f"not a readable ICD-10-CM tabular XML ({exc})", path=str(path)) from exc
    if root.tag != "ICD10CM.tabular":
        raise FileFormatError("expected an <ICD10CM.tabular> document", path=str(path))
    version = (root.findtext("version") or "").strip()
    nodes: dict[str, IcdNode] = {}
    chapters: list[str] = []

    def own_notes(element: ET.Element) -> tuple[list[tuple[str, str]], dict[str, str] | None]:
        notes: list[tuple[str, str]] = []
        seventh: dict[str, str] | None = None
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag in NOTE_TAGS:
                kind = NOTE_TAGS[tag]
                for note in child.iter("note"):
                    text = _text(note)
                    if text:
                        notes.append((kind, text))
            elif tag == "sevenChrDef":
                seventh = {}
                for ext in child.iter("extension"):
                    char = (ext.get("char") or "").strip().upper()
                    if char:
                        seventh[char] = _text(ext)
        return notes, seventh

    def add_diag(element: ET.Element, parent: IcdNode) -> None:
        code = (element.findtext("name") or "").strip().upper()
        if not code:
            raise FileFormatError(f"a <diag> under {parent.code} has no <name>", path=str(path))
        notes, seventh = own_notes(element)
        node = IcdNode(
            code=code,
            kind=_node_kind(code, parent.kind),
            description=" ".join((element.findtext("desc") or "").split()),
            parent=parent.code,
            notes=notes,
            seventh=seventh,
        )
        nodes[code] = node
        parent.children.append(code)
        for child in element.iterfind("diag"):
            add_diag(child, node)
        if parent.kind != "block":
            node.kind = "subcategory" if node.children else "code"

    for chapter in root.iterfind("chapter"):
        number = (chapter.findtext("name") or "").strip()
        key = f"Chapter {number}"
        notes, seventh = own_notes(chapter)
        chapter_node = IcdNode(
            code=key,
            kind="chapter",
            description=" ".join((chapter.findtext("desc") or "").split()),
            parent=None,
            notes=notes,
            seventh=seventh,
        )
        nodes[key] = chapter_node
        chapters.append(key)
        for section in chapter.iterfind("section"):
            block_id = (section.get("id") or "").strip().upper()
            # A one-category block shares its id with the category (B10): key it as a range.
            block_key = block_id if "-" in block_id else f"{block_id}-{block_id}"
            notes, seventh = own_notes(section)
            block = IcdNode(
                code=block_key,
                kind="block",
                description=" ".join((section.findtext("desc") or "").split()),
                parent=key,
                notes=notes,
                seventh=seventh,
            )
            nodes[block_key] = block
            chapter_node.children.append(block_key)
            for diag in section.iterfind("diag"):
                add_diag(diag, block)
    if len(nodes) < 1000:
        raise FileFormatError(f"only {len(nodes)} entries found; is this the tabular list?", path=str(path))
    return Icd10cm(version=version, nodes=nodes, chapters=chapters)


def normalize_icd(raw: str) -> str:
    """Upper case, no spaces, with the dot after the third character (e1165 -> E11.65)."""
    code = "".join(raw.split()).upper().replace(".", "")
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def looks_like_icd(raw: str) -> bool:
    """The shape of an ICD-10-CM code (category, with or without the dot, up to 7 characters)."""
    return bool(_ICD_SHAPE.match(normalize_icd(raw)))


@dataclass(frozen=True, slots=True)
class SeventhResolution:
    """What a 7-character code breaks down into."""

    base: str  # the tabular entry (e.g. S00.00 for S00.00XA)
    char: str
    meaning: str


def split_seventh(icd: Icd10cm, code: str) -> SeventhResolution | None:
    """If ``code`` is a valid 7th-character code (placeholders included), its base and character."""
    plain = code.replace(".", "")
    if len(plain) != 7:
        return None
    stem, char = plain[:6], plain[6]
    candidates = [stem]
    trimmed = stem
    while trimmed.endswith("X") and len(trimmed) > 3:
        trimmed = trimmed[:-1]
        candidates.append(trimmed)
    for candidate in candidates:
        base = normalize_icd(candidate)
        if base in icd.nodes and icd.needs_seventh(base):
            table = icd.allowed_seventh(base)
            if char in table and plain == base.replace(".", "").ljust(6, "X") + char:
                return SeventhResolution(base=base, char=char, meaning=table[char])
            return None
    return None


def seventh_code(base: str, char: str) -> str:
    """The full code for a base tabular entry and a 7th character, with X placeholders (S00.00 + A)."""
    return normalize_icd(base.replace(".", "").ljust(6, "X") + char)
