"""The claim status rules (`ledger.derive_status`) and the claim status codes as a person reads them."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from knowledge.codesets.x12codes import NOT_SHIPPED, claim_status_categories, describe_claim_status
from knowledge.practice.ledger import ClaimTotals, derive_status
from knowledge.practice.models import ClaimStatus
from knowledge.x12.load277 import CATEGORY_STATUS

D = Decimal


def totals(insurance: str = "0", patient: str = "0", paid: str = "60") -> ClaimTotals:
    """Totals of a $100 claim with the given open balances (the other amounts only make it add up)."""
    responsibility = D("20")
    patient_paid = responsibility - D(patient)
    adjusted = D("100") - D(paid) - responsibility - D(insurance)
    return ClaimTotals(
        billed=D("100"),
        payer_paid=D(paid),
        adjusted=adjusted,
        patient_responsibility=responsibility,
        patient_paid=patient_paid,
        patient_adjusted=D("0"),
        insurance_balance=D(insurance),
        patient_balance=D(patient),
    )


@pytest.mark.parametrize(
    ("adjudicated", "ledger", "expected"),
    [
        # the payer has paid: nothing open is paid, whatever the payer said about the lines
        (ClaimStatus.PARTIALLY_PAID, totals(patient="0"), ClaimStatus.PAID),
        (ClaimStatus.PARTIALLY_PAID, totals(patient="20"), ClaimStatus.PARTIALLY_PAID),
        (ClaimStatus.PAID, totals(patient="20"), ClaimStatus.PAID),
        (ClaimStatus.PARTIALLY_PAID, totals(insurance="15"), ClaimStatus.PARTIALLY_PAID),
        (ClaimStatus.PARTIALLY_PAID, totals(patient="-5"), ClaimStatus.PAID),  # a credit: paid, flagged elsewhere
        # a denial is the payer's word, open or settled
        (ClaimStatus.DENIED, totals(insurance="100", paid="0"), ClaimStatus.DENIED),
        (ClaimStatus.DENIED, totals(paid="0"), ClaimStatus.DENIED),
        # not answered, rejected, reversed: a deposit or a write-off does not make them paid
        (ClaimStatus.SUBMITTED, totals(patient="-20", paid="0"), ClaimStatus.SUBMITTED),
        (ClaimStatus.REJECTED, totals(), ClaimStatus.REJECTED),
        (ClaimStatus.REVERSED, totals(), ClaimStatus.REVERSED),
        (ClaimStatus.PENDING, totals(), ClaimStatus.PENDING),
    ],
)
def test_status_follows_the_ledger_once_the_payer_has_paid(
    adjudicated: ClaimStatus, ledger: ClaimTotals, expected: ClaimStatus
) -> None:
    assert ledger.balanced()
    assert derive_status(adjudicated, ledger) is expected


def test_without_totals_the_payer_word_stands() -> None:
    assert derive_status(ClaimStatus.PARTIALLY_PAID, None) is ClaimStatus.PARTIALLY_PAID


def test_claim_status_categories_are_decoded_from_the_shipped_list() -> None:
    listed = claim_status_categories()
    assert set(CATEGORY_STATUS) <= set(listed)  # every category the 277 loader acts on has its text
    denied = describe_claim_status("F2", "65", source="835")
    assert denied.category_label == "Finalized/Denial"
    assert denied.describe(short=True) == f"F2 Finalized/Denial, status code 65 ({NOT_SHIPPED})"
    rejected = describe_claim_status("a7", "562", source="277CA")
    assert rejected.category_code == "A7" and rejected.category is not None
    assert rejected.category.startswith("Acknowledgement/Rejected for Invalid Information")
    assert rejected.status is None  # the status code list (508) is not shipped: no text is made up
    assert "562 (description not shipped)" in rejected.describe()


def test_unknown_codes_keep_their_value_without_a_text() -> None:
    assert describe_claim_status("Q9", None).describe() == "Q9 (not in the category list)"
    assert describe_claim_status(None, None).describe() == ""


def test_an_835_status_is_its_clp02_code() -> None:
    assert describe_claim_status(None, "4", source="835").describe() == "CLP02 4 (Denied)"
    assert describe_claim_status(None, "22", source="835").describe() == "CLP02 22 (Reversal of Previous Payment)"
    assert describe_claim_status(None, "99", source="835").describe() == f"CLP02 99 ({NOT_SHIPPED})"


def test_category_texts_are_the_lists_own(tmp_path: Path) -> None:
    # A newer list in the same shape replaces the texts: nothing is hard-coded.
    path = tmp_path / "categories.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Code", "Description"])
        writer.writerow(["F2", "Finalized/Denial-Newer text.Start: 01/01/1995"])
    listed = claim_status_categories(path)
    assert describe_claim_status("F2", None, categories=listed).category == "Finalized/Denial-Newer text."
