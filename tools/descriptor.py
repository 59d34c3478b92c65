"""One descriptor per tool: everything the system knows about a tool, kept beside its function.

A tool module exports ``DESCRIPTOR``. The function's name, docstring and ordinary parameters stay the
model's schema; the descriptor adds what the server needs: who may use it (``access``), the progress line
(``step``), the card adapters render (``card``), the patient fields its result may hold (``phi_fields``),
example requests as staff type them (``examples``: the offline router is fitted on these), the slots the
offline planner fills (``slots``) and how they become a call (``plan``), and the renderer of its result
(``render``). The registry (`assistant/registry.py`) is the explicit list of descriptors; the planner, the
composer, the service, Slack and the web derive their tables from it, so adding a tool is its module plus
its eval cases.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, create_model

Access = Literal["codes", "knowledge", "claims", "write"]

#: How adapters draw a tool's result; None: text only.
CardKind = Literal[
    "code", "codes", "claim", "claims", "denial", "worklist", "passages", "action", "adjustment_codes", "letter"
]

#: The referents a tool's call is about, kept in the thread's dialogue state for follow-ups ("it").
Referent = Literal["claim", "code", "payer", "patient", "adjustment_codes"]

#: A renderer: the tool's JSON result and the citation numbers of its passages -> Markdown.
Renderer = Callable[[dict[str, Any], Mapping[str, int]], str]


@dataclass(frozen=True)
class Slot:
    """A value the offline planner must find before it can call the tool; ``ask`` is the question it asks
    when the value is missing from the message and from the conversation."""

    name: str
    ask: str


class NeedSlot(Exception):
    """Raised by a descriptor's ``plan`` when a required value is missing; carries the question to ask."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(slot.ask)
        self.slot = slot


@dataclass(frozen=True)
class ToolDescriptor:
    """A tool function and what the server needs to know about it."""

    func: Callable[..., Any]
    access: Access
    step: str  # progress line, formatted with the call's arguments; never patient fields
    summary: str  # what the tool does, for the capability answer ("I can ...")
    examples: tuple[str, ...] = ()  # requests as staff type them; the router is fitted on them
    card: CardKind | None = None
    phi_fields: tuple[str, ...] = ()  # keys of the result that hold patient identity
    referents: tuple[Referent, ...] = ()  # what a call of it is about (for "it", "that claim")
    # Offline planning: the filled slots of a message (`tools.slots.Slots`) -> the tool's calls.
    plan: Callable[[Any], list[dict[str, Any]]] | None = None
    render: Renderer | None = None
    describe: Callable[..., str] | None = None  # writes: what would be written, checked now
    # Writes: the arguments a request leaves to the data ("write off the balance": the open amount), fixed
    # when the action is proposed, so what a person confirms is exactly what is written. Called with the
    # parsed arguments as one dict and the server-bound keyword-only parameters it names.
    settle: Callable[..., dict[str, Any]] | None = None
    # A read tool that also files a draft a person edits before anything leaves the practice (an appeal
    # letter): it gets the read-write session and runs without the confirm step; its call is audited.
    writes_draft: bool = False
    confirm_roles: tuple[str, ...] = ()
    roles_hint: tuple[str, ...] = field(default=("admin", "biller", "coder", "front_desk"))

    @property
    def name(self) -> str:
        return self.func.__name__

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    def args_schema(self) -> type[BaseModel]:
        """The model's input schema: the function's ordinary parameters (built once per function)."""
        return _args_schema(self.func)

    def takes(self, parameter: str) -> bool:
        """Whether the model may give this parameter (an ordinary one of the function)."""
        found = inspect.signature(self.func).parameters.get(parameter)
        return found is not None and found.kind is not found.KEYWORD_ONLY

    def context_parameters(self) -> list[str]:
        """The keyword-only parameters: what the server binds (never the model)."""
        return [p.name for p in inspect.signature(self.func).parameters.values() if p.kind is p.KEYWORD_ONLY]

    def step_text(self, arguments: Mapping[str, Any]) -> str:
        try:
            return self.step.format_map(_Blank({k: _shown(v) for k, v in arguments.items()}))
        except (KeyError, ValueError, IndexError):
            return self.step


@cache
def _args_schema(func: Callable[..., Any]) -> type[BaseModel]:
    hints = typing.get_type_hints(func)
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.POSITIONAL_ONLY):
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (hints[parameter.name], default)
    model: type[BaseModel] = create_model(f"{func.__name__}_arguments", **fields)
    return model


def _shown(value: Any) -> Any:
    """A list argument in a progress line reads "N115, CO-50", not "['N115', 'CO-50']"."""
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return value


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "..."
