"""Code-set guidance passages (knowledge.codesets.guidance) indexed next to the playbooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.documents import KnowledgeBase
from knowledge.documents.ingest import guidance_documents

guidance = pytest.importorskip("knowledge.codesets.guidance")


@pytest.fixture(scope="module")
def passages(shared_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    from knowledge.codesets import load_codesets

    cache = tmp_path_factory.mktemp("codesets")
    for pickle in (shared_cache_dir / "codesets").glob("codesets-*"):
        shutil.copy(pickle, cache)  # reuse the code-set tests' cache when it is current
    return list(guidance.iter_guidance_passages(load_codesets(cache)))


def test_every_guidance_passage_becomes_a_cited_document(passages: list[object]) -> None:
    documents = guidance_documents(passages)
    assert len(documents) == len({p.doc_id for p in passages})  # type: ignore[attr-defined]
    by_id = {d.meta.doc_id: d for d in documents}
    carc = by_id["carc-29"]
    assert carc.meta.kind == "guidance" and carc.meta.codes == ("29",)
    assert "time limit for filing" in carc.chunks[0].text
    assert all(d.chunks for d in documents)


def test_guidance_is_searchable_and_incremental(kb: KnowledgeBase, passages: list[object]) -> None:
    wanted = {"carc-29", "rarc-n115", "rarc-ma130"}
    subset = [p for p in passages if p.doc_id in wanted]  # type: ignore[attr-defined]
    icd = next(p for p in passages if p.doc_id.startswith("icd10cm-notes-") and "Excludes1" in p.text)  # type: ignore[attr-defined]
    report = kb.add_guidance([*subset, icd])
    assert sorted(report.added) == sorted([*wanted, icd.doc_id])  # type: ignore[attr-defined]
    assert kb.add_guidance([*subset, icd]).unchanged

    top = kb.search("what does remark code N115 mean")[0]
    assert top.doc_id == "rarc-n115" and top.url and "Local Coverage Determination" in top.text
    hit = kb.search(icd.text.splitlines()[0])[0]  # type: ignore[attr-defined]
    assert hit.doc_id == icd.doc_id and hit.section_path == icd.section_path  # type: ignore[attr-defined]
