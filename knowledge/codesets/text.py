"""Tokens for code search: lower case, a light suffix stemmer, coder abbreviations, typo correction."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from knowledge.codesets.lay_terms import LAY_TERMS

_WORD = re.compile(r"[a-z0-9]+")
# "s" is what is left of a possessive ("Crohn's"): the eponym itself is the word that matters.
STOPWORDS = frozenset({"of", "the", "a", "an", "and", "or", "to", "for", "by", "on", "at", "as", "is", "pt", "s"})

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

#: "see" and "see also" of the Alphabetic Index, for words whose Tabular wording differs: each word
#: of a query also matches its alternates (counted once). The Index itself is not in the shipped data
#: (CDC publishes it as a separate file), so these are the common cross-references a coder knows.
SEE_ALSO: dict[str, tuple[str, ...]] = {
    "palsy": ("paralysis",),
    "anomaly": ("malformation", "congenital"),
    "anomalous": ("malformation", "congenital"),
    "deformity": ("malformation", "deformation"),
    "distal": ("lower",),
    "proximal": ("upper",),
    "senile": ("age", "related"),
    "lice": ("pediculosis", "pediculus"),
    "louse": ("pediculosis", "pediculus"),
    "pinworm": ("enterobiasis",),
    "ringworm": ("tinea", "dermatophytosis"),
    "tapeworm": ("taeniasis", "cestode"),
    "hookworm": ("ancylostomiasis", "necatoriasis"),
    "kidney": ("renal",),
    "renal": ("kidney",),
    "cancer": ("malignant", "neoplasm"),
    "tumor": ("neoplasm",),
    "growth": ("neoplasm",),
    "stone": ("calculus",),
    "calculi": ("calculus",),
    "bedsore": ("pressure", "ulcer"),
    "decubitus": ("pressure", "ulcer"),
    "examination": ("exam",),
    "checkup": ("examination",),
    "physical": ("examination",),
    "vaccination": ("immunization",),
    "immunization": ("vaccination",),
    # Organ nouns and the adjectives the Tabular uses, and the organ system a category names
    # ("Screening, neoplasm, lung" is Z12.2 "... of respiratory organs").
    "heart": ("cardiac",),
    "cardiac": ("heart",),
    "lung": ("pulmonary", "respiratory"),
    "lungs": ("pulmonary", "respiratory"),
    "pulmonary": ("lung",),
    "bronchus": ("bronchial", "respiratory"),
    "trachea": ("tracheal", "respiratory"),
    "liver": ("hepatic", "digestive"),
    "hepatic": ("liver",),
    "stomach": ("gastric", "digestive"),
    "gastric": ("stomach",),
    "duodenum": ("duodenal",),
    "duodenal": ("duodenum",),
    "colon": ("colonic", "digestive", "large intestine"),
    "rectum": ("rectal", "digestive"),
    "esophagus": ("esophageal", "digestive"),
    "pancreas": ("pancreatic", "digestive"),
    "intestine": ("intestinal",),
    "bowel": ("intestine", "intestinal"),
    "ovary": ("ovarian", "genital"),
    "ovarian": ("ovary",),
    "uterus": ("uterine", "genital"),
    "uterine": ("uterus",),
    "cervix": ("cervical", "genital"),
    "prostate": ("prostatic", "genital"),
    "testis": ("testicular", "genital"),
    "bladder": ("vesical", "urinary"),
    "cornea": ("corneal",),
    "corneal": ("cornea",),
    "skin": ("cutaneous",),
    "vein": ("venous",),
    "artery": ("arterial",),
    "spine": ("spinal",),
    "brain": ("cerebral",),
    "cerebral": ("brain",),
    "nose": ("nasal",),
    "mouth": ("oral",),
    "tooth": ("dental",),
    "teeth": ("dental", "tooth"),
    "breast": ("mammary",),
    "status": ("presence",),
    "elevated": ("abnormal", "raised", "high"),
    "phobia": ("phobic",),
    "weight": ("obesity",),
    "overweight": ("obesity",),
}

#: Main terms of the Index that name no particular condition ("Disease, Crohn's", "Syndrome, Down"):
#: the subterms carry the meaning, so a code need not repeat these words to match.
GENERIC_WORDS = (
    "disease",
    "disorder",
    "syndrome",
    "condition",
    "anomaly",
    "anomalous",
    "deformity",
    "infection",
    "infestation",
    "abnormal",
    "abnormality",
    "finding",
    "lesion",
    "problem",
    "complication",
    "encounter",
    "admission",
)


#: Words ending in -ism that are not a condition named after its adjective (organism is not organ).
_NOT_ISM = frozenset({"organism", "organisms", "mechanism", "mechanisms"})


@lru_cache(maxsize=100_000)  # the code texts' vocabulary is some 20,000 words; a search stems ~1,700
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


def fold(text: str) -> str:
    """Lower case without accents: "Ménière's", "Guillain-Barré" and "Sjögren" are typed without them."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return "".join(c for c in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Stemmed tokens of a code text (stopwords dropped)."""
    return [stem(word) for word in _WORD.findall(fold(text)) if word not in STOPWORDS]


