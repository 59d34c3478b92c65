"""Code search quality and speed: top-1/top-5 accuracy on coder-phrased queries, and lookup/search latency.

The dataset (`evals/codes/queries.csv`, columns ``query`` and ``code``) holds queries written the way
coders and billers type them, each with the code a coder would pick. Every expected code is checked
against the loaded files first (it must exist and be billable / valid), so the set cannot drift from them.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from knowledge.codesets import CodeSets, lookup, search_codes
from knowledge.embeddings import load_fast_erf
from knowledge.errors import AssistantError, InvalidInput, NotFound

DEFAULT_DATASET = Path(__file__).resolve().parent / "codes" / "queries.csv"
#: Issue 18's sets, each row marked ``dev`` (the search may be tuned on it) or ``holdout`` (never looked at
#: case by case: only its figures are printed). Index form: "Main term, subterm, subterm" as coders walk
#: the Alphabetic Index; lay terms: shorthand as front-desk staff type it.
INDEX_FORM_DATASET = Path(__file__).resolve().parent / "codes" / "index_form.csv"
LAY_TERMS_DATASET = Path(__file__).resolve().parent / "codes" / "lay_terms.csv"
SPLITS = ("dev", "holdout")


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def load_dataset(
    codesets: CodeSets, dataset: Path | None = None, *, split: str | None = None
) -> list[tuple[str, str, str]]:
    """(query, expected code, system) rows, only those of ``split`` when given (a file without a
    ``split`` column is all dev); raises InvalidInput naming any expected code that is not valid."""
    path = dataset or DEFAULT_DATASET
    rows: list[tuple[str, str, str]] = []
    problems: list[str] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=2):
            query, code = (row.get("query") or "").strip(), (row.get("code") or "").strip()
            row_split = (row.get("split") or "dev").strip()
            if row_split not in SPLITS:
                problems.append(f"line {line_no}: split must be one of {', '.join(SPLITS)}, not {row_split!r}")
                continue
            if split is not None and row_split != split:
                continue
            if not query or not code:
                problems.append(f"line {line_no}: empty query or code")
                continue
            try:
                record = lookup(codesets, code)
            except AssistantError as exc:
                problems.append(f"line {line_no}: {code}: {exc.message}")
                continue
            if record.billable is False:
                problems.append(f"line {line_no}: {code} is not billable")
                continue
            rows.append((query, record.code, record.system))
    if problems:
        raise InvalidInput(f"{path.name}: expected codes that are not valid: " + "; ".join(problems))
    return rows


def run_codes_eval(
    codesets: CodeSets, dataset: Path | None = None, *, semantic: bool = True, split: str | None = None
) -> dict[str, Any]:
    """Top-1 and top-5 accuracy per system, latency p50/p95 (ms), and the misses (never for holdout)."""
    rows = load_dataset(codesets, dataset, split=split)
    per_system: dict[str, dict[str, int]] = {}
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    used_semantic = False
    load_fast_erf()  # as the server does at its start (assistant.resources.warm_up)
    search_codes(codesets, "warm up", limit=5, semantic=semantic)  # model and vectors load once
    for query, expected, system in rows:
        started = time.perf_counter()
        try:
            result = search_codes(codesets, query, limit=5, semantic=semantic)
        except NotFound:  # nothing matched at all: a miss like any other
            codes: list[str] = []
        else:
            used_semantic = used_semantic or result.semantic
            codes = [hit.code for hit in result.hits]
        latencies.append((time.perf_counter() - started) * 1000)
        stats = per_system.setdefault(system, {"n": 0, "top1": 0, "top5": 0})
        stats["n"] += 1
        stats["top1"] += int(codes[:1] == [expected])
        stats["top5"] += int(expected in codes[:5])
        if codes[:1] != [expected] and split != "holdout":
            misses.append({"query": query, "expected": expected, "got": codes[:5], "top5": expected in codes})
    total = {key: sum(s[key] for s in per_system.values()) for key in ("n", "top1", "top5")}
    return {
        "queries": total["n"],
        "semantic": used_semantic,
        "top1": round(total["top1"] / max(1, total["n"]), 3),
        "top5": round(total["top5"] / max(1, total["n"]), 3),
        "systems": {
            name: {
                "n": s["n"],
                "top1": round(s["top1"] / s["n"], 3),
                "top5": round(s["top5"] / s["n"], 3),
            }
            for name, s in sorted(per_system.items())
        },
        "latency_ms": {"p50": round(_percentile(latencies, 0.5), 2), "p95": round(_percentile(latencies, 0.95), 2)},
        "misses": misses,
    }


def run_index_eval(codesets: CodeSets, *, semantic: bool = True) -> dict[str, Any]:
    """Issue 18's figures: index-form and lay-term queries, dev and holdout apart (holdout without misses)."""
    report: dict[str, Any] = {}
    for name, path in (("index_form", INDEX_FORM_DATASET), ("lay_terms", LAY_TERMS_DATASET)):
        report[name] = {split: run_codes_eval(codesets, path, semantic=semantic, split=split) for split in SPLITS}
    return report


