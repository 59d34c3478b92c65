"""The router: fitted on the descriptors' examples, calibrated on examples it was not fitted on, saved
and loaded whole, and honest about what it does not know."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from assistant import repair, router
from assistant.planner import OfflinePlanner
from assistant.registry import default_tool_specs
from tools.slots import read_slots

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def fitted() -> router.Router:
    return OfflinePlanner().router()


def test_every_tool_has_enough_varied_examples() -> None:
    for spec in default_tool_specs():
        assert len(spec.examples) >= 15, spec.name
        assert len(set(spec.examples)) == len(spec.examples), f"{spec.name} repeats an example"
        without_question_words = [e for e in spec.examples if not e.lower().startswith(("what", "why", "how", "can"))]
        assert len(without_question_words) >= 5, f"{spec.name}: write examples as staff type them"


def test_the_floor_is_fitted_on_examples_held_out_of_the_fit(fitted: router.Router) -> None:
    calibration = fitted.calibration
    assert calibration.examples > 500 and calibration.routes == len(default_tool_specs()) + 2
    assert 0.05 <= calibration.floor <= 0.9
    assert calibration.accuracy >= 0.8  # cross-validated, not on the examples it was fitted on
    assert calibration.accepted_precision >= calibration.accuracy  # the floor keeps the surer answers


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("remit for 1188 shows CO-97, what do i do", "explain_denial"),
        ("how much is still open on 1188", "get_claim"),
        ("need the icd for chronic kidney disease stage 3", "search_codes"),
        ("pt dropped off a $35 check for 1188", "post_patient_payment"),
        ("write a letter to appeal the denial on 1188", "draft_appeal"),
        ("uhc claims getting close to the filing limit", "timely_filing_risk"),
        ("can you get a prior auth started for her mri", repair.UNSUPPORTED),
        ("morning! what can this thing do", repair.HELP),
    ],
)
def test_new_phrasings_find_their_route(fitted: router.Router, text: str, route: str) -> None:
    top = fitted.rank(text, read_slots(text, today=TODAY))[0]
    assert top.route == route


def test_a_message_with_no_meaning_scores_below_the_floor(fitted: router.Router) -> None:
    ranked = fitted.rank("qwzx plorb vantic", read_slots("qwzx plorb vantic", today=TODAY))
    assert ranked[0].score < fitted.floor or ranked[0].route in {repair.HELP, repair.UNSUPPORTED}


def test_a_fitted_router_is_saved_and_loaded_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    routes = {"a": ["status of claim 1042", "claim 1500 status", "where is clm 2001"], "b": ["hi", "hello", "hey"]}
    routes = {name: examples * 3 for name, examples in routes.items()}  # enough for the folds

    def embed(texts):  # type: ignore[no-untyped-def]
        import numpy as np

        calls.append(len(texts))
        return np.asarray([[float("claim" in t or "clm" in t), float(len(t) < 6)] for t in texts], dtype="float32")

    monkeypatch.setattr(router, "_ROUTERS", {})
    first = router.shared_router(routes, embed, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("router-*.pickle"))) == 1
    monkeypatch.setattr(router, "_ROUTERS", {})  # a new process
    fitted_embeddings = len(calls)
    second = router.shared_router(routes, embed, cache_dir=tmp_path)
    assert len(calls) == fitted_embeddings  # loaded, not fitted again
    assert second.labels == first.labels and second.floor == first.floor
    assert second.rank("claim 1042?", read_slots("claim 1042?", today=TODAY))[0].route == "a"

    # Every change of examples saves another router: only the newest few are kept, this one among them.
    for age, name in enumerate(["router-old1.pickle", "router-old2.pickle", "router-old3.pickle"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1_000_000 + age, 1_000_000 + age))
    monkeypatch.setattr(router, "_ROUTERS", {})
    router.shared_router({**routes, "b": [*routes["b"], "good morning"]}, embed, cache_dir=tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("router-*.pickle"))
    assert len(kept) == router.SAVED_ROUTERS_KEPT and "router-old3.pickle" in kept and "router-old1.pickle" not in kept


@pytest.mark.parametrize("routes", [3, 2])
def test_the_numpy_scorer_gives_scikit_learns_probabilities(routes: int) -> None:
    """The saved router scores without scikit-learn: its numpy arithmetic must be the fitted pipeline's."""
    import numpy as np

    texts = {
        "status": ["status of claim 1042", "clm 1500 status??", "where is 2001 at", "did bcbs pay 1188 yet"],
        "codes": ["icd10 for gout", "dx code knee oa right", "asthma icd 10 pls", "E11.65 billable?"],
        "hello": ["hi", "hello there", "hey, what can u do", "good morning!"],
    }
    chosen = dict(list(texts.items())[:routes])
    written = [t for examples in chosen.values() for t in examples]
    y = np.asarray([i for i, examples in enumerate(chosen.values()) for _ in examples])
    slots = [read_slots(t, today=TODAY) for t in written]
    rng = np.random.default_rng(3)
    vectors = {router.value_kinds(t): rng.normal(size=8).astype("float32") for t in [*written, "claim 77 denid"]}

    def embed(batch):  # type: ignore[no-untyped-def]
        return np.stack([vectors[b] for b in batch])

    vectorizers = router._vectorizers(written)
    model = router._classifier().fit(router._features(written, slots, embed, vectorizers), y)
    scorer = router.LinearScorer.of(model, vectorizers)
    for text in [*written, "claim 77 denid"]:
        found = read_slots(text, today=TODAY)
        expected = model.predict_proba(router._features([text], [found], embed, vectorizers))[0]
        kinds = router.value_kinds(text)
        got = scorer.probabilities(vectors[kinds], kinds, router.slot_features(found))
        assert np.allclose(got, expected, atol=1e-9), text
