"""Citations: the passages a turn's tool results quoted, numbered in the order they were used."""

from __future__ import annotations

import datetime as dt
from typing import Any

from assistant.types import Citation


def _passages(value: Any) -> list[dict[str, Any]]:
    """Every passage-like dict (it has a passage id and a title) in a JSON-like value, in order."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if value.get("passage_id") and value.get("title"):
            found.append(value)
        for item in value.values():
            found.extend(_passages(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_passages(item))
    return found


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def citations_from_results(results: list[tuple[str, dict[str, Any]]]) -> list[Citation]:
    citations: list[Citation] = []
    seen: set[str] = set()
    for _tool, data in results:
        for passage in _passages(data):
            passage_id = str(passage["passage_id"])
            if passage_id in seen:
                continue
            seen.add(passage_id)
            section = passage.get("section_path") or passage.get("section") or ""
            if isinstance(section, list):
                section = " > ".join(str(part) for part in section)
            citations.append(
                Citation(
                    number=len(citations) + 1,
                    title=str(passage["title"]),
                    section=str(section),
                    source=str(passage.get("source") or passage.get("doc_id") or ""),
                    passage_id=passage_id,
                    url=passage.get("url") or passage.get("source_url"),
                    payer=passage.get("payer"),
                    effective_from=_date(passage.get("effective_from")),
                    effective_to=_date(passage.get("effective_to")),
                )
            )
    return citations


def citation_number(citations: list[Citation], passage_id: str) -> int | None:
    return next((c.number for c in citations if c.passage_id == passage_id), None)
