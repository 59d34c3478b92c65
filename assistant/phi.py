"""Patient fields (PHI) in tool results: find them, and hide them where they may not be shown.

`Scrubber` is the one pass every reply takes before it reaches a channel (web, Slack, CLI): on a channel
without PHI clearance it hides the patient fields of cards, arguments and summaries, including the free-text
fields a tool's descriptor declares (`phi_fields`, e.g. the X12 exception reasons that quote the 835's
names), removes known patient values from the text, and says whether what is left shows any.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from tools.render import HIDDEN

__all__ = ["HIDDEN", "PHI_KEYS", "Scrubber", "collect_phi", "mentions_phi", "redact", "scrub_text"]

Model = TypeVar("Model", bound=BaseModel)

#: Keys whose values are patient identity: names, birth dates, member and account ids.
PHI_KEYS = frozenset({"patient", "patient_name", "member_id", "birth_date", "account_number", "subscriber"})


def collect_phi(
    value: Any, found: set[str] | None = None, *, inside: bool = False, keys: frozenset[str] = PHI_KEYS
) -> set[str]:
    """Every string under a PHI key of a JSON-like value (and each word of it: a name's parts)."""
    found = set() if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            collect_phi(item, found, inside=inside or key in keys, keys=keys)
    elif isinstance(value, list):
        for item in value:
            collect_phi(item, found, inside=inside, keys=keys)
    elif inside and isinstance(value, str) and len(value) >= 3 and value != HIDDEN:
        found.add(value)
        found.update(part for part in value.split() if len(part) >= 3)
    return found


def redact(value: Any, keys: frozenset[str] = PHI_KEYS) -> Any:
    """The same JSON-like value with every PHI key's value replaced."""
    if isinstance(value, dict):
        return {
            key: (HIDDEN if key in keys and item is not None else redact(item, keys)) for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, keys) for item in value]
    return value


def _free_text(value: Any, names: frozenset[str], found: set[str]) -> None:
    """Whole strings under free-text PHI fields (their words are mostly not patient identity)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in names and isinstance(item, str) and item and item != HIDDEN:
                found.add(item)
            else:
                _free_text(item, names, found)
    elif isinstance(value, list):
        for item in value:
            _free_text(item, names, found)


@dataclass
class Scrubber:
    """What one reply may show. `learn` each tool result with its descriptor's `phi_fields`; then pass
    the reply (or a confirmation's result) through `reply` / `model`."""

    hide: bool  # the channel has no PHI clearance
    values: set[str] = field(default_factory=set)  # known patient values: names and their parts, dates, ids
    free_text: set[str] = field(default_factory=set)  # whole values of free-text PHI fields (reasons)
    keys: frozenset[str] = PHI_KEYS

    def learn(self, data: Any, phi_fields: Iterable[str] = ()) -> None:
        extra = frozenset(phi_fields) - PHI_KEYS
        self.keys = self.keys | extra
        collect_phi(data, self.values)
        _free_text(data, extra, self.free_text)

    def text(self, text: str) -> str:
        if not self.hide:
            return text
        return scrub_text(text, self.values | self.free_text)[0]

    def data(self, value: Any, keys: frozenset[str] | None = None) -> Any:
        """A JSON-like value as the channel may show it."""
        if not self.hide:
            return value
        return self._texts(redact(value, keys or self.keys))

    def _texts(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self._texts(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._texts(item) for item in value]
        return value

    def shows(self, value: Any, keys: frozenset[str] | None = None) -> bool:
        """Whether a JSON-like value shows a patient field or a known patient value."""
        if collect_phi(value, keys=keys or self.keys) or _has_free_text(value, (keys or self.keys) - PHI_KEYS):
            return True
        texts: list[str] = []
        _strings(value, texts)
        known = self.values | self.free_text
        return any(mentions_phi(text, known) for text in texts)

    def model(self, model: Model, **fields: Any) -> Model:
        """A pydantic reply as the channel may show it (`fields`: values to set on the result)."""
        dumped = model.model_dump(mode="json")
        cleaned = self.data(dumped)
        return type(model).model_validate({**cleaned, **fields})


def _has_free_text(value: Any, names: frozenset[str]) -> bool:
    found: set[str] = set()
    _free_text(value, names, found)
    return bool(found)


def _strings(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, into)
    elif isinstance(value, list):
        for item in value:
            _strings(item, into)


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
