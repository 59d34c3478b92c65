"""Scored understanding: which tool (or conversation pattern) a message asks for, and how sure we are.

Every route is a list of example requests: a tool's descriptor examples, and the conversation patterns of
`repair.py` (help/chitchat, requests no tool can do). A multinomial logistic regression is fitted on three
views of each example: the sentence embedding of the shipped all-MiniLM-L6-v2 model (meaning), character
and word n-grams of the text with its values replaced by their kind (typos and shorthand: "denid", "clm",
"w/o"), and the kinds of values the message names (a claim number, an amount, a code of each system, a
payer, a patient, a file). The best-scoring route wins, not the first rule that fires.

Confidence is the probability of the best route's family (the claim tools, the code tools, ...). The
confidence floor is fitted, not set by hand: cross-validated confidences over the examples show
how sure the model is when it is right and when it is wrong, and the floor is the one that keeps the
most right answers while a wrong one costs one and a half times as much (`_fit_floor`). Below the floor the
planner says what it did not understand and what it can do.

This follows Rasa's NLU-only pipeline (MiniLM features with a logistic regression) and semantic-router's
fitted thresholds; neither library is used directly because Rasa brings its own runtime and
semantic-router's routes do not take the lexical and value features that codes and claim numbers need.
scikit-learn does the fitting; a fitted router scores with numpy alone (`LinearScorer`), so a process that
loads a saved router does not import scikit-learn and SciPy (1.7 s of a cold `ask` on 2 cores).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pickle
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.slots import PAYER_ALIASES, Slots, expand_chat_shorthand

log = logging.getLogger("billing_assistant.router")

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]

# Values replaced by their kind before the n-grams are taken, so "claim 1042" and "claim 2001" read the same.
_VALUE_KINDS = [
    (re.compile(r"\$\s?\d[\d,]*(?:\.\d{1,2})?|\b\d+\.\d{2}\b"), " amount "),
    (re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"), " date "),
    (re.compile(r"\S+\.(?:835|edi|x12|txt|dat|277|837)\b", re.I), " file "),
    (re.compile(r"\b(?:CO|PR|OA|PI)\s*-?\s*[A-Z]?\d{1,3}(?:s|'s)?\b", re.I), " carc "),
    (re.compile(r"\b(?:MA\d{2,3}|N\d{1,3}|M\d{1,3})\b", re.I), " rarc "),
    (re.compile(r"\b[A-TV-Z]\d[0-9AB]\.?[0-9A-Z]{0,4}\b", re.I), " dxcode "),
    (re.compile(r"\b[A-V]\d{4}\b|\b\d{4}[0-9FTU]\b", re.I), " proccode "),
    (re.compile(r"\b\d{3,12}\b"), " number "),
    # Which payer is named does not change what is asked ("cigna timely filing" is "aetna timely filing"):
    # without this the n-grams learn the payers the examples happen to name.
    (
        re.compile(
            r"\b(?:" + "|".join(re.escape(a) for a in sorted(PAYER_ALIASES, key=len, reverse=True)) + r")(?:['’]?s)?\b",
            re.I,
        ),
        " payer ",
    ),
]


def value_kinds(text: str) -> str:
    """The text with shorthand written out and its values replaced by their kind: "post $40 on clm 1042"
    -> "post amount on claim number"."""
    out = expand_chat_shorthand(text)
    for pattern, kind in _VALUE_KINDS:
        out = pattern.sub(kind, out)
    return " ".join(out.lower().split())


def without_names(text: str, slots: Slots) -> str:
    """The text with the patient's name the message names written as "patient": which person is named does
    not change what is asked ("pull up emerson draftley" is "pull up patient"), and without this the
    n-grams and the embedding read a name as words ("draft" in Draftley)."""
    if not slots.patient_name or slots.extras.get("name_guessed"):
        return text
    return re.sub(re.escape(slots.patient_name), " patient ", text, flags=re.I)


def slot_features(slots: Slots) -> list[float]:
    """What kinds of values the message names (each 0 or 1)."""
    systems = {system for system, _ in slots.codes}
    words = len(slots.text.split())
    return [
        float(slots.named_claim),
        float(bool(slots.claim_numbers or slots.maybe_claims)),  # a year or a claim: decided after routing
        float(slots.amount is not None),
        float(slots.method is not None),
        float("icd10cm" in systems),
        float(bool(systems & {"hcpcs", "cpt"})),
        float("carc" in systems),
        float("rarc" in systems),
        float(bool(systems & {"modifier", "pos", "group"})),
        float(len(slots.medical_codes) >= 2),
        float(slots.payer is not None),
        float(slots.patient_name is not None),
        float(slots.birth_date is not None),
        float(slots.service_from is not None),
        float(slots.file_name is not None),
        float(words <= 3),
    ]


SLOT_WEIGHT = 2.0  # the value features against the 384 embedding dimensions and the n-grams
REGULARISATION = 20.0  # the logistic regression's C
WRONG_COST = 1.5  # what a wrong route costs against an honest "I'm not sure" (see _fit_floor)


@dataclass(frozen=True)
class RouteScore:
    route: str
    score: float


@dataclass
class Calibration:
    """How the router did on examples it was not fitted on (cross-validated), and the floor it chose."""

    examples: int
    routes: int
    accuracy: float
    floor: float
    accepted_precision: float
    accepted_share: float
    fit_seconds: float
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    # A route is given up for "I can't do that yet" when the `unsupported` route scores at least this share
    # of the best route's score (fitted like the floor; above 1: never).
    unsupported_ratio: float = 2.0


class Router:
    """A fitted router: `rank(text, slots)` scores every route."""

    def __init__(
        self,
        scorer: LinearScorer,
        embed: Embed,
        labels: list[str],
        calibration: Calibration,
        families: dict[str, str] | None = None,
    ):
        self.scorer = scorer
        self._embed = embed
        # Messages repeat their shape ("status of claim 1042", "status of claim 1043" are one text once the
        # values are replaced by their kind): the embedding, 40% of an offline turn, is kept for the last
        # few thousand shapes (1.5 MB per thousand). Deterministic, so a hit changes nothing but the time.
        self._embed_one = functools.lru_cache(maxsize=4096)(lambda kinds: embed([kinds])[0])
        self.labels = labels
        self.calibration = calibration
        self.families = families or {}

    def confidence(self, ranked: list[RouteScore]) -> float:
        """How sure the router is of its best route: the probability of the best route's family (the
        claim tools, the code tools, ...). Two claim tools sharing the mass ("what did mcr pay on 1009":
        status or denial?) is a sure claim question, and either answer shows the claim."""
        family = self.families.get(ranked[0].route, ranked[0].route)
        return sum(r.score for r in ranked if self.families.get(r.route, r.route) == family)

    @property
    def floor(self) -> float:
        return self.calibration.floor

    def honest(self, ranked: list[RouteScore]) -> list[RouteScore]:
        """The ranking with `unsupported` first when it comes close to the best route: "mark 1446 as
        resolved" scores a claim read first (the claim is named) with what no tool does close behind, and
        showing the claim would answer a question nobody asked. The ratio is fitted (see `_fit_ratio`)."""
        unsupported = next((r for r in ranked if r.route == UNSUPPORTED_ROUTE), None)
        if unsupported is None or ranked[0] is unsupported:
            return ranked
        if unsupported.score < self.calibration.unsupported_ratio * ranked[0].score:
            return ranked
        return [unsupported, *(r for r in ranked if r is not unsupported)]

    def rank(self, text: str, slots: Slots) -> list[RouteScore]:
        kinds = value_kinds(without_names(text, slots))
        probabilities = self.scorer.probabilities(self._embed_one(kinds), kinds, slot_features(slots))
        order = np.argsort(-probabilities)
        return [RouteScore(self.labels[i], float(probabilities[i])) for i in order]


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's default token_pattern
_WHITE_SPACES = re.compile(r"\s\s+")


def _word_ngrams(text: str, low: int, high: int) -> list[str]:
    """TfidfVectorizer(analyzer="word", ngram_range=(low, high)) on lowercased text, as scikit-learn 1.x
    builds it (`_word_ngrams`)."""
    tokens = _TOKEN.findall(text.lower())
    return [" ".join(tokens[i : i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """TfidfVectorizer(analyzer="char_wb") as scikit-learn 1.x builds it (`_char_wb_ngrams`): the n-grams
    of each space-padded word, a word shorter than n counted once."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:
                break
    return grams


