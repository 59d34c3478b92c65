"""Building the search vectors while the server answers: resumable code vectors, a knowledge index that
says it is incomplete, and the background indexer's steps and progress (issue 17)."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from knowledge.codesets import build_vectors, load_codesets, search_codes
from knowledge.codesets import store as codeset_store
from knowledge.codesets.guidance import GuidancePassage
from knowledge.codesets.search import Target
from knowledge.codesets.store import load_vectors, vector_texts, vectors_are_current, vectors_checkpointed
from knowledge.documents import KnowledgeBase
from knowledge.embeddings import _LOCK as embeddings_lock
from knowledge.embeddings import get_embedder
from knowledge.indexing import BackgroundIndexer, IndexingStatus, IndexStep, PartStatus, shipped_indexer
from knowledge.progress import Progress

PREFIXES = ("E11", "I10", "I50", "J44")


def only_a_few(target: Target) -> bool:
    return target.code.startswith(PREFIXES)


class Stopped(Exception):
    """The build stopped half-way (the server was killed)."""


class HashEncoder:
    """The embedding model's stand-in: a fixed unit vector per text (a hash), counting what it embeds.
    ``fail_after`` texts, it raises, as a server killed half-way through a build stops embedding."""

    model_path = "/models/hash-encoder"

    def __init__(self, *, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> npt.NDArray[np.float32]:
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise Stopped
        self.embedded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.vstack(rows)


@pytest.fixture()
def private_cache(codesets_cache_dir: Path, tmp_path: Path) -> Path:
    """A copy of the shared code-set cache that a test may write vectors into."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for pickle_file in codesets_cache_dir.glob("codesets-*"):
        shutil.copy2(pickle_file, cache / pickle_file.name)
    return cache


def test_a_stopped_code_vector_build_is_never_read_as_complete_and_resumes(private_cache: Path) -> None:
    server_view = load_codesets(private_cache)  # what a server that started before the build holds
    texts, _ = vector_texts(server_view, only_a_few)
    assert len(texts) > 60

    stopped = HashEncoder(fail_after=45)
    with pytest.raises(Stopped):
        build_vectors(
            private_cache, load_codesets(private_cache), encoder=stopped, only=only_a_few, checkpoint=20, batch=10
        )
    # Two checkpoints of 20 were saved; the texts of the third were lost with the stop.
    assert len(stopped.embedded) == 40
    assert vectors_checkpointed(private_cache, server_view) == 40
    assert load_vectors(private_cache, server_view) is None
    assert server_view.vector_index() is None
    assert search_codes(server_view, "type 2 diabetes with hyperglycemia", limit=3).semantic is False

    resumed = HashEncoder()
    seen: list[tuple[int, int]] = []
    count = build_vectors(
        private_cache,
        load_codesets(private_cache),
        encoder=resumed,
        only=only_a_few,
        checkpoint=20,
        batch=10,
        progress=lambda _what, done, total: seen.append((done, total)),
    )
    assert count == len(texts)
    assert resumed.embedded == texts[40:]  # only what the stopped run had not checkpointed
    assert seen[-1] == (len(texts), len(texts)) and seen[0][0] >= 20
    assert not (private_cache / f"vectors-{server_view.key}.partial").exists()

    # The same vectors as one uninterrupted build, row for row.
    whole = load_vectors(private_cache, server_view)
    assert whole is not None
    expected = HashEncoder().encode(texts).astype(np.float16)
    assert np.array_equal(whole.vectors, expected)

    again = HashEncoder()
    assert build_vectors(private_cache, load_codesets(private_cache), encoder=again, only=only_a_few) == len(texts)
    assert again.embedded == []  # current: nothing is embedded twice
    assert vectors_are_current(private_cache, server_view, only=only_a_few, encoder=again)
    assert not vectors_are_current(private_cache, server_view, encoder=again)  # the full set is another build


def test_a_server_picks_the_vectors_up_once_they_are_whole(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codeset_store, "VECTOR_RECHECK_SECONDS", 0.0)
    server_view = load_codesets(private_cache)
    assert server_view.vector_index() is None
    build_vectors(private_cache, load_codesets(private_cache), encoder=HashEncoder(), only=only_a_few)
    vectors = server_view.vector_index()
    assert vectors is not None and int((vectors.target_row >= 0).sum()) > 60


