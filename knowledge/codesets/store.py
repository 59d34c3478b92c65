"""The loaded code sets (`CodeSets`), how they are built from the source files, and their cache.

The parsed code sets and the search index are pickled into ``<cache_dir>/codesets-<key>.pickle``; the key
is a hash of the parser version and of every source file (name, size, modification time), so a changed or
newly imported file rebuilds the cache and an unchanged one loads in well under a second. Embedding
vectors (slow to build: minutes) live beside it in ``vectors-<key>.npy`` (float16) and are optional:
search falls back to lexical ranking without them, and while a build (often the server's background
indexer) is under way; that build checkpoints into ``vectors-<key>.partial/`` and resumes there after a
stop. Files a user imports (CPT descriptors, newer CARC and
RARC lists, NCCI edits) are kept in ``<cache_dir>/imports/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import os
import pickle
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from knowledge.codesets.cpt import parse_cpt_descriptors
from knowledge.codesets.hcpcs import HcpcsRecord, find_hcpcs_file, parse_hcpcs_file, parse_proc_notes
from knowledge.codesets.icd10cm import TABULAR_SOURCE, Icd10cm, default_tabular_path, parse_tabular
from knowledge.codesets.icd_tables import TABLE_TITLES, IndexEntry, parse_index_tables
from knowledge.codesets.ncci import NcciEdits, parse_ncci_file
from knowledge.codesets.pos import PlaceOfService, parse_pos
from knowledge.codesets.search import CONTEXT_LABEL, SearchIndex, Target, VectorIndex, build_search_index
from knowledge.codesets.text import PARENTHESIZED
from knowledge.codesets.x12codes import X12Code, parse_code_csv
from knowledge.errors import FileFormatError, InvalidInput
from knowledge.progress import Progress

log = logging.getLogger(__name__)
_INDEX_LOCK = threading.Lock()  # one thread reads the search index file; the others wait for it

#: Bump when a parser or the index layout changes: old caches are then rebuilt.
PARSER_VERSION = "9"
#: While a server has no code vectors, how often it looks whether they were completed since.
VECTOR_RECHECK_SECONDS = 2.0
#: Code descriptions embedded per checkpoint file of a vector build (about 10 s of work on 2 cores).
VECTOR_CHECKPOINT = 2048
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "codesets"


class Encoder(Protocol):
    """What the search needs from an embedder (``knowledge.embeddings.Embedder`` fits)."""

    model_path: str

    def encode(self, texts: list[str], *, batch_size: int = 64) -> npt.NDArray[np.float32]: ...


@dataclass
class CodeSets:
    """Every loaded code set, the search index, and (lazily) the vectors and NCCI edits."""

    icd: Icd10cm
    index_entries: list[IndexEntry]
    hcpcs: dict[str, HcpcsRecord]
    modifiers: dict[str, HcpcsRecord]
    proc_notes: dict[str, str]
    pos: dict[str, PlaceOfService]
    carc: dict[str, X12Code]
    rarc: dict[str, X12Code]
    groups: dict[str, X12Code]
    status_categories: dict[str, X12Code]
    cpt: dict[str, str]
    # The search index is four fifths of the cache (42 of 50 MB, 0.4 s of a 0.7 s load) and a look-up or a
    # claim check never reads it: it is kept in a file of its own and loaded on first use (`index`).
    _index: SearchIndex | None
    sources: dict[str, str]
    key: str
    cache_dir: Path | None = None
    _index_file: Path | None = field(default=None, repr=False)
    vectors: VectorIndex | None = field(default=None, repr=False)
    vectors_checked: bool = field(default=False, repr=False)
    vectors_checked_at: float = field(default=0.0, repr=False)
    encoder: Encoder | None = field(default=None, repr=False)
    ncci: NcciEdits | None = field(default=None, repr=False)

    @property
    def index(self) -> SearchIndex:
        """The search index: in memory once built or read; read from its cache file the first time."""
        if self._index is None:
            with _INDEX_LOCK:
                if self._index is None:
                    self._index = self._read_index()
        return self._index

    def _read_index(self) -> SearchIndex:
        if self._index_file is not None:
            try:
                with self._index_file.open("rb") as handle, _gc_paused():
                    loaded = pickle.load(handle)  # our own cache file, written by `_save` below
                if isinstance(loaded, SearchIndex):
                    return loaded
            except Exception:  # removed or truncated since the code sets were loaded: built again from them
                log.warning("code search index %s unreadable; rebuilding it", self._index_file.name)
        return _build_index(
            self.icd,
            self.index_entries,
            self.hcpcs,
            self.modifiers,
            self.carc,
            self.rarc,
            self.groups,
            self.status_categories,
            self.pos,
            self.cpt,
        )

    def counts(self) -> dict[str, int]:
        billable = 0
        for code, node in self.icd.nodes.items():
            if node.kind in ("category", "code") and not node.children:
                billable += len(self.icd.allowed_seventh(code)) if self.icd.needs_seventh(code) else 1
        return {
            "icd10cm_entries": len(self.icd.nodes),
            "icd10cm_billable": billable,
            "icd10cm_index_entries": len(self.index_entries),
            "hcpcs": len(self.hcpcs),
            "modifiers": len(self.modifiers),
            "carc": len(self.carc),
            "rarc": len(self.rarc),
            "pos": len(self.pos),
            "cpt_descriptors": len(self.cpt),
            "search_documents": len(self.index.doc_text),
        }

    def vector_index(self) -> VectorIndex | None:
        """The embedding vectors, loaded on first use (None while they are not completely built).

        While there are none, the disk is looked at again (one stat) at most every
        ``VECTOR_RECHECK_SECONDS``: the server starts answering before its background indexer (or an
        `init` next to it) has finished the vectors, and semantic search joins as soon as they are whole."""
        if self.vectors is None and self.cache_dir is not None:
            now = time.monotonic()
            if not self.vectors_checked or now - self.vectors_checked_at >= VECTOR_RECHECK_SECONDS:
                self.vectors_checked = True
                self.vectors_checked_at = now
                self.vectors = load_vectors(self.cache_dir, self)
        return self.vectors

    def ncci_edits(self) -> NcciEdits:
        """The imported NCCI PTP and MUE edits (empty when none were imported)."""
        if self.ncci is None:
            self.ncci = load_ncci(self.cache_dir) if self.cache_dir is not None else NcciEdits()
        return self.ncci

    def __getstate__(self) -> dict[str, Any]:
        skip = {"vectors", "vectors_checked", "vectors_checked_at", "encoder", "ncci", "cache_dir"}
        return {name: value for name, value in self.__dict__.items() if name not in skip}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.cache_dir = None
        self.vectors = None
        self.vectors_checked = False
        self.vectors_checked_at = 0.0
        self.encoder = None
        self.ncci = None


# --- source files -------------------------------------------------------------------------------------


def imports_dir(cache_dir: Path) -> Path:
    return cache_dir / "imports"


def source_files(data_dir: Path, cache_dir: Path) -> dict[str, Path]:
    """Every file the build reads, by role; missing optional imports are left out."""
    files = {
        "icd10cm_tabular": default_tabular_path(),
        "hcpcs": find_hcpcs_file(data_dir / "hcpcs"),
        "pos": data_dir / "pos" / "cs-CMS-PlaceofServiceCodes.xml",
        "carc": data_dir / "x12" / "claim_adjustment_reason_codes.csv",
        "rarc": data_dir / "x12" / "remittance_advice_remark_codes.csv",
        "groups": data_dir / "x12" / "claim_adjustment_group_codes.csv",
        "status_categories": data_dir / "x12" / "claim_status_category_codes.csv",
    }
    notes = sorted((data_dir / "hcpcs").glob("proc_notes*.txt"))
    if notes:
        files["hcpcs_proc_notes"] = notes[-1]
    for table_file in sorted((data_dir / "icd10cm").glob("*.xml")):
        files[f"icd10cm_{table_file.stem}"] = table_file
    imported = imports_dir(cache_dir)
    for name in ("cpt.csv", "carc.csv", "rarc.csv"):
        if (imported / name).exists():
            files[f"import_{name}"] = imported / name
    for role, path in files.items():
        if not path.exists():
            raise FileFormatError(f"code-set source file missing ({role})", path=str(path))
    return files


SOURCE_DIGESTS = "source-digests.json"


def cache_key(files: dict[str, Path], *, cache_dir: Path | None = None) -> str:
    """A key for the cache built from ``files``: the parser version and each file's role, name and content.

    Content, not modification time, so that a fresh checkout (new mtimes, same files) or a HOME moved to
    another machine keeps its cache and its vectors (minutes of embedding). Hashing the 19 MB of sources
    takes about 50 ms, so with ``cache_dir`` each file's digest is remembered in ``source-digests.json``
    against its size and mtime and read again only when either changes.
    """
    memo_file = cache_dir / SOURCE_DIGESTS if cache_dir is not None else None
    memo = _read_digest_memo(memo_file)
    changed = False
    digest = hashlib.blake2b(PARSER_VERSION.encode(), digest_size=10)
    for role in sorted(files):
        path = files[role]
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        remembered = memo.get(str(path.resolve()))
        if remembered and remembered[:2] == stamp:
            content = str(remembered[2])
        else:
            content = _content_digest(path)
            memo[str(path.resolve())] = [*stamp, content]
            changed = True
        digest.update(f"{role}|{path.name}|{content}\n".encode())
    if changed and memo_file is not None and memo_file.parent.exists():
        try:
            _write_json(memo_file, memo, unique=True)
        except OSError:  # a read-only cache still works: the digests are computed again next time
            log.debug("could not remember source digests in %s", memo_file)
    return digest.hexdigest()


def _content_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_digest_memo(memo_file: Path | None) -> dict[str, list[Any]]:
    if memo_file is None or not memo_file.exists():
        return {}
    try:
        loaded = json.loads(memo_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # torn or foreign: computed again
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): v for k, v in loaded.items() if isinstance(v, list) and len(v) == 3}


# --- building -----------------------------------------------------------------------------------------


def _build(files: dict[str, Path], data_dir: Path, key: str, progress: Progress | None) -> CodeSets:
    steps = 6

    def step(n: int, what: str) -> None:
        # One bar for the whole build; ``what`` is the step under way (kept for logs).
        log.debug("code sets: %s", what)
        if progress:
            progress("parsing code sets", n, steps)

    step(0, "ICD-10-CM tabular list")
    icd = parse_tabular(files["icd10cm_tabular"])
    step(1, "ICD-10-CM index tables")
    entries = [e for e in parse_index_tables(data_dir / "icd10cm") if e.code in icd.nodes]
    step(2, "HCPCS Level II")
    records = parse_hcpcs_file(files["hcpcs"])
    hcpcs = {r.code: r for r in records if not r.is_modifier}
    modifiers = {r.code: r for r in records if r.is_modifier}
    proc_notes = parse_proc_notes(files["hcpcs_proc_notes"]) if "hcpcs_proc_notes" in files else {}
    step(3, "X12 code lists and place of service")
    carc = parse_code_csv(files["carc"], what="CARC")
    rarc = parse_code_csv(files["rarc"], what="RARC")
    if "import_carc.csv" in files:
        carc.update(parse_code_csv(files["import_carc.csv"], what="CARC"))
    if "import_rarc.csv" in files:
        rarc.update(parse_code_csv(files["import_rarc.csv"], what="RARC"))
    groups = parse_code_csv(files["groups"], what="group code")
    status_categories = parse_code_csv(files["status_categories"], what="claim status category")
    pos = parse_pos(files["pos"])
    cpt = parse_cpt_descriptors(files["import_cpt.csv"]) if "import_cpt.csv" in files else {}
    step(4, "search index")
    index = _build_index(icd, entries, hcpcs, modifiers, carc, rarc, groups, status_categories, pos, cpt)
    step(5, "writing the cache")
    step(6, "done")
    sources = {
        "icd10cm": TABULAR_SOURCE,
        "icd10cm_tables": "; ".join(TABLE_TITLES.values()),
        "hcpcs": f"CMS HCPCS Level II quarterly file {files['hcpcs'].name}",
        "pos": "CMS Place of Service codes (HL7 UTG CodeSystem)",
        "carc": "X12 Claim Adjustment Reason Codes"
        + (" (imported list)" if "import_carc.csv" in files else " (py835, about mid-2024)"),
        "rarc": "Remittance Advice Remark Codes"
        + (" (imported list)" if "import_rarc.csv" in files else " (py835, about mid-2024)"),
        "cpt": "CPT descriptors imported by the practice (AMA licence)" if cpt else "",
    }
    return CodeSets(
        icd=icd,
        index_entries=entries,
        hcpcs=hcpcs,
        modifiers=modifiers,
        proc_notes=proc_notes,
        pos=pos,
        carc=carc,
        rarc=rarc,
        groups=groups,
        status_categories=status_categories,
        cpt=cpt,
        _index=index,
        sources=sources,
        key=key,
    )


def _build_index(
    icd: Icd10cm,
    entries: list[IndexEntry],
    hcpcs: dict[str, HcpcsRecord],
    modifiers: dict[str, HcpcsRecord],
    carc: dict[str, X12Code],
    rarc: dict[str, X12Code],
    groups: dict[str, X12Code],
    status_categories: dict[str, X12Code],
    pos: dict[str, PlaceOfService],
    cpt: dict[str, str],
) -> SearchIndex:
    today = dt.date.today()
    targets: list[Target] = []
    documents: list[tuple[int, str, str]] = []
    seventh: dict[int, dict[str, str]] = {}
    icd_target: dict[str, int] = {}

    def add(target: Target, texts: list[tuple[str, str]]) -> int:
        target_id = len(targets)
        targets.append(target)
        for text, label in texts:
            add_text(target_id, text, label)
        return target_id

    def add_text(target_id: int, text: str, label: str) -> None:
        if not text.strip():
            return
        documents.append((target_id, text, label))
        # Words in parentheses are nonessential modifiers in ICD-10-CM texts: "Essential (primary)
        # hypertension" must also be found, and rank first, as "essential hypertension".
        if "(" in text:
            bare = " ".join(PARENTHESIZED.sub(" ", text).split())
            if bare and bare != text:
                documents.append((target_id, bare, label))

    for code, node in icd.nodes.items():
        if node.kind in ("chapter", "block"):
            continue
        needs = icd.needs_seventh(code)
        texts = [(node.description, "description")]
        texts += [(text, "inclusion term") for kind, text in node.notes if kind == "inclusion_term"]
        texts += [(text, "includes note") for kind, text in node.notes if kind == "includes"]
        billable = not node.children and not needs
        target_id = add(Target("icd10cm", code, node.description, billable), texts)
        icd_target[code] = target_id
        if needs:
            seventh[target_id] = icd.allowed_seventh(code)
    # The hierarchy: each code's parent, and a text that walks it the way the Alphabetic Index does
    # ("Pain in joint › Pain in knee › Pain in left knee"), so that "Pain, joint, knee, left" finds the
    # code whose own description never says "joint".
    parents: dict[int, int] = {}
    chapters: dict[int, str] = {}
    for code, target_id in icd_target.items():
        node = icd.nodes[code]
        top = icd.ancestors(code)[-1:] or [code]
        if icd.nodes[top[0]].kind == "chapter":
            chapters[target_id] = icd.nodes[top[0]].description
        if node.parent in icd_target:
            parents[target_id] = icd_target[node.parent]
            chain = [icd.nodes[a].description for a in reversed(icd.ancestors(code)) if a in icd_target]
            add_text(target_id, " › ".join([*chain, node.description]), CONTEXT_LABEL)
    labels = {
        "neoplasm": "Table of Neoplasms",
        "drug": "Table of Drugs and Chemicals",
        "external_cause": "External Cause Index",
    }
    for entry in entries:
        add_text(icd_target[entry.code], entry.text, labels[entry.table])
    for code, record in hcpcs.items():
        active = record.terminated is None or record.terminated >= today
        add(
            Target("hcpcs", code, record.long_description, None, active),
            [(record.long_description, "description"), (record.short_description, "short description")],
        )
    for code, record in modifiers.items():
        active = record.terminated is None or record.terminated >= today
        add(Target("modifier", code, record.long_description, None, active), [(record.long_description, "description")])
    for system, table in (
        ("carc", carc),
        ("rarc", rarc),
        ("group", groups),
        ("claim_status_category", status_categories),
    ):
        for code, item in table.items():
            active = item.stop is None or item.stop >= today
            add(Target(system, code, item.description, None, active), [(item.description, "description")])
    for code, place in pos.items():
        add(Target("pos", code, place.name, None), [(place.name, "name"), (place.definition, "definition")])
    for code, description in cpt.items():
        add(Target("cpt", code, description, None), [(description, "description")])
    return build_search_index(targets, documents, seventh, parents, chapters)


def build_codeset_cache(
    cache_dir: Path,
    *,
    progress: Progress | None = None,
    with_vectors: bool = True,
    data_dir: Path | None = None,
    encoder: Encoder | None = None,
) -> dict[str, int | float | bool]:
    """Build (or refresh) the code-set cache, and the search vectors unless ``with_vectors`` is False.

    Returns counts for `init` to report: codes per system, documents indexed, vectors built, seconds;
    without vectors, how far they are (``vector_texts`` to embed, ``vectors_current``, and the texts
    ``vectors_checkpointed`` by a build that was stopped), for the build left to `serve`.
    """
    started = time.perf_counter()
    codesets = load_codesets(cache_dir, data_dir=data_dir, progress=progress)
    result: dict[str, int | float | bool] = dict(codesets.counts())
    result["vectors"] = 0
    if with_vectors:
        result["vectors"] = build_vectors(cache_dir, codesets, progress=progress, encoder=encoder)
    else:
        result["vector_texts"] = vector_count(codesets)
        result["vectors_current"] = vectors_are_current(cache_dir, codesets, encoder=encoder)
        result["vectors_checkpointed"] = vectors_checkpointed(cache_dir, codesets)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def cache_is_current(cache_dir: Path, *, data_dir: Path | None = None) -> bool:
    """Whether `load_codesets` would load from the cache (rather than parse the files for a minute)."""
    files = source_files(data_dir or DEFAULT_DATA_DIR, cache_dir)
    path = cache_dir / f"codesets-{cache_key(files, cache_dir=cache_dir)}.pickle"
    return path.exists() and path.with_suffix(".index").exists()


def load_codesets(
    cache_dir: Path,
    *,
    data_dir: Path | None = None,
    progress: Progress | None = None,
) -> CodeSets:
    """The code sets, from the cache when it is current, else parsed from the files and cached."""
    data_dir = data_dir or DEFAULT_DATA_DIR
    files = source_files(data_dir, cache_dir)
    key = cache_key(files, cache_dir=cache_dir)
    path = cache_dir / f"codesets-{key}.pickle"
    codesets: CodeSets | None = None
    if path.exists():
        try:
            with path.open("rb") as handle, _gc_paused():
                loaded = pickle.load(handle)
            if isinstance(loaded, CodeSets):
                codesets = loaded
        except Exception:  # a truncated or foreign file: rebuild rather than fail
            log.warning("code-set cache %s unreadable; rebuilding", path.name)
    index_file = path.with_suffix(".index")
    if codesets is not None and not index_file.exists():
        codesets = None  # a cache from before the index had a file of its own, or half removed: built again
    if codesets is None:
        codesets = _build(files, data_dir, key, progress)
        cache_dir.mkdir(parents=True, exist_ok=True)
        _save(codesets, path, index_file)
        for old in [*cache_dir.glob("codesets-*.pickle"), *cache_dir.glob("codesets-*.index")]:
            if old not in (path, index_file):
                old.unlink(missing_ok=True)
        _adopt_full_vectors(cache_dir, codesets)
    codesets.cache_dir = cache_dir
    codesets._index_file = index_file
    return codesets


def _save(codesets: CodeSets, path: Path, index_file: Path) -> None:
    """The code sets and their search index, each whole or not at all (the index first: a code-set file
    is only ever beside its index)."""
    for target, value in ((index_file, codesets.index), (path, dataclasses.replace(codesets, _index=None))):
        temporary = target.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(target)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Unpickling ~300k objects triggers many useless GC passes; pausing them halves the load time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- vectors ------------------------------------------------------------------------------------------


def _vector_paths(cache_dir: Path, codesets: CodeSets) -> tuple[Path, Path]:
    return cache_dir / f"vectors-{codesets.key}.npy", cache_dir / f"vectors-{codesets.key}.json"


def _partial_dir(cache_dir: Path, codesets: CodeSets) -> Path:
    return cache_dir / f"vectors-{codesets.key}.partial"


def vector_texts(codesets: CodeSets, only: Callable[[Target], bool] | None = None) -> tuple[list[str], dict[str, int]]:
    """The texts a vector build embeds (deduplicated, in target order) and each code's row among them."""
    text_rows: dict[str, int] = {}
    keys: dict[str, int] = {}
    for target in codesets.index.targets:
        if only is not None and not only(target):
            continue
        text = " ".join(target.description.split())
        if not text:
            continue
        keys[SearchIndex.key(target.system, target.code)] = text_rows.setdefault(text, len(text_rows))
    return list(text_rows), keys