@dataclass(frozen=True)
class _Tfidf:
    """A fitted TfidfVectorizer's vocabulary and idf (sublinear tf, l2 norm): what `transform` needs."""

    analyzer: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float64]

    @classmethod
    def of(cls, vectorizer: Any) -> _Tfidf:
        if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf and vectorizer.lowercase):
            raise ValueError("the numpy scorer reproduces sublinear, l2-normed, lowercased tf-idf only")
        return cls(
            vectorizer.analyzer,
            tuple(vectorizer.ngram_range),
            {str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
            np.asarray(vectorizer.idf_, dtype=np.float64),
        )

    def transform(self, text: str) -> npt.NDArray[np.float64]:
        grams = (_word_ngrams if self.analyzer == "word" else _char_wb_ngrams)(text, *self.ngram_range)
        counts: dict[int, int] = {}
        for gram in grams:
            column = self.vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        row = np.zeros(len(self.idf))
        if counts:
            columns = np.fromiter(counts, dtype=np.int64)
            row[columns] = (np.log(np.fromiter(counts.values(), dtype=np.float64)) + 1.0) * self.idf[columns]
            norm = float(np.sqrt(row @ row))
            if norm > 0:
                row /= norm
        return row


@dataclass(frozen=True)
class LinearScorer:
    """The fitted router's scoring with numpy alone: the features of `_features` (embedding, word and
    character tf-idf, value kinds) times the logistic regression's weights, softmaxed. Scikit-learn's
    TfidfVectorizer and LogisticRegression fit it; loading them back costs a process 1.7 s of imports
    (scikit-learn, SciPy) for one matrix product, so the arrays are kept instead. Written by hand because
    no library scores a fitted scikit-learn pipeline without importing it (ONNX conversion brings a
    runtime of its own); `tests/assistant/test_router.py` holds it to `predict_proba`."""

    words: _Tfidf
    chars: _Tfidf
    coef: npt.NDArray[np.float64]  # (routes, features)
    intercept: npt.NDArray[np.float64]
    classes: npt.NDArray[np.int64]  # the model's column -> the index into the router's labels

    @classmethod
    def of(cls, model: Any, vectorizers: Any) -> LinearScorer:
        words, chars = vectorizers
        return cls(
            _Tfidf.of(words),
            _Tfidf.of(chars),
            np.asarray(model.coef_, dtype=np.float64),
            np.asarray(model.intercept_, dtype=np.float64),
            np.asarray(model.classes_, dtype=np.int64),
        )

    def probabilities(
        self, embedding: npt.NDArray[np.float32], kinds: str, values: Sequence[float]
    ) -> npt.NDArray[np.float64]:
        """Each label's probability (indexed like the router's labels; a label the model never saw: 0)."""
        features = np.concatenate(
            [
                np.asarray(embedding, dtype=np.float32).astype(np.float64),
                self.words.transform(kinds),
                self.chars.transform(kinds),
                np.asarray(values, dtype=np.float32).astype(np.float64) * SLOT_WEIGHT,
            ]
        )
        scores = self.coef @ features + self.intercept
        if len(self.classes) == 2:  # two routes: one logistic, as LogisticRegression fits it
            second = 1.0 / (1.0 + np.exp(-scores[0]))
            shares = np.asarray([1.0 - second, second])
        else:  # multinomial: the softmax
            exponents = np.exp(scores - scores.max())
            shares = exponents / exponents.sum()
        out = np.zeros(int(self.classes.max()) + 1)
        out[self.classes] = shares
        return out


def _features(texts: Sequence[str], slots: Sequence[Slots], embed: Embed, vectorizers: Any) -> Any:
    from scipy.sparse import csr_matrix, hstack

    kinds = [value_kinds(t) for t in texts]
    dense = embed(list(kinds))
    values = np.asarray([slot_features(s) for s in slots], dtype=np.float32) * SLOT_WEIGHT
    words, chars = vectorizers
    return hstack([csr_matrix(dense), words.transform(kinds), chars.transform(kinds), csr_matrix(values)]).tocsr()


def _vectorizers(texts: Sequence[str]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    kinds = [value_kinds(t) for t in texts]
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit(kinds)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2).fit(kinds)
    return words, chars


def _classifier() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=REGULARISATION, max_iter=3000, class_weight="balanced")


