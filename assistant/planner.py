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
import functools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
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
from assistant.router import Router, RouteScore, saved_router, shared_router
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.slots import (
    WHOLE_BALANCE,
    Slots,
    find_birth_date,
    find_payer,
    leftover_amount,
    read_slots,
    replace_payer,
)

# Conversation patterns (how people refer back), not requests: kept as patterns because they are regular.
FOLLOW_BEFORE = re.compile(r"\b(the one before|one before (?:it|that)|previous one|prior one|before that)\b", re.I)
FOLLOW_AFTER = re.compile(r"\b(the (?:one|claim) after|next one|after that)\b", re.I)
ELLIPSIS = re.compile(
    r"^\s*(?:and|what about|how about|same (?:for|with|on)|same thing for|and for|also|now|ok(?:ay)?|then|"
    r"do the same for|do that for|repeat for|what of|different claim|"
    r"what (?:was|is|were|are|about) \w+['’]s\b)",  # "what was aetna's before 2024": the same question, another payer
    re.I,
)
#: What a claim shows (its lines, money and dates): asked about with a claim in the thread, the claim answers.
_CLAIM_FIELD = re.compile(
    r"\b(?:balance|bal|owes?|owed|paid|(?:did|has|have)\b[\w ]{0,24}\bpay|payer|insurance|allowed|billed|charges?|"
    r"modifiers?|mods?|lines?|units|dos|"
    r"date of service|remit|eob|check (?:number|no|#)|dx(?:s|es)? on|diagnos[ie]s on|"
    r"dx|dxs|diagnos[ie]s|diagnosis codes?|cpts?|procedures?|who(?:s|'s| is)? the (?:pt|patient)|pt name|"
    r"patient name|member id|provider|rendering|the \$?\d+(?:\.\d\d)? (?:for|from)|pay(?:s|ing)? (?:it|that))\b",
    re.I,
)
#: A request to do something no answer does (send, submit, fax...): never a question about the last policy.
_ACTION_ASK = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|k|pls|please|can (?:you|u)|could (?:you|u)|go ahead and|lets|let's)[,\s]+)*"
    r"(?:re-?submit|resend|re-?send|send|submit|fax|call|phone|e-?mail|print|mail|void|rebill|re-?bill|schedule|"
    r"verify|enroll|update|change|fix)\b",
    re.I,
)
#: "whats the 91.80 for": a question about money the claim shows, not a payment of it.
_WHAT_FOR = re.compile(r"^\s*(?:what(?:s|'s| is| was)?|wat|why)\b.{0,20}\bthe \$?\d+(?:\.\d\d)?\s+(?:for|from)\b", re.I)
#: A code search with nothing to search for ("dx?", "whats on it cpt and dx"): a question about the thread's
#: claim, not a description.
_NO_DESCRIPTION = frozenset(
    {"and", "the", "it", "its", "on", "for", "what", "whats", "what's", "is", "are", "was", "were", "of", "in"}
    | {"dx", "dxs", "cpt", "cpts", "code", "codes", "icd", "pls", "please", "there", "any", "this", "that"}
)
#: An Alphabetic Index path: a main term of one or two words, then one to six comma-separated subterms.
_INDEX_PATH = re.compile(r"[A-Za-z][A-Za-z'\-]+(?: [A-Za-z'\-]+)?(?:\s*,\s*[A-Za-z0-9'\-. ]{1,40}){1,6}\.?")
#: A bare answer to a code search's question (the side, the encounter): "left", "right side", "initial".
_REFINEMENT = re.compile(
    r"(?i)(?:(?:and|the|its|it's|on the|for the|,)\s*)*"
    r"(right|left|bilateral|both sides|both|initial(?: encounter)?|subsequent(?: encounter)?|sequela|"
    r"first visit|follow[- ]?up(?: visit)?)(?:\s+(?:side|one|sided|pls|please))?\s*[.?!]*"
)
#: A code search's condition asked again with another qualifier: "and w/ esophagitis", "what about without
#: bleeding", "w/o complications?".
_QUALIFIED_AGAIN = re.compile(
    r"(?i)^\s*(?:(?:and|ok|now|so|what about|how about|same but)[,\s]+)*"
    r"((?:with|without|w/o|w/|w|no|not|plus)\s+[a-z][a-z \-]{2,40})\W*$"
)
#: Where a search's qualifier begins ("gerd no esophagitis": "gerd" is the condition).
_QUALIFIER = re.compile(r"(?i)\s(?:with|without|w/o|w/|w|no|not|plus)\s")
#: What a code's record shows: asked about "it" with a code in the thread, the code's lookup answers.
_CODE_FIELD = re.compile(
    r"\b(?:7th|seventh) char(?:acter)?s?\b|\bbillable\b|\bheader\b|\bexcludes?\s?[12]?\b|\bincludes\b|"
    r"\bparent\b|\bcodes? (?:under|below)\b|\bchild(?:ren)? codes?\b|\bcode first\b|\buse additional\b|"
    r"\bstill (?:valid|active)\b|\bterminated\b",
    re.I,
)
#: A time the carried question keeps ("before 2024"): which version of a policy applied.
_WHEN = re.compile(r"\b(?:before|after|since|until|prior to|as of|in)\s+(?:19|20)\d\d\b", re.I)
NARROWING = re.compile(
    r"^\s*(?:(?:now|ok(?:ay)?|k|and|so)[,\s]+)?(?:only|just)\b|\b(?:the|those) [\w -]{2,30} ones\b|"
    r"^[\w -]{2,30}\b(?:only|just)\W*$",  # "over 120 only", "medicare ones only"
    re.I,
)
#: "it", "that claim": the one thing the thread is about (not "those", which are a list's claims).
_IT = re.compile(r"\b(?:it|its|that claim|this claim|the claim|that one|this one)\b", re.I)
#: A message asking for a list of claims, not about one.
_LIST_CUE = re.compile(
    r"\b(?:any|all|every|list|lists|denials|claims|which|how many|ones|worklist|queue|report)\b", re.I
)
PRONOUN = re.compile(r"\b(it|its|that|this|them|those|these|same|the claim|that claim|the patient|that one)\b", re.I)
# Where one message asks two things: "explain the denial and tell me the balance" ("code also" is a note).
_SPLIT = re.compile(
    r"\s*(?:;|\band then\b|\band also\b|(?<!\bcode )\balso\b|\bthen\b|\bplus\b|,\s*and\b|\band\b|"
    r",\s*(?=(?:what|why|how)\b)|"
    r"\s\+\s|\s&\s*(?=(?:what|whats|why|how|check|post|send|show|pull|look|explain|list|give|tell)\b))\s*",
    re.I,
)
_WRITES = {"post_patient_payment", "post_adjustment", "import_remittance"}
#: Going ahead with what was just shown as a dry run.
_GO_AHEAD = re.compile(
    r"\b(?:go ahead|go for it|post it|import it|load it|for real|do it|run it|proceed|looks (?:good|fine|ok|right))\b",
    re.I,
)
#: "on the line", "on that claim", "on it": the message points at the claim the thread is about.
_ON_THE_CLAIM = re.compile(r"\b(?:on|in) (?:the|that|this) (?:line|lines|claim|eob|remit)\b|\bon it\b", re.I)
#: Asking what a code means, and asking what a payer's policy says.
_MEANING = re.compile(r"\b(?:mean|means|meaning|decode|stand for|wh?at does|whats|what'?s|what is|wat|explain)\b", re.I)
#: A code named with its code set ("carc 197", "rarc N115", "group code PI", "remark code M51").
_CODE_SET_NAMED = re.compile(
    r"\b(?:carc|rarc|remark code|reason code)\s*#?\s*[A-Z]{0,2}\d{1,3}\b|\bgroup code\s+[A-Z]{2}\b", re.I
)
_POLICY_ASK = re.compile(r"\b(?:rules?|polic\w*|limits?|window|require\w*|guidelines?|appeal|corrected claim)\b", re.I)
#: Tools a question about a policy just quoted is not for, when the router guesses them: the X12 queue and
#: claim lookups have nothing to say about "was it always 90 or did that change".
_NOT_ABOUT_POLICY = {"x12_exceptions", "import_remittance", "get_claim", "find_claims"}
#: Tools whose answer is a list of claims (not one claim's question).
_CLAIM_LISTS = {"find_claims", "denial_worklist", "ar_aging", "timely_filing_risk"}
#: The thread's patient, referred to ("what else does this guy have open", "other visits for her").
_THE_PATIENT = re.compile(
    r"\b(?:him|her|his|hers|she|he|they|this (?:guy|lady|pt|patient|kid|person|one)|"
    r"same (?:pt|patient|kid|person|guy|lady)|the (?:pt|patient|kid|guy|lady)|(?:pt|patient)['’]s)\b",
    re.I,
)
#: Writes that record money coming in or written off: a refund asked for is neither.
_MONEY_IN = {"post_patient_payment", "post_adjustment"}
#: Writes that "same for 1043" repeats on another claim (an import is about a file, not a claim).
_REPEATABLE = {"post_patient_payment", "post_adjustment"}
#: The payer a thread is about, said as "they": "their limit", "tf risk for them", "appeal w them".
_THEY = re.compile(r"\b(?:their|theirs|they|them|theyre|they're)\b", re.I)
#: Tools whose payer "they" can be (not find_claims: "their claims" are a patient's).
_PAYER_REPORTS = frozenset({"search_knowledge", "denial_worklist", "timely_filing_risk", "ar_aging"})
#: "1727 not 1902", "no i meant 1903", "wait, 1727": the last request, for another claim.
_CORRECTION = re.compile(
    r"\b(\d{4,12})\s*,?\s*not\s+(?:clm\s*|claim\s*|#)?(\d{4,12})\b|"
    r"^\s*(?:(?:no|nope|sorry|oops|wait|actually)[\s,.!]+)+(?:i\s+)?(?:meant|mean|it'?s|its|make it|should be)?\s*"
    r"(?:clm\s*|claim\s*|#)?(\d{4,12})\b",
    re.I,
)
_CLAIM_SHAPED = re.compile(r"(?<![$.\d])\b\d{4,12}\b(?!\.\d)")
#: A change to what was just asked ("wait it was cash not card", "sorry make it 45", "actually $30").
_CHANGE_CUE = re.compile(
    r"^\s*(?:no|nope|sorry|oops|wait|actually|correction|my bad|make (?:it|that))\b|\bnot (?:by )?(?:card|cash|check|"
    r"credit|debit|\$?\d[\d.]*)\b|\b(?:should be|should have been|was actually|meant)\b",
    re.I,
)
#: The amount a correction gives ("make it 20", "should be 45.50", "it was 30"), never a bare number elsewhere
#: in it ("wait 2 min, sorry": not a $2 payment).
_CORRECTED_AMOUNT = re.compile(
    r"\b(?:make (?:it|that)|should (?:be|have been)|it was|was actually|actually|meant|no|sorry)[,:\s]+\$?"
    r"(\d{1,5}(?:\.\d\d)?)\b(?!\s*(?:secs?|seconds?|mins?|minutes?|hours?|hrs?|days?|[/:-]))",
    re.I,
)
#: "all payers", "every payer": a report's payer filter dropped.
ALL_PAYERS = re.compile(r"\b(?:all|every|any)\s+(?:payers?|insurances?|plans|carriers)\b", re.I)
_TOO = re.compile(r"\b(?:too|as well|also)\W*$|^\s*(?:and\s+)?(?:also|do one for|one for)\b", re.I)
_SAME = re.compile(r"^\s*(?:ok(?:ay)?,?\s*)?(?:same|do the same|ditto|repeat (?:that|it)?\s*for)\b", re.I)


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
    replaces: bool = False  # a correction of the last request: its new proposal replaces the one it corrects


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

    def _routes(self) -> tuple[dict[str, Sequence[str]], dict[str, str]]:
        routes: dict[str, Sequence[str]] = {d.name: d.examples for d in self.all_descriptors() if d.examples}
        routes[repair.HELP] = repair.HELP_EXAMPLES
        routes[repair.UNSUPPORTED] = repair.UNSUPPORTED_EXAMPLES
        # Code tools and knowledge search are one family for the router's confidence: both answer from public
        # reference (code sets, policies, guidance) about what the message names, so a message split between
        # them ("how do i fix co-16 m51": the codes or the playbook?) is a sure reference question.
        families: dict[str, str] = {
            d.name: "reference" if str(d.access) in {"codes", "knowledge"} else str(d.access)
            for d in self.all_descriptors()
        }
        return routes, families

    def router(self) -> Router:
        from knowledge.embeddings import get_embedder

        routes, families = self._routes()
        embedder = get_embedder(self.embedding_model)
        return shared_router(
            routes, embedder.encode, key=embedder.model_path, cache_dir=self.cache_dir, families=families
        )

    def router_is_saved(self) -> bool:
        """A router fitted on today's examples is in the cache folder (`init` puts it there)."""
        from knowledge.embeddings import default_model_path

        if self.cache_dir is None:
            return False
        routes, families = self._routes()
        key = self.embedding_model or default_model_path()
        return saved_router(routes, key=key, cache_dir=self.cache_dir, families=families).exists()

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
        if repair.REFUND.search(text) and any(p.route in _MONEY_IN for p in understanding.parts):
            # "refund him the 12.50 back to his card": whatever the router made of it, never a payment.
            understanding = Understanding([], reply=repair.no_refunds(self.bound(), role))
        elif repair.CONTACT_PATIENT.search(text) and understanding.parts:
            # "text the pt on 1070 that she has a balance due": what is asked is to reach the person.
            understanding = Understanding([], reply=repair.cannot_do(self.bound(), role))
        if understanding.reply is not None:
            return AIMessage(content=understanding.reply, additional_kwargs={PLAN_KEY: {"repair": True}})
        calls = [self._call(part.route, args) for part in understanding.parts for args in part.calls]
        questions = [part.question for part in understanding.parts if part.question]
        awaiting = next((part.awaiting for part in understanding.parts if part.awaiting), None)
        plan = {
            "routes": [p.route for p in understanding.parts],
            "questions": questions,
            "awaiting": awaiting,
            "replaces": understanding.replaces,
        }
        plan["then"] = next((p.awaiting for p in understanding.parts if p.calls and p.awaiting), None)
        named = read_slots(text, today=self.today()).claim_numbers
        if len(named) > 1:
            # "two denials on my desk, 1160 and 1375. start w the first": both are the thread's candidates,
            # so "now the second one" is 1375 (dialogue.updated_referents keeps them).
            plan["named_claims"] = named[:MAX_CLAIMS_AT_ONCE]
        if not calls:
            return AIMessage(content="\n\n".join(questions), additional_kwargs={PLAN_KEY: plan})
        return AIMessage(content="", tool_calls=calls, additional_kwargs={PLAN_KEY: plan})

    def vocabulary(self) -> frozenset[str]:
        """Words the examples use in lower case: what is not among them may be a name."""
        return _vocabulary(tuple(e for d in self.all_descriptors() for e in d.examples))

    def understand(self, text: str, state: dict[str, Any], role: str | None) -> Understanding:
        today = self.today()
        slots = read_slots(text, today=today)
        if slots.patient_name is None:
            slots.patient_name = lowercase_name(text, self.vocabulary())
            if slots.patient_name is not None and slots.birth_date is None:
                slots.birth_date = find_birth_date(slots.text, today=today, named=True)
            if slots.patient_name is not None and slots.birth_date is None:
                # A guess from lower-case words alone ("for pure hypercholesterolemia" reads like "for drew
                # fakely"): the router reads the words as typed, not as a name.
                slots.extras["name_guessed"] = True
        router = self.router()
        scored = self._in_context(router.rank(text, slots), slots, state)
        ranked = router.honest(scored)
        previous_call = (state.get("last_calls") or [{}])[0].get("name")
        policy_follow_up = bool(
            previous_call == scored[0].route == "search_knowledge"
            and (PRONOUN.search(text) or _THEY.search(text))
            and not slots.payer
        )
        if policy_follow_up:
            ranked = scored  # a question about the policy just quoted (see _in_context), not what no tool does
        top_scored = self.descriptor(scored[0].route)
        if (
            ranked[0] is not scored[0]
            and state.get("claim")
            and top_scored is not None
            and "claim" in top_scored.referents
            and _CLAIM_FIELD.search(text)
            and not _names_a_value(slots)
        ):
            # "what did the pt pay so far" in a thread about a claim: a question the claim answers, though
            # it sounds like what no tool does (benefits, copays by plan). The give-up is for messages that
            # name a claim and ask something else of it ("mark 1446 as resolved").
            ranked = scored
        # Given up for "I can't do that yet" (see Router.honest): that is the answer, not "I'm not sure".
        sure = ranked[0] is not scored[0] or router.confidence(ranked) >= router.floor or policy_follow_up
        last_call = (state.get("last_calls") or [{}])[0].get("name")
        search = self.descriptor("search_codes")
        if (
            last_call == "search_codes"
            and state.get("code_query")
            and _REFINEMENT.fullmatch(text.strip())
            and search is not None
            and search.name in self.tool_names
        ):
            # "left" after "Which side?": the answer to the search's question, whatever the router makes of it.
            return Understanding([self._part(search, slots, state)])
        qualified = _QUALIFIED_AGAIN.match(text)
        if (
            last_call in {"search_codes", "lookup_code"}  # "billable?" may have come between
            and state.get("code_query")
            and qualified
            and not (slots.codes or slots.claim_numbers)
            and search is not None
            and search.name in self.tool_names
        ):
            # "and w/ esophagitis" after "gerd no esophagitis": the same condition, qualified the other way
            # (the previous search's main term with the qualifier now asked).
            base = _QUALIFIER.split(str(state["code_query"]), maxsplit=1)[0].strip(" ,")
            if base:
                slots.extras["refined_query"] = f"{base} {qualified.group(1).strip(' ?.!')}"
                return Understanding([self._part(search, slots, state)])
        for step in (self._one_of_those_shown, self._follow_up):
            understood = step(text, slots, state, router, ranked)
            if understood is not None:
                return understood
        parts = self._multi_part(text, slots, state, router, ranked)
        if parts is not None:
            return Understanding(parts)
        top = ranked[0]
        last = (state.get("last_calls") or [{}])[0].get("name")
        code_view = self.descriptor("lookup_code")
        if (
            state.get("code")
            and PRONOUN.search(text)
            and _CODE_FIELD.search(text)
            and not (slots.codes or slots.claim_numbers or slots.patient_name or slots.payer)
            and code_view is not None
            and code_view.name in self.tool_names
        ):
            # "does it need a 7th character", "what codes are under it": the code the thread is about, looked
            # up (its record has the notes, the 7th characters and the codes under it), not a guideline search.
            return Understanding([self._part(code_view, slots, state)])
        top_descriptor = self.descriptor(top.route)
        points_at_claim = bool(_ON_THE_CLAIM.search(text)) and not (
            top_descriptor and "claim" in top_descriptor.referents
        )
        empty_search = top.route == "search_codes" and not [
            w for w in re.findall(r"[a-z']{3,}", slots.search_text.lower()) if w not in _NO_DESCRIPTION
        ]
        gave_up = (ranked[0] is not scored[0] or ranked[0].route in {repair.UNSUPPORTED, repair.HELP}) and (
            bool(_IT.search(text)) or len(text.split()) <= 5
        )
        asks_about_money = bool(_WHAT_FOR.search(text))
        if (
            (not sure or points_at_claim or empty_search or gave_up or asks_about_money)
            and state.get("claim")
            and _CLAIM_FIELD.search(text)
            and not _ACTION_ASK.search(text)  # "change the provider on it" is not answered by showing it
            and not (slots.codes or slots.payer or slots.claim_numbers)
        ):
            # "and the balance?", "what modifier was on the line": not sure of the route, but the thread is about
            # a claim and the message asks for something the claim shows. Showing that claim answers it.
            claim_view = self.descriptor("get_claim")
            if claim_view is not None and claim_view.name in self.tool_names and not slots.patient_name:
                slots.claim_numbers = slots.claim_numbers or [str(state["claim"])]
                return Understanding([self._part(claim_view, slots, state)])
        decode = self.descriptor("explain_adjustment_codes")
        if (
            top.route == "search_knowledge"
            and slots.adjustment_codes
            and not slots.claim_numbers
            and _MEANING.search(text)
            and not _POLICY_ASK.search(text)
            and decode is not None
            and decode.name in self.tool_names
        ):
            # "pt says medicare shoulda paid more, whats PR-2": what the code means, though a payer is named.
            return Understanding([self._part(decode, slots, state)])
        lookup = self.descriptor("lookup_code")
        if (
            top.route == "explain_adjustment_codes"
            and len(slots.codes) == 1
            and slots.codes[0][0] in {"carc", "rarc", "group"}
            and _CODE_SET_NAMED.search(text)
            and not slots.claim_numbers
            and lookup is not None
            and lookup.name in self.tool_names
        ):
            # "carc 197", "group code PI", "rarc N115": one code named with its code set is a look-up of that
            # code (its record, dates and notes); "CO-97" or "co-16 m51 meaning" is a remittance to decode.
            return Understanding([self._part(lookup, slots, state)])
        denial = self.descriptor("explain_denial")
        if (
            top.route == "explain_adjustment_codes"
            and slots.adjustment_codes
            and slots.claim_numbers
            and not _MEANING.search(text)
            and denial is not None
            and denial.name in self.tool_names
        ):
            # "1902 eob co-97 m15 ugh": the claim's denial, whose codes the message quotes (decoded there too).
            return Understanding([self._part(denial, slots, state)])
        if not sure and last and last not in _WRITES and len(text.split()) <= 4:
            # "excludes1?", "billable?" after a lookup: the same question about the same subject.
            descriptor = self.descriptor(last)
            if descriptor is not None and last in self.tool_names:
                part = self._part(descriptor, slots, state)
                if part.calls:
                    return Understanding([part])
        search = self.descriptor("search_codes")
        if (
            not sure
            and _INDEX_PATH.fullmatch(text.strip())
            and ranked[0].route == "search_codes"  # "Lee, Anna" is a name: there the router leans to help
            and not (slots.codes or slots.claim_numbers or slots.patient_name or slots.payer or slots.birth_date)
            and search is not None
            and search.name in self.tool_names
        ):
            # "Lice, pubic": the shape of an Alphabetic Index path (a main term, then subterms), and the router's
            # best guess is the code search, short of sure. The path is what a coder searches by.
            return Understanding([self._part(search, slots, state)])
        sentences = [part for part in _SENTENCE_END.split(text.strip()) if part.strip()]
        if (not sure or top.route == repair.UNSUPPORTED) and len(sentences) > 1:
            # "ugh its a preventive visit by itself, nothing to bundle it into. write up a recon": the story
            # first, the request last. The last sentence, understood on its own, is the request.
            last = self.understand(sentences[-1], state, role)
            if last.reply is None and last.parts:
                return last
        if not sure:
            closest = [d for r in ranked[:3] if (d := self.descriptor(r.route)) and d.name in self.tool_names][:2]
            return Understanding([], reply=repair.not_understood(self.bound(), role, closest))
        if top.route == repair.HELP:
            return Understanding([], reply=repair.capabilities(self.bound(), role))
        if top.route == repair.UNSUPPORTED:
            return Understanding([], reply=repair.cannot_do(self.bound(), role))
        return self._single(self._takes_the_dates(router, ranked, slots), slots, state, role)

    def _takes_the_dates(self, router: Router, ranked: list[RouteScore], slots: Slots) -> str:
        """The best route, unless the message names dates of service it cannot filter by and a close route
        of the same family can: "any denials with dos 11/02" is the denied claims of that day, not the
        whole denial worklist with the date dropped."""
        top = ranked[0].route
        chosen = self.descriptor(top)
        fields = chosen.args_schema().model_fields if chosen is not None else {}
        if slots.service_from is None or _takes_service_dates(chosen):
            return top
        if "claim_number" in fields or "claim_numbers" in fields:
            return top  # a request about one claim ("draft a recon w the 277ca from march") keeps its route
        family = router.families.get(top, top)
        for scored in ranked[1:3]:
            if (
                scored.score >= _CLOSE_ENOUGH
                and router.families.get(scored.route, scored.route) == family
                and scored.route in self.tool_names
                and _takes_service_dates(self.descriptor(scored.route))
            ):
                return scored.route
        return top

    def _one_of_those_shown(
        self, text: str, slots: Slots, state: dict[str, Any], router: Router, ranked: list[RouteScore]
    ) -> Understanding | None:
        """ "the october one", "the cigna one", "the vertebrogenic one": one of the claims or codes the
        last answer listed, told apart by its date, status, payer or description."""
        if slots.claim_number or slots.medical_codes or slots.patient_name or slots.birth_date:
            return None
        narrowed = _narrow_claims(slots, state.get("claim_candidates") or [])
        if narrowed:
            awaiting = state.get("awaiting") or {}
            chosen: ToolDescriptor | None
            if awaiting.get("slot") == "claim_number" and (asked := self.descriptor(str(awaiting.get("route")))):
                chosen = asked  # the answer to "which claim do you mean?"
                _restore(awaiting, slots)
            elif _WHAT_FOR.search(text):
                chosen = self.descriptor("get_claim")  # "whats the 91.80 for": what the amount on it is
            elif (again := self._same_claim_question(text, state)) is not None:
                chosen = again  # "ok now the second one" after explaining the first: the same question
            elif (about := self._about_a_claim(router, ranked)) is not None:
                chosen = about  # "why was the october one denied", "explain the denial on the top one"
            elif _DENIAL_ASK.search(text) and len(narrowed) == 1 and self._is_denied(narrowed[0], state):
                chosen = self.descriptor("explain_denial")  # "the tfl one - can we still fight that"
            elif slots.amount is None and len(narrowed) == 1 and self._is_denied(narrowed[0], state):
                chosen = self.descriptor("explain_denial")  # "the co-22 one?": a denied claim's denial
            else:  # "oct visit balance", "post $40 to the october one" ("whats the $40 for" asks about it)
                paying = slots.amount is not None and not _WHAT_FOR.search(text)
                chosen = self.descriptor("post_patient_payment" if paying else "get_claim")
            if chosen is None or chosen.name not in self.tool_names:
                return None
            if len(narrowed) > 1 and not re.search(r"\bone\b", slots.text, re.I):
                return None  # "only medicare", "the cigna ones" narrow a list (a filter); they pick none of it
            if len(narrowed) > 1:  # "the october one" with two october claims: ask which, remember the rest
                listed = ", ".join(_describe_candidate(n, state) for n in narrowed[:6])
                pending = _pending_slots(chosen, slots)
                pending["slot"] = "claim_number"
                return Understanding(
                    [
                        Part(
                            chosen.name,
                            question=f"Which claim do you mean: {listed}? Say “claim {narrowed[0]}”, for example.",
                            awaiting=pending,
                        )
                    ]
                )
            slots.claim_numbers = narrowed
            return Understanding([self._part(chosen, slots, state)])
        code = _pick_code(slots.text, state.get("code_candidates") or [])
        lookup = self.descriptor("lookup_code")
        if code and lookup is not None and lookup.name in self.tool_names:
            slots.codes = [("code", code)]
            return Understanding([self._part(lookup, slots, state)])
        return None

    @staticmethod
    def _is_denied(number: str, state: dict[str, Any]) -> bool:
        for candidate in state.get("claim_candidates") or []:
            if isinstance(candidate, dict) and str(candidate.get("claim_number")) == number:
                return candidate.get("status") == "denied"
        return False

    def _asked_besides(self, text: str, router: Router) -> ToolDescriptor | None:
        """What a follow-up asks of the claim it points at, when it asks something ("go back to the one
        before it and draft the appeal"): the router's sure claim route for the message, else None."""
        stripped = FOLLOW_BEFORE.sub(" ", FOLLOW_AFTER.sub(" ", text))
        if len(_remainder(stripped).split()) < 2:
            return None
        ranked = router.rank(stripped, read_slots(stripped, today=self.today()))
        descriptor = self.descriptor(ranked[0].route)
        if router.confidence(ranked) < router.floor or descriptor is None or descriptor.name in _WRITES:
            return None
        if "claim" not in descriptor.referents or descriptor.name not in self.tool_names:
            return None
        return descriptor

    def _same_claim_question(self, text: str, state: dict[str, Any]) -> ToolDescriptor | None:
        """The last claim tool, when the message only picks another claim ("now the second one", "and the
        cigna one?") and asks nothing of its own."""
        last = (state.get("last_calls") or [{}])[0].get("name")
        descriptor = self.descriptor(str(last)) if last else None
        if descriptor is None or descriptor.name in _WRITES or "claim" not in descriptor.referents:
            return None
        if descriptor.name not in self.tool_names or descriptor.name == "find_claims":
            return None
        leftover = _remainder(_ORDINAL.sub(" ", text))
        leftover = re.sub(r"(?i)\b(?:ok(?:ay)?|k|next|go|to|start|w|with|wait|no|yes|yeah|back)\b", " ", leftover)
        return descriptor if not leftover.split() else None

    def _about_a_claim(self, router: Router, ranked: list[RouteScore]) -> ToolDescriptor | None:
        """The tool for one claim among the two best routes, when the router is sure of their family: "explain
        the denial on the top one" scores the denial list first and the one claim's denial close behind; the
        message picks one claim, so it is the latter."""
        if router.confidence(ranked) < router.floor:
            return None
        family = router.families.get(ranked[0].route, ranked[0].route)
        for scored in ranked[:2]:
            descriptor = self.descriptor(scored.route)
            if (
                descriptor is not None
                and "claim" in descriptor.referents
                and router.families.get(scored.route, scored.route) == family
            ):
                return descriptor
        return None

    def _in_context(self, ranked: list[RouteScore], slots: Slots, state: dict[str, Any]) -> list[RouteScore]:
        """A message that names nothing of its own ("and the balance?", "what modifier was on the line") is
        about what the thread is about: the tools that take the thread's subject count twice as much."""
        own = slots.claim_numbers or slots.maybe_claims or slots.codes or slots.patient_name or slots.file_name
        last = (state.get("last_calls") or [{}])[0].get("name")
        # A write with no claim named or in the thread cannot be meant ("do they still take 59": not $59).
        claimless_write = ranked[0].route in _WRITES and not state.get("claim")
        if (
            (not own or (claimless_write and not (slots.claim_numbers or slots.maybe_claims or slots.file_name)))
            and last == "search_knowledge"
            and (PRONOUN.search(slots.text) or _THEY.search(slots.text))
            and not _ACTION_ASK.search(slots.text)  # "ok resubmit it w the right npi" is not about the policy
            and not slots.payer
            and not _LIST_CUE.search(slots.text)  # "any of our claims near it" asks for claims
            and (ranked[0].route in {repair.HELP, repair.UNSUPPORTED, *_NOT_ABOUT_POLICY} or claimless_write)
        ):
            # "was it always 90 or did that change" after a policy answer: a question about that answer (the
            # policy search again, with the previous question), as sure as the router was of its best guess.
            top = self.descriptor(ranked[0].route)
            index = next((i for i, r in enumerate(ranked) if r.route == last), None)
            if (
                (top is None or not {"claim", "code"} & set(top.referents) or claimless_write)
                and index is not None
                and index > 0
            ):
                ranked = list(ranked)
                ranked[0], ranked[index] = (
                    RouteScore(last, ranked[0].score),
                    RouteScore(ranked[0].route, ranked[index].score),
                )
                return ranked
        subjects = {kind for kind, key in (("claim", "claim"), ("code", "code")) if state.get(key)}
        if own or not subjects:
            return ranked
        # "denial reason pls, medicare sent it back" with a claim in the thread: "it" is that claim, and nothing
        # asks for a list ("any", "all", "denials", "which claims"), so a list of the payer's claims is not it.
        about_it = "claim" in subjects and bool(_IT.search(slots.text)) and not _LIST_CUE.search(slots.text)
        weighted = []
        for scored in ranked:
            descriptor = self.descriptor(scored.route)
            boost = 2.0 if descriptor is not None and subjects & set(descriptor.referents) else 1.0
            weighted.append(RouteScore(scored.route, scored.score * boost))
        total = sum(r.score for r in weighted) or 1.0
        out = sorted((RouteScore(r.route, r.score / total) for r in weighted), key=lambda r: -r.score)
        if about_it and out[0].route in _CLAIM_LISTS:
            # The claim's question takes the list's place (and its score: as sure as the router was); when
            # the router has no question of one claim in mind ("remind me $ still open on that claim"), the
            # claim itself answers what a list of claims would.
            found = next(
                (
                    i
                    for i, scored in enumerate(out)
                    if (d := self.descriptor(scored.route)) is not None
                    and "claim" in d.referents
                    and d.name not in _WRITES
                    and scored.score >= 0.05
                ),
                None,
            )
            if found is None:
                found = next((i for i, scored in enumerate(out) if scored.route == "get_claim"), None)
            if found is not None:
                out[0], out[found] = (
                    RouteScore(out[found].route, out[0].score),
                    RouteScore(out[0].route, out[found].score),
                )
        return out

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
            candidates = _candidate_numbers(state)
            if need.slot.name == "claim_number" and len(candidates) > 1 and not slots.claim_number:
                listed = ", ".join(candidates[:6])
                awaiting = _pending_slots(descriptor, slots)
                awaiting["slot"] = "claim_number"
                return Part(
                    descriptor.name,
                    question=f"Which claim do you mean: {listed}? Say “claim {candidates[0]}”, for example.",
                    awaiting=awaiting,
                )
            if descriptor.name == "check_claim_codes" and slots.claim_number and "get_claim" in self.tool_names:
                # "scrub the codes on 1111": the claim's own codes first, then the check (second hop).
                return Part(
                    "get_claim",
                    calls=[{"claim_number": slots.claim_number}],
                    awaiting={"route": "check_claim_codes", "from_claim": True},
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
        candidates = _candidate_numbers(state)
        if (
            not slots.claim_number
            and len(candidates) > 1
            and _ALL_OF_THOSE.search(slots.text)
            and "claim_numbers" in descriptor.args_schema().model_fields  # built once per tool
        ):
            # "send 276s for those", "all of them": every claim the last answer listed (as it listed them).
            slots.claim_numbers = candidates[:MAX_CLAIMS_AT_ONCE]
            return
        if "claim" in descriptor.referents and not slots.claim_number:
            picked = _pick_claim(slots, state.get("claim_candidates") or [])
            if picked:
                slots.claim_numbers = [picked]
            elif state.get("claim"):
                slots.claim_numbers = [str(state["claim"])]
        if descriptor.name == "post_patient_payment" and slots.amount is None and WHOLE_BALANCE.search(slots.text):
            owed = (state.get("patient_balances") or {}).get(slots.claim_number or "")
            if owed not in (None, "0", "0.00"):
                from decimal import Decimal

                slots.amount = Decimal(str(owed))
        if descriptor.name == "search_codes" and state.get("code_query") and _REFINEMENT.fullmatch(slots.text.strip()):
            # "left", "initial encounter": the answer to the search's "which side?" / "which encounter?",
            # so the same search with it added, as the next subterm of the path.
            answer = _REFINEMENT.fullmatch(slots.text.strip())
            given = answer.group(1).lower() if answer else slots.text
            given = "bilateral" if given.startswith("both") else given  # the Tabular's word for both sides
            slots.extras["refined_query"] = f"{state['code_query']}, {given}"
        if descriptor.name == "lookup_code" and not slots.medical_codes:
            picked = _pick_code(slots.text, state.get("code_candidates") or [])
            if picked:
                slots.codes = [("code", picked)]
        if descriptor.name == "check_claim_codes":
            _correct_check(slots, state)
        if (
            descriptor.name == "check_claim_codes"
            and not slots.medical_codes
            and not slots.claim_numbers
            and state.get("claim")
            and _IT.search(slots.text)
        ):
            # "scrub the codes on it too": the codes of the claim the thread is about (read from the claim).
            slots.claim_numbers = [str(state["claim"])]
        if (
            descriptor.name in {"lookup_code", "check_claim_codes"}
            and not slots.medical_codes
            and not (descriptor.name == "check_claim_codes" and slots.claim_numbers)
            and state.get("code")
        ):
            code = str(state["code"])
            slots.codes = [*slots.codes, ("icd10cm" if "." in code else "code", code)]
            if descriptor.name == "lookup_code" and slots.adjustment_codes:
                slots.codes = [c for c in slots.codes if c[0] not in {"carc", "rarc"}]
        if descriptor.name == "explain_adjustment_codes" and not slots.adjustment_codes:
            codes = [str(c) for c in state.get("adjustment_codes") or []]
            group = re.search(r"\b(co|pr|oa|pi)\b", slots.text, re.I)
            if group and any(c.upper().startswith(group.group(1).upper() + "-") for c in codes):
                codes = [c for c in codes if c.upper().startswith(group.group(1).upper() + "-")]
            slots.codes = [*slots.codes, *(("carc" if "-" in c else "rarc", c) for c in codes)]
        refers_back = bool(PRONOUN.search(slots.text))
        if descriptor.name in {"search_knowledge", "denial_worklist"} and not slots.payer and refers_back:
            slots.payer = str(state["payer"]) if state.get("payer") else None
        if (
            descriptor.name in _PAYER_REPORTS
            and not slots.payer
            and state.get("payer")
            and _THEY.search(slots.text)
            and not ALL_PAYERS.search(slots.text)
        ):
            # "whats their tf limit", "tf risk for them": the payer the thread is about (a claim's or a list's).
            slots.payer = str(state["payer"])
        last = (state.get("last_calls") or [{}])[0]
        carried_payer = (last.get("args") or {}).get("payer") if last.get("name") == "search_knowledge" else None
        carried_payer = carried_payer or state.get("payer")
        if descriptor.name == "search_knowledge" and not slots.payer and carried_payer and ELLIPSIS.search(slots.text):
            # "and corrected claim window" after Cigna's filing limit (or a Cigna claim): Cigna's window.
            slots.payer = str(carried_payer)
        asked = str((last.get("args") or {}).get("question") or "")
        if descriptor.name == "search_knowledge" and refers_back and last.get("name") == descriptor.name and asked:
            # "was it always 90 or did that change": what "it" is, is the question just answered.
            slots.text = f"{asked} {slots.text}"
        if (
            descriptor.name == "denial_worklist"
            and refers_back
            and not slots.extras.get("reason_code")
            and not slots.extras.get("reason_words")
        ):
            # "any cigna denials w that" after CO-4 was decoded: the denials with that reason code.
            reasons = [
                str(c) for c in state.get("adjustment_codes") or [] if re.fullmatch(r"(?:CO|PR|OA|PI)-\w+", str(c))
            ]
            if reasons:
                slots.extras["group_code"], _, slots.extras["reason_code"] = reasons[0].partition("-")
        if (
            descriptor.name == "find_claims"
            and not (slots.patient_name or slots.birth_date)
            and (PRONOUN.search(slots.text) or _THE_PATIENT.search(slots.text))
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
        claim_routes = [d for c in last if (d := self.descriptor(c["name"])) is not None and "claim" in d.referents]
        if (
            claim
            and str(claim).isdigit()
            and claim_routes
            and (FOLLOW_BEFORE.search(text) or FOLLOW_AFTER.search(text))
        ):
            step = -1 if FOLLOW_BEFORE.search(text) else 1
            listed = [str(c.get("claim_number")) for c in state.get("claim_candidates") or [] if isinstance(c, dict)]
            if str(claim) in listed and 0 <= listed.index(str(claim)) + step < len(listed):
                # Claims the thread named or listed: "the one before it" is the one before it there.
                slots.claim_numbers = [listed[listed.index(str(claim)) + step]]
            else:
                slots.claim_numbers = [str(int(str(claim)) + step)]
            asked = self._asked_besides(text, router)
            return Understanding([self._part(asked or claim_routes[0], slots, {})])
        corrected = self._corrected(text, last) or self._write_changed(slots, last)
        if corrected is not None:
            return corrected
        awaiting = state.get("awaiting")
        if awaiting and (descriptor := self.descriptor(str(awaiting.get("route")))) is not None:
            if awaiting.get("slot") == "claim_number" and not slots.claim_number:
                picked = _pick_claim(slots, state.get("claim_candidates") or [])
                slots.claim_numbers = [picked] if picked else []
            answered = _answers(awaiting, slots)
            if answered:
                _restore(awaiting, slots)
                return Understanding([self._part(descriptor, slots, state)])
        if not last:
            return None
        correcting = bool(_DROP.search(text) or _INSTEAD.search(text) or _ADD.search(text)) and bool(slots.codes)
        check = self.descriptor("check_claim_codes")
        if (
            last[0]["name"] == "check_claim_codes"
            and check is not None
            and check.name in self.tool_names
            and correcting
        ):
            # A correction of the last check ("swap in E11.65", "drop the R73.03").
            return Understanding([self._part(check, slots, state)])
        repeated = self._same_write(last[0], slots)
        if repeated is not None:
            return repeated
        previous_args = last[0].get("args") or {}
        if (
            last[0]["name"] == "import_remittance"
            and previous_args.get("dry_run") is True
            and previous_args.get("file_name")
            and not slots.file_name
            and _GO_AHEAD.search(text)
            and "import_remittance" in self.tool_names
        ):
            # "looks fine go ahead n post it for real" after a dry run: the same file, imported (confirmed first).
            return Understanding([Part("import_remittance", calls=[{"file_name": str(previous_args["file_name"])}])])
        own_route_is_clear = router.confidence(ranked) >= router.floor and ranked[0].route not in {repair.HELP}
        remainder = _remainder(text)
        elliptic = bool(ELLIPSIS.search(text)) or len(remainder.split()) <= 1
        # "only the timely filing ones", "just medicare" after a list: that list, narrowed (not a new report).
        narrowing = last[0]["name"] in _CLAIM_LISTS and bool(
            NARROWING.search(text) or (len(text.split()) <= 8 and re.search(r"\b(?:only|just)\b", text, re.I))
        )
        if not (elliptic or narrowing) or (own_route_is_clear and len(remainder.split()) >= 2 and not narrowing):
            return None
        previous = self.descriptor(last[0]["name"])
        if previous is None or previous.name in _WRITES or previous.name not in self.tool_names:
            return None
        if slots.amount is not None and not previous.takes("amount"):
            # "and 2444 too, 40 cash" after a claim was shown: money names a posting, not the same view again.
            return None
        if (
            not (slots.claim_numbers or slots.maybe_claims)
            and slots.years_after_for
            and "claim" in previous.referents
            and (_SAME.search(text) or _TOO.search(text))
        ):
            # "same thing for 2009", "do one for 2017 too": after a claim tool, a year-shaped number asked
            # "for" is another claim (the thread is about claims, not a year).
            slots.maybe_claims = list(slots.years_after_for)
        new_value = bool(
            slots.claim_numbers
            or slots.maybe_claims
            or slots.codes
            or slots.payer
            or slots.patient_name
            or (previous.name == "denial_worklist" and slots.extras.get("reason_words"))
            # "now just whats on patients" after the aging: a filter of the report's own (its plan reads one).
            or (narrowing and _plans_a_value(previous, slots))
        )
        if not new_value:
            return None
        if (slots.claim_numbers or slots.maybe_claims) and "claim" not in previous.referents:
            # "deadline on 2003" after a denial list: a question about that claim, not the list again with a
            # number it cannot filter by. The router decides what is asked of the claim.
            return None
        # Carry over what the previous call asked, with the new value the message names.
        carried = slots
        previous_args = last[0].get("args") or {}
        if previous.name in {"search_knowledge"}:
            question = str(previous_args.get("question") or "")
            if slots.payer:
                question = replace_payer(question, slots.payer) if find_payer(question) else f"{question} {slots.payer}"
                when = _WHEN.search(text)
                if when and when.group(0).lower() not in question.lower():
                    question = f"{question} {when.group(0)}"
                carried = read_slots(question, today=self.today())
                carried.payer = slots.payer
            return Understanding([Part(previous.name, calls=[_clean({"question": question, "payer": carried.payer})])])
        if previous.name == "denial_worklist":
            # "what about cigna?" changes the payer; "the co-151 ones" narrows the same list by reason.
            group = slots.extras.get("group_code")
            reason = f"{group}-{slots.extras['reason_code']}" if group else slots.extras.get("reason_words")
            # Either way the list keeps what the message does not change ("only medicare" after the
            # CO-197 list is Medicare's CO-197 denials).
            args = {"payer": slots.payer or previous_args.get("payer"), "reason": reason or previous_args.get("reason")}
            return Understanding([Part(previous.name, calls=[_clean(args)])])
        if previous.name == "find_claims":
            args = dict(previous_args)
            if slots.payer:
                args["payer"] = slots.payer
            if slots.patient_name:
                args["patient_name"] = slots.patient_name
            return Understanding([Part(previous.name, calls=[_clean(args)])])
        part = self._part(previous, carried, state)
        if part.calls and not {"claim", "code"} & set(previous.referents):
            # A report's filters carry over ("ar over 90 days", then "just uhc": UHC's A/R over 90 days; UHC's
            # aging, then "over 120 only": UHC's over 120). Only what the message names replaces a filter.
            part.calls = [{**_clean(previous_args), **_clean(call)} for call in part.calls]
            if ALL_PAYERS.search(text):  # "ok now pt resp only, all payers": the payer filter dropped
                part.calls = [{k: v for k, v in call.items() if k != "payer"} for call in part.calls]
        return Understanding([part])

    def _corrected(self, text: str, last: list[dict[str, Any]]) -> Understanding | None:
        """ "no wait, 1727 not 1902" after a request about 1902: the same request (a write stays a proposal
        that a person confirms), for the claim the person meant."""
        found = _CORRECTION.search(text)
        if found is None or not last:
            return None
        meant, instead_of = (found.group(1), found.group(2)) if found.group(1) else (found.group(3), None)
        call = last[0]
        arguments = dict(call.get("args") or {})
        previous = self.descriptor(str(call.get("name")))
        if previous is None or previous.name not in self.tool_names:
            return None
        if "claim_number" in arguments:
            if instead_of is not None and str(arguments["claim_number"]) != instead_of:
                return None
            arguments["claim_number"] = meant
        elif isinstance(arguments.get("claim_numbers"), list):
            numbers = [str(n) for n in arguments["claim_numbers"]]
            if instead_of is not None and instead_of not in numbers:
                return None
            arguments["claim_numbers"] = [meant if n == instead_of else n for n in numbers] if instead_of else [meant]
        else:
            return None
        return Understanding([Part(previous.name, calls=[_clean(arguments)])], replaces=previous.access == "write")

    def _write_changed(self, slots: Slots, last: list[dict[str, Any]]) -> Understanding | None:
        """ "wait it was cash not card", "sorry, make it 45" right after a payment or an adjustment was
        proposed: the same write with what the message changes, replacing the proposal it corrects."""
        if not last or not _CHANGE_CUE.search(slots.text) or slots.claim_numbers or slots.maybe_claims:
            return None
        name = str(last[0].get("name"))
        if name not in _REPEATABLE or name not in self.tool_names:
            return None
        arguments = dict(last[0].get("args") or {})
        changed = False
        if slots.method and "method" in arguments and slots.method != arguments.get("method"):
            arguments["method"], changed = slots.method, True
        amount = slots.amount
        if amount is None and (bare := _CORRECTED_AMOUNT.search(slots.text)):
            amount = Decimal(bare.group(1))  # "sorry make it 20": the number the correction puts in its place
        if amount is not None and "amount" in arguments and Decimal(str(arguments["amount"])) != amount:
            arguments["amount"], changed = str(amount), True
        if not changed:
            return None
        return Understanding([Part(name, calls=[_clean(arguments)])], replaces=True)

    def _same_write(self, last_call: dict[str, Any], slots: Slots) -> Understanding | None:
        """ "same for 1112 but 25 on a card" after a payment or an adjustment was proposed: the same write on
        another claim, with what the message changes. Still a proposal: a person confirms it as shown."""
        name = str(last_call.get("name"))
        again = _SAME.search(slots.text) or _TOO.search(slots.text)
        if name not in _REPEATABLE or name not in self.tool_names or not again:
            return None
        if len(slots.claim_numbers) != 1:
            return None
        arguments = dict(last_call.get("args") or {})
        arguments["claim_number"] = slots.claim_numbers[0]
        amount = slots.amount if slots.amount is not None else leftover_amount(slots)
        if amount is not None:
            arguments["amount"] = str(amount)
        if slots.method and "method" in arguments:
            arguments["method"] = slots.method
        if slots.on_date and "received_on" in arguments:
            arguments["received_on"] = slots.on_date.isoformat()
        return Understanding([Part(name, calls=[_clean(arguments)])])

    def _multi_part(
        self, text: str, slots: Slots, state: dict[str, Any], router: Router, ranked: list[RouteScore]
    ) -> list[Part] | None:
        """Several requests in one message: each part routed on its own, values shared between them."""
        pieces = [p for p in _join_code_lists(_SPLIT.split(text)) if p and len(p.split()) >= 2]
        if len(pieces) < 2:
            return None
        routes: list[str] = []
        scores: list[float] = []
        read: list[Slots] = []
        for index, piece in enumerate(pieces):
            if slots.payer and find_payer(piece) is None and _THEIR.search(piece):
                # "open denials for aetna and what's their appeal window": the payer the message named.
                piece = pieces[index] = _THEIR.sub(f"{slots.payer}'s", piece)
            piece_slots = read_slots(piece, today=self.today())
            if piece_slots.patient_name is None and slots.patient_name:
                # "finley mockridge 3/28/16 claims + explain 1902": the name typed in lower case, read from the
                # whole message, belongs to the piece that has it.
                named = lowercase_name(piece, self.vocabulary())
                if named is not None:
                    piece_slots.patient_name = named
                    piece_slots.birth_date = piece_slots.birth_date or slots.birth_date
            read.append(piece_slots)
            own_value = _names_a_value(piece_slots)
            others = bool(_OTHER_CLAIMS.search(piece))
            if not (piece_slots.claim_numbers or piece_slots.payer or piece_slots.codes or piece_slots.patient_name):
                # "what does the pt owe" is about the claim the message names ("whats uhc's appeal window" is not,
                # nor "does this pt owe anything on other visits")
                piece_slots.claim_numbers = [] if others else list(slots.claim_numbers)
            piece_ranked = router.rank(piece, piece_slots)
            top = piece_ranked[0]
            score = router.confidence(piece_ranked)
            # Beside a part that is clear, a short part ("and show me what's left") needs only half the floor,
            # if it asks something or names a value: "pt came in" (and paid 50 on it) is not a request.
            if score < router.floor / 2 or top.route in {repair.HELP, repair.UNSUPPORTED}:
                return None
            if score < router.floor and not (_ASKS.search(piece) or own_value):
                return None
            routes.append(top.route)
            scores.append(score)
        if max(scores) < router.floor:
            return None
        # The same question about two payers ("cigna timely filing and bcbs timely filing") is two parts too.
        payers = [piece.payer for piece in read]
        same_question_per_payer = len(set(routes)) == 1 and None not in payers and len(set(payers)) == len(payers)
        # Two descriptions to find codes for ("code for uti and code for flu shot admin"): a search for each.
        searches = [piece.search_text.lower() for piece in read]
        search_per_piece = set(routes) == {"search_codes"} and len(set(searches)) == len(searches)
        if len(set(routes)) < 2 and not (same_question_per_payer or search_per_piece):
            return None
        parts: list[Part] = []
        for piece_slots, route in zip(read, routes, strict=True):
            descriptor = self.descriptor(route)
            if descriptor is None or route not in self.tool_names:
                return None
            if not _OTHER_CLAIMS.search(piece_slots.text):
                _share(piece_slots, slots)
            part = self._part(descriptor, piece_slots, state)
            same = next((p for p in parts if p.route == route), None)
            if same is not None and not same_question_per_payer:
                # "what is E11.9, what is I10": one part, each call once.
                same.calls += [c for c in part.calls if c not in same.calls]
                continue
            parts.append(part)
        return _patient_of_the_claim(_chain_parts(parts, text), read, state)

    def _second_hop(
        self, plan: dict[str, Any], results: list[tuple[str, dict[str, Any]]], state: dict[str, Any]
    ) -> AIMessage | None:
        """A payment for a patient: the visit was looked up first; post to it if exactly one is open."""
        then = plan.get("then")
        if then and then.get("from_patient") and "find_claims" in self.tool_names:
            # "1161 denial + does this pt owe anything on other visits": the claim's patient, then their claims.
            if any(name == "find_claims" for name, _ in results):
                return None  # asked already: this is the turn's answer
            people = [
                data["patient"]
                for name, data in results
                if name in {"get_claim", "explain_denial"} and isinstance(data.get("patient"), dict)
            ]
            distinct = {(p.get("name"), p.get("birth_date")) for p in people if p.get("name")}
            if len(distinct) != 1:
                return None
            person_name, born = next(iter(distinct))
            call = self._call("find_claims", _clean({"patient_name": person_name, "birth_date": born, "limit": 20}))
            return AIMessage(content="", tool_calls=[call], additional_kwargs={PLAN_KEY: {"routes": ["find_claims"]}})
        if then and then.get("from_claim") and len(results) == 1 and "check_claim_codes" in self.tool_names:
            name, data = results[0]
            if name != "get_claim" or "error" in data:
                return None
            lines = [
                f"{line['procedure_code']}:{','.join(line.get('modifiers') or [])}:{int(float(line.get('units') or 1))}"
                for line in data.get("lines") or []
            ]
            arguments = {"diagnoses": data.get("diagnoses") or [], "lines": lines}
            if data.get("service_date_from"):
                arguments["date_of_service"] = data["service_date_from"]
            call = self._call("check_claim_codes", arguments)
            return AIMessage(
                content="", tool_calls=[call], additional_kwargs={PLAN_KEY: {"routes": ["check_claim_codes"]}}
            )
        if then and "pick" in then and len(results) == 1 and results[0][0] == "find_claims":
            return self._picked_from_list(then, results[0][1])
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

    def _picked_from_list(self, then: dict[str, Any], found: dict[str, Any]) -> AIMessage | None:
        """ "list her claims and explain the denied one": the listed claims the message picked (by status),
        each through the tool the other part asked for. None picked: the list alone answers."""
        route = str(then.get("route"))
        descriptor = self.descriptor(route)
        if descriptor is None or descriptor.plan is None or route not in self.tool_names:
            return None
        statuses = set(then.get("pick") or [])
        claims = found.get("claims") or []
        chosen = [c["claim_number"] for c in claims if not statuses or c.get("status") in statuses]
        if not chosen or (not statuses and len(chosen) > 1):
            return None
        calls = []
        for number in chosen[:MAX_CLAIMS_AT_ONCE]:
            slots = Slots(text="")
            _restore(then, slots)
            slots.claim_numbers = [number]
            calls += [self._call(route, _clean(args)) for args in descriptor.plan(slots)]
        return AIMessage(content="", tool_calls=calls, additional_kwargs={PLAN_KEY: {"routes": [route]}})

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "args": arguments, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


_PICKS = re.compile(r"\b(?:one|ones|that code|this code|that dx|the code for the)\b", re.I)
_CANDIDATE_STOP = frozenset(
    re.findall(
        r"\S+",
        "the one a an it that this is was what whats what's and of for on to its billable code codes dx icd how "
        "about which ok okay then now with w use i we pt",
    )
)


def reads_as_correction(text: str) -> bool:
    """Whether a message reads as a correction of the request just made ("no wait, 1727 not 1902", "sorry
    make it 25", "it was cash not card"). The offline planner decides this with the thread's state; for a
    model's turn the service uses it to let the corrected proposal replace the one it corrects."""
    if _CORRECTION.search(text):
        return True  # "1727 not 1902", "sorry, 1802"
    # "sorry make it 25", "it was cash not card": a change to the same request, naming no other claim
    # ("no, post another $5 on 1402" is a new request).
    return bool(_CHANGE_CUE.search(text)) and not _CLAIM_SHAPED.search(text)


def _describe_candidate(number: str, state: dict[str, Any]) -> str:
    """ "2009 (DOS 2026-10-20, UnitedHealthcare)": what tells the claims apart when asking which."""
    listed = [c for c in state.get("claim_candidates") or [] if isinstance(c, dict)]
    detail = next((c for c in listed if str(c.get("claim_number")) == number), {})
    facts = [f"DOS {detail['service_date']}" if detail.get("service_date") else "", str(detail.get("payer") or "")]
    shown = ", ".join(f for f in facts if f)
    return f"{number} ({shown})" if shown else number


def _candidate_numbers(state: dict[str, Any]) -> list[str]:
    return [str(c["claim_number"] if isinstance(c, dict) else c) for c in state.get("claim_candidates") or []]


_ORDINALS = {
    "first": 1,
    "1st": 1,
    "top": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
    "tenth": 10,
    "10th": 10,
    "last": -1,
    "bottom": -1,
}
# "the 4th one", "the first claim", "the last one", "the second denied one", "#2", "number 3", "no. 3".
_ORDINAL = re.compile(
    r"\b(?P<word>" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")\s+(?:(?P<kind>[a-z]+)\s+)?"
    r"(?:one|claim|visit|code|dx|result|line|entry)\b|(?:#|\bnumber\s+|\bno\.?\s*)(?P<number>10|[1-9])(?!\d)",
    re.I,
)


def _ordinal(text: str) -> tuple[int, str | None] | None:
    """The position a message picks from the list just shown (1-based; -1 the last) and the word between
    ordinal and noun ("the second *denied* one"), or None when it picks by position nowhere."""
    match = _ORDINAL.search(text)
    if match is None:
        return None
    if match.group("number"):
        return int(match.group("number")), None
    return _ORDINALS[match.group("word").lower()], (match.group("kind") or None)


def _at(items: list[Any], position: int) -> list[Any]:
    index = position - 1 if position > 0 else len(items) + position
    return [items[index]] if 0 <= index < len(items) else []


def _pick_claim(slots: Slots, candidates: list[Any]) -> str | None:
    """The one claim of those just shown that "the october one", "the denied one", "the 10/20 one" means."""
    narrowed = _narrow_claims(slots, candidates)
    return narrowed[0] if narrowed is not None and len(narrowed) == 1 else None


#: What is asked of a denied claim: its denial, deadline and next step (explain_denial answers all three).
_DENIAL_ASK = re.compile(
    r"\b(?:appeal\w*|fight|dispute|deadline|why|den(?:y|ied|ial)s?|reason|explain\w*|what happened|"
    r"still (?:have )?time|too late|next steps?)\b",
    re.I,
)
#: Where one sentence ends and the next begins ("...nothing to bundle it into. write up a recon").
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])[.!?]+\s+(?=[A-Za-z])")
_AGE = re.compile(r"\b(oldest|earliest|newest|latest|most recent)\b(?:\s+\w+)?\s+(?:one|claim|visit|dos)\b", re.I)


