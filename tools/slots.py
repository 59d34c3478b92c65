"""The values a request names: claim numbers, money, dates, codes, payers, patients, files.

These are the regular parts of language (code shapes, amounts, dates, claim numbers), read with regular
expressions; what a request *asks* is decided by the router's scores (`assistant/router.py`), not here.
Written by hand because no library reads this domain's shorthand ("pt", "dos", "clm 1042", "CO 50").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tools.descriptor import NeedSlot, Slot

PAYER_ALIASES = {
    "uhc": "UnitedHealthcare",
    "united": "UnitedHealthcare",
    "unitedhealthcare": "UnitedHealthcare",
    "united healthcare": "UnitedHealthcare",
    "bcbs": "Blue Cross Blue Shield",
    "blue cross": "Blue Cross Blue Shield",
    "bluecross": "Blue Cross Blue Shield",
    "aetna": "Aetna",
    "cigna": "Cigna",
    "medicare": "Medicare",
    "mcr": "Medicare",
    "part b": "Medicare",
    "medicaid": "Medicaid",
    "mcd": "Medicaid",
}

_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): index for index, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9

_CLAIM = re.compile(
    r"(?:\bclaims?\s*(?:#|no\.?|num(?:ber)?\.?|id)?\s*:?\s*|#|\bclm\s*#?\s*|\bicn\s*#?\s*)([A-Za-z]*\d[\w-]{2,24})\b",
    re.IGNORECASE,
)
# A claim number on its own: "1437", "1437," or "1437." at the end of a clause, not "1437.50" or "10/08".
_BARE_NUMBER = re.compile(r"(?<![\w$.,/-])(\d{4,12})(?![\w/-]|[.,]\d)")
_MONTH_YEAR = re.compile(
    r"\b(?:"
    + "|".join(sorted((m for m in _MONTHS if len(m) >= 3), key=len, reverse=True))
    + r")\.?,?\s+(?:of\s+)?(?:19|20)\d{2}\b",
    re.I,
)
_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)|\b(\d[\d,]*(?:\.\d{1,2})?)\s*(?:dollars|bucks|usd)\b", re.I)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b")
_DOB = re.compile(r"\b(?:dob|d\.o\.b\.?|born|birth ?date|date of birth)\s*:?\s*", re.I)
_ICD = re.compile(r"\b([A-TV-Z][0-9][0-9AB])\.?([0-9A-Z]{0,4})\b", re.I)
_HCPCS = re.compile(r"\b([A-V][0-9]{4})\b", re.I)
_CPT = re.compile(r"\b([0-9]{4}[0-9FTU])\b")
_GROUP_CARC = re.compile(r"\b(CO|PR|OA|PI)\s*[-‑ ]?\s*([A-Z]?[0-9]{1,3})(?:s|'s)?\b", re.I)  # "the co-97s"
_CARC = re.compile(r"\b(?:carc|reason code|adj(?:ustment)? code)\s*#?\s*([A-Z]?[0-9]{1,3})\b", re.I)
_RARC = re.compile(r"\b(MA[0-9]{2,3}|N[0-9]{1,3}|M[0-9]{1,3})\b(?!\.[0-9A-Z])", re.I)
#: Two-letter words that follow "modifier" in a sentence ("no modifier on the line"), not modifier codes.
_NOT_MODIFIERS = "on|of|to|in|is|it|at|as|an|or|by|be|do|go|no|so|up|we|me|my|if|for|was|and|the"
_MODIFIER_WORD = re.compile(rf"\bmod(?:ifier)?s?\s*-?\s*(?!(?:{_NOT_MODIFIERS})\b)([0-9A-Z]{{2}})\b", re.I)
#: A modifier typed before the word: digits or capitals only ("GA modifier", "25 mod"), so "no modifier" is none.
_MODIFIER_BEFORE = re.compile(r"\b([0-9]{2}|[A-Z][A-Z0-9])\s+(?i:mod(?:ifier)?s?)\b")
_GROUP_WORD = re.compile(r"\bgroup(?:\s+code)?s?\s*#?\s*-?\s*(CO|PR|OA|PI|CR)\b(?!-?\d)", re.I)
_POS_WORD = re.compile(r"\b(?:pos|place of service)\s*#?\s*-?\s*([0-9]{2})\b", re.I)
_NAME_AFTER = re.compile(r"\b(?:pt|patient|for|of|member)\s+([A-Z][a-z'’-]+(?:,?\s+[A-Z][a-z'’-]+){1,2})", re.UNICODE)

# Shorthand written out for a knowledge search (the passages use the full words).
SHORTHAND = {
    "tfl": "timely filing limit",
    "cob": "coordination of benefits",
    "auth": "authorization",
    "precert": "precertification prior authorization",
    "recon": "reconsideration",
    "mod": "modifier",
    "mods": "modifiers",
    "pos": "place of service",
    "pt": "patient",
    "pts": "patients",
    "dx": "diagnosis",
    "ins": "insurance",
    "clm": "claim",
    "dos": "date of service",
    "w/": "with",
    "w/o": "without",
    "abt": "about",
    "pls": "please",
    # "appeal window", "filing window": the deadline, which policies write as "within N days".
    "window": "deadline (within how many days)",
}
_SHORTHAND = re.compile(
    r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(SHORTHAND, key=len, reverse=True)) + r")(?![\w/])", re.I
)
# "Drew Fakely 07/24/1963 claims": a name that opens the message, when a date follows it.
_LEADING_NAME = re.compile(r"^\s*([A-Z][a-z'’-]+\s+[A-Z][a-z'’-]+)\b(?=.*\d{1,2}/\d{1,2}/\d{2,4})", re.UNICODE)


def _date_from(groups: tuple[str, ...], us: bool) -> dt.date | None:
    try:
        if us:
            month, day, year = (int(g) for g in groups)
            if year < 100:
                year += 1900 if year > 30 else 2000
        else:
            year, month, day = (int(g) for g in groups)
        return dt.date(year, month, day)
    except ValueError:
        return None


def find_dates(text: str) -> list[tuple[int, dt.date]]:
    found = [(m.start(), d) for m in _ISO_DATE.finditer(text) if (d := _date_from(m.groups(), False))]
    found += [(m.start(), d) for m in _US_DATE.finditer(text) if (d := _date_from(m.groups(), True))]
    return sorted(found)


def find_birth_date(text: str, *, today: dt.date | None = None, named: bool = False) -> dt.date | None:
    """The date after "dob"/"born"; or, beside a patient's name, a date too old to be a date of service
    (more than two years back: "Drew Fakely 07/24/1963"). `named`: the caller found a name the capital
    letters do not show ("marlowe fakely 04/08/1938")."""
    marker = _DOB.search(text)
    if not marker:
        if today is None or not (named or find_patient_name(text) is not None):
            return None
        old = [value for _, value in find_dates(text) if value.year < today.year - 2]
        return old[0] if len(old) == 1 else None
    for position, value in find_dates(text):
        if position >= marker.end() - 1:
            return value
    return None


def _payer_pattern(alias: str) -> str:
    return rf"\b{re.escape(alias)}(?:['’]?s)?\b"  # "aetna", "aetna's", "aetnas"


def find_payer(text: str) -> str | None:
    lowered = text.lower()
    for alias in sorted(PAYER_ALIASES, key=len, reverse=True):
        if re.search(_payer_pattern(alias), lowered):
            return PAYER_ALIASES[alias]
    return None


def find_payers(text: str) -> list[str]:
    """Every payer the message names, in the order named ("timely filing aetna vs bcbs": Aetna, then Blue
    Cross Blue Shield); a longer alias wins over one inside it ("medicare advantage" is not also "medicare")."""
    lowered = text.lower()
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str]] = []
    for alias in sorted(PAYER_ALIASES, key=len, reverse=True):
        for match in re.finditer(_payer_pattern(alias), lowered):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue
            taken.append((match.start(), match.end()))
            found.append((match.start(), PAYER_ALIASES[alias]))
    payers: list[str] = []
    for _, payer in sorted(found):
        if payer not in payers:
            payers.append(payer)
    return payers


def replace_payer(text: str, payer: str) -> str:
    """The message asked again about another payer ("aetna timely filing" -> "Cigna timely filing")."""
    for alias in sorted(PAYER_ALIASES, key=len, reverse=True):
        replaced, count = re.subn(_payer_pattern(alias), payer, text, flags=re.I)
        if count:
            return replaced
    return f"{text} ({payer})"


def find_month_range(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    lowered = text.lower()
    if re.search(r"\blast month\b", lowered):
        first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        return first, today.replace(day=1) - dt.timedelta(days=1)
    if re.search(r"\bthis month\b", lowered):
        return today.replace(day=1), today
    for word, month in _MONTHS.items():
        if len(word) < 3 or (word == "may" and not re.search(r"\bmay\b(?!\s+(?:i|we|you))", lowered)):
            continue
        if re.search(rf"\b{word}\b\.?", lowered):
            year = today.year if month <= today.month else today.year - 1
            year_match = re.search(rf"\b{word}\.?\s+(\d{{4}})\b", lowered)
            if year_match:
                year = int(year_match.group(1))
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return None


# A claim form's name is not a claim: "box 23 of the 1500 form", "cms-1500", "hcfa 1500", "ub-04".
_FORM_NUMBER = re.compile(r"\b(?:cms|hcfa|ub)\s*-?\s*\d{2,4}\b|\b\d{4}\s+(?:claim\s+)?forms?\b", re.I)
_YEAR = re.compile(r"^(?:19[5-9]\d|20[0-4]\d)$")
# Words before a number that make it a year: "before 2024", "for 2026", "since 2025", "fy 2026".
_YEAR_CONTEXT = re.compile(
    r"\b(?:before|after|since|in|for|of|from|until|till|through|thru|by|during|year|fy|cy|plan year)\s*$", re.I
)


def find_claim_numbers(text: str) -> tuple[list[str], list[str]]:
    """Claim numbers in a message: (named ones, bare ones). Named: after "claim", "clm", "#", "icn".
    Bare: a number of 4-12 digits on its own, not a date, an amount, a five-digit CPT code or a year
    ("aetna's limit for 2026"); a bare number shaped like a year is a claim number only when named."""
    named = []
    for match in _CLAIM.finditer(text):
        value = match.group(1)
        named.append(value if value.isdigit() else value.upper())
    cleaned = _CLAIM.sub(" ", text)
    cleaned = _US_DATE.sub(" ", _ISO_DATE.sub(" ", cleaned))
    cleaned = _FORM_NUMBER.sub(" ", _MONTH_YEAR.sub(" ", _AMOUNT.sub(" ", cleaned)))
    bare = [n for n in _BARE_NUMBER.findall(cleaned) if not _looks_like_code(n)]
    return list(dict.fromkeys(named)), [n for n in dict.fromkeys(bare) if n not in named]


def _listed_with_a_claim(text: str, bare: list[str]) -> set[str]:
    """Year-shaped numbers in a list with a claim number ("explain 1706 and 2031"): claims, like the rest."""
    claims = [n for n in bare if not is_year(n)]
    if not claims:
        return set()
    listed: set[str] = set()
    for year in (n for n in bare if is_year(n)):
        for claim in claims:
            joined = rf"\b{claim}\s*(?:,|&|\+|and|or)\s*{year}\b|\b{year}\s*(?:,|&|\+|and|or)\s*{claim}\b"
            if re.search(joined, text, re.I):
                listed.add(year)
    return listed


def is_year(number: str) -> bool:
    return bool(_YEAR.match(number))


def find_claim_number(text: str) -> str | None:
    named, bare = find_claim_numbers(text)
    return (named + bare)[0] if named or bare else None


def _looks_like_code(number: str) -> bool:
    return len(number) == 5  # a bare five-digit number is more likely a CPT code than a claim number


_MONEY_WORDS = (
    r"copay|co-pay|payment|pmt|pymt|paid|pd|pays|received|recvd|rec'?d|gave|dropped off|brought|deductible|coins|"
    r"coinsurance|write[- ]?off|w/o|adjust|adj|take|took|balance of"
)
_AMOUNT_AFTER_WORD = re.compile(rf"\b(?:{_MONEY_WORDS})\w*\s+(?:of\s+|the\s+)?(\d+(?:\.\d{{1,2}})?)\b(?![/.-]\d)", re.I)
_AMOUNT_BEFORE_WORD = re.compile(
    r"(?<![\w/.-])(\d+(?:\.\d{1,2})?)\s+(?:cash|card|check|cheque|credit|debit|ach|copay|co-pay|dollars?|"
    r"bucks|pt bal|patient bal|small bal)\b",
    re.I,
)
# Cents make a number money ("67.56 for 1043"), unless it is a code ("E11.65") or part of a date.
_CENTS = re.compile(r"(?<![\w./-])(\d{1,7}\.\d{2})(?![\w./-]|\.\d)")


def find_amount(text: str) -> Decimal | None:
    """Money in a message: "$40", "40 dollars", "67.56", "paid 30", "30 cash"."""
    match = _AMOUNT.search(text)
    if match:
        return Decimal((match.group(1) or match.group(2)).replace(",", ""))
    for pattern in (_CENTS, _AMOUNT_AFTER_WORD, _AMOUNT_BEFORE_WORD):
        found = pattern.search(text)
        if found and not _is_claim_sized(found.group(1)):
            return Decimal(found.group(1))
    return None


#: A check's (or a payment's) own number in a payment message: "check 4471", "ck# 2231", "check no. 5521",
#: "ref 1029", "conf #88412".
_CHECK_NUMBER = re.compile(
    r"\b(?:check|chk|ck|cheque|ref(?:erence)?|conf(?:irmation)?)\s*(?:#|no\.?|num(?:ber)?\.?)?\s*#?\s*(\d{2,12})\b",
    re.I,
)
_MONEY_VERBS = re.compile(
    r"\b(?:post|write[- ]?off|w/o|adjust|adj|paid|pay|pays|paying|pd|copay|payment|pmt|refund|"
    # "shes paying the 10 on card now", "pt wants to do 20 today", "putting 15 down": a way of paying or a
    # payment verb makes the one small number the amount.
    r"putting|toward|towards|card|cash|visa|debit|ach|coins|coinsurance|deductible|do(?=\s+\$?\d{1,3}\b))\b",
    re.I,
)


def _leftover_amount(text: str, codes: list[tuple[str, str]], claims: list[str]) -> Decimal | None:
    """ "write off 1040 as timely filing, 135": in a message about money, the one small number that is not
    a code, a claim number or part of a date is the amount."""
    cleaned = _US_DATE.sub(" ", _ISO_DATE.sub(" ", text))
    cleaned = _GROUP_CARC.sub(" ", _CARC.sub(" ", cleaned))
    numbers = [n for n in re.findall(r"(?<![\w./-])(\d{1,3}(?:\.\d{1,2})?)(?![\w/-]|\.\d)", cleaned)]
    numbers = [n for n in numbers if n not in claims and n not in {c for _, c in codes}]
    return Decimal(numbers[0]) if len(numbers) == 1 else None


def leftover_amount(slots: Slots) -> Decimal | None:
    """The amount of a message already known to be about money ("same for 1112 but 25 on a card" after a
    payment): the one small number that is not a code, a claim number or part of a date."""
    return _leftover_amount(slots.text, slots.codes, slots.claim_numbers + slots.maybe_claims)


def _is_claim_sized(number: str) -> bool:
    """A bare whole number of four or more digits is a claim number, not an amount ("paid on 1042")."""
    return "." not in number and len(number) >= 4


def find_method(text: str) -> str | None:
    lowered = text.lower()
    for word, method in (
        ("cash", "cash"),
        ("check", "check"),
        ("cheque", "check"),
        ("card", "card"),
        ("credit", "card"),
        ("debit", "card"),
        ("ach", "ach"),
    ):
        if re.search(rf"\b{word}\b", lowered):
            return method
    return None


def find_codes(text: str) -> list[tuple[str, str]]:
    """Medical codes in a message as (system hint, code), in order."""
    codes: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(system: str, code: str, span: tuple[int, int]) -> None:
        if any(start < span[1] and span[0] < end for start, end in taken):
            return
        taken.append(span)
        if (system, code) not in codes:
            codes.append((system, code))

    cleaned = _AMOUNT.sub(lambda m: " " * len(m.group(0)), text)
    cleaned = _ISO_DATE.sub(lambda m: " " * len(m.group(0)), cleaned)
    cleaned = _US_DATE.sub(lambda m: " " * len(m.group(0)), cleaned)
    for m in _GROUP_CARC.finditer(cleaned):
        add("carc", f"{m.group(1).upper()}-{m.group(2).upper()}", m.span())
    for m in _CARC.finditer(cleaned):
        add("carc", m.group(1).upper(), m.span(1))
    for m in _RARC.finditer(cleaned):
        add("rarc", m.group(1).upper(), m.span())
    for m in _HCPCS.finditer(cleaned):
        add("hcpcs", m.group(1).upper(), m.span())
    for m in _ICD.finditer(cleaned):
        head, tail = m.group(1).upper(), m.group(2).upper()
        if not tail and not re.search(r"\d", head[1:]):
            continue
        if head == "B12" and not tail:  # ICD-10-CM has no category B12: "b12" is the vitamin ("b12 def dx")
            continue
        add("icd10cm", f"{head}.{tail}" if tail else head, m.span())
    for m in _CPT.finditer(cleaned):
        add("cpt", m.group(1).upper(), m.span())
    # Modifiers and places of service only when named ("mod GA", "POS 02"): the prefix tells the lookup.
    for m in _MODIFIER_WORD.finditer(cleaned):
        add("modifier", f"MOD {m.group(1).upper()}", m.span(1))
    for m in _MODIFIER_BEFORE.finditer(cleaned):  # "GA modifier desc", "25 mod": typed as a code, before the word
        add("modifier", f"MOD {m.group(1)}", m.span(1))
    for m in _POS_WORD.finditer(cleaned):
        add("pos", f"POS {m.group(1)}", m.span(1))
    for m in _GROUP_WORD.finditer(cleaned):  # "group code PI": a group code alone (with a CARC it is "PI-130")
        add("group", m.group(1).upper(), m.span(1))
    return codes


def find_patient_name(text: str) -> str | None:
    match = _NAME_AFTER.search(text) or _LEADING_NAME.search(text)
    if not match:
        return None
    name = re.sub(r"['’]s\b", "", match.group(1))
    words = [w for w in re.split(r"[,\s]+", name) if w]
    stop = {"Claim", "Claims", "Medicare", "Medicaid", "Aetna", "Cigna", "The", "October", "Today", "Dob", "Born"}
    stop |= {m.title() for m in _MONTHS}
    words = [w for w in words if w not in stop]
    return " ".join(words) if len(words) >= 2 else None


def expand_shorthand(text: str) -> str:
    """The message with billing shorthand written out: "tfl for uhc?" -> "timely filing limit for uhc?"."""
    return _SHORTHAND.sub(lambda m: SHORTHAND[m.group(1).lower()], text)


#: Chat shorthand on top of the billing shorthand, for reading what a message asks (the router): the
#: embedding model knows "payment" and "medicare" far better than "pmt" and "mcr".
CHAT_SHORTHAND = {
    **SHORTHAND,
    "mcr": "medicare",
    "mcd": "medicaid",
    "pmt": "payment",
    "pymt": "payment",
    "pmts": "payments",
    "adj": "adjustment",
    "adjs": "adjustments",
    "bal": "balance",
    "amt": "amount",
    "info": "information",
    "u": "you",
    "ur": "your",
    "thx": "thanks",
    "plz": "please",
    "b/c": "because",
    "acct": "account",
    "appt": "appointment",
    "dob": "date of birth",
    "rsn": "reason",
    "wat": "what",
    "wats": "what is",
    "whats": "what is",
    "pd": "paid",
    "recd": "received",
    "svc": "service",
    "proc": "procedure",
    "procs": "procedures",
    "dxs": "diagnoses",
    "inv": "invoice",
    "stmt": "statement",
    "resp": "responsibility",
    "elig": "eligibility",
    "ded": "deductible",
    "coins": "coinsurance",
    "w": "with",
    "abt": "about",
    "ar": "accounts receivable",
    "a/r": "accounts receivable",
}
_CHAT_SHORTHAND = re.compile(
    r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(CHAT_SHORTHAND, key=len, reverse=True)) + r")(?![\w/])",
    re.I,
)


def expand_chat_shorthand(text: str) -> str:
    """The message with billing and chat shorthand written out ("pmt on clm 1042 w/ mcr" -> "payment on
    claim 1042 with medicare"), for reading what it asks; values are read from the message as typed."""
    return _CHAT_SHORTHAND.sub(lambda m: CHAT_SHORTHAND[m.group(1).lower()], text)


def codes_only(text: str, codes: list[tuple[str, str]]) -> bool:
    """A bare code (`E11.65`, `/code 99213`) rather than a claim number."""
    return bool(codes) and not re.search(r"\bclaim|#|\bclm\b|\bicn\b", text, re.I)


# Plain words for the denial reasons offices talk about, to the CARC the payers send for them (X12 CARC
# list): "aetna timely filing denials" filters the worklist by 29. A vocabulary, not a rule about what is
# asked; the codes reach an answer only through the tool's own output.
_REASON_WORDS = (
    (r"timely filing|filing limit|tfl|too late|late fil(?:ing|ed)", "29"),
    (r"(?:prior |pre-?)?auth(?:ori[sz]ation)?s?\b|precert(?:ification)?|referral", "197"),
    (r"medical(?:ly)? necess\w*|not necessary|med nec", "50"),
    (r"duplicates?|dupes?|dup\b", "18"),
    (r"missing info\w*|incomplete|lacks? info\w*|missing data", "16"),
    (r"bundl\w*|inclusive|ncci", "97"),
    (r"non-?covered|not covered", "96"),
    (r"coordination of benefits|\bcob\b|other insurance|other payer primary", "22"),
    (r"eligib\w*|coverage (?:ended|terminated|termed)|termed coverage|not active", "27"),
    (r"modifier", "4"),
    (r"credential\w*|provider (?:not |isn'?t )?(?:eligible|certified|enrolled)|not enrolled", "B7"),
    (r"frequenc\w*|too (?:many|often)|exceeds? (?:the )?(?:number|frequency)", "151"),
    (r"(?:dx|diagnosis) (?:mismatch|inconsistent)|inconsistent with (?:the )?(?:dx|diagnosis)", "11"),
)


def find_denial_reason(text: str) -> str | None:
    """The CARC a plain-language denial reason names ("timely filing" -> "29"), or None."""
    lowered = text.lower()
    for pattern, code in _REASON_WORDS:
        if re.search(rf"\b(?:{pattern})", lowered):
            return code
    return None


def _status_word(lowered: str) -> str | None:
    for word, status in (
        ("partially paid", "partially_paid"),
        ("partial", "partially_paid"),
        ("denied", "denied"),
        ("denials?", "denied"),
        ("rejected", "rejected"),
        ("rejections?", "rejected"),
        ("rejects", "rejected"),
        ("pending", "pending"),
        ("unpaid", None),
        ("paid", "paid"),
        ("submitted", "submitted"),
        ("accepted", "accepted"),
    ):
        if re.search(rf"\b{word}\b", lowered):
            return status
    return None


def _system_word(lowered: str) -> str | None:
    if re.search(r"\bhcpcs\b", lowered):
        return "hcpcs"
    if re.search(r"\b(icd|dx|diagnosis)\b", lowered):
        return "icd10cm"
    return None


_LINE = re.compile(r"\b(\d{4}[0-9FTU]|[A-V]\d{4})((?:\s*[-:, ]\s*(?:mod(?:ifier)?\s*)?[0-9A-Z]{2}\b(?!\.))*)", re.I)
_UNITS = re.compile(r"\bx\s*(\d{1,3})\b|\b(\d{1,3})\s*units?\b", re.I)
_FILE = re.compile(r"(\S+\.(?:835|edi|x12|txt|dat|277|837))\b", re.I)
# "the folder nov-remits", "the nov-remits folder": a folder of the inbox (a name with a dash, digit or dot).
_FOLDER = re.compile(
    r"\bfolder\s+(?:named\s+|called\s+)?([\w.-]*[-\d.][\w.-]*)|\b([\w.-]*[-\d.][\w.-]*)\s+folder\b", re.I
)
_GROUP_ONLY = re.compile(r"^(CO|PR|OA|PI)-")


@dataclass
class Slots:
    """The values one message names, each read by its own extractor."""

    text: str
    claim_numbers: list[str] = field(default_factory=list)  # named first, then bare
    named_claim: bool = False  # the message says "claim", "clm", "#": a number is surely a claim
    #: Bare numbers shaped like a year (2001, 2026): a claim number only when a claim tool is asked for.
    maybe_claims: list[str] = field(default_factory=list)
    #: Year-shaped numbers after "for" ("276 for 2017", "limit for 2026"): a claim only for a tool that needs one
    #: and finds no other.
    years_after_for: list[str] = field(default_factory=list)
    amount: Decimal | None = None
    method: str | None = None
    on_date: dt.date | None = None
    patient_name: str | None = None
    birth_date: dt.date | None = None
    payer: str | None = None
    payers: list[str] = field(default_factory=list)  # every payer named, in order (`payer` is the first found)
    status: str | None = None
    service_from: dt.date | None = None
    service_to: dt.date | None = None
    codes: list[tuple[str, str]] = field(default_factory=list)  # (system hint, code)
    file_name: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def claim_number(self) -> str | None:
        """The claim the message names; for a claim tool, a year-shaped number counts too."""
        numbers = self.claim_numbers or self.maybe_claims
        return numbers[0] if numbers else None

    @property
    def claims_named(self) -> list[str]:
        """The claims a tool that acts on named claims takes (a 276, a claim lookup): the named or bare numbers,
        else a year-shaped one after "for" ("276 for 2017"). `claim_number` leaves that one out: it also
        decides whether a message names a claim at all, and "the limit for 2026" names none."""
        return self.claim_numbers or self.maybe_claims or self.years_after_for

    @property
    def medical_codes(self) -> list[str]:
        return [code for system, code in self.codes if system not in {"carc", "rarc", "group"}]

    @property
    def adjustment_codes(self) -> list[str]:
        return [code for system, code in self.codes if system in {"carc", "rarc", "group"}]

    @property
    def system(self) -> str | None:
        return _system_word(self.text.lower())

    @property
    def search_text(self) -> str:
        """The description to search codes for: the message without its asking words."""
        text = expand_shorthand(self.text)
        text = re.sub(
            r"(?i)\b(?:what(?:'s| is)?|whats|the|a(?![- ]fib)|an|pls|please|plz|need|find|give me|get|"
            r"looking for|lookup|right(?=\s+(?:code|codes|dx|icd|diagnosis|one)\b)|"
            r"look up|search|which|code|codes|icd[- ]?10(?:[- ]?cm)?|icd|dx|diagnosis|hcpcs|cpt|for|to use|use|"
            r"should i|do i|can i|billable|correct|i need|me|is there|any|of|pt has|patient has|has|had|\?+)\b",
            " ",
            text,
        )
        return " ".join(text.replace("?", " ").split()).strip(" .,:;-") or self.text

    def check_arguments(self) -> dict[str, Any]:
        """check_claim_codes arguments from a message: `99214-25 G0439 with E11.65, I10`."""
        lines = []
        diagnosis_codes = {code for system, code in self.codes if system == "icd10cm"}
        for match in _LINE.finditer(self.text):
            code = match.group(1).upper()
            if code in diagnosis_codes:
                continue
            tail = re.sub(r"(?i)mod(?:ifier)?", " ", match.group(2))
            modifiers = [m.upper() for m in re.findall(r"[0-9A-Z]{2}", tail)]
            lines.append(f"{code}:{','.join(modifiers)}:1")
        if not lines and self.extras.get("check_lines"):  # a correction of the last check keeps its lines
            lines = list(self.extras["check_lines"])
        units = _UNITS.search(self.text)
        if units and len(lines) == 1:
            code, joined, _ = lines[0].split(":")
            lines[0] = f"{code}:{joined}:{units.group(1) or units.group(2)}"
        arguments: dict[str, Any] = {"diagnoses": sorted(diagnosis_codes, key=self.text.upper().find), "lines": lines}
        if self.on_date:
            arguments["date_of_service"] = self.on_date.isoformat()
        return arguments


#: A day typed without its year after a word that dates a payment ("paid on 10/12", "received 11/20"): the
#: latest such day not after today. Not any "10/20" ("the 10/20 one" picks a claim by its date of service).
_MONTH_DAY = re.compile(
    r"\b(?:paid|pd|received|rec'?d|dated|deposited|came in)(?:\s+\$?\d+(?:\.\d{2})?)?(?:\s+(?:cash|card|check|by \w+))?"
    r"\s+(?:on\s+)?(\d{1,2}/\d{1,2})(?![\w/-])",
    re.I,
)
_DAY = r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?)"
#: Two days joined as a span ("10/01/2026 and 10/31/2026", "2026-10-01 to 2026-10-15", "9/1-9/30").
_DAY_SPAN = re.compile(rf"(?<![\w/-]){_DAY}\s*(?:-|–|to|through|thru|until|and)\s*{_DAY}(?![\w/-])", re.I)
#: A day named as the date of service ("dos 11/02/2026", "date of service 2026-10-14", "seen on 10/14").
_SERVICE_DAY = re.compile(
    rf"\b(?:dos|d\.o\.s\.?|dates? of service|service date|seen on|visit on)\s*(?:of|on|=|:|was|is)?\s*{_DAY}",
    re.I,
)


