"""The offline planner: a deterministic chat model that needs no LLM.

It implements LangChain's chat-model interface, so the same agent loop (`create_agent`) runs with it or
with a real LLM. On a new message it reads the values the message names (`tools/slots.py`), scores which
tool it asks for (`router.py`), resolves "it" and "same for 1043" against the thread's dialogue state
(`dialogue.py`), and answers with the tool calls that serve every part of the request; when the results
are back it writes the answer from them (`composer.py`). Below the router's fitted confidence floor, or
for a request no tool does, it says so plainly and offers what it can do (`repair.py`). It can only call
the tools bound for this request, so a user without claim access gets a clear refusal rather than data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from assistant import composer, repair
from assistant.dialogue import PLAN_KEY, read_state_note, turn_messages
from assistant.router import Router, RouteScore, shared_router
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.slots import Slots, find_payer, read_slots

# Conversation patterns (how people refer back), not requests: kept as patterns because they are regular.
FOLLOW_BEFORE = re.compile(r"\b(the one before|one before (?:it|that)|previous one|prior one|before that)\b", re.I)
FOLLOW_AFTER = re.compile(r"\b(the (?:one|claim) after|next one|after that)\b", re.I)
ELLIPSIS = re.compile(
    r"^\s*(?:and|what about|how about|same (?:for|with|on)|same thing for|and for|also|now|ok(?:ay)?|then|"
    r"do the same for|do that for|repeat for|what of|different claim)\b",
    re.I,
)
PRONOUN = re.compile(r"\b(it|its|that|this|them|those|these|same|the claim|that claim|the patient|that one)\b", re.I)
# Where one message asks two things: "explain the denial and tell me the balance".
_SPLIT = re.compile(r"\s*(?:;|\band then\b|\band also\b|\balso\b|\bthen\b|\bplus\b|\band\b|,\s*and\b)\s*", re.I)
_WRITES = {"post_patient_payment", "post_adjustment", "import_remittance"}


@dataclass
class Part:
    """One thing the message asks: the route, its tool calls, or the question to ask instead."""

    route: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    question: str | None = None
    awaiting: dict[str, Any] | None = None


@dataclass
class Understanding:
    parts: list[Part]
    reply: str | None = None  # a repair answer (help, cannot do, not understood, no access): no tool runs


class OfflinePlanner(BaseChatModel):
    """Deterministic planner and writer over the assistant's tools."""

    tool_names: frozenset[str] = frozenset()
    today: Callable[[], dt.date] = dt.date.today
    embedding_model: str | None = None
    cache_dir: Path | None = None  # where the fitted router is kept between processes (HOME/cache)
    descriptors: tuple[ToolDescriptor, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "billing-assistant-offline-planner"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = frozenset(getattr(tool, "name", None) or getattr(tool, "__name__", "") for tool in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.respond(messages))])

    # -- what is known ----------------------------------------------------------------------------------
    def all_descriptors(self) -> tuple[ToolDescriptor, ...]:
        if self.descriptors:
            return self.descriptors
        from assistant.registry import default_tool_specs

        return tuple(default_tool_specs())

    def descriptor(self, name: str) -> ToolDescriptor | None:
        return next((d for d in self.all_descriptors() if d.name == name), None)

    def bound(self) -> list[ToolDescriptor]:
        return [d for d in self.all_descriptors() if d.name in self.tool_names]

    def router(self) -> Router:
        from knowledge.embeddings import get_embedder

        routes: dict[str, Sequence[str]] = {d.name: d.examples for d in self.all_descriptors() if d.examples}
        routes[repair.HELP] = repair.HELP_EXAMPLES
        routes[repair.UNSUPPORTED] = repair.UNSUPPORTED_EXAMPLES
        embedder = get_embedder(self.embedding_model)
        return shared_router(routes, embedder.encode, key=embedder.model_path, cache_dir=self.cache_dir)

    # -- the planning ---------------------------------------------------------------------------------
    def respond(self, messages: list[BaseMessage]) -> AIMessage:
        state = read_state_note(messages)
        role = state.get("role")
        humans = [m for m in messages if isinstance(m, HumanMessage)]
        if not humans:
            return AIMessage(content=repair.capabilities(self.bound(), role))
        turn = turn_messages(messages)
        planned = [m for m in turn if isinstance(m, AIMessage) and m.tool_calls]
        results = [(m.name or "", _loads(str(m.content))) for m in turn if isinstance(m, ToolMessage)]
        if not planned:
            return self._first(str(humans[-1].content), state, role)
        plan = planned[0].additional_kwargs.get(PLAN_KEY) or {}
        second = self._second_hop(plan, results, state)
        if second is not None:
            return second
        answer = composer.compose(results, self.all_descriptors(), questions=plan.get("questions") or [])
        return AIMessage(content=answer)

    def _first(self, text: str, state: dict[str, Any], role: str | None) -> AIMessage:
        understanding = self.understand(text, state, role)
        if understanding.reply is not None:
            return AIMessage(content=understanding.reply, additional_kwargs={PLAN_KEY: {"repair": True}})
        calls = [self._call(part.route, args) for part in understanding.parts for args in part.calls]
        questions = [part.question for part in understanding.parts if part.question]
        awaiting = next((part.awaiting for part in understanding.parts if part.awaiting), None)
        plan = {"routes": [p.route for p in understanding.parts], "questions": questions, "awaiting": awaiting}
        plan["then"] = next((p.awaiting for p in understanding.parts if p.calls and p.awaiting), None)
        if not calls:
            return AIMessage(content="\n\n".join(questions), additional_kwargs={PLAN_KEY: plan})
        return AIMessage(content="", tool_calls=calls, additional_kwargs={PLAN_KEY: plan})

    def understand(self, text: str, state: dict[str, Any], role: str | None) -> Understanding:
        today = self.today()
        slots = read_slots(text, today=today)
        router = self.router()
        ranked = router.rank(text, slots)
        follow = self._follow_up(text, slots, state, router, ranked)
        if follow is not None:
            return follow
        parts = self._multi_part(text, slots, state, router, ranked)
        if parts is not None:
            return Understanding(parts)
        top = ranked[0]
        if top.score < router.floor:
            closest = [d for r in ranked[:3] if (d := self.descriptor(r.route)) and d.name in self.tool_names][:2]
            return Understanding([], reply=repair.not_understood(self.bound(), role, closest))
        if top.route == repair.HELP:
            return Understanding([], reply=repair.capabilities(self.bound(), role))
        if top.route == repair.UNSUPPORTED:
            return Understanding([], reply=repair.cannot_do(self.bound(), role))
        return self._single(top.route, slots, state, role)

    def _single(self, route: str, slots: Slots, state: dict[str, Any], role: str | None) -> Understanding:
        descriptor = self.descriptor(route)
        if descriptor is None:
            return Understanding([], reply=repair.not_understood(self.bound(), role))
        if route not in self.tool_names:
            if descriptor.access in {"claims", "write"}:
                return Understanding([], reply=repair.no_claim_access())
            return Understanding([], reply=repair.cannot_do(self.bound(), role))
        return Understanding([self._part(descriptor, slots, state)])

    def _part(self, descriptor: ToolDescriptor, slots: Slots, state: dict[str, Any]) -> Part:
        """The calls for one route, with missing values taken from the dialogue state where it is clear."""
        assert descriptor.plan is not None, f"{descriptor.name} has no offline plan"
        self._fill_from_state(descriptor, slots, state)
        try:
            return Part(descriptor.name, calls=[_clean(args) for args in descriptor.plan(slots)])
        except NeedSlot as need:
            candidates = state.get("claim_candidates") or []
            if need.slot.name == "claim_number" and len(candidates) > 1 and not slots.claim_number:
                listed = ", ".join(candidates[:6])
                return Part(
                    descriptor.name,
                    question=f"Which claim do you mean: {listed}? Say “claim {candidates[0]}”, for example.",
                    awaiting={"route": descriptor.name, "slot": "claim_number"},
                )
            if (
                need.slot.name == "claim_number"
                and descriptor.name == "post_patient_payment"
                and (slots.patient_name or slots.birth_date)
                and "find_claims" in self.tool_names
            ):
                # The visit first, then the posting (second hop) when exactly one open claim is found.
                args = {
                    "patient_name": slots.patient_name,
                    "birth_date": slots.birth_date.isoformat() if slots.birth_date else None,
                    "limit": 5,
                }
                return Part("find_claims", calls=[_clean(args)], awaiting=_pending_slots(descriptor, slots))
            return Part(descriptor.name, question=need.slot.ask, awaiting=_pending_slots(descriptor, slots))

    def _fill_from_state(self, descriptor: ToolDescriptor, slots: Slots, state: dict[str, Any]) -> None:
        """Values the message leaves out but the thread is clearly about ("why was it denied")."""
        if "claim" in descriptor.referents and not slots.claim_number and state.get("claim"):
            slots.claim_numbers = [str(state["claim"])]
        if descriptor.name in {"lookup_code", "check_claim_codes"} and not slots.medical_codes and state.get("code"):
            code = str(state["code"])
            slots.codes = [*slots.codes, ("icd10cm" if "." in code else "code", code)]
            if descriptor.name == "lookup_code" and slots.adjustment_codes:
                slots.codes = [c for c in slots.codes if c[0] not in {"carc", "rarc"}]
        if descriptor.name == "explain_adjustment_codes" and not slots.adjustment_codes:
            codes = state.get("adjustment_codes") or []
            slots.codes = [*slots.codes, *(("carc" if "-" in c else "rarc", str(c)) for c in codes)]
        refers_back = bool(PRONOUN.search(slots.text))
        if descriptor.name in {"search_knowledge", "denial_worklist"} and not slots.payer and refers_back:
            slots.payer = str(state["payer"]) if state.get("payer") else None
        if (
            descriptor.name == "find_claims"
            and not (slots.patient_name or slots.birth_date)
            and PRONOUN.search(slots.text)
        ):
            patient = state.get("patient") or {}
            slots.patient_name = patient.get("patient_name")
            if patient.get("birth_date"):
                slots.birth_date = dt.date.fromisoformat(patient["birth_date"])

    def _follow_up(
        self, text: str, slots: Slots, state: dict[str, Any], router: Router, ranked: list[RouteScore]
    ) -> Understanding | None:
        """ "and the one before it?", "same for 1043", "what about cigna?", and answers to a question asked."""
        last = state.get("last_calls") or []
        claim = state.get("claim")
        claim_routes = [c["name"] for c in last if "claim" in (self.descriptor(c["name"]) or _NONE).referents]
        if (
            claim
            and str(claim).isdigit()
            and claim_routes
            and (FOLLOW_BEFORE.search(text) or FOLLOW_AFTER.search(text))
        ):
            step = -1 if FOLLOW_BEFORE.search(text) else 1
            slots.claim_numbers = [str(int(str(claim)) + step)]
            return Understanding([self._part(self.descriptor(claim_routes[0]) or _NONE, slots, {})])
        awaiting = state.get("awaiting")
        if awaiting and (descriptor := self.descriptor(str(awaiting.get("route")))) is not None:
            answered = _answers(awaiting, slots)
            if answered:
                _restore(awaiting, slots)
                return Understanding([self._part(descriptor, slots, state)])
        if not last:
            return None
        own_route_is_clear = ranked[0].score >= router.floor and ranked[0].route not in {repair.HELP}
        remainder = _remainder(text)
        elliptic = bool(ELLIPSIS.search(text)) or len(remainder.split()) <= 1
        if not elliptic or (own_route_is_clear and len(remainder.split()) >= 2):
            return None
        previous = self.descriptor(last[0]["name"])
        if previous is None or previous.name in _WRITES or previous.name not in self.tool_names:
            return None
        new_value = bool(slots.claim_numbers or slots.maybe_claims or slots.codes or slots.payer or slots.patient_name)
        if not new_value:
            return None
        # Carry over what the previous call asked, with the new value the message names.
        carried = read_slots(text, today=self.today())
        previous_args = last[0].get("args") or {}
        if previous.name in {"search_knowledge"}:
            question = str(previous_args.get("question") or "")
            if slots.payer:
                old = find_payer(question)
                question = question.replace(old, slots.payer) if old and old in question else question
                carried = read_slots(question, today=self.today())
                carried.payer = slots.payer
            return Understanding([Part(previous.name, calls=[_clean({"question": question, "payer": carried.payer})])])
        if previous.name == "denial_worklist":
            return Understanding([Part(previous.name, calls=[_clean({"payer": slots.payer})])])
        if previous.name == "find_claims":
            args = dict(previous_args)
            if slots.payer:
                args["payer"] = slots.payer
            if slots.patient_name:
                args["patient_name"] = slots.patient_name
            return Understanding([Part(previous.name, calls=[_clean(args)])])
        return Understanding([self._part(previous, carried, {})])

    def _multi_part(
        self, text: str, slots: Slots, state: dict[str, Any], router: Router, ranked: list[RouteScore]
    ) -> list[Part] | None:
        """Several requests in one message: each part routed on its own, values shared between them."""
        pieces = [p for p in _SPLIT.split(text) if p and len(p.split()) >= 2]
        if len(pieces) < 2:
            return None
        routes: list[str] = []
        scores: list[float] = []
        for piece in pieces:
            piece_slots = read_slots(piece, today=self.today())
            _share(piece_slots, slots)  # "what does the pt owe" is about the claim the message names
            top = router.rank(piece, piece_slots)[0]
            # Beside a part that is clear, a short part ("and show me what's left") needs only half the floor.
            if top.score < router.floor / 2 or top.route in {repair.HELP, repair.UNSUPPORTED}:
                return None
            routes.append(top.route)
            scores.append(top.score)
        if max(scores) < router.floor:
            return None
        if len(set(routes)) < 2:
            return None
        parts: list[Part] = []
        for piece, route in zip(pieces, routes, strict=True):
            if route in [p.route for p in parts]:
                continue
            descriptor = self.descriptor(route)
            if descriptor is None or route not in self.tool_names:
                return None
            piece_slots = read_slots(piece, today=self.today())
            _share(piece_slots, slots)
            parts.append(self._part(descriptor, piece_slots, state))
        return parts

    def _second_hop(
        self, plan: dict[str, Any], results: list[tuple[str, dict[str, Any]]], state: dict[str, Any]
    ) -> AIMessage | None:
        """A payment for a patient: the visit was looked up first; post to it if exactly one is open."""
        then = plan.get("then")
        if not then or then.get("route") != "post_patient_payment" or len(results) != 1:
            return None
        name, data = results[0]
        claims = data.get("claims") or []
        open_claims = [c for c in claims if str(c.get("balance", "0")) not in {"0", "0.00"}]
        chosen = open_claims or claims
        if name != "find_claims" or len(chosen) != 1 or "post_patient_payment" not in self.tool_names:
            return None
        slots = Slots(text="")
        _restore(then, slots)
        slots.claim_numbers = [chosen[0]["claim_number"]]
        descriptor = self.descriptor("post_patient_payment")
        assert descriptor is not None and descriptor.plan is not None
        calls = [self._call(descriptor.name, _clean(args)) for args in descriptor.plan(slots)]
        return AIMessage(content="", tool_calls=calls, additional_kwargs={PLAN_KEY: {"routes": [descriptor.name]}})

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "args": arguments, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