def _texts_digest(texts: list[str], model: str) -> str:
    """Names one exact build: the same texts embedded by the same model. A checkpoint or a finished file
    with another digest belongs to another build (another `only`, another model) and is never reused."""
    digest = hashlib.blake2b(f"{PARSER_VERSION}|{model}|{len(texts)}".encode(), digest_size=12)
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\x1f")
    return digest.hexdigest()


def _model_name(encoder: Encoder | None, model_path: str | None) -> str:
    if encoder is not None:
        return Path(encoder.model_path).name
    if model_path is not None:
        return Path(model_path).name
    from knowledge.embeddings import default_model_path

    return Path(default_model_path()).name


def vector_count(codesets: CodeSets, *, only: Callable[[Target], bool] | None = None) -> int:
    """How many texts a full vector build embeds (what `init` and the health page count against)."""
    return len(vector_texts(codesets, only)[0])


def vectors_are_current(
    cache_dir: Path,
    codesets: CodeSets,
    *,
    only: Callable[[Target], bool] | None = None,
    model_path: str | None = None,
    encoder: Encoder | None = None,
) -> bool:
    """Whether the finished vector file is this build's (same texts, same model): nothing to embed."""
    texts, _ = vector_texts(codesets, only)
    meta = _read_vector_meta(_vector_paths(cache_dir, codesets)[1])
    return meta is not None and meta.get("digest") == _texts_digest(texts, _model_name(encoder, model_path))


