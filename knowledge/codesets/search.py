"""Hybrid code search: BM25 over an inverted index, plus cosine similarity on sentence embeddings.

Why an own inverted index rather than ``rank_bm25``: ``BM25Okapi.get_scores`` walks every document in
Python for every query term (about 20 ms per term over 100k texts), which alone breaks the 30 ms budget.
Here the BM25 weight of every (term, document) pair is computed once at build time and stored in CSR
arrays, so a query is a few numpy slice additions over the postings of its terms (well under 5 ms).

Documents are texts that point at a *target* (one code of one system): descriptions, inclusion terms,
"includes" notes, index-table entries. A target's lexical score is its best document's score. Semantic
similarity is computed per target from one embedded text (its description); ICD-10-CM codes that need a
7th character share their base code's vector and get the 7th character whose definition the query
mentions ("initial encounter", "sequela").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from knowledge.codesets.text import TypoCorrector, query_tokens, tokens

K1 = 1.2
B = 0.75
HEADER_FACTOR = 0.97  # billable codes rank above headers that are equally relevant
INACTIVE_FACTOR = 0.9  # terminated HCPCS codes rank below current ones
LEXICAL_WEIGHT = 0.65
SEMANTIC_WEIGHT = 0.35
SEMANTIC_FLOOR = 0.25  # cosine below this carries no signal for this model
SEMANTIC_ONLY_MIN = 0.45  # without any lexical match, a semantic hit must be at least this similar
DEFAULT_WORDS = frozenset({"unspecifi", "specifi", "not", "sit", "nos"})
DEFAULT_FACTOR = 1.03  # the unspecified code is the default when a question gives no detail


@dataclass(frozen=True, slots=True)
class Target:
    """A code a search can return."""

    system: str
    code: str
    description: str
    billable: bool | None  # None where billable/header does not apply
    active: bool = True


@dataclass(slots=True)
class SearchIndex:
    """The lexical index (CSR postings of BM25 weights) and its targets."""

    targets: list[Target]
    target_system: npt.NDArray[np.int16]
    systems: list[str]
    factor: npt.NDArray[np.float32]
    doc_target: npt.NDArray[np.int32]
    doc_text: list[str]
    doc_source: list[str]
    doc_length: npt.NDArray[np.float32]  # distinct terms per document
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float32]
    indptr: npt.NDArray[np.int64]
    postings: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    target_docs_ptr: npt.NDArray[np.int64]
    target_docs: npt.NDArray[np.int32]
    target_of: dict[str, int]  # "system:code" -> target id
    seventh_table: npt.NDArray[np.int16]  # per target: its 7th-character table, or -1
    seventh_tables: list[dict[str, str]]
    _typos: TypoCorrector | None = field(default=None, repr=False)

    @staticmethod
    def key(system: str, code: str) -> str:
        return f"{system}:{code}"

    def typo_corrector(self) -> TypoCorrector:
        if self._typos is None:
            frequency = {term: int(self.indptr[i + 1] - self.indptr[i]) for term, i in self.vocabulary.items()}
            self._typos = TypoCorrector(self.vocabulary, frequency)
        return self._typos

    def resolve_terms(self, query: str) -> tuple[list[int], list[str], list[str]]:
        """Term ids of the query (typos corrected), the words used, and the corrections made."""
        ids: list[int] = []
        used: list[str] = []
        corrections: list[str] = []
        for token in dict.fromkeys(query_tokens(query)):
            term_id = self.vocabulary.get(token)
            if term_id is None:
                fixed = self.typo_corrector().correct(token)
                if fixed is None:
                    continue
                corrections.append(f"{token}→{fixed}")
                token, term_id = fixed, self.vocabulary[fixed]
            if term_id not in ids:
                ids.append(term_id)
                used.append(token)
        return ids, used, corrections

    def lexical_scores(self, term_ids: Sequence[int]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
        """Per-document BM25 scores, scaled by the share of query terms each document matches."""
        scores = np.zeros(len(self.doc_target), dtype=np.float32)
        matched = np.zeros(len(self.doc_target), dtype=np.int32)
        for term_id in term_ids:
            start, end = self.indptr[term_id], self.indptr[term_id + 1]
            docs = self.postings[start:end]
            scores[docs] += self.weights[start:end]
            matched[docs] += 1
        if term_ids:
            # A text that covers more of the question beats one that repeats a single rare word, and a
            # text the question covers entirely ("hypertension") beats one it only touches.
            hit = np.nonzero(matched)[0]
            query_share = matched[hit].astype(np.float32) / len(term_ids)
            text_share = np.minimum(1.0, matched[hit] / self.doc_length[hit])
            scores[hit] *= (0.5 + 0.5 * query_share) * (0.8 + 0.2 * text_share)
        return scores, matched

    def best_doc(self, target: int, doc_scores: npt.NDArray[np.float32]) -> int:
        docs = self.target_docs[self.target_docs_ptr[target] : self.target_docs_ptr[target + 1]]
        return int(docs[int(np.argmax(doc_scores[docs]))])


def build_search_index(
    targets: list[Target],
    documents: list[tuple[int, str, str]],
    seventh: dict[int, dict[str, str]] | None = None,
) -> SearchIndex:
    """Index ``documents`` (target id, text, source label) with BM25 weights.

    ``seventh`` maps the targets that need a 7th character to their table of 7th characters.
    """
    systems = sorted({t.system for t in targets})
    system_id = {name: i for i, name in enumerate(systems)}
    vocabulary: dict[str, int] = {}
    doc_terms: list[Counter[str]] = []
    lengths = np.zeros(len(documents), dtype=np.float32)
    distinct = np.zeros(len(documents), dtype=np.float32)
    for i, (_, text, _) in enumerate(documents):
        counts = Counter(tokens(text))
        doc_terms.append(counts)
        lengths[i] = max(1, sum(counts.values()))
        # "unspecified", "site not specified", "NOS" mark the default code: they do not make a text
        # less of a match for a question that does not specify.
        distinct[i] = max(1, len(counts) - len(DEFAULT_WORDS.intersection(counts)))
        for term in counts:
            if term not in vocabulary:
                vocabulary[term] = len(vocabulary)
    n_docs = len(documents)
    average = float(lengths.mean()) if n_docs else 1.0
    per_term: list[list[tuple[int, float]]] = [[] for _ in vocabulary]
    for doc_id, counts in enumerate(doc_terms):
        norm = K1 * (1 - B + B * lengths[doc_id] / average)
        for term, tf in counts.items():
            per_term[vocabulary[term]].append((doc_id, tf * (K1 + 1) / (tf + norm)))
    df = np.array([len(p) for p in per_term], dtype=np.float32)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(df.astype(np.int64))
    postings = np.empty(int(indptr[-1]), dtype=np.int32)
    weights = np.empty(int(indptr[-1]), dtype=np.float32)
    for term_id, plist in enumerate(per_term):
        start = indptr[term_id]
        for offset, (doc_id, tf_part) in enumerate(plist):
            postings[start + offset] = doc_id
            weights[start + offset] = idf[term_id] * tf_part
    doc_target = np.array([d[0] for d in documents], dtype=np.int32)
    order = np.argsort(doc_target, kind="stable").astype(np.int32)
    target_docs_ptr = np.zeros(len(targets) + 1, dtype=np.int64)
    target_docs_ptr[1:] = np.cumsum(np.bincount(doc_target, minlength=len(targets)))
    factor = np.ones(len(targets), dtype=np.float32)
    for i, target in enumerate(targets):
        if target.billable is False:
            factor[i] *= HEADER_FACTOR
        if not target.active:
            factor[i] *= INACTIVE_FACTOR
        lowered = target.description.lower()
        if "unspecified" in lowered or "not specified" in lowered or lowered.endswith(" nos"):
            factor[i] *= DEFAULT_FACTOR
    tables: list[dict[str, str]] = []
    table_ids: dict[tuple[tuple[str, str], ...], int] = {}
    seventh_table = np.full(len(targets), -1, dtype=np.int16)
    for target_id, table in (seventh or {}).items():
        table_key = tuple(sorted(table.items()))
        if table_key not in table_ids:
            table_ids[table_key] = len(tables)
            tables.append(dict(table))
        seventh_table[target_id] = table_ids[table_key]
    index = SearchIndex(
        targets=targets,
        seventh_table=seventh_table,
        seventh_tables=tables,
        target_system=np.array([system_id[t.system] for t in targets], dtype=np.int16),
        systems=systems,
        factor=factor,
        doc_target=doc_target,
        doc_text=[d[1] for d in documents],
        doc_source=[d[2] for d in documents],
        doc_length=distinct,
        vocabulary=vocabulary,
        idf=idf,
        indptr=indptr,
        postings=postings,
        weights=weights,
        target_docs_ptr=target_docs_ptr,
        target_docs=order,
        target_of={SearchIndex.key(t.system, t.code): i for i, t in enumerate(targets)},
    )
    index.typo_corrector()  # built now so that it is cached with the index
    return index


@dataclass(slots=True)
class VectorIndex:
    """Unit vectors (float16, as stored on disk) and the target each row belongs to."""

    vectors: npt.NDArray[np.float16]
    target_row: npt.NDArray[np.int32]  # per target: its row, or -1 when it has no vector
    model: str

    def similarities(self, query_vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Cosine similarity of every target (-1 where there is no vector).

        The product runs in torch: numpy has no fast float16 matrix-vector product (it would need a float32
        copy of the matrix, twice the memory and 3x slower at 6 ms), and torch is loaded anyway, since
        the query vector comes from the torch encoder. Scores differ from float32 by < 0.001."""
        import torch

        with torch.inference_mode():
            query = torch.from_numpy(np.ascontiguousarray(query_vector, dtype=np.float16))
            sims = torch.mv(torch.from_numpy(self.vectors), query).float().numpy()
        out = np.full(len(self.target_row), -1.0, dtype=np.float32)
        has = self.target_row >= 0
        out[has] = sims[self.target_row[has]]
        return out


