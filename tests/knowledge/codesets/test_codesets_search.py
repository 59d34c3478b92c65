"""Code search: lexical ranking over the real code sets, and semantic search on a small vector subset."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from knowledge.codesets import CodeSets, build_vectors, load_codesets, search_codes
from knowledge.errors import InvalidInput, NotFound


def codes_of(codesets: CodeSets, query: str, **kwargs: object) -> list[str]:
    return [hit.code for hit in search_codes(codesets, query, semantic=False, **kwargs).hits]  # type: ignore[arg-type]


def test_neoplasm_table_entry(codesets: CodeSets) -> None:
    result = search_codes(codesets, "neoplasm, colon, malignant primary", semantic=False)
    top = result.hits[0]
    assert (top.code, top.billable) == ("C18.9", True)
    assert "Table of Neoplasms" in top.reason


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type 2 diabetes with hyperglycemia", "E11.65"),
        ("htn", "I10"),
        ("diabtes mellitus type 2 with hyperglycemia", "E11.65"),  # typo
        ("annual wellness visit subsequent", "G0439"),
        ("accidental poisoning by aspirin initial encounter", "T39.011A"),
        ("COPD with acute exacerbation", "J44.1"),
    ],
)
def test_top_hit(codesets: CodeSets, query: str, expected: str) -> None:
    assert codes_of(codesets, query, limit=5)[0] == expected


def test_seventh_character_is_chosen_from_the_query(codesets: CodeSets) -> None:
    hits = search_codes(codesets, "fx neck of right femur initial encounter closed", semantic=False).hits
    assert hits[0].code == "S72.001A"
    assert "7th character A" in hits[0].reason


def test_system_filter_and_code_queries(codesets: CodeSets) -> None:
    assert {h.system for h in search_codes(codesets, "office", system="pos", semantic=False).hits} == {"pos"}
    assert codes_of(codesets, "office", system="pos")[0] == "11"
    assert codes_of(codesets, "e11.65")[0] == "E11.65"
    assert search_codes(codesets, "medical necessity", system="carc", semantic=False).hits[0].code == "50"


def test_results_are_real_codes(codesets: CodeSets) -> None:
    for hit in search_codes(codesets, "fracture", limit=50, semantic=False).hits:
        assert hit.code in codesets.icd.nodes or hit.billable  # 7th-character codes are derived


def test_bad_queries(codesets: CodeSets) -> None:
    with pytest.raises(InvalidInput):
        search_codes(codesets, "   ")
    with pytest.raises(InvalidInput, match="too long"):
        search_codes(codesets, "pain " * 100)
    with pytest.raises(NotFound):
        search_codes(codesets, "qzxv wqpl", semantic=False)
    with pytest.raises(InvalidInput):
        search_codes(codesets, "pain", limit=0)


@pytest.fixture(scope="module")
def small_vector_codesets(codesets_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CodeSets:
    """A private cache with vectors for a few hundred codes only (the full set takes minutes)."""
    cache = tmp_path_factory.mktemp("vector-cache")
    for pickle_file in codesets_cache_dir.glob("codesets-*"):
        shutil.copy2(pickle_file, cache / pickle_file.name)
    loaded = load_codesets(cache)
    prefixes = ("E11", "I10", "I50", "J44", "N39", "R07", "G043")
    count = build_vectors(cache, loaded, only=lambda t: t.code.startswith(prefixes))
    assert 50 < count < 400
    return load_codesets(cache)


def test_semantic_search_on_a_subset(small_vector_codesets: CodeSets) -> None:
    result = search_codes(small_vector_codesets, "high blood sugar in type two diabetic", limit=5)
    assert result.semantic is True
    assert "E11.65" in [hit.code for hit in result.hits]
    heart = search_codes(small_vector_codesets, "weak heart pump", system="icd10cm", limit=5)
    failure = [hit for hit in heart.hits if hit.code.startswith("I50")]
    assert failure and "close in meaning" in failure[0].reason
    assert "cosine" not in failure[0].reason  # said in words, not as a number


def test_the_search_index_is_read_only_when_a_search_needs_it(
    codesets: CodeSets, codesets_cache_dir: Path, tmp_path: Path
) -> None:
    """A look-up loads the code sets without their search index (four fifths of the cache); the first search
    reads it from its own file, and a missing index file is built again rather than failing."""
    from knowledge.codesets import lookup

    assert codesets.key  # the shared cache is built
    for cached in codesets_cache_dir.glob("codesets-*"):
        shutil.copy2(cached, tmp_path / cached.name)
    loaded = load_codesets(tmp_path)
    assert loaded._index is None  # not read by the load
    assert lookup(loaded, "E11.65").valid and loaded._index is None  # nor by a look-up
    assert search_codes(loaded, "type 2 diabetes with hyperglycemia", limit=1).hits[0].code == "E11.65"
    assert loaded._index is not None
    again = load_codesets(tmp_path)
    next(tmp_path.glob("codesets-*.index")).unlink()  # removed after the load: the search builds it again
    assert search_codes(again, "type 2 diabetes with hyperglycemia", limit=1).hits[0].code == "E11.65"


def test_the_cache_key_follows_file_content_not_modification_time(tmp_path: Path) -> None:
    """A fresh checkout gives every file a new mtime; the cache (and its minutes of vectors) must stay."""
    from knowledge.codesets.store import SOURCE_DIGESTS, cache_key

    source = tmp_path / "carc.csv"
    source.write_text("1,Deductible amount\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    key = cache_key({"carc": source}, cache_dir=cache)
    assert (cache / SOURCE_DIGESTS).exists()
    assert cache_key({"carc": source}) == key  # the remembered digest is the file's digest

    os.utime(source, ns=(1_000_000_000, 1_000_000_000))  # a checkout: same bytes, another time
    assert cache_key({"carc": source}, cache_dir=cache) == key

    source.write_text("1,Deductible amounT\n")  # same size, other content, new mtime
    os.utime(source, ns=(2_000_000_000, 2_000_000_000))
    changed = cache_key({"carc": source}, cache_dir=cache)
    assert changed != key
    assert cache_key({"carc": source}) == changed

    (cache / SOURCE_DIGESTS).write_text("{torn")  # an unreadable memo is computed again
    assert cache_key({"carc": source}, cache_dir=cache) == changed
