"""Exact lookup: recognise a code's system from its shape, normalise it, and build its full record."""

from __future__ import annotations

import re

from knowledge.codesets.cpt import cpt_category, looks_like_cpt
from knowledge.codesets.hcpcs import ACTION_CODES, COVERAGE_CODES, PRICING_INDICATORS, HcpcsRecord
from knowledge.codesets.icd10cm import IcdNode, normalize_icd, seventh_code, split_seventh
from knowledge.codesets.models import SYSTEM_ALIASES, SYSTEMS, CodeNote, CodeRecord, CodeRef
from knowledge.codesets.store import CodeSets
from knowledge.codesets.x12codes import X12Code
from knowledge.errors import InvalidInput, NotFound

MAX_CODE_LENGTH = 20
_PREFIXED = re.compile(r"^(ICD-?10(?:-CM)?|ICD|HCPCS|CPT|POS|CARC|RARC|MOD(?:IFIER)?|GROUP)[\s:#-]+(.+)$", re.I)
_PREFIX_SYSTEM = {"POS": "pos", "CARC": "carc", "RARC": "rarc", "CPT": "cpt", "HCPCS": "hcpcs", "GROUP": "group"}
_ICD_INPUT = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_HCPCS = re.compile(r"^[A-V][0-9]{4}$")
_CPT_MODIFIER = re.compile(r"^[0-9]{2}$")


def parse_system(system: str | None) -> str | None:
    """The canonical system name for what a person typed (None stays None)."""
    if system is None or not system.strip():
        return None
    wanted = system.strip().lower().replace(" ", "_")
    canonical = SYSTEM_ALIASES.get(wanted) or (wanted if wanted in SYSTEMS else None)
    if canonical is None:
        raise InvalidInput(f"Unknown code system {system!r}. Use one of: {', '.join(SYSTEMS)}.")
    return canonical


def clean_code(raw: str) -> tuple[str, str | None]:
    """The code in upper case without surrounding spaces, and a system named in a prefix ("POS 11")."""
    if raw is None or not str(raw).strip():
        raise InvalidInput("No code given: pass a code such as E11.65, G0439, 99214, GA, CO-45 or N115.")
    text = " ".join(str(raw).split())
    if len(text) > MAX_CODE_LENGTH:
        raise InvalidInput(
            f"{text[:30]!r}... is too long for a code (at most {MAX_CODE_LENGTH} characters). "
            "To find a code from words, search instead."
        )
    match = _PREFIXED.match(text)
    hinted: str | None = None
    if match:
        prefix = match.group(1).upper()
        hinted = "icd10cm" if prefix.startswith("ICD") else "modifier" if prefix.startswith("MOD") else None
        hinted = hinted or _PREFIX_SYSTEM.get(prefix)
        text = match.group(2)
    return text.strip().upper(), hinted


def candidates(codesets: CodeSets, code: str) -> list[tuple[str, str]]:
    """Every (system, normalised code) the input can be, in the order a biller most likely means."""
    found: list[tuple[str, str]] = []
    plain = code.replace(" ", "")
    if _ICD_INPUT.match(plain):
        icd = normalize_icd(plain)
        if icd in codesets.icd.nodes or split_seventh(codesets.icd, icd):
            found.append(("icd10cm", icd))
    if "." not in plain:
        if plain in codesets.hcpcs:
            # With no dot, a HCPCS code is the likelier meaning (E0100 is a cane, not E01.00).
            found.insert(0, ("hcpcs", plain))
        if looks_like_cpt(plain):
            found.append(("cpt", plain))
        if plain in codesets.modifiers or _CPT_MODIFIER.match(plain):
            found.append(("modifier", plain))
        if plain in codesets.pos:
            found.append(("pos", plain))
        if plain in codesets.carc:
            found.append(("carc", plain))
        if plain in codesets.rarc:
            found.append(("rarc", plain))
        if plain in codesets.groups:
            found.append(("group", plain))
        if plain in codesets.status_categories:
            found.append(("claim_status_category", plain))
    # Two-digit numbers: place of service is what billers look up most, then CARC.
    order = {"pos": 0, "carc": 1} if _CPT_MODIFIER.match(plain) else {}
    found.sort(key=lambda item: order.get(item[0], -1) if order else 0)
    return found


def guess_system(codesets: CodeSets, code: str) -> str | None:
    """The system a code most likely belongs to (by shape and by what is loaded)."""
    text, hinted = clean_code(code)
    if hinted:
        return hinted
    found = candidates(codesets, text)
    return found[0][0] if found else None