UNSUPPORTED_ROUTE = "unsupported"  # assistant.repair.UNSUPPORTED (the router does not import the planner's side)


def _fit_ratio(
    top: npt.NDArray[np.float64],
    unsupported: npt.NDArray[np.float64],
    truth_unsupported: npt.NDArray[np.bool_],
    right: npt.NDArray[np.bool_],
) -> float:
    """The share of the best route's score at which `unsupported` takes over, chosen on out-of-fold scores:
    an in-scope request turned away costs one (the person asks again or rephrases), a request no tool does
    answered with a tool costs WRONG_COST, like the floor."""
    ratios = np.asarray([*np.linspace(0.2, 1.0, 17), 2.0])
    costs = []
    for ratio in ratios:
        turned = (unsupported >= ratio * top) & ~(top <= unsupported)
        costs.append(
            float(
                np.sum(turned & ~truth_unsupported)  # asked to rephrase what a tool does
                + WRONG_COST * np.sum(~turned & ~right & truth_unsupported)  # a tool's answer to what none does
                + np.sum(~turned & ~right & ~truth_unsupported)  # another tool (the same either way)
            )
        )
    # The cost is flat near its minimum (a few examples out of 1,800 either way), so its raw argmin jumps when
    # one example is added: the middle of the flat part (the cost averaged over +-0.1) is kept instead.
    smoothed = _smoothed(np.asarray(costs[:-1]), 2)
    best = float(ratios[int(np.argmin(smoothed))]) if min(smoothed) < costs[-1] - 1e-9 else 2.0
    return round(best, 3)


