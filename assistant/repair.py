"""Conversation repair: what the assistant says when a message is not a request for one of its tools.

The patterns follow Rasa CALM's conversation repair: chitchat and help get a short capability answer;
a request that no tool can do ("cannot handle") gets a plain "I can't do that yet" and what the assistant
can do instead; a message the router is not sure about gets "I did not understand" with the closest
things it can do (clarification); a missing value gets a question. Each pattern's examples are routes of
the router, beside the tools' own examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.grounding import codes_in
from tools.descriptor import ToolDescriptor

HELP = "help"
UNSUPPORTED = "unsupported"

#: Greetings, thanks and "what can you do": answered with what the assistant can do.
HELP_EXAMPLES = (
    "hi",
    "hello",
    "hey there",
    "good morning",
    "thanks!",
    "thank you so much",
    "thx",
    "ty",
    "what can you do?",
    "help",
    "how do i use this",
    "what are you able to help with?",
    "what kinds of questions can I ask you",
    "who are you",
    "menu",
    "commands?",
    "how does this work",
    "hi bot what can u do",
    "cool thanks",
    "appreciate it",
    "ok got it, thanks",
    "what tools do you have",
    "yo",
    "help me get started",
    "are you there?",
    # More phrasings as staff type them (2026-12-02).
    "hiya",
    "good afternoon",
    "morning all",
    "hello, what can you help me with",
    "what do you do",
    "what can i ask u",
    "thx!!",
    "thanks so much, that helped",
    "perfect thank you",
    "great, ty",
    "awesome thx",
    "who am i talking to",
    "are you a bot?",
    "what are you",
    "how do i use you",
    "help pls",
    "options",
    "show me what you can do",
    "what can this bot do for billing",
    "new here, how does this assistant work",
    "hi there, first time using this",
    "never mind, thanks",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "hi, what kind of stuff can you look up",
    "thanks, that's all for now",
    "what's this chat for",
    "can you help me?",
    "good evening!",
)

#: What billing offices ask that no tool here does: answered honestly, with what the assistant can do.
UNSUPPORTED_EXAMPLES = (
    "check eligibility for Drew Fakely dob 07/24/1963 with uhc",
    "is the pt's bcbs coverage active",
    "what are her benefits for physical therapy visits",
    "verify ins coverage for tomorrow's pts",
    "submit claim 1500 to medicare",
    "resubmit clm 1042 as corrected",
    "void claim 2001",
    "schedule Jane Sample for next tuesday",
    "reschedule my 3pm appt",
    "send patient statements",
    "print statements for balances over $50",
    "refund the patient's $40 overpayment",
    "issue a refund to aetna for the overpayment on claim 1188",
    "fax the records to cigna",
    "fax medical records for the appeal",
    "call uhc about clm 1610",
    "get me on the phone with the medicare provider line",
    "submit prior auth for MRI to aetna",
    "request an auth for pt's knee injection",
    "credentialing status for dr smith with bcbs",
    "enroll our new NP with medicaid",
    "reset my password",
    "i'm locked out of my account",
    "when is payroll",
    "how many PTO days do i have left",
    "what's the weather today",
    "tell me a joke",
    "what dose of prednisone for a gout flare",
    "is it safe to double the amoxicillin dose",
    "email the patient her balance",
    "send an email to drew about his bill",
    "print the EOB for claim 1042",
    "print eob for clm 1500",
    "order more printer toner",
    "verify coverage for pt Jane Sample",
    "run elig for tomorrow's pts",
    "is pt active w/ aetna",
    "benefits check for dob 01/02/1980",
    "resubmit 1042 to the clearinghouse",
    "send the corrected claim for 1500",
    "void claim 1007",
    # Kinds of office work no tool does: money back, plans, registration, reports, benefits.
    "issue a refund to the patient",
    "refund the overpayment on 1188",
    "set up a payment plan for the pt",
    "payment plan for her balance",
    "add a new patient to the system",
    "register a new pt dob 5/5/1990",
    "update the pt's address",
    "change the insurance on file for the patient",
    "denial rate by provider",
    "collections report for last quarter",
    "how many claims did we send last month",
    "net collection rate",
    "send the pt to collections",
    "print a superbill",
    "create an invoice",
    "email the eob to the patient",
    "credential dr smith with aetna",
    "verify benefits for the pt",
    "what's the pt's copay per their plan",
    "is the patient's deductible met",
    # The same kinds of work, with the values people give.
    "refund $20 to the pt on claim 1188",
    "issue a $15 refund for 2001",
    "verify eligibility for pt Jane Sample dob 01/02/1980 w aetna",
    "check benefits for drew fakely dob 7/24/1963",
    "run an eligibility check on claim 1500's patient",
    "refund the credit on 1042 back to the card",
    # Calling payers and checking coverage, with the claim or patient people name.
    "call aetna about claim 1188 and find out what happened",
    "phone the payer on 2001",
    "call uhc for me",
    "get medicare on the phone about 1042",
    "verify benefits pt jane sample dob 01/02/1980",
    "eligibility for pt drew fakely 07/24/1963 with cigna",
    "check coverage for pt born 3/3/1975 w bcbs",
    "is pt jane sample dob 1/2/1980 still covered by aetna",
    # More phrasings as staff type them (2026-12-02).
    "check elig for pt Jane Sample w/ bcbs",
    "is Drew Fakely's medicare active for his appt tomorrow",
    "run benefits for pt dob 04/08/2004",
    "how much deductible does she have left this year per her plan",
    "does her plan cover acupuncture",
    "check the pt's out of network benefits with cigna",
    "days in ar this month",
    "submit a prior auth for a ct scan to uhc pls",
    "start a precert for the pt's surgery w/ aetna",
    "is the auth approved for Jane Sample's mri",
    "refund the $25 credit balance to the pt on 1043",
    "process a refund for the cigna overpayment on 1184",
    "set up a $50 a month payment plan for Drew Fakely",
    "pt wants to pay her bill in installments, can you set that up",
    "send a statement to the pt for 1500",
    "run patient statements for the month",
    "book pt for a follow up next week",
    "cancel tomorrow's 10am appointment",
    "credentialing app status for our new PA with uhc",
    "is dr jones in network with cigna yet",
    "submit clm 1184 electronically",
    "resend 1043 with modifier 25 added",
    "void and replace 1188",
    "send a corrected claim for 2001 with freq code 7",
    "fax the appeal to aetna",
    "call bcbs on 1911 and ask about the denial",
    "the printer is jammed again",
    "how do i request time off",
    "is it going to snow tomorrow",
    "max daily dose of ibuprofen for adults",
    "what's the wifi password",
    "update the pt's insurance to cigna",
    "merge duplicate patient charts",
    "send the balance on 1425 to the collections agency",
    "email the itemized bill to the pt",
    "what's our clean claim rate",
    "add a new payer to the system",
    "change the fee schedule for 99213",
    "translate this letter to spanish for the pt",
    "text the patient a payment link",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "can you call the pt and remind her about her balance",
    "pt wants to know how much an mri will cost before her visit",
    "give me a cost estimate for a colonoscopy for a self pay pt",
    "need an appt moved for Drew Fakely to friday",
    "add a secondary insurance to the pt's account",
    "print a copy of claim 1500 on a cms-1500 form",
    "send the recon packet to uhc by mail",
    "is the pt's referral on file",
    "fix the typo in the pt's name on claim 1042",
    "change the dx on 1184 to E11.9 and send it again",
    # Sending and editing, which no tool does (2026-12-03).
    "email the appeal for 1042 to aetna",
    "send the 1184 appeal to cigna by email",
    "fax 1500's recon letter to uhc",
    "change the dx on 1043 from I10 to I11.9 and rebill",
    "rebill 1184 with the corrected modifier",
    "correct the modifier on 1111 and resubmit it",
    "update the dx on the claim and resend",
    # Edits and workflow on a named claim that no tool does: no read of the claim answers them (2026-12-02).
    "mark claim 1610 as closed",
    "mark 1043 resolved",
    "mark 2001 as done, we fixed it",
    "flag 2001 for follow up next week",
    "assign claim 1042 to Jane",
    "add a note to claim 1188 that the pt called",
    "put claim 1500 on hold",
    "change the rendering provider on 1043 to dr patel",
    "update the payer on claim 1911 to aetna",
    "set up a payment plan for the $120 balance on 1333",
    "payment plan for the balance on claim 2001, $25 a month",
    "move the $30 credit on 1700 to claim 1701",
    "transfer the payment from 1188 to 1189",
    "transfer credit from 1042 to 1043",
    "xfer the pt credit on 1500 to 1501",
    "apply the $12 credit on 1184 to her other claim",
    "move the overpayment on 1188 over to 1189",
    "split claim 1425 into two claims",
    "send the balance on 1290 to collections",
    "reopen claim 1042",
    "close out 1333, the pt paid in full",
    "delete claim 2002, it was a duplicate",
    "re-age the balance on 1911",
    "apply the unapplied $50 on the pt's account to 1500",
    # Clinical judgement and sending a claim again, said with the claim left to the thread (2026-12-03).
    "should dr whitfield order an a1c on this pt, sugars look high",
    "does she need a referral before the mri",
    "is it ok to give the flu shot with a cold",
    "what dose of amoxicillin for a kid",
    "ok resubmit it w the right npi",
    "resend it to the payer",
    "send the corrected claim out for me",
    "push it back through the clearinghouse",
)


def _plain(example: str) -> bool:
    """An example fit to show anyone: no code (it would be a code no tool returned) and no birth date or
    name-like pair (a capability answer may go to a channel not cleared for patient data)."""
    return not codes_in(example) and not re.search(
        r"\d{1,2}/\d{1,2}/\d{2,4}|\bdob\b|\b[A-Z][a-z]+ [A-Z][a-z]+\b", example
    )


def _examples_for(descriptors: Sequence[ToolDescriptor], role: str | None, count: int = 3) -> list[str]:
    """A few example requests a person of this role would send (the first clean example of each tool)."""
    picked: list[str] = []
    for descriptor in descriptors:
        if role is not None and role not in descriptor.roles_hint:
            continue
        # An example with a code in it would be a code no tool returned (the grounding guard takes it out).
        plain = [example for example in descriptor.examples if _plain(example)]
        if plain:
            picked.append(plain[0])
        if len(picked) >= count:
            break
    return picked


def capabilities(descriptors: Sequence[ToolDescriptor], role: str | None) -> str:
    """What the assistant can do for this person, with two or three requests to try."""
    lines = ["I can help with:"]
    lines += [f"- {descriptor.summary}" for descriptor in descriptors]
    examples = _examples_for(descriptors, role)
    if examples:
        lines.append("")
        lines.append("Try: " + "; ".join(f"“{example}”" for example in examples))
    return "\n".join(lines)


def cannot_do(descriptors: Sequence[ToolDescriptor], role: str | None) -> str:
    """A request no tool can do."""
    return "I can't do that yet: none of my tools does it.\n\n" + capabilities(descriptors, role)


#: A request to reach the patient (a text, a call, an email, a letter): no tool contacts anyone, and the
#: claim the message names is only what the message is about ("text the pt on 1070 that she owes").
CONTACT_PATIENT = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|k|pls|please|can (?:you|u)|could (?:you|u)|go ahead and|lets|let's)[,\s]+)*"
    r"(?:text|sms|msg|message|call|phone|ring|e-?mail|mail|send|shoot)\s+(?:a (?:text|msg|message|e-?mail) to\s+)?"
    r"(?:the\s+)?(?:pt|patient|member|guarantor|her|him|mom|dad|parent)\b",
    re.I,
)

#: Money going back to a patient or a payer: no tool does it, and posting it as a payment would do the opposite.
REFUND = re.compile(
    r"\b(?:refund\w*|reimburse\w*|pay (?:him|her|them|the (?:pt|patient)) back|(?:give|send|put|credit) "
    r"(?:it|that|the (?:money|\$?\d[\d.]*))? ?back|money back|overpaid|overpayment)\b",
    re.I,
)


def no_refunds(descriptors: Sequence[ToolDescriptor], role: str | None) -> str:
    """A refund asked for: not posted as a payment (that would charge the other way)."""
    return (
        "I can't do that yet: I can't issue or record a refund, and posting it as a payment would add money "
        "instead of returning it. Record the refund in your practice management system.\n\n"
        + capabilities(descriptors, role)
    )


def not_understood(
    descriptors: Sequence[ToolDescriptor], role: str | None, closest: Sequence[ToolDescriptor] = ()
) -> str:
    """A message the router is not sure about: say so, offer the closest things it can do."""
    lines = ["I'm not sure what you're asking, so I haven't looked anything up."]
    if closest:
        lines.append("Did you mean one of these?")
        for descriptor in closest:
            plain = [example for example in descriptor.examples if _plain(example)]
            lines.append(f"- {descriptor.summary}" + (f" (e.g. “{plain[0]}”)" if plain else ""))
        lines.append("")
    return "\n".join(lines) + "\n" + capabilities(descriptors, role)


def no_claim_access() -> str:
    return (
        "I can't show claim data here: your account isn't linked to a user of the practice. "
        "Ask an administrator to link it. I can still look up codes and answer from payer policies and "
        "coding guidance."
    )


#: Everyday words that are never a patient's name (with the words of the examples, see the planner).
COMMON_WORDS = frozenset(
    re.findall(
        r"\S+",
        "a an the and or but if of on in at to for from by with without about any all some no not is are was were be "
        "been has have had do does did can could would should will may might must shall i we you he she they it "
        "me us him her them my our your his their its this that these those here there what which who whom whose "
        "when where why how pls please plz thanks thank hi hello hey ok okay yes yeah just also too very really "
        "get got give gave show tell find look pull need want see know check send post make take put run list "
        "claim claims patient patients pt pts dob born today yesterday tomorrow week month year new old last next "
        "one two three first second other same different more less much many each every",
    )
)