def lookup(codesets: CodeSets, raw: str, system: str | None = None) -> CodeRecord:
    """The full record of one code; raises NotFound (with what was tried) or InvalidInput."""
    text, hinted = clean_code(raw)
    wanted = parse_system(system) or hinted
    found = candidates(codesets, text)
    if wanted == "icd10cm" and not any(s == "icd10cm" for s, _ in found):
        return _icd_missing(codesets, raw, normalize_icd(text))
    if wanted is not None:
        chosen = [item for item in found if item[0] == wanted]
        if not chosen:
            if wanted == "cpt" and looks_like_cpt(text.replace(" ", "")):
                chosen = [("cpt", text.replace(" ", ""))]
            else:
                others = ", ".join(SYSTEMS[s] for s, _ in found)
                hint = f" It is a valid {others} code." if others else ""
                raise NotFound(f"{text} is not a {SYSTEMS[wanted]} code in the loaded code sets.{hint}")
    else:
        chosen = found
    if not chosen:
        return _not_found(codesets, raw, text)
    system_name, code = chosen[0]
    record = _build_record(codesets, system_name, code, raw)
    record.also_in = [SYSTEMS[s] for s, _ in found if s != system_name]
    return record


def _not_found(codesets: CodeSets, raw: str, text: str) -> CodeRecord:
    plain = text.replace(" ", "")
    if _ICD_INPUT.match(plain):
        return _icd_missing(codesets, raw, normalize_icd(plain))
    if _HCPCS.match(plain):
        raise NotFound(f"{plain} is not in the HCPCS Level II file loaded ({codesets.sources['hcpcs']}).")
    raise NotFound(
        f"{text!r} is not a code of any loaded code set (ICD-10-CM, HCPCS, CPT, modifiers, CARC, RARC, "
        "POS, group codes). To find a code from a description, search instead."
    )


def _icd_missing(codesets: CodeSets, raw: str, code: str) -> CodeRecord:
    """An ICD-10-CM-shaped code that is not valid: say why (7th character, placeholder, unknown)."""
    icd = codesets.icd
    plain = code.replace(".", "")
    if len(plain) == 7:
        stem_code = normalize_icd(plain[:6].rstrip("X"))
        for base in (normalize_icd(plain[:6]), stem_code):
            if base in icd.nodes and icd.needs_seventh(base):
                allowed = icd.allowed_seventh(base)
                expected = seventh_code(base, plain[6])
                if plain[6] in allowed and expected != code:
                    reason = f"placeholder X missing: the valid code is {expected}"
                else:
                    reason = f"7th character {plain[6]!r} is not valid here; valid: {', '.join(allowed)}"
                raise NotFound(f"{code} is not a valid ICD-10-CM code: {reason}.")
    if len(plain) == 6 and normalize_icd(plain[:5]) in icd.nodes and icd.needs_seventh(normalize_icd(plain[:5])):
        base = normalize_icd(plain[:5])
        raise NotFound(
            f"{code} is not a valid ICD-10-CM code: {base} takes a 7th character after an X placeholder "
            f"(e.g. {seventh_code(base, next(iter(icd.allowed_seventh(base))))})."
        )
    parent = code
    while len(parent.replace(".", "")) > 3 and parent not in icd.nodes:
        parent = normalize_icd(parent.replace(".", "")[:-1])
    if parent in icd.nodes and parent != code:
        node = icd.nodes[parent]
        raise NotFound(
            f"{code} is not an ICD-10-CM code. The nearest existing code is {parent} "
            f"({node.description}); look it up to see its children."
        )
    raise NotFound(f"{code} is not an ICD-10-CM code (FY2026).")


def _build_record(codesets: CodeSets, system: str, code: str, raw: str) -> CodeRecord:
    if system == "icd10cm":
        return icd_record(codesets, code, raw)
    if system == "hcpcs":
        return _hcpcs_record(codesets, codesets.hcpcs[code], raw, "hcpcs")
    if system == "modifier":
        if code in codesets.modifiers:
            return _hcpcs_record(codesets, codesets.modifiers[code], raw, "modifier")
        return CodeRecord(
            system="modifier",
            system_name=SYSTEMS["modifier"],
            code=code,
            input=raw,
            description=None,
            kind="CPT modifier",
            valid=True,
            messages=["Numeric modifiers are CPT (Level I) modifiers; their descriptors are AMA content."],
        )
    if system == "cpt":
        description = codesets.cpt.get(code)
        messages = []
        if description is None:
            messages.append(
                "CPT descriptors are licensed by the AMA and are not shipped; a practice that owns a "
                "licence can load its file with `billing-assistant codes import-cpt FILE`."
            )
        attributes: dict[str, str | list[str]] = {}
        mue = codesets.ncci_edits().mue.get(code)
        if mue:
            attributes["mue_units"] = str(mue.units)
        return CodeRecord(
            system="cpt",
            system_name=SYSTEMS["cpt"],
            code=code,
            input=raw,
            description=description,
            kind=cpt_category(code),
            valid=description is not None or not codesets.cpt,
            attributes=attributes,
            messages=messages,
            source=codesets.sources.get("cpt", ""),
        )
    if system == "pos":
        place = codesets.pos[code]
        return CodeRecord(
            system="pos",
            system_name=SYSTEMS["pos"],
            code=code,
            input=raw,
            description=place.name,
            kind="place of service",
            valid=True,
            attributes={"definition": place.definition},
            source=codesets.sources["pos"],
        )
    tables: dict[str, dict[str, X12Code]] = {
        "carc": codesets.carc,
        "rarc": codesets.rarc,
        "group": codesets.groups,
        "claim_status_category": codesets.status_categories,
    }
    item = tables[system][code]
    status = "deactivated" if item.stop else "active"
    return CodeRecord(
        system=system,
        system_name=SYSTEMS[system],
        code=code,
        input=raw,
        description=item.description,
        kind=SYSTEMS[system],
        valid=True,
        status=status,
        dates={"start": item.start, "stop": item.stop, "last_modified": item.last_modified},
        attributes={"notes": item.notes} if item.notes else {},
        source=codesets.sources.get(system, "X12 code list"),
    )


