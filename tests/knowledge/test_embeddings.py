"""The packaged sentence-embedding model, loaded from disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from knowledge.codesets import CodeSets
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


# --- the numpy runtime (issue 17) --------------------------------------------------------------------------


def _router_texts() -> list[str]:
    """What the offline router embeds: every route's example requests, as it embeds them (values replaced by
    their kind), and the raw requests of the agent evals."""
    import json

    from assistant import repair
    from assistant.registry import default_tool_specs
    from assistant.router import value_kinds

    examples = [e for spec in default_tool_specs() for e in spec.examples]
    examples += [*repair.HELP_EXAMPLES, *repair.UNSUPPORTED_EXAMPLES]
    requests = Path(__file__).resolve().parents[2] / "evals" / "agent" / "requests.jsonl"
    asked = [json.loads(line)["text"] for line in requests.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [value_kinds(text) for text in examples] + asked


EDGE_TEXTS = [
    "",  # [CLS] [SEP] alone
    "   ",
    "Ünïcödé café naïve résumé, 中文 and emoji 🙂",
    "E11.65, M10.9 w/ CO-16 M51 $12.50 dob 1/2/1980 clm #1042",
    "timely filing " * 200,  # longer than the model's 256 tokens: truncated as sentence-transformers does
]


def test_the_shipped_model_runs_in_numpy_to_within_1e_5_of_sentence_transformers(codesets: CodeSets) -> None:
    """The router's calibrated figures, the stored code and passage vectors and every ranking were made
    with sentence-transformers: the numpy runtime must give the same vectors, one text at a time and in
    padded batches of mixed lengths."""
    from knowledge.codesets.store import vector_texts
    from knowledge.embeddings import default_model_path

    codes, _ = vector_texts(codesets)
    # A third of the router's texts and some 300 code descriptions keep this test to seconds; all 8,200 of
    # the router's, the evals', code and passage texts were checked once: 3.4e-7 at most.
    texts = _router_texts()[::3] + codes[:: max(1, len(codes) // 300)] + EDGE_TEXTS
    fast = Embedder(default_model_path(), runtime="numpy")
    reference = Embedder(default_model_path(), runtime="sentence-transformers")
    assert fast.runtime == "numpy" and fast.dimension == reference.dimension == 384
    batched = fast.encode(texts)
    expected = reference.encode(texts)
    assert batched.dtype == np.float32 and batched.shape == expected.shape
    assert float(np.abs(batched - expected).max()) < 1e-5
    one_by_one = np.stack([fast.encode([text])[0] for text in texts[:40] + EDGE_TEXTS])
    assert float(np.abs(one_by_one - reference.encode(texts[:40] + EDGE_TEXTS)).max()) < 1e-5


def test_embedding_a_question_imports_neither_torch_nor_sentence_transformers() -> None:
    """The packaged model's question vector costs a tokenizer and numpy, not 8 s of imports (fresh process)."""
    import subprocess
    import sys

    script = (
        "import sys; from knowledge.embeddings import get_embedder; e = get_embedder(); e.encode(['copay']); "
        # The knowledge base's question embedding too (a policy search): no torch thread to hold.
        "from knowledge.documents.knowledge_base import LazyEmbedder; LazyEmbedder(None).embed_query('copay'); "
        "print(e.runtime, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', "
        "'sentence_transformers'}))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["numpy", "[]"]
    assert done.stderr == ""


def _model_copy(tmp_path: Path, **changes: object) -> Path:
    """The shipped model's folder, its weights linked, with ``changes`` to its pooling config."""
    import json
    import shutil

    from knowledge.embeddings import default_model_path

    source = Path(default_model_path())
    target = tmp_path / "model"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    (target / "model.safetensors").symlink_to(source / "model.safetensors")
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    (target / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, **changes}), encoding="utf-8")
    return target


def test_a_model_of_another_shape_is_left_to_sentence_transformers(tmp_path: Path) -> None:
    """CLS pooling is not what the numpy runtime computes: such a folder runs in sentence-transformers (which
    then gives other vectors than the mean-pooled model), and asking for numpy by name is refused."""
    from knowledge.embeddings import NumpyBert, default_model_path

    folder = _model_copy(tmp_path, pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    assert NumpyBert.supports(folder) is None
    with pytest.raises(ConfigurationError, match="numpy runtime does not support"):
        Embedder(str(folder), runtime="numpy")
    other = Embedder(str(folder))
    assert other.runtime == "sentence-transformers"
    mean_pooled = get_embedder(default_model_path()).encode(["copay"])[0]
    assert not np.allclose(other.encode(["copay"])[0], mean_pooled, atol=1e-3)


def test_the_standard_librarys_erf_and_scipys_give_the_same_float32_values() -> None:
    """A question's forward pass takes erf from `math` (no SciPy import on a cold ask), an index build
    from SciPy: the vectors must not depend on which."""
    import numpy as np
    from scipy.special import erf

    from knowledge import embeddings

    x = (np.random.default_rng(5).normal(size=(3, 17, 64)) * 3).astype(np.float32)
    assert np.array_equal(np.asarray(embeddings._math_erf(x), dtype=np.float32), erf(x))