def _smoothed(values: npt.NDArray[np.float64], half_width: int) -> npt.NDArray[np.float64]:
    """Each value averaged with its neighbours up to `half_width` places either side (fewer at the ends)."""
    return np.asarray(
        [values[max(0, i - half_width) : i + half_width + 1].mean() for i in range(len(values))], dtype=np.float64
    )


def _fit_floor(probabilities: npt.NDArray[np.float64], right: npt.NDArray[np.bool_]) -> float:
    """The confidence floor that keeps the most right answers while a wrong one costs one and a half (an
    honest "I'm not sure" costs one: the person has to ask again). Not more: on the examples, wrong routes
    are nearly as confident as right ones (median 0.72 against 0.98), so a higher floor mostly turns away
    right answers (at a cost of two it refused 15% of them for 4 points of precision). A wrong route
    is a read that shows what it looked up (writes are only proposals a person confirms); what no tool
    does is the `unsupported` route's job, not the floor's."""
    floors = np.linspace(0.05, 0.9, 86)
    gains = np.asarray(
        [
            float(np.sum(right & (probabilities >= f)) - WRONG_COST * np.sum(~right & (probabilities >= f)))
            for f in floors
        ]
    )
    # As for the ratio: the middle of the flat top (the gain averaged over +-0.05), not its noisy argmax.
    return round(float(floors[int(np.argmax(_smoothed(gains, 5)))]), 3)


def fit_router(
    routes: dict[str, Sequence[str]],
    embed: Embed,
    *,
    today: Any,
    families: dict[str, str] | None = None,
    folds: int = 5,
    seed: int = 7,
) -> Router:
    """Fit on every route's examples; the floor and the calibration figures come from cross-validation."""
    import datetime as dt

    from sklearn.model_selection import StratifiedKFold

    from tools.slots import read_slots

    started = time.perf_counter()
    day = today if isinstance(today, dt.date) else dt.date.today()
    written = [text for examples in routes.values() for text in examples]
    labels_of = [name for name, examples in routes.items() for _ in examples]
    labels = sorted(routes)
    y = np.asarray([labels.index(name) for name in labels_of])
    slots = [read_slots(text, today=day) for text in written]
    texts = [without_names(text, found) for text, found in zip(written, slots, strict=True)]
    dense = embed([value_kinds(t) for t in texts])  # embed once; the folds reuse the vectors

    def cached(batch: Sequence[str]) -> npt.NDArray[np.float32]:
        index = {value_kinds(t): i for i, t in enumerate(texts)}
        rows = [index.get(b) for b in batch]
        if all(r is not None for r in rows):
            return dense[[r for r in rows if r is not None]]
        return embed(batch)

    out_of_fold = np.zeros(len(texts))
    predicted = np.zeros(len(texts), dtype=int)
    top_score = np.zeros(len(texts))
    unsupported_score = np.zeros(len(texts))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(texts, y):
        vectorizers = _vectorizers([texts[i] for i in train])
        model = _classifier().fit(
            _features([texts[i] for i in train], [slots[i] for i in train], cached, vectorizers), y[train]
        )
        probabilities = model.predict_proba(
            _features([texts[i] for i in test], [slots[i] for i in test], cached, vectorizers)
        )
        classes = list(model.classes_)
        family_of = [(families or {}).get(labels[c], labels[c]) for c in classes]
        unsupported_column = classes.index(labels.index(UNSUPPORTED_ROUTE)) if UNSUPPORTED_ROUTE in labels else None
        for row, i in enumerate(test):
            best = int(np.argmax(probabilities[row]))
            predicted[i] = classes[best]
            top_score[i] = probabilities[row][best]
            if unsupported_column is not None:
                unsupported_score[i] = probabilities[row][unsupported_column]
            out_of_fold[i] = sum(
                p for p, family in zip(probabilities[row], family_of, strict=True) if family == family_of[best]
            )
    right = predicted == y
    floor = _fit_floor(out_of_fold, right)
    ratio = (
        _fit_ratio(top_score, unsupported_score, y == labels.index(UNSUPPORTED_ROUTE), right)
        if UNSUPPORTED_ROUTE in labels
        else 2.0
    )
    accepted = out_of_fold >= floor
    confusions: dict[tuple[str, str], int] = {}
    for truth, guess in zip(y[~right], predicted[~right], strict=True):
        key = (labels[truth], labels[guess])
        confusions[key] = confusions.get(key, 0) + 1
    vectorizers = _vectorizers(texts)
    model = _classifier().fit(_features(texts, slots, cached, vectorizers), y)
    calibration = Calibration(
        examples=len(texts),
        routes=len(labels),
        accuracy=round(float(np.mean(right)), 4),
        floor=floor,
        accepted_precision=round(float(np.mean(right[accepted])) if accepted.any() else 0.0, 4),
        accepted_share=round(float(np.mean(accepted)), 4),
        fit_seconds=round(time.perf_counter() - started, 2),
        confusions=sorted(((a, b, n) for (a, b), n in confusions.items()), key=lambda c: -c[2])[:10],
        unsupported_ratio=ratio,
    )
    log.info(
        "router fitted on %d examples: cross-validated accuracy %.3f, floor %.2f",
        calibration.examples,
        calibration.accuracy,
        calibration.floor,
    )
    return Router(LinearScorer.of(model, vectorizers), embed, labels, calibration, families)


