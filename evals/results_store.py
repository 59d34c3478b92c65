"""Writing eval and bench figures to `evals/results/` with the date, commit and machine they came from."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.machine(),
    }


def commit() -> str | None:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=RESULTS_DIR.parent,
            check=False,
        )
    except OSError:
        return None
    return found.stdout.strip() or None


def save(kind: str, figures: dict[str, Any], directory: Path | None = None) -> Path:
    """Write `{kind}-latest.json` (and a dated copy) and return the path of the latest."""
    folder = directory or RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    document = {
        "kind": kind,
        "date": now.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "figures": figures,
    }
    text = json.dumps(document, indent=2, default=str) + "\n"
    latest = folder / f"{kind}-latest.json"
    latest.write_text(text, encoding="utf-8")
    return latest
