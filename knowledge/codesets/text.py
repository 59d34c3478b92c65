"""Tokens for code search: lower case, a light suffix stemmer, coder abbreviations, typo correction."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset({"of", "the", "a", "an", "and", "or", "to", "for", "by", "on", "at", "as", "is", "pt"})

# How coders and billers abbreviate; expanded in queries only (the code texts are spelled out).
ABBREVIATIONS: dict[str, str] = {
    "htn": "hypertension",
    "dm": "diabetes mellitus",
    "dm1": "type 1 diabetes mellitus",
    "dm2": "type 2 diabetes mellitus",
    "t1dm": "type 1 diabetes mellitus",
    "t2dm": "type 2 diabetes mellitus",
    "iddm": "type 1 diabetes mellitus",
    "niddm": "type 2 diabetes mellitus",
    "copd": "chronic obstructive pulmonary disease",
    "chf": "congestive heart failure",
    "hf": "heart failure",
    "cad": "coronary artery disease atherosclerotic heart disease",
    "ashd": "atherosclerotic heart disease",
    "mi": "myocardial infarction",
    "stemi": "st elevation myocardial infarction",
    "nstemi": "non-st elevation myocardial infarction",
    "afib": "atrial fibrillation",
    "af": "atrial fibrillation",
    "ckd": "chronic kidney disease",
    "esrd": "end stage renal disease",
    "aki": "acute kidney failure",
    "uti": "urinary tract infection",
    "uri": "acute upper respiratory infection",
    "gerd": "gastro-esophageal reflux disease",
    "bph": "benign prostatic hyperplasia",
    "oa": "osteoarthritis",
    "ra": "rheumatoid arthritis",
    "dvt": "deep vein thrombosis",
    "pe": "pulmonary embolism",
    "tia": "transient cerebral ischemic attack",
    "cva": "cerebral infarction",
    "hld": "hyperlipidemia",
    "adhd": "attention-deficit hyperactivity disorder",
    "ptsd": "post-traumatic stress disorder",
    "mdd": "major depressive disorder",
    "gad": "generalized anxiety disorder",
    "osa": "obstructive sleep apnea",
    "ibs": "irritable bowel syndrome",
    "lbp": "low back pain",
    "sob": "shortness of breath",
    "n/v": "nausea vomiting",
    "nv": "nausea vomiting",
    "hx": "history",
    "fx": "fracture",
    "fxs": "fracture",
    "lac": "laceration",
    "r": "right",
    "rt": "right",
    "l": "left",
    "lt": "left",
    "bilat": "bilateral",
    "b/l": "bilateral",
    "init": "initial",
    "subs": "subsequent",
    "subseq": "subsequent",
    "enc": "encounter",
    "w": "with",
    "wo": "without",
    "unspec": "unspecified",
    "hgb": "hemoglobin",
    "a1c": "hemoglobin a1c",
    "bmi": "body mass index",
    "ca": "malignant neoplasm",
    "hiv": "human immunodeficiency virus",
    "hep": "hepatitis",
    "covid": "covid-19",
    "rsv": "respiratory syncytial virus",
    "awv": "annual wellness visit",
    "dme": "durable medical equipment",
    "im": "intramuscular",
    "iv": "intravenous",
    "subq": "subcutaneous",
    "sq": "subcutaneous",
    "inj": "injection",
    "mg": "mg",
    "pap": "papanicolaou screening cervical vaginal smear",
    "psa": "prostate specific antigen",
    "flu": "influenza",
    "ekg": "electrocardiogram",
    "ecg": "electrocardiogram",
    "mri": "magnetic resonance",
    "ct": "computed tomography",
}

_PHRASES = (
    (re.compile(r"\bw/o\b"), " without "),
    (re.compile(r"\bw/"), " with "),
    (re.compile(r"\bs/p\b"), " status post "),
    (re.compile(r"\bn/v\b"), " nausea vomiting "),
    (re.compile(r"\bb/l\b"), " bilateral "),
    (re.compile(r"\bc/o\b"), " complaint "),
    # How staff name the 7th-character encounters: the tables say initial / subsequent / sequela.
    (re.compile(r"\b(?:first|1st|initial) (?:visit|encounter|appointment|time seen)\b"), " initial encounter "),
    (re.compile(r"\bfollow[- ]?up (?:visit|encounter|appointment)\b"), " subsequent encounter "),
    (re.compile(r"\blate effects?\b"), " sequela "),
)


#: Words ending in -ism that are not a condition named after its adjective (organism is not organ).
_NOT_ISM = frozenset({"organism", "organisms", "mechanism", "mechanisms"})


def stem(token: str) -> str:
    """A light, consistent suffix stemmer (fracture, fractures, fractured -> fractur)."""
    if len(token) <= 3 or token.isdigit():
        return token
    if token.endswith("ies") and len(token) > 4:
        token = token[:-3] + "y"
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    if token.endswith("ism") and len(token) > 7 and token not in _NOT_ISM:
        token = token[:-3]  # hypothyroidism -> hypothyroid: coders type the adjective ("hypothyroid dx")
    if token.endswith("ing") and len(token) > 5:
        token = token[:-3]
    elif token.endswith("ed") and len(token) > 4:
        token = token[:-2]
    if token.endswith("ic") and len(token) > 5:
        token = token[:-2]
    if token.endswith("e") and len(token) > 3:
        token = token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Stemmed tokens of a code text (stopwords dropped)."""
    return [stem(word) for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


def query_tokens(text: str) -> list[str]:
    """Stemmed tokens of a query, with the coder abbreviations spelled out."""
    lowered = text.lower()
    for pattern, replacement in _PHRASES:
        lowered = pattern.sub(replacement, lowered)
    out: list[str] = []
    for word in _WORD.findall(lowered):
        expansion = ABBREVIATIONS.get(word)
        if expansion:
            out.extend(stem(part) for part in _WORD.findall(expansion) if part not in STOPWORDS)
        elif word not in STOPWORDS:
            out.append(stem(word))
    return out


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance with an early exit once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class TypoCorrector:
    """Symmetric-delete spelling correction over the index vocabulary (built on first use)."""

    def __init__(self, vocabulary: Iterable[str], frequency: dict[str, int]) -> None:
        self._frequency = frequency
        self._by_delete: dict[str, list[str]] = {}
        for word in vocabulary:
            if len(word) < 4 or word.isdigit():
                continue
            for variant in _deletes(word) | {word}:
                self._by_delete.setdefault(variant, []).append(word)

    def correct(self, word: str) -> str | None:
        """The most frequent vocabulary word within edit distance 1 (2 for long words), if any."""
        if len(word) < 4 or word.isdigit():
            return None
        limit = 2 if len(word) >= 7 else 1
        probes = {word} | _deletes(word)
        if limit == 2:
            probes |= {d2 for d1 in _deletes(word) for d2 in _deletes(d1)}
        best: tuple[int, int, str] | None = None
        for probe in probes:
            for candidate in self._by_delete.get(probe, ()):
                distance = edit_distance(word, candidate, limit)
                if distance <= limit:
                    key = (distance, -self._frequency.get(candidate, 0), candidate)
                    if best is None or key < best:
                        best = key
        return best[2] if best else None
