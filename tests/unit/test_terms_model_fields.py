"""Every field a contract request may carry has a home in the typed terms (contracts/terms/model.py).

The typed values refuse an unknown stored key (so a value never silently drops part of its document); a
request field that `terms.normalize` stores but the model lacks would therefore make every contract that
uses it unreadable. This test pairs each request schema with the value its pieces are stored as, and
lists the fields that are deliberately not stored in the terms, with where they go instead.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tally.contracts import schemas_create as create
from tally.contracts.edits import schemas as edits
from tally.contracts.terms import model
from tally.contracts.terms import schemas as terms

# Fields that never reach the stored terms document, and why.
NOT_STORED = {
    "custom_fields": "written to the custom-field values table (custom_fields/), not the document",
    "amount": "a commit's `amount` becomes its access schedule (terms.normalize)",
    "commits": "commits are balance rows of their own (contract_balances), each with its document",
    "credits": "credits are balance rows of their own (contract_balances), each with its document",
    "transition": "stored as one of the terms' `transitions` (model.Transition, contracts.service)",
    "uniqueness_key": "reserved in the uniqueness keys table and kept on the contract row",
    "package_alias": "a create from a package (contracts/packages) resolves it; not in the terms",
    "rate_card_alias": "resolved to rate_card_id at create",
}

PAIRS: list[tuple[type[BaseModel], type]] = [
    (create.CreateContract, model.Terms),
    (create.Commit, model.Balance),
    (edits.AddCommit, model.Balance),
    (terms.Credit, model.Balance),
    (create.CreateCustomerCommit, model.Balance),
    (create.CreateCustomerCredit, model.Balance),
    (terms.Override, model.Override),
    (terms.RecurringCommit, model.Recurring),
    (terms.RecurringCredit, model.Recurring),
    (terms.ProfessionalService, model.ProfessionalService),
    (terms.Subscription, model.Subscription),
    (create.UsageStatementSchedule, model.UsageStatementSchedule),
    (create.Transition, model.Transition),
    (create.Discount, model.ScheduledCharge),
    # threshold billing: the two configurations (as created, and as a v2 edit merges an update into
    # them), their parts, and the spend trackers
    (terms.SpendThresholdConfiguration, model.SpendThresholdConfiguration),
    (edits.UpdateSpendThresholdConfiguration, model.SpendThresholdConfiguration),
    (terms.BaseThresholdCommit, model.ThresholdCommit),
    (edits.UpdateBaseThresholdCommit, model.ThresholdCommit),
    (terms.PrepaidBalanceThresholdConfiguration, model.PrepaidBalanceThresholdConfiguration),
    (edits.UpdatePrepaidBalanceThresholdConfiguration, model.PrepaidBalanceThresholdConfiguration),
    (terms.CreateCommit, model.RechargeCommit),
    (edits.UpdatePrepaidBalanceThresholdConfigurationCommit, model.RechargeCommit),
    (terms.CommitDuration, model.CommitDuration),
    (terms.CommitSpecifierInput, model.Specifier),
    (terms.DiscountConfiguration, model.DiscountConfiguration),
    (edits.UpdatePrepaidBalanceThresholdConfigurationDiscountConfiguration, model.DiscountConfiguration),
    (terms.DiscountConfigurationCap, model.DiscountCap),
    (terms.PaymentGateConfig, model.PaymentGateConfig),
    (terms.PrecalculatedTaxConfig, model.PrecalculatedTaxConfig),
    (terms.StripeConfig, model.StripeConfig),
    (terms.ThresholdBalanceSpecifier, model.ThresholdBalanceSpecifier),
    (terms.ThresholdBalanceSpecifierExclude, model.BalanceExclusion),
    (terms.ThresholdBalanceSpecifierExcludeCustomFieldFilter, model.CustomFieldFilter),
    (terms.SpendTracker, model.SpendTracker),
    (terms.SpendTrackerApplicableSpendSpecifier, model.SpendSpecifier),
    (terms.CommitSpendTrackerAttributes, model.SpendTrackerAttributes),
]


@pytest.mark.parametrize(
    ("request_model", "value"), PAIRS, ids=[f"{r.__name__}->{v.__name__}" for r, v in PAIRS]
)
def test_every_stored_request_field_is_a_field_of_its_typed_value(
    request_model: type[BaseModel], value: type
) -> None:
    fields = set(value.__struct_fields__)  # type: ignore[attr-defined]
    missing = sorted(set(request_model.model_fields) - fields - set(NOT_STORED))
    assert not missing, f"{request_model.__name__} fields with no home in model.{value.__name__}: {missing}"