def test_vectors_that_disagree_with_their_row_keys_are_not_loaded(private_cache: Path) -> None:
    codesets = load_codesets(private_cache)
    build_vectors(private_cache, codesets, encoder=HashEncoder(), only=only_a_few)
    keys_file = private_cache / f"vectors-{codesets.key}.json"
    meta = json.loads(keys_file.read_text())
    assert load_vectors(private_cache, codesets) is not None
    meta["rows"] += 1  # a matrix from another (unfinished) build next to these keys
    keys_file.write_text(json.dumps(meta))
    assert load_vectors(private_cache, codesets) is None
    keys_file.write_text(keys_file.read_text()[:40])  # half-written
    assert load_vectors(private_cache, codesets) is None


# --- knowledge ------------------------------------------------------------------------------------------


def guidance(count: int) -> list[GuidancePassage]:
    """Guidance passages in three documents: more than one store batch (64), so a build saves midway."""
    return [
        GuidancePassage(
            doc_id=f"guidance/test-{i % 3}",
            title=f"Test guidance {i % 3}",
            section_path=[f"Section {i}"],
            text=f"Passage {i}: report the chronic kidney disease stage {i} with the hypertension code.",
            source="tests",
        )
        for i in range(count)
    ]


class StopAt:
    """A progress report that stops the build at a given count, as a killed server would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self, what: str, done: int, total: int) -> None:
        if done >= self.at:
            raise Stopped


def test_a_knowledge_index_stopped_half_way_says_so_until_a_build_finishes(shipped_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "kb-home"
    shutil.copytree(shipped_home, home)
    kb = KnowledgeBase(home)
    assert kb.index_state().state == "ready"
    with pytest.raises(Stopped):
        kb.build_shipped(guidance=guidance(70), progress=StopAt(64))
    reader = KnowledgeBase(home)  # another process, or the server's own knowledge base
    state = reader.index_state()
    assert (state.state, state.total) == ("building", 70)
    notes = reader.search_results("timely filing limit for Aetna").notes
    assert any("still being built" in note for note in notes)

    report = KnowledgeBase(home).build_shipped(guidance=guidance(70))
    assert sorted(report.added) == ["guidance/test-0", "guidance/test-1", "guidance/test-2"]
    assert reader.index_state().state == "ready"
    assert not any("still being built" in note for note in reader.search_results("timely filing limit").notes)
    passages = reader.search("chronic kidney disease stage 7 hypertension", limit=3)
    assert any(p.doc_id.startswith("guidance/test-") for p in passages)


def test_an_empty_home_has_no_index_and_says_so(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "empty")
    assert kb.index_state().state == "missing"


# --- the indexer ----------------------------------------------------------------------------------------


def test_the_indexer_runs_its_steps_in_order_and_reports_progress_and_failures() -> None:
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def knowledge(progress: Progress) -> object:
        order.append("knowledge")
        progress("Indexing", 3, 10)
        inside.set()
        assert release.wait(10)
        progress("Indexing", 10, 10)
        return "10 passages"

    def codes(progress: Progress) -> object:
        order.append("codes")
        raise OSError("disk full")

    indexer = BackgroundIndexer([IndexStep("knowledge", knowledge), IndexStep("codes", codes)])
    thread = indexer.start()
    assert indexer.start() is thread  # one thread, however often it is asked for
    assert thread.daemon
    assert inside.wait(10)
    building = indexer.status.get("knowledge")
    assert (building.state, building.done, building.total, building.step) == ("building", 3, 10, "Indexing")
    assert indexer.status.get("codes").state == "pending"
    assert not indexer.status.ready
    release.set()
    assert indexer.join(10)
    parts = indexer.status.snapshot()
    assert order == ["knowledge", "codes"]
    assert parts["knowledge"].state == "ready" and parts["knowledge"].seconds is not None
    assert parts["codes"].state == "failed" and parts["codes"].message == "OSError: disk full"
    assert indexer.status.ready  # nothing more will happen by waiting


def test_a_part_that_is_off_or_ready_is_not_built() -> None:
    ran: list[str] = []
    status = IndexingStatus(["knowledge", "codes"], initial={"codes": PartStatus(state="ready")})
    indexer = BackgroundIndexer(
        [IndexStep("knowledge", lambda p: ran.append("knowledge")), IndexStep("codes", lambda p: ran.append("codes"))],
        status=status,
    )
    indexer.run()
    assert ran == ["knowledge"]
    off = shipped_indexer(cache_dir=Path("unused"), codesets=None, knowledge_base=None)
    assert {name: part.state for name, part in off.status.snapshot().items()} == {"knowledge": "off", "codes": "off"}
    assert off.steps == [] and off.status.ready


def test_the_serve_indexer_embeds_into_the_servers_own_code_sets(private_cache: Path) -> None:
    """`serve` builds into the objects its searches read: semantic code search joins without a restart."""
    server_view = load_codesets(private_cache)
    encoder = HashEncoder()  # every code description (tens of thousands), so a stand-in for the model
    indexer = shipped_indexer(
        cache_dir=private_cache, codesets=lambda: server_view, knowledge_base=None, encoder=encoder
    )
    assert server_view.vector_index() is None
    indexer.run()
    codes = indexer.status.get("codes")
    assert codes.state == "ready" and codes.done == codes.total == len(encoder.embedded) > 50_000
    assert codes.step == "embedding code descriptions"
    assert server_view.vector_index() is not None
    server_view.encoder = encoder  # queries are embedded by the same stand-in
    assert search_codes(server_view, "type 2 diabetes with hyperglycemia", limit=3).semantic is True
    embedded = len(encoder.embedded)
    rerun = shipped_indexer(cache_dir=private_cache, codesets=lambda: server_view, knowledge_base=None, encoder=encoder)
    rerun.run()
    assert rerun.status.get("codes").state == "ready"
    assert len(encoder.embedded) == embedded  # current: nothing is embedded again


# --- the shared embedder --------------------------------------------------------------------------------


def test_a_long_embedding_call_lets_a_question_through_and_keeps_its_order() -> None:
    """The background indexer embeds thousands of texts while questions arrive: a question's embedding
    waits for one slice of the long call, not for all of it, and the long call's rows are as if embedded
    one by one."""
    embedder = get_embedder()
    texts = [f"claim {i} denied for {word} documentation" for i, word in enumerate(["missing", "late"] * 400)]
    texts[3] = "a much longer description of a chronic kidney disease stage four with hypertension and anemia"
    long_done = threading.Event()
    result: list[npt.NDArray[np.float32]] = []

    def long_call() -> None:
        result.append(embedder.encode(texts))
        long_done.set()

    worker = threading.Thread(target=long_call)
    worker.start()
    while not embeddings_lock.locked() and worker.is_alive():
        time.sleep(0.001)
    question = embedder.encode(["timely filing limit"])
    assert not long_done.is_set()  # the question was answered while the long call still had slices to go
    worker.join(120)
    vectors = result[0]
    assert vectors.shape == (len(texts), embedder.dimension)
    for i in (0, 3, 799):
        assert np.allclose(vectors[i], embedder.encode([texts[i]])[0], atol=1e-4)
    assert np.allclose(question[0], embedder.encode(["timely filing limit"])[0], atol=1e-5)


def test_vectors_of_another_cache_key_with_the_same_texts_are_reused_not_embedded_again(private_cache: Path) -> None:
    codesets = load_codesets(private_cache)
    texts, keys = vector_texts(codesets, only_a_few)
    first = HashEncoder()
    build_vectors(private_cache, codesets, encoder=first, only=only_a_few)
    assert len(first.embedded) == len(texts)
    before = load_vectors(private_cache, codesets)
    assert before is not None

    old_key = codesets.key
    codesets.key = "0123456789abcdef0123"  # the sets were parsed again (a parser bump), the texts are the same
    again = HashEncoder()
    assert build_vectors(private_cache, codesets, encoder=again, only=only_a_few) == len(texts)
    assert again.embedded == []
    assert not (private_cache / f"vectors-{old_key}.json").exists()  # taken over, not copied
    adopted = load_vectors(private_cache, codesets)
    assert adopted is not None and np.array_equal(adopted.vectors, before.vectors)
    assert json.loads((private_cache / f"vectors-{codesets.key}.json").read_text())["keys"] == keys

    other_texts = HashEncoder()  # another set of texts is another build: embedded, nothing adopted
    build_vectors(private_cache, codesets, encoder=other_texts, only=lambda t: t.code.startswith("I10"))
    assert other_texts.embedded
