"""The packaged sentence-embedding model, loaded from disk."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from knowledge.embeddings import Embedder, get_embedder
from knowledge.errors import ConfigurationError


def test_embeddings_are_unit_vectors_and_close_for_close_meanings() -> None:
    embedder = get_embedder()
    vectors = embedder.encode(
        ["type 2 diabetes with hyperglycemia", "diabetes mellitus type II, high blood sugar", "wheelchair cushion"]
    )
    assert vectors.shape == (3, embedder.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_loading_the_model_holds_openblas_to_one_thread() -> None:
    """numpy's OpenBLAS threads would otherwise spin beside torch's and slow every search on few cores."""
    get_embedder()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_a_missing_model_folder_is_a_configuration_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="no model folder"):
        Embedder(str(tmp_path / "nowhere"))


def test_the_model_loads_with_no_hub_to_reach_and_no_offline_flags() -> None:
    """Nothing downloads at run time: with the hub's address pointing at a closed port and no offline
    environment variables, the packaged model still loads and encodes (in a fresh process)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # the discard port: any request fails at once
    script = "from knowledge.embeddings import get_embedder; print(get_embedder().encode(['copay']).shape)"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(1, 384)")
