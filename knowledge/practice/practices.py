"""Practices: the tenants of the database. Every store is per practice; a user belongs to one.

`init --demo` creates the demo practice; `add_practice` (``billing-assistant practices add``) creates a
practice of your own, to which `users add --practice SLUG` then adds its people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.errors import Conflict, InvalidInput
from knowledge.practice.models import Claim, Patient, Practice, User

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_EIN = re.compile(r"^\d{2}-?\d{7}$")


def npi_check_digit(first_nine: str) -> str:
    """The NPI's tenth digit: Luhn over the prefix "80840" and the first nine digits (CMS, NPI standard)."""
    digits = [int(d) for d in "80840" + first_nine]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return str((10 - total % 10) % 10)


def valid_npi(npi: str) -> bool:
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]


@dataclass(frozen=True)
class PracticeSummary:
    id: int
    slug: str
    name: str
    npi: str | None
    tax_id: str | None
    users: int
    patients: int
    claims: int


def add_practice(
    session: Session, *, slug: str, name: str, npi: str | None = None, tax_id: str | None = None
) -> Practice:
    """Create a practice; raises InvalidInput for a bad slug, NPI or tax id and Conflict if the slug is taken."""
    wanted = slug.strip().lower()
    if not _SLUG.match(wanted):
        raise InvalidInput(
            f"{slug!r} is not a practice slug: use 1-64 lower-case letters, digits and dashes (e.g. 'northside-peds')."
        )
    if not name.strip():
        raise InvalidInput("A practice needs a name (--name), e.g. 'Northside Pediatrics'.")
    if npi is not None and not valid_npi(npi.strip()):
        raise InvalidInput(f"{npi!r} is not a valid NPI: 10 digits whose last is the check digit of the first nine.")
    if tax_id is not None and not _EIN.match(tax_id.strip()):
        raise InvalidInput(f"{tax_id!r} is not a tax id (EIN): 9 digits, written 12-3456789 or 123456789.")
    if session.scalar(select(Practice.id).where(Practice.slug == wanted)) is not None:
        raise Conflict(f"A practice {wanted!r} already exists.")
    practice = Practice(
        slug=wanted,
        name=name.strip(),
        npi=npi.strip() if npi else None,
        tax_id=tax_id.strip().replace("-", "") if tax_id else None,
    )
    session.add(practice)
    session.flush()
    return practice


def list_practices(session: Session) -> list[PracticeSummary]:
    """Every practice with how many users, patients and claims it has (counts only, no patient data)."""

    def counts(model: type[User] | type[Patient] | type[Claim]) -> dict[int, int]:
        rows = session.execute(select(model.practice_id, func.count()).group_by(model.practice_id))
        return {int(practice_id): int(n) for practice_id, n in rows}

    users, patients, claims = counts(User), counts(Patient), counts(Claim)
    return [
        PracticeSummary(
            id=p.id,
            slug=p.slug,
            name=p.name,
            npi=p.npi,
            tax_id=p.tax_id,
            users=users.get(p.id, 0),
            patients=patients.get(p.id, 0),
            claims=claims.get(p.id, 0),
        )
        for p in session.scalars(select(Practice).order_by(Practice.slug))
    ]
