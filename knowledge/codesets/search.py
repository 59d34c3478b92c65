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

How coders search, and what the ranking does about it (issue 18):
- An Alphabetic Index path ("Pain, joint, knee, left") is a main term and subterms, one per comma. Each
  ICD-10-CM code also has a *hierarchy* text walking its parents ("Pain in joint › Pain in knee › Pain
  in left knee"), and a code is scaled by the share of the path's parts its texts answer. Generic main
  terms ("Disease", "Syndrome") and words in parentheses are nonessential, as in the Index.
- What a header's texts match, the codes under it match too (inclusion terms often sit on the header);
  a header ranks just below its best billable code, and among the codes under it the one adding the
  fewest words comes first. The Index's defaults: "unspecified" and "without" codes first, a code
  "with X" lower when no X was named, the unspecified side when no side was named.
- Words have "see also" alternates (organ adjectives, anomaly -> malformation) and lay phrases are spelled
  the Tabular's way (text.py, lay_terms.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from knowledge.codesets.text import (
    PARENTHESIZED,
    TypoCorrector,
    fold,
    lay_pattern,
    query_tokens,
    query_words,
    tokens,
)

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
ALTERNATE_WEIGHT = 0.8  # a "see also" word counts a little less than the word the coder typed
#: Chapter 15 (O: pregnancy, childbirth, the puerperium) and chapter 16 (P: the perinatal period) are used
#: only on the maternal or the newborn record (ICD-10-CM guidelines I.C.15.a.1, I.C.16.a.1): for a query that
#: says neither ("uti"), N39.0 comes before P39.3 "Neonatal urinary tract infection" and O86.20.
MATERNAL_NEWBORN_FACTOR = 0.85
_MATERNAL_NEWBORN_WORDS = frozenset(
    tokens(
        "pregnancy pregnant gestation gestational weeks trimester delivery delivered childbirth labor labour "
        "postpartum puerperal puerperium antepartum intrapartum obstetric maternal mother abortion miscarriage "
        "ectopic newborn neonatal neonate perinatal fetal fetus birth infant premature prematurity preterm "
        "lactation breast-feeding breastfeeding placenta placental cesarean eclampsia preeclampsia"
    )
)
SEGMENT_FLOOR = 0.5  # an index-style query: a code that matches none of its subterms keeps this share
OTHER_SYSTEM_FACTOR = 0.85  # an index-style query is an ICD-10-CM one unless a system is named
SIDE_FACTOR = 0.97  # a query that names no side: the right/left codes rank below the unspecified one
HEADER_BELOW_CHILD = 0.995  # a header ranks just below its best billable code
INHERIT_FACTOR = 0.98  # a code under a matching header scores a little below what its own text matches
WITH_UNASKED_FACTOR = 0.93  # an ICD code "with X" when the question names no X (the Index's "with" rule)
ADDED_WORD_PENALTY = 0.01  # ... less this for each word it adds to the header's description
INHERITING_HEADERS = 40  # the best-matching headers whose codes inherit their match
SIDE_WORDS = frozenset({"right", "left", "bilateral"})
CONTEXT_LABEL = "hierarchy"  # the source label of a code's text that walks its parents ("A › B › C")


@dataclass(frozen=True, slots=True)
class Target:
    """A code a search can return."""

    system: str
    code: str
    description: str
    billable: bool | None  # None where billable/header does not apply
    active: bool = True