def _narrow_claims(slots: Slots, candidates: list[Any]) -> list[str] | None:
    """The claims of those shown that the message's date, month, status or payer fits; None when the
    message names none of these (or fewer than two claims were shown)."""
    if len(candidates) < 2:
        return None
    text = slots.text.lower()
    chosen = [c for c in candidates if isinstance(c, dict)]
    picked = _ordinal(text)
    if picked is not None and picked[1] is None:
        # "the 4th one", "#2": a place in the list as it was shown (a status word elsewhere in the message,
        # "why was the 4th one denied", is the question, not a filter).
        return [str(c["claim_number"]) for c in _at(chosen, picked[0])]
    narrowed = False
    short_date = re.search(r"\b(\d{1,2})/(\d{1,2})\b", text)
    if short_date:
        wanted = f"{int(short_date.group(1)):02d}-{int(short_date.group(2)):02d}"
        chosen = [c for c in chosen if str(c.get("service_date") or "")[5:] == wanted]
        narrowed = True
    elif slots.service_from is not None:  # a month named ("october", "the july one", "last month")
        chosen = [c for c in chosen if str(c.get("service_date") or "")[5:7] == f"{slots.service_from.month:02d}"]
        narrowed = True
    if slots.status:
        chosen = [c for c in chosen if str(c.get("status") or "") == slots.status] or chosen
        narrowed = True
    if slots.payer:
        chosen = [c for c in chosen if slots.payer.lower() in str(c.get("payer") or "").lower()] or chosen
        narrowed = True
    # "the 91.80 one", "the $72 one": an amount with cents, or in dollars with the sign.
    amounts = {
        f"{Decimal(a or b):.2f}" for a, b in re.findall(r"(?<![\d/.-])\$?(\d{1,6}\.\d\d)\b|\$(\d{1,6})(?![\d.,])", text)
    }
    with_amount = [c for c in chosen if amounts & set(c.get("amounts") or [])]
    if amounts and with_amount:  # "whats the 91.80 for": the claim the list showed that amount on
        chosen, narrowed = with_amount, True
    reason = slots.extras.get("reason_code") or slots.extras.get("reason_words")
    if reason and re.search(r"\bone\b", text):  # "the tfl one", "the co-22 one" ("the tfl ones" filter the list)
        with_reason = [c for c in chosen if any(str(code).endswith(f"-{reason}") for code in c.get("codes") or [])]
        if with_reason:
            chosen, narrowed = with_reason, True
    age = _AGE.search(text)
    if age and len(chosen) > 1 and all(c.get("service_date") for c in chosen):
        # "the oldest one", "the most recent one": by date of service.
        ordered = sorted(chosen, key=lambda c: str(c["service_date"]))
        chosen, narrowed = [ordered[0] if age.group(1) in {"oldest", "earliest"} else ordered[-1]], True
    if picked is not None:  # "the second denied one": the place among those the filter keeps (if any)
        return [str(c["claim_number"]) for c in _at(chosen, picked[0])]
    return [str(c["claim_number"]) for c in chosen] if narrowed else None