GENERIC_TERMS = frozenset(stem(word) for word in GENERIC_WORDS)
#: Words in parentheses: the nonessential modifiers of ICD-10-CM texts and Index paths.
PARENTHESIZED = re.compile(r"\(([^()]*)\)")
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
LAY_WEIGHT = 0.25  # a lay phrase's own words, once its Tabular wording is in the query ("hives" is not HIV)


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One word of a query, as the search weighs it."""

    term: str  # stemmed
    alternates: tuple[str, ...]  # stemmed "see also" words that count as this word
    segment: int  # which comma-separated part of an index-style query ("Pain, joint, knee, left")
    soft: bool  # nonessential: an Index main term that names no condition, or a word in parentheses
    weight: float = 1.0


def rewrite(text: str, *, known: frozenset[str] = frozenset()) -> str:
    """The query in lower case with shorthand phrases and lay words spelled the way the Tabular does.

    ``known``: lay phrases the loaded code texts use themselves ("swimmer's ear", "tennis elbow"); those
    stay as typed, with the clinical wording added as nonessential words."""
    lowered = _index_eponym(fold(text))
    for pattern, replacement in _PHRASES:
        lowered = pattern.sub(replacement, lowered)

    def lay_words(match: re.Match[str]) -> str:
        phrase = match.group(0)
        if phrase in known:
            return f" {phrase} ({LAY_TERMS[phrase]}) "
        return f" {LAY_TERMS[phrase]} [{phrase}] "  # the phrase's own words barely count ("hives" is not HIV)

    lowered = lay_pattern().sub(lay_words, lowered)
    return _BMI.sub(_bmi_range, lowered)


def _index_eponym(text: str) -> str:
    """An Index path names an eponym after its main term ("Disease, Plummer's", "Ulcer, Curling's"): when
    subterm + main term is a known name, the path is read as that name ("plummer's disease")."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2:
        return text
    for i in range(1, len(parts)):
        phrase = " ".join(f"{parts[i]} {parts[0]}".split())
        if phrase in LAY_TERMS:
            return ", ".join([phrase, *parts[1:i], *parts[i + 1 :]])
    return text


@lru_cache(maxsize=1)
def lay_pattern() -> re.Pattern[str]:
    """Every lay phrase as whole words, longest first."""
    phrases = sorted(LAY_TERMS, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w'])")


_BMI = re.compile(r"\b(?:bmi|body mass index)\s*(?:of\s*)?(\d{1,2})(?:\.\d)?\b")


def _bmi_range(match: re.Match[str]) -> str:
    """A BMI as the Z68 range the Tabular writes for it (42 -> "40.0-44.9", 18 -> "19.9 or less")."""
    value = int(match.group(1))
    if value < 20:
        band = "19.9 or less"
    elif value < 40:
        band = f"{value}.0-{value}.9"
    elif value >= 70:
        band = "70 or greater"
    else:
        low, high = next((lo, hi) for lo, hi in ((40, 44), (45, 49), (50, 59), (60, 69)) if value <= hi)
        band = f"{low}.0-{high}.9"
    return f" body mass index {band} "


def query_words(text: str, *, known: frozenset[str] = frozenset()) -> tuple[list[QueryWord], int]:
    """The words of a query (abbreviations spelled out, each once) and how many index segments it has.

    A query written as an Alphabetic Index path ("Ulcer, pressure, sacral region, stage 2") has one
    segment per comma-separated part: the main term, then subterms that narrow it. Words in parentheses
    are nonessential modifiers, as in the Index; a generic main term ("Disease", "Syndrome") is soft too.
    """
    out: list[QueryWord] = []
    seen: set[str] = set()
    segments = [part for part in rewrite(text, known=known).split(",") if _WORD.search(part)]
    for number, part in enumerate(segments):
        soft_words = {word for inner in PARENTHESIZED.findall(part) for word in _WORD.findall(inner)}
        lay_words = {word for inner in _BRACKETED.findall(part) for word in _WORD.findall(inner)}
        for word in _WORD.findall(part):
            expansion = ABBREVIATIONS.get(word)
            parts = _WORD.findall(expansion) if expansion else [word]
            for piece in parts:
                if piece in STOPWORDS:
                    continue
                term = stem(piece)
                if term in seen:
                    continue
                seen.add(term)
                see = SEE_ALSO.get(piece, ())
                if piece.endswith("virus") and len(piece) > 6:
                    see = (*see, piece[:-5] + "viral")  # "Gastroenteritis, due to, rotavirus": A08.0 Rotaviral
                alternates = tuple(stem(alt) for alt in see if stem(alt) != term)
                lay = word in lay_words
                soft = lay or word in soft_words or (number == 0 and len(segments) > 1 and term in GENERIC_TERMS)
                out.append(QueryWord(term, alternates, number, soft, LAY_WEIGHT if lay else 1.0))
    return out, len(segments)


def query_tokens(text: str) -> list[str]:
    """Stemmed tokens of a query, with the coder abbreviations spelled out."""
    return [word.term for word in query_words(text)[0]]


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


def term_display(text: str) -> dict[str, str]:
    """Each stemmed term of a query, and the word it came from, to show a person ("kne" -> "knee")."""
    out: dict[str, str] = {}
    for word in _WORD.findall(rewrite(text)):
        expansion = ABBREVIATIONS.get(word)
        for piece in _WORD.findall(expansion) if expansion else [word]:
            out.setdefault(stem(piece), piece)
            for alternate in SEE_ALSO.get(piece, ()):
                out.setdefault(stem(alternate), alternate)
    return out


def index_segments(text: str) -> list[str]:
    """The comma-separated parts of a query as typed (what ``query_words`` numbers as segments)."""
    return [" ".join(part.split()) for part in text.split(",") if _WORD.search(part.lower())]
