"""What tally does with every request field it accepts: no Metronome field is silently ignored.

Every request body is a `kit.api.Req` model that forbids unknown fields, so the fields a route accepts are
exactly its model's fields, walked here recursively. Each one is one of:

- **read**: the code refers to it by name beyond its declaration, so it takes part in what tally does
  (tests/unit/test_request_fields.py checks this for every field not listed below);
- **echo-only**: stored and returned as given, with no effect on billing, listed in `ECHO_ONLY` with the
  reason, and published in docs/compatibility.md;
- **refused**: tally answers 400 naming it (the value, or the parent object listed in `REFUSED_WITH`).

A new field that is none of these fails the test: it must be built, refused, or documented as echo-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from fastapi.routing import APIRoute
from pydantic import BaseModel, RootModel

from tally.server.openapi import body_model
from tally.server.routes import ROUTERS

_HIERARCHY = "parent/child contract hierarchies are not built: stored on the contract and echoed"
_PAYMENT_GATE = (
    "payment-gated commits are not built: the configuration is stored on the commit and echoed, and the"
    " commit is granted at once"
)
_RESELLER = "reseller royalties are stored on the contract and echoed; tally computes no royalty"
_REVENUE_SYSTEM = "revenue-system delivery (e.g. NetSuite) is not built: stored and echoed"
_AWS_CUSTOMER = (
    "AWS Marketplace delivery is not built: kept in the customer's billing-provider configuration and listed"
    " by getCustomerBillingProviderConfigurations"
)

# "Model.field" -> why the field is stored and echoed with no effect on billing.
ECHO_ONLY: dict[str, str] = {
    "BillingConfig.aws_customer_account_id": _AWS_CUSTOMER,
    "BillingConfig.aws_customer_id": _AWS_CUSTOMER,
    "BillingConfig.aws_is_subscription_product": _AWS_CUSTOMER,
    "BillingConfig.aws_product_code": _AWS_CUSTOMER,
    "BillingConfig.aws_region": _AWS_CUSTOMER,
    "ResellerRoyalty.aws_options": _RESELLER,
    "ResellerRoyalty.gcp_options": _RESELLER,
    "ResellerRoyalty.netsuite_reseller_id": _RESELLER,
    "ResellerRoyalty.reseller_contract_value": _RESELLER,
    "ResellerRoyalty.reseller_type": _RESELLER,
    "AmendResellerRoyalty.aws_options": _RESELLER,
    "AmendResellerRoyalty.gcp_options": _RESELLER,
    "AmendResellerRoyalty.netsuite_reseller_id": _RESELLER,
    "AmendResellerRoyalty.reseller_contract_value": _RESELLER,
    "AmendResellerRoyalty.reseller_type": _RESELLER,
    "ResellerRoyaltyAwsOptions.aws_account_number": _RESELLER,
    "ResellerRoyaltyAwsOptions.aws_offer_id": _RESELLER,
    "ResellerRoyaltyAwsOptions.aws_payer_reference_id": _RESELLER,
    "ResellerRoyaltyGcpOptions.gcp_account_id": _RESELLER,
    "ResellerRoyaltyGcpOptions.gcp_offer_id": _RESELLER,
    "CommitHierarchyConfiguration.child_access": _HIERARCHY,
    "ChildAccessCommitHierarchyChildAccessContractIDs.contract_ids": _HIERARCHY,
    "HierarchyConfiguration.parent_behavior": _HIERARCHY,
    "HierarchyConfigurationParentBehavior.invoice_consolidation_type": _HIERARCHY,
    "AddCommit.payment_gate_config": _PAYMENT_GATE,
    "PrepaidBalanceThresholdConfiguration.payment_gate_config": _PAYMENT_GATE,
    "SpendThresholdConfiguration.payment_gate_config": _PAYMENT_GATE,
    "UpdatePrepaidBalanceThresholdConfiguration.payment_gate_config": _PAYMENT_GATE,
    "UpdateSpendThresholdConfiguration.payment_gate_config": _PAYMENT_GATE,
    "AddCommitPaymentGateConfig.payment_gate_type": _PAYMENT_GATE,
    "AddCommitPaymentGateConfig.precalculated_tax_config": _PAYMENT_GATE,
    "AddCommitPaymentGateConfig.stripe_config": _PAYMENT_GATE,
    "AddCommitPaymentGateConfig.tax_type": _PAYMENT_GATE,
    "PaymentGateConfig.payment_gate_type": _PAYMENT_GATE,
    "PaymentGateConfig.precalculated_tax_config": _PAYMENT_GATE,
    "PaymentGateConfig.stripe_config": _PAYMENT_GATE,
    "PaymentGateConfig.tax_type": _PAYMENT_GATE,
    "AddCommitPaymentGateConfigStripeConfig.invoice_metadata": _PAYMENT_GATE,
    "AddCommitPaymentGateConfigStripeConfig.on_session_payment": _PAYMENT_GATE,
    "AddCommitPaymentGateConfigStripeConfig.payment_type": _PAYMENT_GATE,
    "StripeConfig.invoice_metadata": _PAYMENT_GATE,
    "StripeConfig.payment_type": _PAYMENT_GATE,
    "PrecalculatedTaxConfig.tax_amount": _PAYMENT_GATE,
    "PrecalculatedTaxConfig.tax_name": _PAYMENT_GATE,
    "RevenueSystemConfiguration.provider": _REVENUE_SYSTEM,
    "RevenueSystemConfiguration.revenue_system_configuration_id": _REVENUE_SYSTEM,
    "AddRevenueSystemConfigurationUpdateRevenueSystemConfiguration.provider": _REVENUE_SYSTEM,
    "AddRevenueSystemConfigurationUpdateRevenueSystemConfiguration.revenue_system_configuration_id": (
        _REVENUE_SYSTEM
    ),
    "SpendTracker.reset_frequency": "BILLING_PERIOD is the only value, and how tally's spend trackers reset",
    "RecurringCommitSubscriptionConfig.apply_seat_increase_config": (
        "seat-linked recurring commits are granted per period from the subscription's quantity; the"
        " proration setting for mid-period seat increases is stored and echoed, not applied"
    ),
}

# "Model.field" -> the field whose presence is refused with a 400 naming it (the field itself or a parent).
REFUSED_WITH: dict[str, str] = {
    "SeatFilter.seat_group_value": "seat_filter",
    "GetSeatFilter.seat_group_value": "seat_filter",
}


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def accepted_fields() -> dict[str, list[str]]:
    """Every accepted request field, as "Model.field" -> the routes ("POST /path") that accept it."""
    out: dict[str, list[str]] = {}

    def walk(model: type[BaseModel], route: str, seen: set[type[BaseModel]]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, f in model.model_fields.items():
            if not issubclass(model, RootModel):
                routes = out.setdefault(f"{model.__name__}.{f.alias or name}", [])
                if route not in routes:
                    routes.append(route)
            for sub in _models_in(f.annotation):
                walk(sub, route, seen)

    for router in ROUTERS:
        for r in router.routes:
            if isinstance(r, APIRoute):
                model = body_model(r)
                if model is not None:
                    walk(model, f"{sorted(r.methods or ())[0]} {r.path}", set())
    return out