_CODE_ENDING = re.compile(r"(?<![\w.])(\.[0-9A-Z]{1,4})\s+(?:one|code)\b", re.I)


def _plans_a_value(descriptor: ToolDescriptor, slots: Slots) -> bool:
    """Whether the tool's plan reads a value of its own from the message (a report's filter)."""
    if descriptor.plan is None:
        return False
    try:
        calls = descriptor.plan(slots)
    except NeedSlot:
        return False
    return any(value not in (None, "", []) for call in calls for key, value in call.items() if key != "limit")


def _pick_code(text: str, candidates: list[Any]) -> str | None:
    """The code of a search's results that "the unspecified one" or "the vertebrogenic one" means."""
    shown = [c for c in candidates if isinstance(c, dict)]
    ending = _CODE_ENDING.search(text)
    if ending is not None:
        # "the .50 one": the shown code that ends so (M54.50 under M54.5).
        tail = ending.group(1).upper()
        ends = [str(c["code"]) for c in shown if str(c["code"]).upper().endswith(tail)]
        if len(ends) == 1:
            return ends[0]
    picked = _ordinal(text)
    if picked is not None and picked[1] is None and shown:  # "look up the second one", "is #3 billable"
        return next((str(c["code"]) for c in _at(shown, picked[0])), None)
    words = [w for w in re.findall(r"[a-z][a-z0-9-]{2,}", text.lower()) if w not in _CANDIDATE_STOP]
    if not words or not candidates:
        return None

    def has(candidate: dict[str, Any], word: str) -> bool:
        return bool(re.search(rf"\b{re.escape(word[:7])}", str(candidate.get("description", "")).lower()))

    # Words no shown code has are the request ("billable?", "excludes"), not what tells the codes apart;
    # and only a message that picks ("the ... one", "that code") picks: "sciatica?" is a new search.
    telling = [w for w in words if any(has(c, w) for c in shown)]
    if not telling or not _PICKS.search(text):
        return None
    matching = [c for c in shown if all(has(c, w) for w in telling)]
    if len(matching) > 1:
        # "the unspecified one" of a low back pain search: M54.50 (closest to the code the list is about, its
        # first hit M54.5), not M54.9 Dorsalgia, unspecified further down.
        first = str(shown[0]["code"])
        shared = [_shared_prefix(first, str(c["code"])) for c in matching]
        matching = [c for c, n in zip(matching, shared, strict=True) if n == max(shared)]
    return str(matching[0]["code"]) if len(matching) == 1 else None


