"""`init --vectors background` sets HOME up without the slow embedding and says what `serve` will build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from integrations.cli.main import app


def test_init_leaves_the_vectors_to_serve_and_says_how_far_they_are(
    isolated_environment: Path, home_cache: Path, shared_cache_dir: Path
) -> None:
    for router in (shared_cache_dir / "router").glob("router-*.pickle"):  # fitted once per test run
        shutil.copy2(router, home_cache / router.name)
    result = CliRunner().invoke(app, ["init", "--vectors", "background", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    codes = report["codesets"]
    assert codes["vectors"] == 0 and codes["vectors_current"] is False and codes["vector_texts"] > 50_000
    assert report["background"] == {
        "codes": {"state": "missing", "done": 0, "total": codes["vector_texts"]},
        "knowledge": {"state": "missing", "done": 0, "total": 0},
    }
    assert "knowledge" not in report  # nothing was indexed here
    assert not list(home_cache.glob("vectors-*"))
    assert not (isolated_environment / "chroma").exists()

    text = CliRunner().invoke(app, ["init", "--vectors", "background"])
    assert text.exit_code == 0, text.output
    assert "left to `serve`" in text.stdout and f"0 of {codes['vector_texts']:,} embedded" in text.stdout
    assert "vector_texts" not in text.stdout