@dataclass(frozen=True, slots=True)
class TermGroup:
    """One query word resolved against the vocabulary: its term id first, then its alternates'."""

    ids: tuple[int, ...]
    word: str
    segment: int
    soft: bool
    weight: float = 1.0


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
    parent: npt.NDArray[np.int32]  # per target: the target of its parent code (ICD-10-CM), or -1
    children_ptr: npt.NDArray[np.int64]
    children: npt.NDArray[np.int32]
    sided: npt.NDArray[np.bool_]  # the description names a side (right, left, bilateral)
    known_lay: frozenset[str]  # lay phrases the code texts use themselves ("swimmer's ear")
    chapter_of: npt.NDArray[np.int16]  # per ICD-10-CM target: its chapter (index into chapter_titles), or -1
    chapter_titles: list[str]
    _typos: TypoCorrector | None = field(default=None, repr=False)
    _terms: list[str] | None = field(default=None, repr=False)

    @staticmethod
    def key(system: str, code: str) -> str:
        return f"{system}:{code}"

    def term_text(self, term_id: int) -> str:
        if self._terms is None:
            self._terms = [""] * len(self.vocabulary)
            for word, i in self.vocabulary.items():
                self._terms[i] = word
        return self._terms[term_id]

    def typo_corrector(self) -> TypoCorrector:
        if self._typos is None:
            frequency = {term: int(self.indptr[i + 1] - self.indptr[i]) for term, i in self.vocabulary.items()}
            self._typos = TypoCorrector(self.vocabulary, frequency)
        return self._typos

    def resolve_query(self, query: str) -> tuple[list[TermGroup], int, list[str]]:
        """The query's words as term groups (typos corrected), its index segments, and the corrections."""
        words, segments = query_words(query, known=self.known_lay)
        groups: list[TermGroup] = []
        corrections: list[str] = []
        seen: set[int] = set()
        for word in words:
            token, term_id = word.term, self.vocabulary.get(word.term)
            if term_id is None:
                fixed = self.typo_corrector().correct(token)
                if fixed is not None:
                    corrections.append(f"{token}→{fixed}")
                    token, term_id = fixed, self.vocabulary[fixed]
            ids = [term_id] if term_id is not None and term_id not in seen else []
            ids += [self.vocabulary[alt] for alt in word.alternates if alt in self.vocabulary]
            ids = [i for i in dict.fromkeys(ids) if i not in seen or i == term_id]
            if not ids:
                continue
            seen.update(ids)
            groups.append(TermGroup(tuple(ids), token, word.segment, word.soft, word.weight))
        return groups, segments, corrections

    def lexical_scores(self, groups: Sequence[TermGroup]) -> npt.NDArray[np.float32]:
        """Per-document BM25 scores, scaled by the share of the query's words each document matches.

        A word's alternates add to the score but count once towards the share; soft words (generic
        main terms, words in parentheses) add to the score but do not count against a text."""
        n_docs = len(self.doc_target)
        scores = np.zeros(n_docs, dtype=np.float32)
        matched = np.zeros(n_docs, dtype=np.float32)
        required = [g for g in groups if not g.soft] or list(groups)
        counted = {id(g) for g in required}
        for group in groups:
            present = np.zeros(n_docs, dtype=np.bool_)
            for k, term_id in enumerate(group.ids):
                start, end = self.indptr[term_id], self.indptr[term_id + 1]
                docs = self.postings[start:end]
                weight = self.weights[start:end]
                scores[docs] += weight * (group.weight if k == 0 else group.weight * ALTERNATE_WEIGHT)
                present[docs] = True
            if id(group) in counted:
                matched += present
        if groups:
            # A text that covers more of the question beats one that repeats a single rare word, and a
            # text the question covers entirely ("hypertension") beats one it only touches.
            hit = np.nonzero(scores)[0]
            query_share = matched[hit] / len(required)
            text_share = np.minimum(1.0, matched[hit] / self.doc_length[hit])
            scores[hit] *= (0.5 + 0.5 * query_share) * (0.8 + 0.2 * text_share)
        return scores

    def segment_coverage(self, groups: Sequence[TermGroup], segments: int) -> npt.NDArray[np.float32] | None:
        """For an index-style query: per target, the share of its subterm segments that any of the
        target's texts (its own, its hierarchy) matches. None for a plain query."""
        wanted = sorted({g.segment for g in groups if not g.soft})
        if segments < 2 or len(wanted) < 2:
            return None
        covered = np.zeros(len(self.targets), dtype=np.float32)
        for segment in wanted:
            hit = np.zeros(len(self.targets), dtype=np.bool_)
            for group in groups:
                if group.segment != segment:
                    continue
                for term_id in group.ids:
                    docs = self.postings[self.indptr[term_id] : self.indptr[term_id + 1]]
                    hit[self.doc_target[docs]] = True
            covered += hit
        result: npt.NDArray[np.float32] = (covered / len(wanted)).astype(np.float32)
        return result

    def target_words(self, target: int) -> set[str]:
        """Every word of every text of ``target`` (its hierarchy text included)."""
        docs = self.target_docs[self.target_docs_ptr[target] : self.target_docs_ptr[target + 1]]
        return {word for doc in docs for word in tokens(self.doc_text[int(doc)])}

    def children_of(self, target: int) -> npt.NDArray[np.int32]:
        return self.children[self.children_ptr[target] : self.children_ptr[target + 1]]

    def best_doc(self, target: int, doc_scores: npt.NDArray[np.float32]) -> int:
        docs = self.target_docs[self.target_docs_ptr[target] : self.target_docs_ptr[target + 1]]
        return int(docs[int(np.argmax(doc_scores[docs]))])