def vectors_checkpointed(cache_dir: Path, codesets: CodeSets) -> int:
    """Texts already embedded by an unfinished build (its checkpoint files), for progress reports."""
    partial = _partial_dir(cache_dir, codesets)
    meta = _read_vector_meta(partial / "build.json")
    if meta is None:
        return 0
    step = int(meta.get("checkpoint", VECTOR_CHECKPOINT))
    total = int(meta.get("texts", 0))
    return sum(min(step, total - int(p.stem)) for p in partial.glob("[0-9]*.npy") if p.stem.isdigit())


def _read_vector_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _save_npy(path: Path, matrix: npt.NDArray[Any]) -> None:
    """Write a .npy file whole or not at all: a reader (or a resumed build) never sees half a file."""
    temporary = path.with_name(path.name + ".tmp.npy")
    np.save(temporary, matrix)
    temporary.replace(path)


def _write_json(path: Path, data: dict[str, Any], *, unique: bool = False) -> None:
    """Write whole or not at all; ``unique`` names the temporary file per process and thread, for files that
    several processes may write at once (the last whole one wins)."""
    suffix = f".{os.getpid()}.{threading.get_ident()}.tmp" if unique else ".tmp"
    temporary = path.with_name(path.name + suffix)
    temporary.write_text(json.dumps(data))
    temporary.replace(path)


