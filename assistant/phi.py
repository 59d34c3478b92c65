"""Patient fields (PHI) in tool results: find them, and hide them where they may not be shown."""

from __future__ import annotations

import re
from typing import Any

from tools.render import HIDDEN

__all__ = ["HIDDEN", "PHI_KEYS", "collect_phi", "mentions_phi", "redact", "scrub_text"]

#: Keys whose values are patient identity: names, birth dates, member and account ids.
PHI_KEYS = frozenset({"patient", "patient_name", "member_id", "birth_date", "account_number", "subscriber"})


def collect_phi(value: Any, found: set[str] | None = None, *, inside: bool = False) -> set[str]:
    """Every string under a PHI key of a JSON-like value."""
    found = set() if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            collect_phi(item, found, inside=inside or key in PHI_KEYS)
    elif isinstance(value, list):
        for item in value:
            collect_phi(item, found, inside=inside)
    elif inside and isinstance(value, str) and len(value) >= 3:
        found.add(value)
        found.update(part for part in value.split() if len(part) >= 3)
    return found


def redact(value: Any) -> Any:
    """The same JSON-like value with every PHI key's value replaced."""
    if isinstance(value, dict):
        return {key: (HIDDEN if key in PHI_KEYS and item is not None else redact(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def scrub_text(text: str, phi: set[str]) -> tuple[str, bool]:
    """Remove known patient values from text; returns the text and whether anything was removed."""
    changed = False
    for value in sorted(phi, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-]){re.escape(value)}(?![\w-])", re.IGNORECASE)
        text, count = pattern.subn(HIDDEN, text)
        changed = changed or count > 0
    return text, changed


def mentions_phi(text: str, phi: set[str]) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text, re.IGNORECASE) for v in phi)
