"""Result model shared by the write tools."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from tools.claim_views import Balances


class PostingResult(BaseModel):
    claim_number: str
    posted: str
    amount: Decimal
    balances: Balances