def _day(text: str, today: dt.date) -> dt.date | None:
    """One day as typed: ISO, US with a year, or US without one (the latest such day not after today)."""
    found = find_dates(text)
    if found:
        return found[0][1]
    month_day = re.fullmatch(r"(\d{1,2})/(\d{1,2})", text.strip())
    if month_day is None:
        return None
    month, day = int(month_day.group(1)), int(month_day.group(2))
    for year in (today.year, today.year - 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate <= today:
            return candidate
    return None


def find_service_range(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """Dates of service as a span: two days joined ("between 10/01/2026 and 10/31/2026", "9/1-9/30"), or one
    day named as the date of service ("dos 2026-11-02": that day only). A date of birth is not one."""
    for match in _DAY_SPAN.finditer(text):
        if _DOB.search(text[max(0, match.start() - 12) : match.start()]):
            continue
        first, last = _day(match.group(1), today), _day(match.group(2), today)
        if first is not None and last is not None and first <= last:
            return first, last
    named = _SERVICE_DAY.search(text)
    if named is not None and (day := _day(named.group(1), today)) is not None:
        return day, day
    return None


def read_slots(text: str, *, today: dt.date) -> Slots:
    """Every value the message names (what it asks is the router's job)."""
    stripped = text.strip()
    named, bare = find_claim_numbers(stripped)
    codes = find_codes(stripped)
    slots = Slots(text=stripped, claim_numbers=named + bare, named_claim=bool(named), codes=codes)
    if not named:  # a bare five-digit CPT-shaped number is a code; a claim number only if nothing else fits
        bare = [n for n in bare if n not in {c for _, c in codes}]
        listed = _listed_with_a_claim(stripped, bare)
        slots.claim_numbers = [n for n in bare if not is_year(n) or n in listed]
        slots.maybe_claims = [
            n for n in bare if is_year(n) and n not in listed and not _YEAR_CONTEXT.search(stripped.split(n)[0])
        ]
        slots.years_after_for = [n for n in bare if is_year(n) and re.search(r"\bfor\s*$", stripped.split(n)[0], re.I)]
    slots.amount = find_amount(stripped)
    if slots.amount is None and _MONEY_VERBS.search(stripped):
        slots.amount = _leftover_amount(stripped, codes, slots.claim_numbers + slots.maybe_claims)
    paying = slots.amount is not None or _MONEY_VERBS.search(stripped)
    reference = _CHECK_NUMBER.search(stripped) if paying else None
    if reference is not None:
        # "post the 10.00 mom paid on the 4/25 visit, check 4471": the check's number, not a claim's.
        number = reference.group(1)
        slots.extras["reference"] = number
        slots.claim_numbers = [n for n in slots.claim_numbers if n != number]
        slots.maybe_claims = [n for n in slots.maybe_claims if n != number]
        slots.named_claim = slots.named_claim and bool(slots.claim_numbers)
        if slots.amount is not None and str(slots.amount) == number:
            slots.amount = find_amount(stripped.replace(reference.group(0), " "))
    slots.method = find_method(stripped)
    slots.payer = find_payer(stripped)
    slots.payers = find_payers(stripped)
    slots.birth_date = find_birth_date(stripped, today=today)
    slots.patient_name = find_patient_name(stripped)
    slots.status = _status_word(stripped.lower())
    months = find_month_range(stripped, today)
    if months:
        slots.service_from, slots.service_to = months
    elif (service_range := find_service_range(stripped, today)) is not None:
        slots.service_from, slots.service_to = service_range
    lowered = stripped.lower()
    if re.search(r"\btoday\b", lowered):
        slots.on_date = today
    elif re.search(r"\byesterday\b", lowered):
        slots.on_date = today - dt.timedelta(days=1)
    else:
        dated = [d for _, d in find_dates(stripped) if d != slots.birth_date]
        if not dated and (month_day := _MONTH_DAY.search(stripped)) is not None:
            dated = [d] if (d := _day(month_day.group(1), today)) is not None else []  # "paid 10/12"
        slots.on_date = dated[0] if dated else None
    file_match = _FILE.search(stripped)
    folder_match = _FOLDER.search(stripped)
    slots.file_name = (
        file_match.group(1)
        if file_match
        else (folder_match.group(1) or folder_match.group(2))
        if folder_match
        else None
    )
    carc = next((c for s, c in codes if s == "carc" and _GROUP_ONLY.match(c)), None)
    if carc:
        group, _, reason = carc.rpartition("-")
        slots.extras["group_code"], slots.extras["reason_code"] = group, reason
    elif (worded := find_denial_reason(stripped)) is not None:
        slots.extras["reason_words"] = worded
    slots.extras["side"] = (
        "patient"
        if re.search(r"\b(patient|pt|small bal(?:ance)?|sm bal(?:ance)?|sb|bad debt|collections?)\b", lowered)
        else "payer"
    )
    if WHOLE_BALANCE.search(stripped):
        slots.extras["whole_balance"] = True
    return slots


#: "the rest", "the balance", "what's left": a posting of everything open, with no amount typed.
WHOLE_BALANCE = re.compile(
    r"\b(?:the rest|rest of it|in full|remaining|"
    r"(?:full|whole|entire|total|open|remaining|outstanding)\s+(?:\w+\s+)?(?:balance|bal|amount|amt|thing)|"
    r"(?:what|all|everything) (?:s?he|they|the pt|the patient) (?:still )?owe[sd]?|"
    r"the (?:\w+ )?(?:balance|bal)(?! of \$)|"
    r"what(?:ever)?'?s? (?:is )?(?:left|remaining|still owed|owed|due|open|outstanding))\b",
    re.I,
)


def money_value(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


# -- the slots tools ask for (the question is what the planner asks when the value is missing) ---------
CLAIM_SLOT = Slot("claim_number", "Which claim? Give its claim number, e.g. “status of claim 1042”.")
AMOUNT_SLOT = Slot("amount", "How much? For example: “post $40 copay to claim 1042, paid today by card”.")
# The questions show no code: a code in an answer must come from a tool, and none has run when they are asked.
CODE_SLOT = Slot("code", "Which code? Type it after “/code”, as the claim or the code book writes it.")
ADJUSTMENT_CODES_SLOT = Slot(
    "codes",
    "Which codes? Type them as the remittance shows them: the group code with the reason number, and any remark codes.",
)
CHECK_CODES_SLOT = Slot(
    "codes",
    "Which codes should I check? Give the procedure codes (with modifiers) and the diagnosis codes, or a claim number.",
)
FILE_SLOT = Slot("file_name", "Which file? Give the name of the 835 in the inbox, e.g. “import era-2026-11-20.835”.")


# -- what several tools' plans share ------------------------------------------------------------------
def per_claim(slots: Slots) -> list[dict[str, Any]]:
    """One call per claim the message names (at most three): "status of 1042 and 1043"."""
    if not slots.claim_number:
        raise NeedSlot(CLAIM_SLOT)
    return [{"claim_number": number} for number in slots.claims_named[:3]]


def money_on_a_claim(slots: Slots) -> tuple[str, str]:
    """The claim number and the amount a posting needs (as the tool's arguments take them), or the question."""
    if slots.amount is None:
        raise NeedSlot(AMOUNT_SLOT)
    if not slots.claim_number:
        raise NeedSlot(CLAIM_SLOT)
    return slots.claim_number, str(slots.amount)