def _adopt_vectors(cache_dir: Path, vector_file: Path, keys_file: Path, meta: dict[str, Any]) -> bool:
    """Take over a finished vector file of another cache key whose texts and model are these (same digest).

    The code-set key changes when anything about the parsed sets changes (a parser version, a user's CPT
    import), often without changing one embedded text; the vectors are then reused under the new key
    (with this build's code -> row keys) instead of embedding 56,000 texts again for minutes.
    """
    for other_keys in sorted(cache_dir.glob("vectors-*.json")):
        if other_keys == keys_file:
            continue
        other = _read_vector_meta(other_keys)
        other_vectors = other_keys.with_suffix(".npy")
        if other is None or other.get("digest") != meta["digest"] or other.get("rows") != meta["rows"]:
            continue
        if not other_vectors.exists():
            continue
        other_vectors.replace(vector_file)
        _write_json(keys_file, meta)
        other_keys.unlink(missing_ok=True)
        log.info("code vectors reused from %s (same texts and model)", other_keys.name)
        return True
    return False


def _adopt_full_vectors(cache_dir: Path, codesets: CodeSets) -> None:
    """After a rebuild under a new key: keep the full vector set of the old key if its texts are these."""
    if not any(cache_dir.glob("vectors-*.json")) or _vector_paths(cache_dir, codesets)[1].exists():
        return
    texts, keys = vector_texts(codesets)
    model = _model_name(None, None)
    meta = {"model": model, "digest": _texts_digest(texts, model), "rows": len(texts), "keys": keys}
    vector_file, keys_file = _vector_paths(cache_dir, codesets)
    _adopt_vectors(cache_dir, vector_file, keys_file, meta)


