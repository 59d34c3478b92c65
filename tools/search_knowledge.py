"""The `search_knowledge` tool: coding guidance, denial playbooks, payer policies and practice documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from knowledge.documents import KnowledgeBase
from knowledge.documents.models import KnowledgeResults
from tools.descriptor import ToolDescriptor
from tools.render import passage_line
from tools.slots import Slots, expand_shorthand

__all__ = ["KnowledgeResults", "search_knowledge"]


def search_knowledge(
    question: str,
    payer: str | None = None,
    date_of_service: dt.date | None = None,
    *,
    knowledge_base: KnowledgeBase,
    practice_id: int | None = None,
    limit: int = 5,
) -> KnowledgeResults:
    """Search the billing knowledge base and return passages to quote, each with a citation.

    Use it for questions about denial and remark codes (CARC/RARC: what a code means, usual causes, what
    to check, how to fix, deadlines), coding guidance, and payer policies (timely filing, appeals, prior
    authorization, modifiers 25/59/X, telehealth place of service and modifiers, coordination of
    benefits, corrected claims), and the practice's own documents.

    - question: the biller's question in plain words; include codes as written (e.g. "CO-16 N290").
    - payer: the payer's name or payer id (e.g. "Medicare Part B", "Aetna", "87726") when the question is
      about one payer; policies of other payers are then left out.
    - date_of_service: the claim's date of service (YYYY-MM-DD); policies not in force on that date are
      not returned as current. If only another version exists it comes back with in_force=false and a note.

    Quote the passage text and cite its title and section. Passages marked sample=true are demo policies,
    not the payer's actual contract: say so when you quote them.
    """
    # The requester's practice: its own documents join the shared ones; another practice's never do.
    return knowledge_base.search_results(
        question, payer=payer, on_date=date_of_service, limit=limit, practice_id=practice_id
    )


def render(data: dict[str, Any], cite: Mapping[str, int]) -> str:
    passages = data.get("passages") or []
    if not passages:
        notes = " ".join(data.get("notes") or [])
        return (
            "No policy or guideline passage I have answers this, so I cite nothing. Ask about a payer's rule "
            "(timely filing, appeals, prior authorization, modifiers, telehealth) or a denial code. " + notes
        ).strip()
    lines = []
    for passage in passages[:3]:
        where = " > ".join(passage.get("section_path") or [])
        payer = passage.get("payer") or ""
        # The policies' titles name their payer already ("UnitedHealthcare: Appeals ..."): say it once.
        who = f"{payer}: " if payer and not str(passage.get("title") or "").startswith(payer) else ""
        lines.append(f"**{who}{passage['title']}**" + (f" — {where}" if where else ""))
        lines.append(passage_line(passage, cite))
    for note in data.get("notes") or []:
        lines.append(f"_{note}_")
    return "\n".join(lines)


def plan(slots: Slots) -> list[dict[str, Any]]:
    question = expand_shorthand(slots.text)
    if len(slots.payers) >= 2:  # "timely filing aetna vs bcbs": each payer's own policy, side by side
        return [{"question": question, "payer": payer} for payer in slots.payers[:4]]
    return [{"question": question, "payer": slots.payer}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What is Aetna's timely filing limit?",
    "Does Medicare want modifier 25 here?",
    "How long do we have to appeal a UnitedHealthcare denial?",
    "What's the telehealth POS and modifier for Medicare in 2026?",
    "Does Cigna require prior authorization for an MRI?",
    "How do I fix a CO-16 denial?",
    "What's the corrected claim window for BCBS?",
    "When should I use modifier 59 vs XU?",
    "How does coordination of benefits work when the patient has Medicare and a secondary?",
    "What's our practice policy on small balance write-offs?",
    "What are the usual causes of a CO-97 denial and how do I fix it?",
    "Per Medicare guidance, can we bill an annual wellness visit and a problem visit on the same day?",
    "tfl for uhc?",
    "bcbs appeal window",
    "mcr telehealth pos 02 vs 10, mod 95?",
    "aetna auth requirements for injections",
    "cob rules mcr secondary",
    "how to work co-197 denials",
    "medicaid tfl days",
    "mod 25 rules e/m + procedure same day",
    "cigna corrected clm policy freq code 7",
    "co-16 n290 fix steps",
    "timely filing aetna",
    "appeal deadline medicare",
    "modifier 59 guidance",
    "telehealth billing rules 2026",
    "prior auth policy uhc",
    "co-50 denial what to do",
    "corrected claim rules bcbs",
    "coordination of benefits birthday rule",
    "practice policy on write offs",
    "icd10 guideline sequencing diabetes",
    "timly filling limit cigna",
    "does uhc accept mod 25 with g0439",
    "how to handle CO-18 duplicate denials",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "aetna timely filing limit?",
    "how long do we have to appeal a bcbs denial",
    "medicare redetermination deadline",
    "does cigna need prior auth for an mri",
    "telehealth pos for medicare - 02 or 10?",
    "how do i send a corrected claim to medicaid",
    "frequency code for a corrected claim uhc",
    "cob question - who's primary, medicare or the employer plan?",
    "when can we use mod 59 vs XU",
    "mod 25 rules for bcbs",
    "aetna appeal address / how to file an appeal",
    "medicaid filing limit?",
    "does cigna pay for telemedicine visits, what pos",
    "prior authorization requirements for united healthcare",
    "aetna coordination of benefits - pt has 2 ins",
    "bcbs corrected claim deadline",
    "modifier rules for medicaid",
    "how should i fix a CO-16 denial",
    "how long do we have to file w/ medicare part b",
    "uhc reconsideration - how long do we have?",
    "cigna is secondary, what do they need from us (cob)",
    "precert for medicaid pts?",
    "aetna telehealth modifier 95?",
    "what happens if we miss timely filing",
    "what does N115 mean for us and how do we fix it",
    "medical necessity denial - what documentation do we need?",
    "modifier 25 - when do we use it?",
    "how do i resubmit a corrected clm to aetna",
    "do we need an auth for mri w/ bcbs",
    "which pos do we use for telehealth at pt home for uhc",
    "cigna wants a corrected claim, what freq code do i use",
    "when do we need an ABN for medicare pts",
    "how long do we have to file a claim with cigna",
    "medicare rules for modifier 59?",
    # More phrasings as staff type them (2026-12-02).
    "whats medicares timely filing",
    "tfl bcbs?",
    "how long does cigna give us to appeal",
    "uhc recon timeframe",
    "does aetna require precert for physical therapy",
    "when do we use modifier 25 with an injection",
    "mod 59 vs xs difference",
    "telehealth pos for aetna 2026",
    "is modifier 95 required for cigna telehealth",
    "medicaid corrected claim frequency code",
    "how do we bill a corrected claim to uhc",
    "what's the birthday rule for cob",
    "who's primary when the pt has medicare and medicaid",
    "general steps to fix a co-97 bundling denial",
    "abn requirements medicare",
    "do we need an abn for a screening lab",
    "icd-10 guidelines for coding hypertension with ckd",
    "coding guideline for sequencing z00.00 with chronic conditions",
    "our write off threshold for small balances?",
    "bcbs timely filing for corrected claims",
    "medicare appeal levels explained",
    "how long does a medicare redetermination take",
    "aetna appeal form requirements",
    "how to appeal a timely filing denial w/ proof of submission",
    "cigna policy on telehealth modifiers",
    "does uhc require auth for ct scans",
    "rules for billing an awv and a sick visit same day with medicare",
    "medicare incident to billing rules",
    "payer policy on modifier 25 for aetna",
    "what documentation do we need for a co-50 appeal",
    "uhc timely filing limit for secondary claims",
    "policy q - does bcbs pay for telehealth at the pt's home",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "how many days do we get to file with medicaid after the dos",
    "if we miss the uhc appeal window is there anything we can do",
    "what does medicare say about billing an e/m and a procedure on the same day",
    "when is a referral required for bcbs hmo pts",
    "what's the rule when both parents have coverage for a kid",
    "our policy on waiving copays?",
    "what does cigna need for a medical necessity appeal",
    "what's the correct way to bill telehealth for aetna pts at home",
    # Where things go on the claim form or in the 837 (form-completion questions).
    "where does the referring provider go on a cms-1500",
    "which box is the original claim number in for a corrected claim",
    "where do i put the resubmission code on the 1500",
    "what goes in box 24b",
    "where on the claim does the place of service go",
    "which loop carries the prior auth number in the 837p",
    "where do I enter the NDC for a drug on the claim",
    "what box for the diagnosis pointer",
    # The denial playbooks, asked for by name (2026-12-03).
    "what does the playbook say for a co-16",
    "playbook steps for co-97 bundling denials",
    "denial playbook for medical necessity",
    "whats the playbook on an oa-23",
    "how does our playbook say to work a co-50",
    # The payer said as they, left to the thread (2026-12-03).
    "whats their tf limit",
    "their appeal window?",
    "whats their corrected claim rule",
    "how long do we get to appeal w them",
    "do they take modifier 25 on preventive",
    "what does their policy say about telehealth",
    "their rule on bundling",
)

DESCRIPTOR = ToolDescriptor(
    func=search_knowledge,
    access="knowledge",
    step="Searching policies and guidance",
    summary="answer from payer policies, denial playbooks and coding guidance, with citations",
    examples=EXAMPLES,
    card="passages",
    referents=("payer",),
    plan=plan,
    render=render,
)