@dataclass(frozen=True, slots=True)
class RankedTarget:
    target: int
    score: float
    lexical: float
    semantic: float | None
    doc: int | None
    matched_terms: list[str]
    seventh: tuple[str, str, list[str]] | None = None  # (char, meaning, words matched)


def rank(
    index: SearchIndex,
    query: str,
    *,
    systems: set[str] | None,
    limit: int,
    vectors: VectorIndex | None,
    query_vector: npt.NDArray[np.float32] | None,
) -> tuple[list[RankedTarget], list[str]]:
    """The best ``limit`` targets for ``query`` (and the typo corrections applied)."""
    term_ids, used, corrections = index.resolve_terms(query)
    doc_scores, _ = index.lexical_scores(term_ids)
    lexical = np.zeros(len(index.targets), dtype=np.float32)
    hit_docs = np.nonzero(doc_scores)[0]
    if len(hit_docs):
        np.maximum.at(lexical, index.doc_target[hit_docs], doc_scores[hit_docs])
    # Codes that need a 7th character: score the definitions the query mentions as if they were part
    # of the code's text, and remember which character matched.
    chosen: list[tuple[str, str, list[str]] | None] = []
    if index.seventh_tables:
        bonus_by_table = np.zeros(len(index.seventh_tables) + 1, dtype=np.float32)
        words = set(query_tokens(query))
        for table_id, table in enumerate(index.seventh_tables):
            best = seventh_overlap(words, table)
            chosen.append((best[0], table[best[0]], best[2]) if best else None)
            if best:
                bonus_by_table[table_id] = idf_sum(index, best[2])
        bonus = bonus_by_table[index.seventh_table]  # -1 picks the trailing zero
        lexical = np.where(lexical > 0, lexical + bonus, lexical).astype(np.float32)
    allowed: npt.NDArray[np.bool_] | None = None
    if systems:
        wanted = [i for i, name in enumerate(index.systems) if name in systems]
        allowed = np.isin(index.target_system, wanted)
        lexical = np.where(allowed, lexical, 0).astype(np.float32)
    semantic: npt.NDArray[np.float32] | None = None
    if vectors is not None and query_vector is not None:
        semantic = vectors.similarities(query_vector)
        if allowed is not None:
            semantic = np.where(allowed, semantic, -1).astype(np.float32)
    pool = 200
    candidates: set[int] = set()
    lex_max = float(lexical.max()) if len(lexical) else 0.0
    if lex_max > 0:
        top = np.argpartition(-lexical, min(pool, len(lexical) - 1))[:pool]
        candidates.update(int(i) for i in top if lexical[i] > 0)
    sem_max = 0.0
    if semantic is not None:
        top = np.argpartition(-semantic, min(pool, len(semantic) - 1))[:pool]
        sem_max = float(semantic[top].max()) if len(top) else 0.0
        floor = SEMANTIC_FLOOR if lex_max > 0 else SEMANTIC_ONLY_MIN
        candidates.update(int(i) for i in top if semantic[i] >= floor)
    # Score every candidate first (cheap), then work out which text matched only for the few returned.
    scored: list[tuple[float, str, int, float | None, tuple[str, str, list[str]] | None]] = []
    for target in candidates:
        lex_part = float(lexical[target]) / lex_max if lex_max > 0 else 0.0
        sem_value: float | None = None
        sem_part = 0.0
        if semantic is not None and semantic[target] >= -0.5:
            sem_value = float(semantic[target])
            span = max(sem_max - SEMANTIC_FLOOR, 1e-6)
            sem_part = min(1.0, max(0.0, (sem_value - SEMANTIC_FLOOR) / span))
        combined = LEXICAL_WEIGHT * lex_part + SEMANTIC_WEIGHT * sem_part if semantic is not None else lex_part
        combined *= float(index.factor[target])
        table_id = int(index.seventh_table[target])
        seventh = chosen[table_id] if table_id >= 0 and chosen else None
        if seventh is not None:
            combined /= HEADER_FACTOR  # with its 7th character chosen the base code is complete
        scored.append((-combined, index.targets[target].code, target, sem_value, seventh))
    scored.sort(key=lambda row: (row[0], row[1]))
    ranked: list[RankedTarget] = []
    query_terms = set(used)
    for negative, _, target, sem_value, seventh in scored[:limit]:
        doc = index.best_doc(target, doc_scores) if lexical[target] > 0 else None
        matched = sorted(query_terms & set(tokens(index.doc_text[doc]))) if doc is not None else []
        ranked.append(RankedTarget(target, -negative, float(lexical[target]), sem_value, doc, matched, seventh))
    return ranked, corrections


@lru_cache(maxsize=1024)
def _definition_words(text: str) -> frozenset[str]:
    return frozenset(tokens(text))


def seventh_overlap(words: set[str], definitions: dict[str, str]) -> tuple[str, float, list[str]] | None:
    """The 7th character whose definition shares the most of the query's ``words``, if any."""
    best: tuple[str, float, list[str]] | None = None
    for char, text in definitions.items():
        ext_words = _definition_words(text)
        common = words & ext_words
        if not common:
            continue
        # Prefer the definition that is most fully covered (sequela beats "subsequent ... sequela").
        value = len(common) + len(common) / len(ext_words)
        if best is None or value > best[1]:
            best = (char, value, sorted(common))
    return best


def idf_sum(index: SearchIndex, words: list[str]) -> float:
    return float(sum(index.idf[index.vocabulary[w]] for w in words if w in index.vocabulary))