def build_vectors(
    cache_dir: Path,
    codesets: CodeSets,
    *,
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    only: Callable[[Target], bool] | None = None,
    batch: int = 512,
    checkpoint: int = VECTOR_CHECKPOINT,
    model_path: str | None = None,
) -> int:
    """Embed one text per searchable code (deduplicated) and save float16 vectors; returns the count.

    What is embedded: every ICD-10-CM category, subcategory and code description (7th-character codes
    share their base code's vector), every HCPCS code and modifier, CARC, RARC, POS and group codes.
    ``only`` restricts the set (tests embed a handful of codes).

    Resumable and idempotent: vectors current for these texts and this model are kept (nothing is
    embedded); otherwise every ``checkpoint`` texts are saved in ``vectors-<key>.partial/``, and a build
    that was stopped (a server killed half-way) continues after its last checkpoint. The finished
    vector file is written first and the file of row keys last, each whole; `load_vectors` wants both
    and checks that they agree, so search never reads a half-built matrix as complete.
    ``batch`` is the number of texts per call of the encoder, which holds the encoder's lock for that
    long: a background build uses small batches so that a query's embedding never waits long.
    """
    vector_file, keys_file = _vector_paths(cache_dir, codesets)
    texts, keys = vector_texts(codesets, only)
    model = _model_name(encoder, model_path)
    digest = _texts_digest(texts, model)
    existing = _read_vector_meta(keys_file)
    if existing is not None and existing.get("digest") == digest and vector_file.exists():
        if progress:
            progress("embedding code descriptions", len(texts), len(texts))
        return len(texts)
    meta = {"model": model, "digest": digest, "rows": len(texts), "keys": keys}
    if _adopt_vectors(cache_dir, vector_file, keys_file, meta):
        if progress:
            progress("embedding code descriptions", len(texts), len(texts))
        return len(texts)
    partial = _partial_dir(cache_dir, codesets)
    build = {"digest": digest, "texts": len(texts), "checkpoint": checkpoint}
    if _read_vector_meta(partial / "build.json") != build:
        shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, exist_ok=True)
    _write_json(partial / "build.json", build)
    if encoder is None:
        from knowledge.embeddings import get_embedder

        encoder = get_embedder(model_path)
    shards: list[npt.NDArray[np.float16]] = []
    for first in range(0, len(texts), checkpoint):
        last = min(first + checkpoint, len(texts))
        shard_file = partial / f"{first:07d}.npy"
        shard = _load_shard(shard_file, last - first)
        if shard is None:
            parts = []
            for start in range(first, last, batch):
                parts.append(encoder.encode(texts[start : min(start + batch, last)], batch_size=min(batch, 64)))
                if progress:
                    progress("embedding code descriptions", min(start + batch, last), len(texts))
            shard = np.vstack(parts).astype(np.float16)
            _save_npy(shard_file, shard)
        elif progress:
            progress("embedding code descriptions", last, len(texts))
        shards.append(shard)
    dimension = shards[0].shape[1] if shards else 0
    matrix = np.vstack(shards) if shards else np.zeros((0, dimension), np.float16)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _save_npy(vector_file, matrix)
    _write_json(keys_file, {"model": model, "digest": digest, "rows": len(texts), "keys": keys})
    shutil.rmtree(partial, ignore_errors=True)
    for old in cache_dir.glob("vectors-*"):
        if old in (vector_file, keys_file):
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    codesets.vectors = None
    codesets.vectors_checked = False
    return len(texts)