def build_search_index(
    targets: list[Target],
    documents: list[tuple[int, str, str]],
    seventh: dict[int, dict[str, str]] | None = None,
    parents: dict[int, int] | None = None,
    chapters: dict[int, str] | None = None,
) -> SearchIndex:
    """Index ``documents`` (target id, text, source label) with BM25 weights.

    ``seventh`` maps the targets that need a 7th character to their table of 7th characters;
    ``parents`` maps a target to the target of its parent code (the ICD-10-CM hierarchy); ``chapters``
    a target to the title of its ICD-10-CM chapter ("Diseases of the eye and adnexa (H00-H59)").
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
    # The hierarchy texts are long by nature: they are left out of the average length, so that adding
    # them does not change how the codes' own texts compare, and they win only by covering more words.
    own = np.array([label != CONTEXT_LABEL for _, _, label in documents], dtype=np.bool_)
    average = float(lengths[own].mean()) if own.any() else 1.0
    per_term: list[list[tuple[int, float]]] = [[] for _ in vocabulary]
    for doc_id, counts in enumerate(doc_terms):
        norm = K1 * (1 - B + B * lengths[doc_id] / average)
        for term, tf in counts.items():
            per_term[vocabulary[term]].append((doc_id, tf * (K1 + 1) / (tf + norm)))
    df = np.array([len(p) for p in per_term], dtype=np.float32)
    # Word rarity, likewise, from the codes' own texts only (the hierarchy texts repeat their parents').
    own_df = np.zeros(len(vocabulary), dtype=np.float32)
    for doc_id, counts in enumerate(doc_terms):
        if own[doc_id]:
            for term in counts:
                own_df[vocabulary[term]] += 1
    n_own = max(1, int(own.sum()))
    idf = np.log(1 + (n_own - own_df + 0.5) / (own_df + 0.5)).astype(np.float32)
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
        # The default code when a question gives no detail: "unspecified", and, as the ICD-10-CM Index's
        # "with" convention has it, "without" (E11.9 without complications, K57.32 without perforation).
        without = target.system == "icd10cm" and "without" in lowered
        if "unspecified" in lowered or "not specified" in lowered or lowered.endswith(" nos") or without:
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
    parent = np.full(len(targets), -1, dtype=np.int32)
    for child, parent_id in (parents or {}).items():
        parent[child] = parent_id
    child_order = np.argsort(parent, kind="stable").astype(np.int32)
    child_order = child_order[parent[child_order] >= 0]
    children_ptr = np.zeros(len(targets) + 1, dtype=np.int64)
    children_ptr[1:] = np.cumsum(np.bincount(parent[parent >= 0], minlength=len(targets)))
    sided = np.array([bool(SIDE_WORDS.intersection(tokens(t.description))) for t in targets], dtype=np.bool_)
    chapter_titles = sorted(set((chapters or {}).values()))
    chapter_id = {title: i for i, title in enumerate(chapter_titles)}
    chapter_of = np.full(len(targets), -1, dtype=np.int16)
    for target_id, title in (chapters or {}).items():
        chapter_of[target_id] = chapter_id[title]
    # Lay phrases a code's own name or inclusion term uses ("Swimmer's ear" is H60.33-) stay as typed.
    named = (text for target, text, label in documents if label in ("description", "inclusion term"))
    found = lay_pattern().findall("\n".join(fold(text) for text in named))
    index = SearchIndex(
        known_lay=frozenset(found),
        chapter_of=chapter_of,
        chapter_titles=chapter_titles,
        parent=parent,
        children_ptr=children_ptr,
        children=child_order,
        sided=sided,
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
    via: int | None = None  # the header whose texts matched, when the code's own did not match as well
    unmatched: list[int] = field(default_factory=list)  # index segments no text of the code answers


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
    groups, segments, corrections = index.resolve_query(query)
    groups = _screened_body_system(index, groups)
    doc_scores = index.lexical_scores(groups)
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
    # An index-style query: a code must answer each subterm, through its own texts or its hierarchy's.
    coverage = index.segment_coverage(groups, segments)
    if coverage is not None:
        lexical *= SEGMENT_FLOOR + (1 - SEGMENT_FLOOR) * coverage
        if not systems and "icd10cm" in index.systems:
            icd = index.target_system == index.systems.index("icd10cm")
            lexical = np.where(icd, lexical, lexical * OTHER_SYSTEM_FACTOR).astype(np.float32)
    if not SIDE_WORDS.intersection(g.word for g in groups):
        lexical = np.where(index.sided, lexical * SIDE_FACTOR, lexical).astype(np.float32)
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
    # What a header's texts match, the codes under it match too (an inclusion term such as "Graves'
    # disease" sits on E05.0, the billable code is E05.00): a coder wants the billable one.
    via: dict[int, int] = {}
    headers = [t for t in candidates if index.targets[t].billable is False]
    headers.sort(key=lambda t: -lexical[t])
    for header in headers[:INHERITING_HEADERS]:
        inherited = float(lexical[header]) * INHERIT_FACTOR
        header_words = set(tokens(index.targets[header].description))
        stack = [int(child) for child in index.children_of(header)]
        while stack:
            child = stack.pop()
            # Among the codes under a header, the one that adds the fewest words to it comes first
            # (E11.9 "... without complications" before E11.00 "... with hyperosmolarity without ...").
            added = len(set(tokens(index.targets[child].description)) - header_words - DEFAULT_WORDS)
            value = inherited * (1 - ADDED_WORD_PENALTY * min(added, 10))
            if lexical[child] < value:
                lexical[child] = value
                via[child] = via.get(header, header)
            candidates.add(child)
            stack.extend(int(grandchild) for grandchild in index.children_of(child))

    asked = {term for g in groups for term in _group_words(index, g)}
    # Chapters 15 and 16 for a query that names no pregnancy or newborn (see MATERNAL_NEWBORN_FACTOR).
    maternal_or_newborn = bool(_MATERNAL_NEWBORN_WORDS & (asked | set(query_tokens(query))))

    def combined_score(target: int) -> float:
        lex_part = float(lexical[target]) / lex_max if lex_max > 0 else 0.0
        sem_part = 0.0
        if semantic is not None and semantic[target] >= -0.5:
            span = max(sem_max - SEMANTIC_FLOOR, 1e-6)
            sem_part = min(1.0, max(0.0, (float(semantic[target]) - SEMANTIC_FLOOR) / span))
        value = LEXICAL_WEIGHT * lex_part + SEMANTIC_WEIGHT * sem_part if semantic is not None else lex_part
        value *= float(index.factor[target])
        code = index.targets[target].code
        if not maternal_or_newborn and code[:1] in {"O", "P"} and index.targets[target].system == "icd10cm":
            value *= MATERNAL_NEWBORN_FACTOR
        if index.targets[target].system == "icd10cm" and not with_detail(index.targets[target].description) <= asked:
            value *= WITH_UNASKED_FACTOR  # "E11.8 ... with unspecified complications" when none were named
        table_id = int(index.seventh_table[target])
        if table_id >= 0 and chosen and chosen[table_id] is not None:
            value /= HEADER_FACTOR  # with its 7th character chosen the base code is complete
        return value

    score = {target: combined_score(target) for target in candidates}
    # A header never ranks above a billable code under it that answers the query as well.
    best_below: dict[int, float] = {}
    for target, value in score.items():
        ancestor = int(index.parent[target])
        while ancestor >= 0:
            if value > best_below.get(ancestor, -1.0):
                best_below[ancestor] = value
            ancestor = int(index.parent[ancestor])
    for target in score:
        if target in best_below and index.targets[target].billable is False:
            score[target] = min(score[target], best_below[target] * HEADER_BELOW_CHILD)
    _default_over_unasked_detail(index, score, set(asked))
    ordered = sorted(score, key=lambda t: (-score[t], index.targets[t].code))
    ranked: list[RankedTarget] = []
    query_terms = [index_term for g in groups for index_term in _group_words(index, g)]
    segment_words: dict[int, set[str]] = {}
    if coverage is not None:
        for group in groups:
            if not group.soft:
                segment_words.setdefault(group.segment, set()).update(_group_words(index, group))
    for target in ordered[:limit]:
        table_id = int(index.seventh_table[target])
        seventh = chosen[table_id] if table_id >= 0 and chosen else None
        sem_value = float(semantic[target]) if semantic is not None and semantic[target] >= -0.5 else None
        source = via.get(target, target)
        doc = index.best_doc(source, doc_scores) if lexical[target] > 0 else None
        doc_words = set(tokens(index.doc_text[doc])) if doc is not None else set()
        matched = [term for term in dict.fromkeys(query_terms) if term in doc_words]
        unmatched: list[int] = []
        if segment_words:
            words = index.target_words(source) | set(seventh[2] if seventh else ())
            unmatched = [seg for seg, wanted in sorted(segment_words.items()) if not wanted & words]
        ranked.append(
            RankedTarget(
                target,
                score[target],
                float(lexical[target]),
                sem_value,
                doc,
                matched,
                seventh,
                via=source if source != target else None,
                unmatched=unmatched,
            )
        )
    return ranked, corrections


#: A sibling that adds only these to the code above both is the Index's default for that code: "other",
#: "unspecified", "not elsewhere classified" (and what a "without ..." clause denies).
_DEFAULT_DETAIL = DEFAULT_WORDS | frozenset({"other", "elsewher", "classifi"})
_WITHOUT_CLAUSE = re.compile(r"\bwithout\b[^,;]*")
DEFAULT_SIBLING_RATIO = 0.8  # the default sibling is preferred only when it scored nearly as well


@lru_cache(maxsize=65536)
def _description_words(description: str) -> frozenset[str]:
    return frozenset(tokens(_WITHOUT_CLAUSE.sub(" ", description.lower())))


def _default_over_unasked_detail(index: SearchIndex, score: dict[int, float], asked: set[str]) -> None:
    """The ICD-10-CM default when the query gives no detail: "Hives" is L50.9 "Urticaria, unspecified", not
    L50.0 "Allergic urticaria"; "Disease, Graves'" is E05.00 (without crisis), not E05.01. When the best code
    adds to the code above it and a near-scoring sibling a detail the query did not name, and another code of
    the same category adds only default words (other, unspecified, a "without" clause) while answering every
    query word the best one answers, that code goes first. Only the first place changes: a coder who typed
    the detail finds it matched, and the specific code stays among the hits."""
    if not score:
        return
    top = min(score, key=lambda t: (-score[t], index.targets[t].code))
    best = index.targets[top]
    if best.system != "icd10cm" or best.billable is False:
        return
    ancestors: list[int] = []
    node = int(index.parent[top])
    while node >= 0:
        ancestors.append(node)
        node = int(index.parent[node])
    if not ancestors:
        return
    answered = index.target_words(top) & asked

    def detail(target: int, above: int) -> frozenset[str]:
        own = _description_words(index.targets[target].description)
        return own - _description_words(index.targets[above].description) - _DEFAULT_DETAIL - asked

    chosen: tuple[int, bool, float, int] | None = None  # the nearest shared code first, then "unspecified"
    for other, value in score.items():
        candidate = index.targets[other]
        if other == top or value < score[top] * DEFAULT_SIBLING_RATIO or candidate.billable is False:
            continue
        if candidate.system != "icd10cm" or candidate.code[:3] != best.code[:3]:
            continue
        node = int(index.parent[other])
        while node >= 0 and node not in ancestors:
            node = int(index.parent[node])
        if node < 0 or not detail(top, node) or detail(other, node):
            continue
        if not answered <= index.target_words(other):
            continue
        description = index.targets[other].description.lower()
        unspecified = "unspecified" in description or "without" in description
        key = (ancestors.index(node), not unspecified, -value, other)
        if chosen is None or key < chosen:
            chosen = key
    if chosen is not None:
        score[chosen[-1]] = score[top] * (1 + 1e-6)


_SCREENING = frozenset(tokens("screening"))
_TITLE_FILLER = frozenset([*tokens("diseases disease disorders certain conditions other and the of"), "ii", "iii"])


def _screened_body_system(index: SearchIndex, groups: list[TermGroup]) -> list[TermGroup]:
    """ "Screening, glaucoma" is Z13.5 "... screening for eye and ear disorders": a screening for a condition
    the Z codes do not name is filed under its body system. The condition's best code outside chapter 21
    gives its chapter ("Diseases of the eye and adnexa"), whose words count as the condition's."""
    main = [g for g in groups if g.segment == 0]
    rest = [g for g in groups if g.segment > 0 and not g.soft]
    if not rest or not main or not any(index.term_text(i) in _SCREENING for g in main for i in g.ids):
        return groups
    if not index.chapter_titles:
        return groups
    scores = index.lexical_scores(rest)
    best = -1.0
    chapter = -1
    for doc in np.argsort(-scores)[:50]:
        target = int(index.doc_target[doc])
        if scores[doc] <= 0:
            break
        if index.chapter_of[target] >= 0 and not index.targets[target].code.startswith("Z") and scores[doc] > best:
            best, chapter = float(scores[doc]), int(index.chapter_of[target])
    if chapter < 0:
        return groups
    words = [w for w in tokens(PARENTHESIZED.sub(" ", index.chapter_titles[chapter])) if w not in _TITLE_FILLER]
    ids = tuple(dict.fromkeys(index.vocabulary[w] for w in words if w in index.vocabulary))
    known = {i for g in groups for i in g.ids}
    ids = tuple(i for i in ids if i not in known)
    if not ids:
        return groups
    # The body system answers for the condition: "eye" counts as the subterm "glaucoma" itself.
    condition = rest[0]
    widened = TermGroup(condition.ids + ids, condition.word, condition.segment, condition.soft, condition.weight)
    return [widened if g is condition else g for g in groups]


