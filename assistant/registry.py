"""The tools the agent may call: an explicit list of descriptors, not import-time discovery.

Everything else that needs to know about tools (the model's schemas, the offline router and planner, the
composer, the cards of the service, Slack and the web) derives from this list.
"""

from __future__ import annotations

from tools import (
    ar_aging,
    check_claim_codes,
    claim_status_request,
    denial_worklist,
    draft_appeal,
    explain_adjustment_codes,
    explain_denial,
    find_claims,
    get_claim,
    import_remittance,
    lookup_code,
    post_adjustment,
    post_patient_payment,
    search_codes,
    search_knowledge,
    timely_filing_risk,
    x12_exceptions,
)
from tools.descriptor import ToolDescriptor

#: The order is the order of the capability answer ("I can help with ...").
TOOL_MODULES = (
    explain_denial,
    draft_appeal,
    get_claim,
    find_claims,
    denial_worklist,
    timely_filing_risk,
    ar_aging,
    post_patient_payment,
    post_adjustment,
    lookup_code,
    search_codes,
    check_claim_codes,
    explain_adjustment_codes,
    search_knowledge,
    x12_exceptions,
    claim_status_request,
    import_remittance,
)


def default_tool_specs() -> list[ToolDescriptor]:
    """Every tool's descriptor, in a fresh list (callers may filter it)."""
    return [module.DESCRIPTOR for module in TOOL_MODULES]
