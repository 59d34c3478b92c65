"""Coding guidance passages for the knowledge base: ICD-10-CM instructional notes, HCPCS processing
notes, CARC and RARC texts. The document ingestion consumes ``iter_guidance_passages``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from knowledge.codesets.icd10cm import TABULAR_SOURCE
from knowledge.codesets.store import CodeSets

_NOTE_TITLES = {
    "includes": "Includes",
    "inclusion_term": "Inclusion terms",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional_code": "Use additional code",
    "code_also": "Code also",
    "note": "Notes",
    "seventh_character_note": "7th character",
}
_ICD_URL = "https://www.cdc.gov/nchs/icd/icd-10-cm/files.html"
_HCPCS_URL = "https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system/quarterly-update"
_CARC_URL = "https://x12.org/codes/claim-adjustment-reason-codes"
_RARC_URL = "https://x12.org/codes/remittance-advice-remark-codes"


@dataclass(frozen=True)
class GuidancePassage:
    """One passage of coding guidance, with the codes it is about."""

    doc_id: str
    title: str
    section_path: list[str]
    text: str
    source: str
    url: str | None = None
    codes: list[str] = field(default_factory=list)


def iter_guidance_passages(codesets: CodeSets) -> Iterator[GuidancePassage]:
    """ICD-10-CM notes at chapter, block and category level; HCPCS processing notes; CARC; RARC."""
    icd = codesets.icd
    for chapter_key in icd.chapters:
        chapter = icd.nodes[chapter_key]
        for node in (chapter, *(icd.nodes[b] for b in chapter.children)):
            levels = [node] if node.kind == "chapter" else [node, *(icd.nodes[c] for c in node.children)]
            for entry in levels:
                if not entry.notes and not entry.seventh:
                    continue
                lines = []
                for kind in _NOTE_TITLES:
                    texts = [text for k, text in entry.notes if k == kind]
                    if texts:
                        lines.append(f"{_NOTE_TITLES[kind]}:\n" + "\n".join(f"- {t}" for t in texts))
                if entry.seventh:
                    lines.append("7th characters:\n" + "\n".join(f"- {c}: {t}" for c, t in entry.seventh.items()))
                path = [f"{chapter.code}: {chapter.description}"]
                if entry.kind != "chapter":
                    block = entry if entry.kind == "block" else icd.nodes[entry.parent or ""]
                    path.append(f"{block.code}: {block.description}")
                if entry.kind == "category":
                    path.append(f"{entry.code}: {entry.description}")
                yield GuidancePassage(
                    doc_id=f"icd10cm-notes-{entry.code.replace(' ', '-').lower()}",
                    title=f"ICD-10-CM {entry.code if entry.kind == 'chapter' else entry.kind + ' ' + entry.code} "
                    f"{entry.description}: instructional notes",
                    section_path=path,
                    text=f"{entry.code} {entry.description}\n\n" + "\n\n".join(lines),
                    source=TABULAR_SOURCE,
                    url=_ICD_URL,
                    codes=[] if entry.kind == "chapter" else [entry.code],
                )
    by_note: dict[str, list[str]] = {}
    for code, record in codesets.hcpcs.items():
        if record.processing_note:
            by_note.setdefault(record.processing_note, []).append(code)
    for number, text in sorted(codesets.proc_notes.items()):
        if "NOTE DELETED" in text.upper():
            continue
        yield GuidancePassage(
            doc_id=f"hcpcs-proc-note-{number}",
            title=f"HCPCS processing note {number}",
            section_path=["HCPCS Level II", "Processing notes"],
            text=text,
            source=codesets.sources["hcpcs"],
            url=_HCPCS_URL,
            codes=sorted(by_note.get(number, [])),
        )
    for kind, table, url, name in (
        ("carc", codesets.carc, _CARC_URL, "Claim Adjustment Reason Code"),
        ("rarc", codesets.rarc, _RARC_URL, "Remittance Advice Remark Code"),
    ):
        for code, item in table.items():
            extra = []
            if item.start:
                extra.append(f"Start: {item.start.isoformat()}")
            if item.stop:
                extra.append(f"Stop: {item.stop.isoformat()}")
            if item.notes:
                extra.append(f"Notes: {item.notes}")
            yield GuidancePassage(
                doc_id=f"{kind}-{code.lower()}",
                title=f"{kind.upper()} {code}",
                section_path=[name + "s", code],
                text=f"{kind.upper()} {code}: {item.description}" + (f"\n{' | '.join(extra)}" if extra else ""),
                source=codesets.sources[kind],
                url=url,
                codes=[code],
            )
