"""CMS Place of Service codes from the HL7 UTG FHIR CodeSystem XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import FileFormatError

_FHIR = "{http://hl7.org/fhir}"


@dataclass(frozen=True, slots=True)
class PlaceOfService:
    code: str
    name: str
    definition: str


def parse_pos(path: Path) -> dict[str, PlaceOfService]:
    """Every ``<concept>`` of the CodeSystem: two-digit code, display name and definition."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise FileFormatError(f"not a readable FHIR CodeSystem XML ({exc})", path=str(path)) from exc
    out: dict[str, PlaceOfService] = {}
    for concept in root.iter(f"{_FHIR}concept"):

        def value(tag: str, concept: ET.Element = concept) -> str:
            element = concept.find(f"{_FHIR}{tag}")
            return " ".join((element.get("value") or "").split()) if element is not None else ""

        code = value("code")
        if code:
            out[code] = PlaceOfService(code=code, name=value("display"), definition=value("definition"))
    if not out:
        raise FileFormatError("no <concept> entries", path=str(path))
    return out
