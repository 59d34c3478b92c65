"""The `search_knowledge` tool: coding guidance, denial playbooks, payer policies and practice documents."""

from __future__ import annotations

import datetime as dt

from knowledge.documents import KnowledgeBase
from knowledge.documents.models import KnowledgeResults

__all__ = ["KnowledgeResults", "search_knowledge"]


def search_knowledge(
    question: str,
    payer: str | None = None,
    date_of_service: dt.date | None = None,
    *,
    knowledge_base: KnowledgeBase,
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
    return knowledge_base.search_results(question, payer=payer, on_date=date_of_service, limit=limit)