def _load_shard(path: Path, rows: int) -> npt.NDArray[np.float16] | None:
    """A checkpoint of an earlier run, if it is whole (else it is embedded again)."""
    if not path.exists():
        return None
    try:
        shard = np.load(path)
    except (OSError, ValueError):
        return None
    if shard.ndim != 2 or shard.shape[0] != rows:
        return None
    return np.asarray(shard, dtype=np.float16)


def load_vectors(cache_dir: Path, codesets: CodeSets) -> VectorIndex | None:
    """The finished vectors, or None when there are none or they do not agree with their row keys (a
    build under way or stopped half-way: the code search then ranks lexically)."""
    vector_file, keys_file = _vector_paths(cache_dir, codesets)
    meta = _read_vector_meta(keys_file)
    if meta is None or not vector_file.exists():
        return None
    try:
        matrix = np.ascontiguousarray(np.load(vector_file), dtype=np.float16)
    except (OSError, ValueError):
        return None
    rows = meta.get("rows")
    row_of: dict[str, int] = meta.get("keys", {})
    if matrix.ndim != 2 or (rows is not None and matrix.shape[0] != rows):
        return None
    if row_of and max(row_of.values()) >= matrix.shape[0]:
        return None
    target_row = np.full(len(codesets.index.targets), -1, dtype=np.int32)
    for key, row in row_of.items():
        target = codesets.index.target_of.get(key)
        if target is not None:
            target_row[target] = row
    return VectorIndex(vectors=matrix, target_row=target_row, model=str(meta.get("model", "")))