def run_codes_bench(codesets: CodeSets, *, rounds: int = 200) -> dict[str, Any]:
    """Exact lookup and search latency (p50/p95, ms) and a cold load of the cache in a fresh process."""
    import subprocess
    import sys

    codes = ["E11.65", "e1165", "S72.001A", "I10", "G0439", "GA", "N115", "J44.1", "M54.50", "Z00.00"]
    queries = [query for query, _, _ in load_dataset(codesets)][:50]
    lookup_times: list[float] = []
    for i in range(rounds):
        started = time.perf_counter()
        lookup(codesets, codes[i % len(codes)])
        lookup_times.append((time.perf_counter() - started) * 1000)
    load_fast_erf()  # as the server does at its start
    search_codes(codesets, "warm up", limit=10)
    search_times: list[float] = []
    for query in queries:
        started = time.perf_counter()
        search_codes(codesets, query, limit=10)
        search_times.append((time.perf_counter() - started) * 1000)
    lexical_times: list[float] = []
    for query in queries:
        started = time.perf_counter()
        search_codes(codesets, query, limit=10, semantic=False)
        lexical_times.append((time.perf_counter() - started) * 1000)
    cold: float | None = None
    if codesets.cache_dir is not None:
        script = (
            "import time,sys;from pathlib import Path;t=time.perf_counter();"
            "from knowledge.codesets import load_codesets;load_codesets(Path(sys.argv[1]));"
            "print(time.perf_counter()-t)"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(codesets.cache_dir)], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            cold = round(float(done.stdout.strip().splitlines()[-1]), 3)
    return {
        "lookup_ms": {
            "p50": round(_percentile(lookup_times, 0.5), 3),
            "p95": round(_percentile(lookup_times, 0.95), 3),
        },
        "search_ms": {
            "p50": round(_percentile(search_times, 0.5), 2),
            "p95": round(_percentile(search_times, 0.95), 2),
        },
        "lexical_search_ms": {
            "p50": round(_percentile(lexical_times, 0.5), 2),
            "p95": round(_percentile(lexical_times, 0.95), 2),
        },
        "semantic": codesets.vector_index() is not None,
        "cold_load_seconds": cold,
    }


if __name__ == "__main__":  # python -m evals.codes_eval CACHE_DIR
    import argparse
    import json

    from knowledge.codesets import load_codesets

    parser = argparse.ArgumentParser(
        prog="python -m evals.codes_eval", description="Code search quality (top-1/top-5) and lookup speed."
    )
    parser.add_argument("cache_dir", type=Path, help="the code-set cache folder, e.g. HOME/cache")
    arguments = parser.parse_args()
    loaded = load_codesets(arguments.cache_dir)
    print(json.dumps(run_codes_eval(loaded), indent=2))
    index = run_index_eval(loaded)
    for name, splits in index.items():  # figures only: the holdout's misses are never printed
        for split, figures in splits.items():
            shown = {key: figures[key] for key in ("queries", "semantic", "top1", "top5", "latency_ms")}
            print(f"{name} {split}: {json.dumps(shown)}")
    print("index_form dev misses:", json.dumps(index["index_form"]["dev"]["misses"], indent=1))
    print(json.dumps(run_codes_bench(loaded), indent=2))


def run_codes_baselines(codesets: CodeSets, dataset: Path | None = None) -> dict[str, Any]:
    """The same queries against two baselines: a plain BM25 over the code descriptions (rank-bm25, no
    inclusion terms, index entries, abbreviations or typo handling), and dense-only search (the same
    embedding vectors, no lexical part; skipped when the vectors were not built)."""
    import re

    import numpy as np
    from rank_bm25 import BM25Okapi

    rows = load_dataset(codesets, dataset)
    systems = {system for _, _, system in rows}
    targets = [t for t in codesets.index.targets if t.system in systems]

    def tokens(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    bm25 = BM25Okapi([tokens(t.description) for t in targets])

    def score(ranked: list[list[str]]) -> dict[str, Any]:
        per: dict[str, dict[str, int]] = {}
        for (_, expected, system), codes in zip(rows, ranked, strict=True):
            stats = per.setdefault(system, {"n": 0, "top1": 0, "top5": 0})
            stats["n"] += 1
            stats["top1"] += int(codes[:1] == [expected])
            stats["top5"] += int(expected in codes[:5])
        n = sum(s["n"] for s in per.values())
        return {
            "top1": round(sum(s["top1"] for s in per.values()) / max(1, n), 3),
            "top5": round(sum(s["top5"] for s in per.values()) / max(1, n), 3),
            "systems": {
                k: {"top1": round(s["top1"] / s["n"], 3), "top5": round(s["top5"] / s["n"], 3)} for k, s in per.items()
            },
        }

    started = time.perf_counter()
    plain = []
    for query, _, _ in rows:
        scores = bm25.get_scores(tokens(query))
        plain.append([targets[i].code for i in np.argsort(-scores)[:5]])
    result: dict[str, Any] = {
        "bm25_plain": {
            **score(plain),
            "ms_per_query": round((time.perf_counter() - started) * 1000 / max(1, len(rows)), 1),
        }
    }
    vectors = codesets.vector_index()
    if vectors is None:
        result["dense_only"] = {"skipped": "vectors not built (run `billing-assistant init` with code vectors)"}
        return result
    from knowledge.embeddings import get_embedder

    encoder = get_embedder()
    dense = []
    target_ids = {id(t): i for i, t in enumerate(codesets.index.targets)}
    wanted = np.array([target_ids[id(t)] for t in targets])
    for query, _, _ in rows:
        similarities = vectors.similarities(encoder.encode([query])[0])[wanted]
        dense.append([targets[i].code for i in np.argsort(-similarities)[:5]])
    result["dense_only"] = score(dense)
    return result
