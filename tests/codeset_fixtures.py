"""Session fixtures for the code sets: the cache is built once into .test-cache/codesets (no vectors)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from knowledge.codesets import CodeSets, load_codesets
from knowledge.codesets.ncci import NcciEdits, parse_ncci_file

NCCI_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ncci"
PTP_SAMPLE = NCCI_FIXTURES / "ccipra-v322r0-f1.sample.txt"
MUE_SAMPLE = NCCI_FIXTURES / "MCR_MUE_PractitionerServices_Eff_07-01-2026.sample.csv"


@pytest.fixture(scope="session")
def codesets_cache_dir(shared_cache_dir: Path) -> Path:
    return shared_cache_dir / "codesets"


@pytest.fixture(scope="session")
def codesets(codesets_cache_dir: Path) -> CodeSets:
    """The shipped code sets (built on the first run, about 15 s; loaded in about 1 s afterwards)."""
    return load_codesets(codesets_cache_dir)


@pytest.fixture()
def codesets_with_ncci(codesets: CodeSets) -> CodeSets:
    """The code sets plus the NCCI sample files (a copy: the session object is not touched)."""
    edits = NcciEdits()
    edits.merge(parse_ncci_file(PTP_SAMPLE))
    edits.merge(parse_ncci_file(MUE_SAMPLE))
    return dataclasses.replace(codesets, ncci=edits)


@pytest.fixture()
def home_cache(isolated_environment: Path, codesets_cache_dir: Path, codesets: CodeSets) -> Path:
    """HOME/cache holding a copy of the built cache, so CLI commands start warm."""
    cache = isolated_environment / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for pickle_file in codesets_cache_dir.glob("codesets-*"):
        shutil.copy2(pickle_file, cache / pickle_file.name)
    return cache