# --- imports ------------------------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise InvalidInput(f"No file at {path}.")


def import_cpt(cache_dir: Path, path: Path) -> int:
    """Keep a licensed CPT descriptor file (CSV code,description) for this user; returns the count."""
    _check_file(path)
    count = len(parse_cpt_descriptors(path))
    imports_dir(cache_dir).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, imports_dir(cache_dir) / "cpt.csv")
    return count


def import_code_list(cache_dir: Path, path: Path, *, kind: str) -> int:
    """Keep a newer CARC or RARC list (CSV Code,Description[,Start,Stop]); returns the count."""
    if kind not in ("carc", "rarc"):
        raise InvalidInput(f"Unknown code list {kind!r}: expected carc or rarc.")
    _check_file(path)
    count = len(parse_code_csv(path, what=kind.upper()))
    imports_dir(cache_dir).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, imports_dir(cache_dir) / f"{kind}.csv")
    return count


def import_ncci(cache_dir: Path, path: Path) -> dict[str, int]:
    """Keep an NCCI PTP or MUE file; returns how many edits it holds."""
    _check_file(path)
    edits = parse_ncci_file(path)
    folder = imports_dir(cache_dir) / "ncci"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / path.name)
    for old in cache_dir.glob("ncci-*.pickle"):
        old.unlink(missing_ok=True)
    return {"ptp_edits": sum(len(v) for v in edits.ptp.values()), "mue_values": len(edits.mue)}


def load_ncci(cache_dir: Path) -> NcciEdits:
    """Every imported NCCI file, merged (cached as a pickle keyed like the code sets)."""
    folder = imports_dir(cache_dir) / "ncci"
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.exists() else []
    if not files:
        return NcciEdits()
    key = cache_key({f"ncci_{i}": p for i, p in enumerate(files)}, cache_dir=cache_dir)
    cached = cache_dir / f"ncci-{key}.pickle"
    if cached.exists():
        with cached.open("rb") as handle:
            loaded = pickle.load(handle)
        if isinstance(loaded, NcciEdits):
            return loaded
    edits = NcciEdits()
    for path in files:
        edits.merge(parse_ncci_file(path))
    with cached.open("wb") as handle:
        pickle.dump(edits, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return edits