def _shared_prefix(a: str, b: str) -> int:
    """How many leading characters two codes share (M54.5 and M54.50: 5; M54.5 and M54.9: 4)."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


# The claims just listed, all of them: "for those", "all of them", "these claims", "each one".
_ALL_OF_THOSE = re.compile(
    r"\b(?:those|these|them all|all of them|all of those|all those|all these|each of them|each one|every one|"
    r"all \d+|the lot|them)\b",
    re.I,
)
MAX_CLAIMS_AT_ONCE = 10  # as many as the dialogue state keeps (assistant/dialogue.py)

_DROP = re.compile(r"\b(?:drop|remove|take out|without|w/o|delete|minus)\b", re.I)
_INSTEAD = re.compile(r"\b(?:instead|swap|replace|switch|change)\b", re.I)
_ADD = re.compile(r"\b(?:add|plus|also with|and also)\b", re.I)


def _correct_check(slots: Slots, state: dict[str, Any]) -> None:
    """Corrections to the last code check ("swap in E11.65", "drop the R73.03", "what if it's E11.9 instead
    of E11.65", "check it w 99214"): the last check's codes, changed as asked."""
    last = next((c for c in state.get("last_calls") or [] if c.get("name") == "check_claim_codes"), None)
    named = [code for system, code in slots.codes if system == "icd10cm"]
    others = [(system, code) for system, code in slots.codes if system not in {"icd10cm", "carc", "rarc"}]
    if last is None:
        if not named and state.get("code") and "." in str(state["code"]):
            slots.codes = [("icd10cm", str(state["code"])), *slots.codes]  # "check it w 99214"
        return
    args = last.get("args") or {}
    diagnoses = [str(d) for d in args.get("diagnoses") or []]
    lines = [str(line) for line in args.get("lines") or []]  # "99213:25:1": code, modifiers, units
    text = slots.text
    if _DROP.search(text):
        diagnoses = [d for d in diagnoses if d not in named]
        lines = [line for line in lines if line.split(":")[0] not in {c for _, c in others}]
    elif _INSTEAD.search(text) and named:
        after = re.search(r"\binstead of\b(.*)", text, re.I)
        replaced = [c for c in named if after and c in after.group(1)]
        new = [c for c in named if c not in replaced]
        if replaced:
            diagnoses = [new[0] if d in replaced and new else d for d in diagnoses]
        else:  # "swap in E11.65": it takes the place of the diagnosis of the same category
            diagnoses = [next((n for n in new if n[:3] == d[:3]), d) for d in diagnoses]
            diagnoses += [n for n in new if n not in diagnoses and not any(n[:3] == d[:3] for d in diagnoses)]
            if not any(n in diagnoses for n in new):
                diagnoses = new
    elif _ADD.search(text) or named or others:
        diagnoses += [c for c in named if c not in diagnoses]
        lines += [f"{c}::1" for _, c in others if c not in {line.split(":")[0] for line in lines}]
    else:
        return
    slots.codes = [("icd10cm", d) for d in dict.fromkeys(diagnoses)]
    slots.extras["check_lines"] = list(dict.fromkeys(lines))


@functools.cache
def _vocabulary(examples: tuple[str, ...]) -> frozenset[str]:
    # Lower case only (names in the examples are mostly capitalised), less the words that stand where a
    # name stands in an example ("pt drew fakely 07/24/1963"): those are names, not words of the trade.
    words = {w for e in examples for w in re.findall(r"\b[a-z][a-z'’-]+\b", e)}
    names: set[str] = set()
    for example in examples:
        for match in _NAMED_IN_EXAMPLE.finditer(example.lower()):
            names.update((match.group(1) or match.group(2)).split())
    return frozenset((words - names) | set(repair.COMMON_WORDS))


_NAMED_IN_EXAMPLE = re.compile(
    r"(?:\bpt|\bpatient|\bfor|\bmember)\s+([a-z'’-]+\s+[a-z'’-]+)(?=\s+(?:dob|born|\d{1,2}/|\d{4}-))|"
    r"\b([a-z'’-]+\s+[a-z'’-]+)(?=\s+(?:dob|born|\d{1,2}/\d{1,2}/\d{2,4}))"
)


_BEFORE_NAME = re.compile(r"(?:\bpt|\bpatient|\bmember|\blooking for|\bfor|\bclaims? for|\bon)\s*$", re.I)
_AFTER_NAME = re.compile(
    r"^\s*(?:,?\s*(?:dob|d\.o\.b|born)\b|\d{1,2}/\d{1,2}/\d{2,4}|,?\s*(?:claims?|visits?|balance|bal|account|acct|"
    r"denied|rejected|ones|uhc|aetna|cigna|bcbs|medicare|medicaid|mcr))",
    re.I,
)


_LOOK_UP_BEFORE = re.compile(
    r"(?:[.!?:;,-]|\b(?:pull(?:ing)? up|look(?:ing)? up|lookup|bring up|find|search|show(?: me)?|get|open|"
    r"check on|what about|hows|how about|claims for|visits for|acct for|account for))\s*$",
    re.I,
)
_DATED = re.compile(r"\s*,?\s*(?:(?:dob|d\.o\.b\.?|born)\b|\d{1,2}/\d{1,2}/\d{2,4}\b)", re.I)


def lowercase_name(text: str, vocabulary: frozenset[str]) -> str | None:
    """A patient's name typed in lower case ("pt jamie mockingham dob 3/28/61"): two or three words in a
    row that are not words of the trade, after "pt"/"for" or at the start, before a birth date or "claims"."""
    tokens = list(re.finditer(r"\S+", text))
    run: list[re.Match[str]] = []
    for token in [*tokens, None]:
        word = token.group(0).lower().strip(",.;:?!") if token is not None else ""
        if token is not None and re.fullmatch(r"[a-z][a-z'’-]+", word) and word not in vocabulary:
            run.append(token)
            continue
        if 2 <= len(run) <= 3:
            before, after = text[: run[0].start()], text[run[-1].end() :]
            # "pull up rowan modelsen dob 4/18/93", "morning! finley mockridge dob 3/28/2016": a name and its
            # birth date after a look-up verb or a sentence's start ("is morgan draftley 10/8/1988 still
            # active" is an eligibility question, the name in it left to the router's reading).
            dated = _DATED.match(after) and (not before.strip() or _LOOK_UP_BEFORE.search(before))
            if dated or (
                (_BEFORE_NAME.search(before) or not before.strip())
                and (_AFTER_NAME.search(after) or _BEFORE_NAME.search(before))
            ):
                return " ".join(t.group(0).strip(",.;:?!").capitalize() for t in run)
        run = []
    return None


_CODE_AT_END = re.compile(
    r"(?:\b[A-Z]\d[0-9A-Z.]{2,6}|\b\d{4}[0-9FTU]|\b(?:CO|PR|OA|PI)-?\s?\d{1,3}|\b(?:carc|rarc)\s*#?\s*[A-Z]?\d{1,3})\W*$",
    re.I,
)
_CODE_AT_START = re.compile(
    r"^\W*(?:[A-Z]\d[0-9A-Z.]{2,6}|\d{4}[0-9FTU]|(?:CO|PR|OA|PI)-?\s?\d{1,3}|(?:carc|rarc)\s*#?\s*[A-Z]?\d{1,3})\b",
    re.I,
)


_NUMBER_AT_END = re.compile(r"\b\d{4,12}\W*$")
_NUMBER_AT_START = re.compile(r"^\W*\d{4,12}\b")


#: A part of a message that asks for something: a question word, a request verb or a question mark.
_ASKS = re.compile(
    r"\?|\b(?:what|whats|what's|how|why|when|who|which|where|is|are|does|did|can|could|show|tell|give|list|"
    r"check|post|send|pull|look|explain|draft|write|find|decode|any)\b",
    re.I,
)


#: How close a second route must score to take over for a value the first cannot use.
_CLOSE_ENOUGH = 0.1


def _takes_service_dates(descriptor: ToolDescriptor | None) -> bool:
    return descriptor is not None and "service_from" in descriptor.args_schema().model_fields


def _names_a_value(slots: Slots) -> bool:
    return bool(slots.claim_numbers or slots.codes or slots.payer or slots.amount is not None or slots.patient_name)


def _join_code_lists(pieces: list[str]) -> list[str]:
    """ "99214 and G0439 with E11.65" is one request about two codes, not two requests; "a 276 for 1677 and
    2288" is one request about two claims."""
    joined: list[str] = []
    for piece in pieces:
        before = joined[-1] if joined and piece else ""
        codes = bool(before and _CODE_AT_END.search(before) and _CODE_AT_START.search(piece))
        claims = bool(before and _NUMBER_AT_END.search(before) and _NUMBER_AT_START.search(piece))
        if codes or claims:
            joined[-1] = f"{joined[-1]} and {piece}"
        else:
            joined.append(piece)
    return joined


def _clean(arguments: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if v is not None}


# Which claims of a list "the denied one", "the rejected ones", "the open ones" pick (statuses as stored).
_PICK_STATUS = [
    (re.compile(r"\bden(?:ied|ial)s?\b", re.I), ("denied",)),
    (re.compile(r"\brejected|rejections?\b", re.I), ("rejected",)),
    (
        re.compile(r"\b(?:open|unpaid|outstanding)\b", re.I),
        ("pending", "submitted", "accepted", "denied", "partially_paid"),
    ),
]


def _chain_parts(parts: list[Part], text: str) -> list[Part]:
    """Parts that depend on each other: a claim question with no claim beside a claim search becomes a
    second hop over the claims found ("list her claims and explain the denied one"). A claim lookup asked for
    beside a denial explanation of the same claim stays ("why was 1300 denied + what does the pt owe"): staff
    ask for both and read the claim's card for the balance, as every blind set labels it."""
    finder = next((p for p in parts if p.route == "find_claims" and p.calls and not p.awaiting), None)
    asking = next((p for p in parts if p.question and p.awaiting and p.awaiting.get("route") != "find_claims"), None)
    if finder is not None and asking is not None:
        statuses = next((picked for pattern, picked in _PICK_STATUS if pattern.search(text)), ())
        finder.awaiting = {**(asking.awaiting or {}), "route": asking.route, "pick": list(statuses)}
        parts = [p for p in parts if p is not asking]
    return parts


#: A part about the patient's other claims, not the one the message names ("other visits", "anything else").
_OTHER_CLAIMS = re.compile(
    r"\b(?:other|else)\s+(?!\$?\d)(?:[\w']+\s+){0,4}?(?:visits?|claims?|balances?|dos|open|bills?|w us|with us)\b|"
    r"\banything else\b|\brest of (?:her|his|their|the pt'?s|the patient'?s) claims\b",
    re.I,
)


def _patient_of_the_claim(parts: list[Part], read: list[Slots], state: dict[str, Any]) -> list[Part]:
    """A claim search for "this pt" beside a request about a claim the message names: the claim's patient is
    only known from its result, so the search becomes a second hop after it (`_second_hop`)."""
    claim_part = next((p for p in parts if p.route in {"get_claim", "explain_denial"} and p.calls), None)
    search = next((p for p in parts if p.route == "find_claims"), None)
    if claim_part is None or search is None or claim_part.awaiting:
        return parts
    own = [s for s in read if s.patient_name or s.birth_date]
    if own or not any(_THE_PATIENT.search(s.text) or PRONOUN.search(s.text) for s in read):
        return parts
    claim_part.awaiting = {"route": "find_claims", "from_patient": True}
    return [p for p in parts if p is not search]


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


_THEIR = re.compile(r"\btheir\b", re.I)
_BACK_REFERENCE = re.compile(r"\b(?:them|those|these|together|both|all of them)\b", re.I)


def _share(part: Slots, whole: Slots) -> None:
    """A part that names no claim (or code, payer) is about the one the rest of the message names."""
    if not part.claim_numbers and not part.maybe_claims:
        part.claim_numbers = list(whole.claim_numbers or whole.maybe_claims)
    if not part.codes:
        part.codes = list(whole.codes)
    elif _BACK_REFERENCE.search(part.text):  # "check them together w 99213": the codes named before, and these
        part.codes = list(whole.codes) + [c for c in part.codes if c not in whole.codes]
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
