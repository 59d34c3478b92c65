"""Hybrid search over the shipped playbooks and policies: payer and date filters, citations, eval."""

from __future__ import annotations

import datetime as dt
import re
import time

from evals.retrieval_eval import run_retrieval_bench, run_retrieval_eval
from knowledge.documents import KnowledgeBase, build_shipped_index


def test_payer_filter_keeps_that_payer_and_general_documents(shipped_kb: KnowledgeBase) -> None:
    for asked, payer in (
        ("Cigna", "Cigna"),
        ("87726", "UnitedHealthcare"),
        ("uhc", "UnitedHealthcare"),
        ("Medicare", "Medicare Part B"),
        ("BCBS1", "Blue Cross Blue Shield"),
    ):
        results = shipped_kb.search_results("timely filing limit for claims", payer=asked, limit=8)
        assert results.payer == payer
        assert {p.payer for p in results.passages} <= {payer, None}
        assert results.passages[0].payer == payer
        assert results.passages[0].topic == "timely-filing"


def test_payer_named_in_the_question_limits_the_search(shipped_kb: KnowledgeBase) -> None:
    results = shipped_kb.search_results("what is Aetna's timely filing limit?")
    assert results.payer == "Aetna"
    assert results.passages[0].doc_id == "policies/aetna-timely-filing-2024"
    assert {p.payer for p in results.passages} <= {"Aetna", None}


def test_date_of_service_picks_the_version_in_force(shipped_kb: KnowledgeBase) -> None:
    old = shipped_kb.search("Aetna timely filing limit", payer="Aetna", on_date=dt.date(2022, 6, 15), limit=8)
    ids = [p.doc_id for p in old]
    assert ids[0] == "policies/aetna-timely-filing-2019"
    assert "policies/aetna-timely-filing-2024" not in ids
    assert old[0].in_force is True and old[0].effective_to == dt.date(2023, 12, 31)

    new = shipped_kb.search("Aetna timely filing limit", payer="Aetna", on_date=dt.date(2024, 3, 1), limit=8)
    ids = [p.doc_id for p in new]
    assert ids[0] == "policies/aetna-timely-filing-2024"
    assert "policies/aetna-timely-filing-2019" not in ids

    telehealth = shipped_kb.search("telehealth place of service", payer="Medicare", on_date=dt.date(2021, 4, 1))
    assert telehealth[0].doc_id == "policies/medicare-part-b-telehealth-2020"
    assert all(p.doc_id != "policies/medicare-part-b-telehealth-2024" for p in telehealth)


def test_named_codes_find_their_playbook_with_a_citation(shipped_kb: KnowledgeBase) -> None:
    top = shipped_kb.search("got a CO-29 on the ERA, what do I do")[0]
    assert top.doc_id == "playbooks/carc-29"
    assert top.title.startswith("CARC 29")
    assert top.source == "knowledge/data/playbooks/carc-29.md"
    assert top.passage_id.startswith("playbooks.carc-29.")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", top.passage_id)
    assert "CARC 29" in top.citation
    n115 = shipped_kb.search("what does N115 mean for us?")
    assert any(p.doc_id == "playbooks/rarc-remark-codes" and p.section_path == ["RARC N115"] for p in n115)
    assert shipped_kb.get_passage(top.passage_id).text == top.text


def test_rebuild_after_no_change_is_nearly_free(shipped_kb: KnowledgeBase) -> None:
    started = time.perf_counter()
    report = build_shipped_index(shipped_kb)
    assert (report.added, report.replaced, report.removed, report.chunks_written) == ([], [], [], 0)
    assert len(report.unchanged) == len(shipped_kb.list()) > 90
    assert time.perf_counter() - started < 2.0


def test_retrieval_eval_meets_the_bar(shipped_kb: KnowledgeBase) -> None:
    result = run_retrieval_eval(shipped_kb)
    hybrid = result["hybrid"]
    assert hybrid["cases"] >= 150
    assert hybrid["recall_at_5"] >= 0.9
    assert hybrid["filter_cases"] >= 20 and hybrid["filter_leaks"] == 0
    assert hybrid["recall_by_category"]["date"] == 1.0
    assert hybrid["recall_by_category"]["payer"] == 1.0
    assert hybrid["mrr"] > result["dense_only"]["mrr"]


def test_retrieval_bench_reports_speed(shipped_kb: KnowledgeBase) -> None:
    bench = run_retrieval_bench(shipped_kb, rounds=1)
    assert bench["searches"] == 8 and bench["indexed_chunks"] == shipped_kb.store.count()
    assert 0 < bench["search_ms_p50"] <= bench["search_ms_p95"]
    assert bench["ingest_chunks"] == 64 and bench["ingest_chunks_per_second"] > 0


def test_nothing_is_returned_when_no_passage_is_about_the_question(shipped_kb: KnowledgeBase) -> None:
    """The relevance floor: office chatter gets no passage (so nothing is cited), a billing question does."""
    assert shipped_kb.search("what's the weather tomorrow", limit=5) == []
    assert shipped_kb.search("what is Aetna's timely filing limit?", limit=5)
    assert shipped_kb.search("CO-16 what now", limit=5)  # a named code on file is always answered