_NONE = ToolDescriptor(func=lambda: None, access="codes", step="", summary="")


def _clean(arguments: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if v is not None}


def _pending_slots(descriptor: ToolDescriptor, slots: Slots) -> dict[str, Any]:
    """What was already said for a request that waits for one more value (kept in the dialogue state)."""
    return {
        "route": descriptor.name,
        "amount": str(slots.amount) if slots.amount is not None else None,
        "method": slots.method,
        "on_date": slots.on_date.isoformat() if slots.on_date else None,
        "claim_numbers": slots.claim_numbers,
        "codes": slots.codes,
        "file_name": slots.file_name,
        "extras": slots.extras,
    }


def _restore(saved: dict[str, Any], slots: Slots) -> None:
    """Values said in an earlier turn of the same request, where this message does not say them again."""
    from decimal import Decimal

    if slots.amount is None and saved.get("amount"):
        slots.amount = Decimal(str(saved["amount"]))
    slots.method = slots.method or saved.get("method")
    if slots.on_date is None and saved.get("on_date"):
        slots.on_date = dt.date.fromisoformat(saved["on_date"])
    if not slots.claim_numbers and saved.get("claim_numbers"):
        slots.claim_numbers = list(saved["claim_numbers"])
    if not slots.codes and saved.get("codes"):
        slots.codes = [(str(c[0]), str(c[1])) for c in saved["codes"]]
    slots.file_name = slots.file_name or saved.get("file_name")
    for key, value in (saved.get("extras") or {}).items():
        slots.extras.setdefault(key, value)


