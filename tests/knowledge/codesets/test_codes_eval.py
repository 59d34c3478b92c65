"""The committed eval set is valid against the files and meets the accuracy bar (lexical ranking)."""

from __future__ import annotations

from evals.codes_eval import load_dataset, run_codes_bench, run_codes_eval
from knowledge.codesets import CodeSets


def test_dataset_codes_exist_and_are_billable(codesets: CodeSets) -> None:
    rows = load_dataset(codesets)
    assert len(rows) >= 200
    assert sum(1 for _, _, system in rows if system == "icd10cm") >= 150


def test_eval_meets_the_bar_without_vectors(codesets: CodeSets) -> None:
    report = run_codes_eval(codesets, semantic=False)
    assert report["systems"]["icd10cm"]["top5"] >= 0.85
    assert set(report["latency_ms"]) == {"p50", "p95"}


def test_bench_reports_figures(codesets: CodeSets) -> None:
    report = run_codes_bench(codesets, rounds=20)
    assert report["lookup_ms"]["p50"] > 0
    assert report["cold_load_seconds"] is not None
