"""CI's fast quality gate: the committed figures in evals/thresholds.json may not regress by more than the
margin. (The full runs, with embeddings for code search and the agent suite, are `billing-assistant eval`.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.codes_eval import run_codes_eval, run_index_eval
from evals.retrieval_eval import run_retrieval_eval
from evals.x12_eval import run_x12_eval
from knowledge.codesets import CodeSets
from knowledge.documents import KnowledgeBase

THRESHOLDS: dict[str, Any] = json.loads((Path(__file__).resolve().parents[2] / "evals/thresholds.json").read_text())
MARGIN = float(THRESHOLDS["margin"])


def _hold(figure: float, committed: float, name: str) -> None:
    assert figure >= committed - MARGIN, f"{name} fell to {figure} (committed {committed}, margin {MARGIN})"


def test_code_search_holds_its_figures(codesets: CodeSets) -> None:
    result = run_codes_eval(codesets, semantic=False)
    committed = THRESHOLDS["codes_lexical"]
    _hold(result["systems"]["icd10cm"]["top5"], committed["icd10cm_top5"], "ICD-10-CM top-5")
    _hold(result["systems"]["icd10cm"]["top1"], committed["icd10cm_top1"], "ICD-10-CM top-1")
    _hold(result["systems"]["hcpcs"]["top5"], committed["hcpcs_top5"], "HCPCS top-5")


def test_index_and_lay_code_search_hold_their_figures(codesets: CodeSets) -> None:
    result = run_index_eval(codesets, semantic=False)
    committed = THRESHOLDS["codes_index_lexical"]
    index, lay = result["index_form"], result["lay_terms"]
    _hold(index["dev"]["top1"], committed["index_dev_top1"], "index-form dev top-1")
    _hold(index["dev"]["top5"], committed["index_dev_top5"], "index-form dev top-5")
    _hold(index["holdout"]["top1"], committed["index_holdout_top1"], "index-form holdout top-1")
    _hold(index["holdout"]["top5"], committed["index_holdout_top5"], "index-form holdout top-5")
    _hold(lay["dev"]["top1"], committed["lay_dev_top1"], "lay-term dev top-1")
    _hold(lay["holdout"]["top1"], committed["lay_holdout_top1"], "lay-term holdout top-1")
    assert index["holdout"]["misses"] == []  # the holdout's cases are never shown


def test_retrieval_holds_its_figures(shipped_kb: KnowledgeBase) -> None:
    result = run_retrieval_eval(shipped_kb)
    committed = THRESHOLDS["retrieval_hybrid"]
    _hold(result["hybrid"]["recall_at_5"], committed["recall_at_5"], "retrieval recall@5")
    _hold(result["hybrid"]["mrr"], committed["mrr"], "retrieval MRR")
    assert result["hybrid"]["recall_at_5"] >= result["bm25_only"]["recall_at_5"], "hybrid must beat its baseline"


def test_every_835_fixture_posts_to_its_totals() -> None:
    result = run_x12_eval()
    assert result["files"] >= 37
    _hold(result["passed"] / result["files"], THRESHOLDS["x12"]["pass_rate"], "835 posting")
    assert result["failures"] == []
