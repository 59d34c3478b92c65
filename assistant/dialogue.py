"""Dialogue state: what the thread is about now (claim, patient, code, payer, pending action).

The referents live in the LangGraph thread state (`referents`, checkpointed with the messages). They are
updated once per turn from the tools that ran (their arguments and results), never by re-reading what
people wrote earlier. Before every model call the middleware shows them to the model as a system note,
with the requester's role (bound by the server), so both the offline planner and an LLM resolve "it",
"that claim", "the patient", "same for 1043" against the same state.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NotRequired

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.runtime import Runtime

from assistant.context import RequestContext
from tools.render import HIDDEN

#: The line that opens the state note in the system prompt; the offline planner reads the JSON after it.
STATE_MARKER = "Conversation state (JSON; what “it”, “that claim”, “the patient” refer to):"
PLAN_KEY = "billing_plan"  # the offline planner's plan, kept on its AIMessage


class DialogueState(AgentState[Any]):
    referents: NotRequired[dict[str, Any]]


def _loads(text: Any) -> dict[str, Any]:
    try:
        data = json.loads(str(text))
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def turn_messages(messages: list[BaseMessage]) -> list[BaseMessage]:
    """The messages of the current turn: everything after the last message a person wrote."""
    last = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    return messages[last + 1 :]


def updated_referents(previous: dict[str, Any], turn: list[BaseMessage]) -> dict[str, Any]:
    """The referents after a turn: what its tool calls and results were about."""
    state = dict(previous)
    calls: list[dict[str, Any]] = []
    results: dict[str, tuple[str, dict[str, Any]]] = {}
    plan: dict[str, Any] | None = None
    for message in turn:
        if isinstance(message, AIMessage):
            calls += [dict(call) for call in message.tool_calls]
            if isinstance(message.additional_kwargs.get(PLAN_KEY), dict):
                plan = message.additional_kwargs[PLAN_KEY]
        elif isinstance(message, ToolMessage):
            results[message.tool_call_id] = (message.name or "", _loads(message.content))
    state.pop("awaiting", None)
    if plan is not None and plan.get("awaiting"):
        state["awaiting"] = plan["awaiting"]
    if not calls:
        return state
    claims: list[str] = []
    details: list[dict[str, Any]] = []
    patients: list[dict[str, Any]] = []
    state["last_calls"] = [{"name": c["name"], "args": c.get("args") or {}} for c in calls]
    searched: list[tuple[str, list[dict[str, Any]]]] = []
    for call in calls:
        name, args = call["name"], call.get("args") or {}
        _, data = results.get(call.get("id") or "", (name, {}))
        ok = "error" not in data
        if args.get("claim_number") and ok:
            claims.append(str(args["claim_number"]))
        claims += [str(n) for n in args.get("claim_numbers") or [] if ok]
        if name == "find_claims" and ok:
            found = [c for c in data.get("claims") or [] if c.get("claim_number")]
            claims += [str(c["claim_number"]) for c in found]
            details += [_claim_detail(c, "service_date") for c in found]
            if args.get("patient_name") or args.get("birth_date"):
                state["patient"] = {k: args.get(k) for k in ("patient_name", "birth_date") if args.get(k)}
        if name == "denial_worklist" and ok:
            shown = [c for c in data.get("items") or [] if c.get("claim_number")]
            claims += [str(c["claim_number"]) for c in shown]
            details += [
                {**_claim_detail(c, "service_date"), "status": "denied", "codes": [str(c.get("reason") or "")]}
                for c in shown
            ]
        if name == "lookup_code" and args.get("code") and data.get("valid", True):
            state["code"] = str(data.get("code") or args["code"])
            children = [c for c in data.get("children") or [] if isinstance(c, dict) and c.get("code")]
            if children:  # "so the .50 one is billable right": one of the codes under the one looked up
                state["code_candidates"] = [
                    {"code": str(c["code"]), "description": str(c.get("description") or "")} for c in children[:8]
                ]
        if name in {"get_claim", "explain_denial"} and ok and data.get("claim_number"):
            details.append(_claim_detail(data, "service_date_from" if name == "get_claim" else "service_date"))
            person = data.get("patient") if isinstance(data.get("patient"), dict) else {}
            if person.get("name") and person.get("name") != HIDDEN:
                # "what else does this guy have open": the patient of the claim the thread is about.
                patients.append({"patient_name": str(person["name"]), "birth_date": person.get("birth_date")})
            balances = data.get("balances") or {}
            if balances.get("patient_balance") is not None:
                state.setdefault("patient_balances", {})[str(data["claim_number"])] = balances["patient_balance"]
            codes = [
                f"{a['group_code']}-{a['reason_code']}" for r in data.get("remittances") or [] for a in r["adjustments"]
            ]
            codes += [str(c) for r in data.get("remittances") or [] for c in r.get("remark_codes") or []]
            if codes:
                state["adjustment_codes"] = list(dict.fromkeys(codes))
        if name == "search_codes" and data.get("hits"):
            searched.append((str(args.get("query") or ""), data["hits"]))
            state["code_query"] = str(args.get("query") or "")  # "left" then narrows this same search
            state["code"] = str(data["hits"][0].get("code"))
            state["code_candidates"] = [
                {"code": str(h.get("code")), "description": str(h.get("description") or "")} for h in data["hits"][:8]
            ]
        if name == "check_claim_codes" and args.get("diagnoses"):
            state["code"] = str(args["diagnoses"][0])
        if name == "explain_adjustment_codes" and args.get("codes"):
            state["adjustment_codes"] = [str(c) for c in args["codes"]]
        if name == "explain_denial" and data.get("adjustments"):
            codes = [str(a).split()[0] for a in data["adjustments"]]
            codes += [str(d["code"]) for d in data.get("decoded") or [] if d.get("kind") == "rarc"]
            state["adjustment_codes"] = list(dict.fromkeys(codes))
        payer = args.get("payer") or (data.get("payer") if isinstance(data.get("payer"), str) else None)
        if payer:
            state["payer"] = payer
        if "pending_action" in data:
            state["pending_action"] = data["pending_action"].get("id")
    if len(searched) > 1:
        # "code for uti and code for flu shot admin": each search's best code, in the order asked ("first one
        # billable?" is the first search's code); "it" is the first of them.
        state["code_query"] = searched[0][0]
        state["code"] = str(searched[0][1][0].get("code"))
        state["code_candidates"] = [
            {"code": str(hits[0].get("code")), "description": str(hits[0].get("description") or "")}
            for _, hits in searched
        ]
    distinct = {(p["patient_name"], p.get("birth_date")) for p in patients}
    if len(distinct) == 1:
        state["patient"] = {k: v for k, v in patients[0].items() if v}
    unique = list(dict.fromkeys(claims))
    if len(unique) == 1:
        state["claim"] = unique[0]
        listed = [str(c.get("claim_number")) for c in state.get("claim_candidates") or [] if isinstance(c, dict)]
        if unique[0] not in listed:  # a claim of the last list keeps the list ("and the july one?")
            state.pop("claim_candidates", None)
    elif len(unique) > 1:
        state.pop("claim", None)  # "it" is now ambiguous: the planner asks which one
        by_number = {d["claim_number"]: d for d in details}
        state["claim_candidates"] = [by_number.get(n, {"claim_number": n}) for n in unique[:10]]
    named = [str(n) for n in (plan or {}).get("named_claims") or []]
    if len(unique) == 1 and unique[0] in named:
        # The message named several claims and this turn took up one ("start w the first"): the others stay
        # candidates for "now the second one", "the one before it".
        by_number = {d["claim_number"]: d for d in details}
        state["claim_candidates"] = [by_number.get(n, {"claim_number": n}) for n in named]
    return state


def _claim_detail(data: dict[str, Any], date_key: str) -> dict[str, Any]:
    """What tells one claim from another in "the october one", "the denied one", "the aetna one"."""
    found = data.get("adjustment_codes")
    codes: list[Any] = found if isinstance(found, list) else []
    return {
        "claim_number": str(data["claim_number"]),
        "service_date": data.get(date_key),
        "status": data.get("status"),
        "payer": data.get("payer"),
        "codes": [str(c) for c in codes][:8],  # "the tfl one" is the one denied CO-29
        # "whats the 91.80 for", "the $135 one": the amounts the list showed for it.
        "amounts": [
            f"{Decimal(str(data[k])):.2f}" for k in ("billed", "paid", "balance", "amount") if data.get(k) is not None
        ],
    }


def state_note(referents: dict[str, Any], role: str | None) -> str:
    shown = {"role": role, **{k: v for k, v in referents.items() if k != "last_calls"}}
    if referents.get("last_calls"):
        shown["last_calls"] = referents["last_calls"]
    return f"{STATE_MARKER}\n{json.dumps(shown, default=str)}"


def read_state_note(messages: list[BaseMessage]) -> dict[str, Any]:
    """The state note of a model call (the offline planner's view of the dialogue state)."""
    for message in messages:
        content = message.content if isinstance(message.content, str) else ""
        if message.type == "system" and STATE_MARKER in content:
            return _loads(content.split(STATE_MARKER, 1)[1].strip())
    return {}


class DialogueMiddleware(AgentMiddleware[DialogueState, RequestContext]):
    """Keeps the referents in the thread state and shows them to the model before each call."""

    state_schema = DialogueState

    def wrap_model_call(self, request: ModelRequest[RequestContext], handler: Any) -> ModelResponse:
        state: Any = request.state or {}
        referents: dict[str, Any] = dict(state.get("referents") or {})
        context = request.runtime.context if request.runtime is not None else None
        role = None
        if isinstance(context, RequestContext) and context.requester.role is not None:
            role = context.requester.role.value
        note = state_note(referents, role)
        prompt = f"{request.system_prompt}\n\n{note}" if request.system_prompt else note
        return handler(request.override(system_message=SystemMessage(prompt)))  # type: ignore[no-any-return]

    def after_agent(self, state: DialogueState, runtime: Runtime[RequestContext]) -> dict[str, Any] | None:
        turn = turn_messages(list(state["messages"]))
        return {"referents": updated_referents(state.get("referents") or {}, turn)}
