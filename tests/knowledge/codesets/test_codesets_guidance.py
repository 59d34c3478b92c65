"""Guidance passages for the knowledge base."""

from __future__ import annotations

from knowledge.codesets import CodeSets, iter_guidance_passages


def test_guidance_passages(codesets: CodeSets) -> None:
    passages = {p.doc_id: p for p in iter_guidance_passages(codesets)}
    e11 = passages["icd10cm-notes-e11"]
    assert e11.codes == ["E11"]
    assert "- type 1 diabetes mellitus (E10.-)" in e11.text
    assert e11.section_path[0].startswith("Chapter 4")
    assert e11.source == "ICD-10-CM FY2026 Tabular List (April 1, 2026 update)"
    assert "icd10cm-notes-chapter-1" in passages
    assert passages["carc-50"].codes == ["50"]
    assert "Start: 2002-05-30" in passages["rarc-n115"].text
    assert passages["hcpcs-proc-note-0234"].text == "CMS DOES NOT RECOGNIZE ATHLETIC TRAINERS AS PROVIDERS."
    assert len(set(p.doc_id for p in iter_guidance_passages(codesets))) == len(passages)