_ROUTERS: dict[str, Router] = {}
_LOCK = threading.Lock()


FORMAT = 9  # bump when the features change: a saved router of another format is fitted again


def _digest(routes: dict[str, Sequence[str]], key: str, families: dict[str, str] | None) -> str:
    examples = sorted((k, tuple(v)) for k, v in routes.items())
    fitting = (FORMAT, SLOT_WEIGHT, REGULARISATION, WRONG_COST)  # a change to how it is fitted fits it again
    payload = repr((fitting, key, sorted(families.items()) if families else None, examples))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def saved_router(
    routes: dict[str, Sequence[str]], *, key: str, cache_dir: Path, families: dict[str, str] | None = None
) -> Path:
    """Where `shared_router` keeps (or would keep) the router fitted on these examples."""
    return cache_dir / f"router-{_digest(routes, key, families)}.pickle"


SAVED_ROUTERS_KEPT = 3


def _forget_old_routers(cache_dir: Path, *, keep: Path) -> None:
    """Remove saved routers beyond the newest few (each is 2 MB; every change of examples makes one). A few
    are kept so that two versions of the product sharing a HOME do not refit on every switch."""
    saved = sorted(cache_dir.glob("router-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [p for p in saved if p != keep][SAVED_ROUTERS_KEPT - 1 :]:
        old.unlink(missing_ok=True)


def shared_router(
    routes: dict[str, Sequence[str]],
    embed: Embed,
    *,
    key: str = "",
    cache_dir: Path | None = None,
    families: dict[str, str] | None = None,
) -> Router:
    """One fitted router per process and set of examples. Fitting takes 10-20 s on 2 cores, so a fitted
    router is also saved in ``cache_dir`` (HOME/cache) under the digest of its examples and model, and a
    later process loads it in a fraction of a second."""
    digest = _digest(routes, key, families)
    with _LOCK:
        router = _ROUTERS.get(digest)
        if router is not None:
            return router
        path = saved_router(routes, key=key, cache_dir=cache_dir, families=families) if cache_dir else None
        if path is not None and path.exists():
            try:
                # Our own cache file, written below by this code: the digest names what was fitted.
                scorer, labels, calibration = pickle.loads(path.read_bytes())
                router = Router(scorer, embed, labels, calibration, families)
            except Exception:  # a file from another library version: fit again
                log.warning("could not load the saved router %s; fitting it again", path.name, exc_info=True)
        if router is None:
            router = fit_router(routes, embed, today=None, families=families)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".tmp")
                partial.write_bytes(pickle.dumps((router.scorer, router.labels, router.calibration)))
                partial.replace(path)  # whole or not at all
                _forget_old_routers(path.parent, keep=path)
        _ROUTERS[digest] = router
        return router