def _group_words(index: SearchIndex, group: TermGroup) -> list[str]:
    return [index.term_text(term_id) for term_id in group.ids]


_WITH_CLAUSE = re.compile(r"\bwith\b(.*?)(?=\bwithout\b|,|;|$)")


@lru_cache(maxsize=65536)
def with_detail(description: str) -> frozenset[str]:
    """The words of a description's "with ..." clauses (up to "without" or a comma), defaults left out."""
    words: set[str] = set()
    for clause in _WITH_CLAUSE.findall(description.lower()):
        words.update(tokens(clause))
    return frozenset(words - DEFAULT_WORDS)


#: Words of the 7th-character definitions that every injury query has: on their own they choose nothing.
_NOT_DECIDING = frozenset(tokens("fracture encounter"))


@lru_cache(maxsize=1024)
def _definition_words(text: str) -> frozenset[str]:
    return frozenset(tokens(text))


def seventh_overlap(words: set[str], definitions: dict[str, str]) -> tuple[str, float, list[str]] | None:
    """The 7th character whose definition shares the most of the query's ``words``, if any."""
    best: tuple[str, float, list[str]] | None = None
    for char, text in definitions.items():
        ext_words = _definition_words(text)
        common = words & ext_words
        if not common - _NOT_DECIDING:
            continue  # "Fracture, femur, neck" names no encounter: ask for it rather than guess
        # Prefer the definition that is most fully covered (sequela beats "subsequent ... sequela").
        value = len(common) + len(common) / len(ext_words)
        if best is None or value > best[1]:
            best = (char, value, sorted(common))
    return best


def idf_sum(index: SearchIndex, words: list[str]) -> float:
    return float(sum(index.idf[index.vocabulary[w]] for w in words if w in index.vocabulary))
