"""/api/health reports the search indexes `serve` builds in the background, which the chat page's banner
reads; an app that builds nothing in the background answers health exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.indexing import BackgroundIndexer, IndexingStatus, IndexStep
from knowledge.progress import Progress
from tests.integrations.web.conftest import WebPractice


@pytest.fixture()
def indexing(web_practice: WebPractice) -> Iterator[IndexingStatus]:
    """The status `serve` attaches to the app, taken off again so other tests see an app without one."""
    status = IndexingStatus(["knowledge", "codes"])
    web_practice.app.state.indexing = status
    yield status
    del web_practice.app.state.indexing


def test_health_shows_each_part_while_it_builds_and_when_ready(
    web_practice: WebPractice, indexing: IndexingStatus
) -> None:
    client = TestClient(web_practice.app)
    seen: list[dict[str, Any]] = []

    def knowledge(progress: Progress) -> object:
        progress("Indexing", 1200, 3600)
        seen.append(client.get("/api/health").json())
        return "3600 passages"

    def codes(progress: Progress) -> object:
        progress("embedding code descriptions", 20000, 56502)
        seen.append(client.get("/api/health").json())
        progress("embedding code descriptions", 56502, 56502)
        return "56502 code descriptions"

    before = client.get("/api/health").json()
    assert before["status"] == "ok"
    assert before["indexing"]["ready"] is False
    assert before["indexing"]["knowledge"]["state"] == before["indexing"]["codes"]["state"] == "pending"

    BackgroundIndexer([IndexStep("knowledge", knowledge), IndexStep("codes", codes)], status=indexing).run()

    during_knowledge, during_codes = seen
    assert during_knowledge["indexing"]["knowledge"] == {
        "state": "building",
        "done": 1200,
        "total": 3600,
        "step": "Indexing",
        "message": None,
    }
    assert during_knowledge["indexing"]["codes"]["state"] == "pending"
    assert during_codes["indexing"]["knowledge"]["state"] == "ready"
    assert during_codes["indexing"]["codes"]["done"] == 20000
    after = client.get("/api/health")
    assert after.status_code == 200
    assert after.json()["indexing"]["ready"] is True
    assert {part["state"] for name, part in after.json()["indexing"].items() if name != "ready"} == {"ready"}


def test_a_failed_part_is_reported_with_its_reason(web_practice: WebPractice, indexing: IndexingStatus) -> None:
    def broken(progress: Progress) -> object:
        raise OSError("No space left on device")

    BackgroundIndexer([IndexStep("codes", broken)], status=indexing).run()
    body = TestClient(web_practice.app).get("/api/health").json()
    assert body["indexing"]["codes"]["state"] == "failed"
    assert body["indexing"]["codes"]["message"] == "OSError: No space left on device"
    assert body["indexing"]["knowledge"]["state"] == "pending"  # not one of this indexer's steps


def test_without_a_background_indexer_health_is_unchanged(web_practice: WebPractice) -> None:
    body = TestClient(web_practice.app).get("/api/health").json()
    assert body == {"status": "ok", "database": "sqlite", "message": None}


def test_the_page_has_the_banner_the_health_answer_feeds(web_practice: WebPractice) -> None:
    client = TestClient(web_practice.app)
    page = client.get("/").text
    assert 'id="index-banner"' in page and 'role="status"' in page
    script = client.get("/static/app.js").text
    assert 'fetch("/api/health"' in script and "index-banner" in script
