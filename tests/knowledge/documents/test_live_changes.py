"""Knowledge changes made by another process (`knowledge add` next to a running server) are seen at the
next search, and never break it (issue 14: every payer-filtered search failed with Chroma's "Error
finding id" until a restart)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from knowledge.documents import KnowledgeBase

AUTH = """---
title: Acme Health prior authorization
payer: Acme Health
---
# Acme Health prior authorization

## Imaging

MRI and CT scans need prior authorization from Acme Health's radiology vendor.
"""

FILING = """---
title: Acme Health timely filing
payer: Acme Health
---
# Acme Health timely filing

## Limit

Claims must reach Acme Health within 120 days of the date of service.
"""


def _add_in_another_process(home: Path, path: Path) -> None:
    env = {**os.environ, "BILLING_ASSISTANT_HOME": str(home)}
    command = [sys.executable, "-m", "integrations.cli.main", "knowledge", "add", str(path), "--shared", "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr


def test_a_running_instance_sees_another_process_add_and_keeps_answering(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first, second, third = tmp_path / "auth.md", tmp_path / "filing.md", tmp_path / "filing-2.md"
    first.write_text(AUTH, encoding="utf-8")
    second.write_text(FILING, encoding="utf-8")
    third.write_text(FILING.replace("timely filing", "filing appeals").replace("120 days", "90 days"), "utf-8")
    server = KnowledgeBase(home)  # the web server's instance
    server.add([first])
    assert server.search("mri prior auth", payer="Acme Health")[0].doc_id == "practice/auth"

    _add_in_another_process(home, second)
    found = server.search("how many days to file a claim", payer="Acme Health")
    assert found and found[0].doc_id == "practice/filing"

    # Even a query that meets the stale index before the instance noticed the change answers.
    _add_in_another_process(home, third)
    server._manifest_seen = server._manifest_stamp()  # as if the change landed after the check
    server.search("how many days to file a claim", payer="Acme Health")
    del server._manifest_seen  # and once it notices, the new document is there
    assert "practice/filing-2" in {p.doc_id for p in server.search("filing appeals days", payer="Acme Health")}