def _answers(awaiting: dict[str, Any], slots: Slots) -> bool:
    """The message gives the value a question asked for."""
    wanted = awaiting.get("slot") or ""
    route = awaiting.get("route")
    if wanted == "claim_number" or (route and not awaiting.get("claim_numbers") and slots.claim_numbers):
        return bool(slots.claim_numbers or slots.maybe_claims)
    if wanted == "amount":
        return slots.amount is not None
    if wanted in {"code", "codes"}:
        return bool(slots.codes)
    if wanted == "file_name":
        return slots.file_name is not None
    return bool(slots.claim_numbers) or slots.amount is not None


def _share(part: Slots, whole: Slots) -> None:
    """A part that names no claim (or code, payer) is about the one the rest of the message names."""
    if not part.claim_numbers and not part.maybe_claims:
        part.claim_numbers = list(whole.claim_numbers or whole.maybe_claims)
    if not part.codes:
        part.codes = list(whole.codes)
    part.payer = part.payer or whole.payer
    part.patient_name = part.patient_name or whole.patient_name
    part.birth_date = part.birth_date or whole.birth_date
    if part.amount is None:
        part.amount, part.method = whole.amount, part.method or whole.method


_FILLER = re.compile(
    r"(?i)\b(?:and|what about|how about|same|for|with|on|thing|also|now|ok(?:ay)?|then|do|the|that|this|it|"
    r"one|claim|clm|please|pls|plz|too|as well|instead|different|repeat|of|what|about)\b|[?!.,:#]"
)


def _remainder(text: str) -> str:
    """The message without follow-up words and values: what it asks beyond "same for X"."""
    cleaned = re.sub(r"\$?\b[\w.-]*\d[\w.-]*\b", " ", text)
    for alias in ("uhc", "united", "aetna", "cigna", "bcbs", "blue cross", "medicare", "medicaid", "mcr", "mcd"):
        cleaned = re.sub(rf"(?i)\b{re.escape(alias)}(?:['’]?s)?\b", " ", cleaned)
    return " ".join(_FILLER.sub(" ", cleaned).split())


def _loads(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}
    return data if isinstance(data, dict) else {"result": data}
