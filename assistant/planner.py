"""The offline planner: a deterministic chat model that needs no LLM.

It implements LangChain's chat-model interface, so the same agent loop (`create_agent`) runs with it or
with a real LLM. On a new message it reads the request (`intents.py`) and answers with the tool calls
that serve it; when the tool results are back it writes the answer from them (`composer.py`). It can
only call the tools bound for this request, so a user without claim access gets a clear refusal rather
than data. Follow-ups ("and the one before it?", "what about 1043?") reuse the previous request of the
thread with the new claim.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from assistant import composer
from assistant.intents import (
    FOLLOW_AFTER,
    FOLLOW_BEFORE,
    FOLLOW_WHAT_ABOUT,
    Request,
    expand_shorthand,
    find_claim_number,
    read_request,
    replace_payer,
)

INTENT_TOOL = {
    "explain_denial": "explain_denial",
    "get_claim": "get_claim",
    "find_claims": "find_claims",
    "post_patient_payment": "post_patient_payment",
    "post_adjustment": "post_adjustment",
    "denial_worklist": "denial_worklist",
    "x12_exceptions": "x12_exceptions",
    "claim_status_request": "claim_status_request",
    "import_remittance": "import_remittance",
    "lookup_code": "lookup_code",
    "search_codes": "search_codes",
    "check_claim_codes": "check_claim_codes",
    "explain_adjustment_codes": "explain_adjustment_codes",
    "search_knowledge": "search_knowledge",
}
# Follow-ups ("and the one before it?") carry over read requests only: a write is never repeated by implication.
FOLLOW_INTENTS = {"explain_denial", "get_claim"}


class OfflinePlanner(BaseChatModel):
    """Deterministic planner and writer over the assistant's tools."""

    tool_names: frozenset[str] = frozenset()
    today: Callable[[], dt.date] = dt.date.today

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

    # -- the planning ---------------------------------------------------------------------------------
    def respond(self, messages: list[BaseMessage]) -> AIMessage:
        humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        if not humans:
            return AIMessage(content=composer.help_text(self.tool_names))
        last = humans[-1]
        text = str(messages[last].content)
        request = self.read(text, [str(messages[i].content) for i in humans[:-1]])
        turn = messages[last + 1 :]
        results = [(m.name or "", _loads(str(m.content))) for m in turn if isinstance(m, ToolMessage)]
        if not results:
            return self._first_calls(request)
        follow_up = self._next_calls(request, results)
        if follow_up is not None:
            return follow_up
        return AIMessage(content=composer.compose(request, results, self.tool_names))

    def read(self, text: str, earlier: list[str]) -> Request:
        request = read_request(text, today=self.today())
        if earlier and (
            request.intent in {"help", "search_knowledge"}
            or (request.intent == "get_claim" and FOLLOW_WHAT_ABOUT.search(text))
        ):
            previous = self.read(earlier[-1], earlier[-6:-1])  # the previous message as it was understood

            follow = self._follow_up(text, request, previous)
            if follow is not None:
                return follow
        return request

    def _follow_up(self, text: str, request: Request, previous: Request) -> Request | None:
        if previous.intent not in FOLLOW_INTENTS or not previous.claim_number:
            if (
                FOLLOW_WHAT_ABOUT.search(text)
                and previous.intent in {"denial_worklist", "search_knowledge"}
                and request.payer
            ):
                previous.payer = request.payer
                previous.text = replace_payer(previous.text, request.payer)
                return previous
            return None
        number = previous.claim_number
        if FOLLOW_BEFORE.search(text) and number.isdigit():
            previous.claim_number = str(int(number) - 1)
            return previous
        if FOLLOW_AFTER.search(text) and number.isdigit():
            previous.claim_number = str(int(number) + 1)
            return previous
        if FOLLOW_WHAT_ABOUT.search(text) and (new_number := find_claim_number(text)):
            previous.claim_number = new_number
            return previous
        return None

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "args": {k: v for k, v in arguments.items() if v is not None},
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "tool_call",
        }

    def _first_calls(self, request: Request) -> AIMessage:
        tool = INTENT_TOOL.get(request.intent)
        if tool is None:
            return AIMessage(content=composer.help_text(self.tool_names))
        if tool not in self.tool_names:
            return AIMessage(content=composer.unavailable(tool, self.tool_names))
        calls = self._arguments(request)
        if not calls:
            return AIMessage(content=composer.missing_details(request))
        return AIMessage(content="", tool_calls=calls)

    def _arguments(self, r: Request) -> list[dict[str, Any]]:
        intent = r.intent
        if intent in {"explain_denial", "get_claim"}:
            return [self._call(intent, {"claim_number": r.claim_number})] if r.claim_number else []
        if intent == "claim_status_request":
            return [self._call(intent, {"claim_numbers": [r.claim_number]})] if r.claim_number else []
        if intent == "post_patient_payment":
            if r.amount is None:
                return []
            if not r.claim_number:
                if r.patient_name or r.birth_date:  # find the visit first, then propose the posting
                    return [
                        self._call(
                            "find_claims",
                            {"patient_name": r.patient_name, "birth_date": _iso(r.birth_date), "limit": 5},
                        )
                    ]
                return []
            return [
                self._call(
                    intent,
                    {
                        "claim_number": r.claim_number,
                        "amount": str(r.amount),
                        "method": r.method or "cash",
                        "received_on": _iso(r.on_date),
                    },
                )
            ]
        if intent == "post_adjustment":
            if r.amount is None or not r.claim_number:
                return []
            return [
                self._call(
                    intent,
                    {
                        "claim_number": r.claim_number,
                        "amount": str(r.amount),
                        "reason_code": r.extras.get("reason_code"),
                        "group_code": r.extras.get("group_code"),
                        "side": r.extras.get("side"),
                    },
                )
            ]
        if intent == "find_claims":
            return [
                self._call(
                    intent,
                    {
                        "patient_name": r.patient_name,
                        "birth_date": _iso(r.birth_date),
                        "payer": r.payer,
                        "status": r.status,
                        "service_from": _iso(r.service_from),
                        "service_to": _iso(r.service_to),
                        "limit": 20,
                    },
                )
            ]
        if intent == "denial_worklist":
            return [self._call(intent, {"payer": r.payer})]
        if intent == "x12_exceptions":
            return [self._call(intent, {})]
        if intent == "import_remittance":
            return [self._call(intent, {"file_name": r.path})] if r.path else []
        if intent == "lookup_code":
            return [self._call(intent, {"code": code}) for _, code in r.codes[:3]]
        if intent == "explain_adjustment_codes":
            return [self._call(intent, {"codes": r.adjustment_codes})]
        if intent == "check_claim_codes":
            return [self._call(intent, composer.check_arguments(r))]
        if intent == "search_codes":
            return [self._call(intent, {"query": r.search_text, "system": r.extras.get("system")})]
        if intent == "search_knowledge":
            return [self._call(intent, {"question": expand_shorthand(r.text), "payer": r.payer})]
        return []

    def _next_calls(self, request: Request, results: list[tuple[str, dict[str, Any]]]) -> AIMessage | None:
        """A second hop where the first answered only part of the request."""
        if request.intent == "post_patient_payment" and not request.claim_number and len(results) == 1:
            name, data = results[0]
            claims = data.get("claims") or []
            open_claims = [c for c in claims if str(c.get("balance", "0")) not in {"0", "0.00"}]
            if name == "find_claims" and len(open_claims or claims) == 1 and "post_patient_payment" in self.tool_names:
                chosen = (open_claims or claims)[0]
                request.claim_number = chosen["claim_number"]
                return AIMessage(content="", tool_calls=self._arguments(request))
        return None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _loads(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}
    return data if isinstance(data, dict) else {"result": data}
