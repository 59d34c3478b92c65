"""Retrieval quality and speed of the knowledge base.

``run_retrieval_eval`` scores the question set in ``evals/retrieval/questions.jsonl``: each case names the
passage(s) that answer it (doc id, optionally a section) and, for payer and date cases, documents that
must not appear. It reports recall@5 and MRR for the hybrid ranking and for its BM25-only and dense-only
sides, the share of filter cases that leaked a forbidden document, and search latency.
``run_retrieval_bench`` times searches and ingest throughput.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from knowledge.documents import KnowledgeBase, Passage

DATASET = Path(__file__).resolve().parent / "retrieval" / "questions.jsonl"
#: Questions nothing on file answers (office chatter, clinical advice): the relevance floor must refuse them.
UNANSWERABLE = Path(__file__).resolve().parent / "retrieval" / "unanswerable.jsonl"
K = 5


def load_cases(dataset: Path | None = None) -> list[dict[str, Any]]:
    path = dataset or DATASET
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _matches(passage: Passage, expected: dict[str, Any]) -> bool:
    if passage.doc_id != expected["doc_id"]:
        return False
    section = expected.get("section")
    return section is None or section in passage.section_path


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def _score(kb: KnowledgeBase, cases: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    hits = 0
    reciprocal = 0.0
    leaks = 0
    filtered = 0
    latencies = []
    misses = []
    by_category: dict[str, list[int]] = {}
    for case in cases:
        on_date = dt.date.fromisoformat(case["date"]) if case.get("date") else None
        started = time.perf_counter()
        passages = kb.search(case["question"], payer=case.get("payer"), on_date=on_date, limit=K, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        rank = next((i for i, p in enumerate(passages, start=1) if any(_matches(p, e) for e in case["expected"])), None)
        hits += rank is not None
        reciprocal += 1.0 / rank if rank else 0.0
        by_category.setdefault(case.get("category", "other"), []).append(1 if rank else 0)
        if rank is None:
            misses.append({"id": case["id"], "question": case["question"], "got": [p.doc_id for p in passages]})
        if case.get("forbidden"):
            filtered += 1
            leaks += any(p.doc_id in case["forbidden"] and p.in_force is not False for p in passages)
    n = len(cases) or 1
    return {
        "cases": len(cases),
        "recall_at_5": round(hits / n, 4),
        "mrr": round(reciprocal / n, 4),
        "filter_cases": filtered,
        "filter_leaks": leaks,
        "recall_by_category": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_category.items())},
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_ms_p95": round(_percentile(latencies, 0.95), 1),
        "misses": misses,
    }


def run_retrieval_eval(kb: KnowledgeBase, dataset: Path | None = None) -> dict[str, Any]:
    """Recall@5 and MRR of hybrid search, with BM25-only and dense-only baselines, and latency."""
    cases = load_cases(dataset)
    kb.search("warm up", limit=1)  # loads the model and the BM25 index outside the timings
    hybrid = _score(kb, cases, "hybrid")
    lexical = _score(kb, cases, "lexical")
    dense = _score(kb, cases, "dense")
    return {
        "hybrid": hybrid,
        "bm25_only": {k: v for k, v in lexical.items() if k != "misses"},
        "dense_only": {k: v for k, v in dense.items() if k != "misses"},
        "relevance_floor": run_relevance_floor(kb, cases),
    }


def run_relevance_floor(kb: KnowledgeBase, cases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """How the relevance floor splits answerable questions (kept) from unanswerable ones (refused)."""
    from knowledge.documents.retrieval import RELEVANCE_FLOOR

    answerable = [c["question"] for c in (cases if cases is not None else load_cases())]
    unanswerable = [c["question"] for c in load_cases(UNANSWERABLE)]

    def nearest(question: str) -> float:
        hits = kb.retriever.dense_hits(question, payer_keys=None, k=1)
        return hits[0][1] if hits else 0.0

    kept = [nearest(q) >= RELEVANCE_FLOOR for q in answerable]
    refused = [not kb.search(q, limit=5) for q in unanswerable]
    return {
        "floor": RELEVANCE_FLOOR,
        "answerable_kept": round(sum(kept) / len(kept), 4) if kept else 1.0,
        "unanswerable_refused": round(sum(refused) / len(refused), 4) if refused else 1.0,
        "unanswerable": len(unanswerable),
    }


BENCH_QUESTIONS = [
    "what is Aetna's timely filing limit?",
    "does Medicare want modifier 25 here?",
    "what does N115 mean for us?",
    "CO-16 with MA130, what do I do",
    "how do I send a corrected claim to Cigna",
    "telehealth place of service for a home visit",
    "prior auth missing for MRI denial 197",
    "who is primary, Medicare or the employer plan?",
]


def run_retrieval_bench(kb: KnowledgeBase, *, rounds: int = 5) -> dict[str, Any]:
    """Search p50/p95 over the shipped corpus, and ingest throughput (chunks/s) on a scratch index."""
    kb.search("warm up", limit=1)
    latencies = []
    for _ in range(rounds):
        for question in BENCH_QUESTIONS:
            started = time.perf_counter()
            kb.search(question, limit=5)
            latencies.append((time.perf_counter() - started) * 1000)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "docs"
        folder.mkdir()
        for i in range(8):
            sections = "\n\n".join(
                f"## Section {j}\n\nPractice note {i}.{j}: claims for service line {j} need the referral number "
                f"and the rendering NPI; appeals go to the payer within {30 + j} days of the remittance."
                for j in range(8)
            )
            (folder / f"note-{i}.md").write_text(f"# Practice note {i}\n\n{sections}\n", encoding="utf-8")
        scratch_kb = KnowledgeBase(Path(scratch) / "home", embedding_model=kb.embedding_model)
        report = scratch_kb.add([folder])
    return {
        "searches": len(latencies),
        "search_ms_p50": round(statistics.median(latencies), 1),
        "search_ms_p95": round(_percentile(latencies, 0.95), 1),
        "indexed_chunks": kb.store.count(),
        "ingest_chunks": report.chunks_written,
        "ingest_chunks_per_second": round(report.chunks_per_second, 1),
    }