def _ref(codesets: CodeSets, node: IcdNode) -> CodeRef:
    icd = codesets.icd
    billable = None if node.kind in ("chapter", "block") else (not node.children and not icd.needs_seventh(node.code))
    return CodeRef(code=node.code, description=node.description, kind=node.kind, billable=billable)


def icd_notes(codesets: CodeSets, code: str) -> list[CodeNote]:
    """The notes of a tabular entry and every ancestor, nearest first, each with its source level."""
    icd = codesets.icd
    chain = [code, *icd.ancestors(code)]
    notes: list[CodeNote] = []
    for source in chain:
        node = icd.nodes[source]
        for kind, text in node.notes:
            notes.append(CodeNote(kind=kind, text=text, level=node.kind, source_code=source))
    return notes


def icd_record(codesets: CodeSets, code: str, raw: str) -> CodeRecord:
    icd = codesets.icd
    seventh = split_seventh(icd, code) if code not in icd.nodes else None
    base = seventh.base if seventh else code
    node = icd.nodes[base]
    messages: list[str] = []
    children: list[CodeRef] = [_ref(codesets, icd.nodes[child]) for child in node.children]
    parents = [_ref(codesets, icd.nodes[p]) for p in icd.ancestors(base)]
    allowed = icd.allowed_seventh(base)
    if seventh:
        description = f"{node.description}, {seventh.meaning}"
        parents.insert(0, _ref(codesets, node))
        children = []
        kind, billable = "code", True
    else:
        description = node.description
        kind = node.kind
        billable = node.kind not in ("chapter", "block") and not node.children and not allowed
        if allowed:
            messages.append(
                f"{base} is not billable without a 7th character: "
                + ", ".join(f"{seventh_code(base, c)} ({t})" for c, t in allowed.items())
            )
            children = [
                CodeRef(code=seventh_code(base, c), description=f"{node.description}, {t}", kind="code", billable=True)
                for c, t in allowed.items()
            ]
        elif node.children and node.kind not in ("chapter", "block"):
            messages.append(f"{base} is a header: code to one of its {len(node.children)} subdivisions.")
    return CodeRecord(
        system="icd10cm",
        system_name=SYSTEMS["icd10cm"],
        code=code,
        input=raw,
        description=description,
        kind=kind,
        valid=True,
        billable=billable,
        parents=parents,
        children=children,
        notes=icd_notes(codesets, base),
        seventh_characters=dict(icd.seventh_chars(base) or {}) if allowed or seventh else {},
        messages=messages,
        source=codesets.sources["icd10cm"],
    )


def _hcpcs_record(codesets: CodeSets, record: HcpcsRecord, raw: str, system: str) -> CodeRecord:
    if record.terminated is not None:
        status = f"terminated (last valid date {record.terminated.isoformat()})"
    else:
        status = ACTION_CODES.get(record.action, "active") if record.action not in ("", "N") else "active"
    attributes: dict[str, str | list[str]] = {}
    if record.coverage:
        attributes["coverage"] = f"{record.coverage}: {COVERAGE_CODES.get(record.coverage, 'unknown')}"
    if record.betos:
        attributes["betos"] = record.betos
    if record.pricing_indicators:
        attributes["pricing_indicators"] = [
            f"{p}: {PRICING_INDICATORS.get(p, 'see the HCPCS record layout')}" for p in record.pricing_indicators
        ]
    if record.type_of_service:
        attributes["type_of_service"] = record.type_of_service
    if record.cross_references:
        attributes["cross_references"] = record.cross_references
    if record.action:
        attributes["action"] = f"{record.action}: {ACTION_CODES.get(record.action, 'unknown')}"
    if record.processing_note:
        note = codesets.proc_notes.get(record.processing_note, "")
        attributes["processing_note"] = f"{record.processing_note}: {note}".strip(": ")
    mue = codesets.ncci_edits().mue.get(record.code) if system == "hcpcs" else None
    if mue:
        attributes["mue_units"] = str(mue.units)
    return CodeRecord(
        system=system,
        system_name=SYSTEMS[system],
        code=record.code,
        input=raw,
        description=record.long_description,
        short_description=record.short_description,
        kind="HCPCS Level II modifier" if record.is_modifier else "HCPCS Level II code",
        valid=True,
        status=status,
        dates={"added": record.added, "action_effective": record.action_effective, "terminated": record.terminated},
        attributes=attributes,
        source=codesets.sources["hcpcs"],
    )
