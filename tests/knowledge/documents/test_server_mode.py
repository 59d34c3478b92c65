"""The same knowledge base on a real Chroma server (`chroma run` on loopback)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from knowledge.documents import KnowledgeBase

POLICY = """---
title: Acme Health prior authorization
payer: Acme Health
payer_id: ACME1
effective_from: 2024-01-01
---
# Acme Health prior authorization

## Imaging

MRI and CT scans need prior authorization from Acme Health's radiology vendor.

## Therapy

Physical therapy needs authorization after the sixth visit.
"""


def test_add_search_and_remove_on_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    path = tmp_path / "acme-auth.md"
    path.write_text(POLICY, encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "home-a", chroma_url=chroma_server)
    assert kb.add([path]).added == ["practice/acme-auth"]
    assert not (tmp_path / "home-a" / "chroma").exists()  # nothing embedded in HOME

    hit = kb.search("does an MRI need prior auth", payer="ACME1", on_date=dt.date(2024, 5, 1))[0]
    assert (hit.doc_id, hit.section_path, hit.payer, hit.in_force) == (
        "practice/acme-auth",
        ["Imaging"],
        "Acme Health",
        True,
    )

    # Another HOME pointed at the same server sees the documents (its manifest is rebuilt from the chunks).
    other = KnowledgeBase(tmp_path / "home-b", chroma_url=chroma_server)
    [info] = [d for d in other.list() if d.doc_id == "practice/acme-auth"]
    assert (info.payer, info.payer_id, info.chunks) == ("Acme Health", "ACME1", 2)
    assert other.get_passage(hit.passage_id).text == hit.text

    assert kb.add([path]).unchanged == ["practice/acme-auth"]
    assert kb.remove(["practice/acme-auth"]).removed == ["practice/acme-auth"]
    assert KnowledgeBase(tmp_path / "home-c", chroma_url=chroma_server).list() == []
