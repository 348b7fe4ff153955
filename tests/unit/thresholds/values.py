"""Typed threshold-billing inputs for the unit tests, built from the JSON a contract stores."""

from __future__ import annotations

from typing import Any

from tally.contracts.terms import model

_GATE = {"payment_gate_type": "NONE"}


def spend_cfg(**fields: Any) -> model.SpendThresholdConfiguration:
    """A spend threshold configuration: `fields` over an enabled one of 0 for product p."""
    base = {"commit": {"product_id": "p"}, "is_enabled": True, "payment_gate_config": _GATE}
    return model.parse({**base, "threshold_amount": 0, **fields}, model.SpendThresholdConfiguration)


def prepaid_cfg(**fields: Any) -> model.PrepaidBalanceThresholdConfiguration:
    """A prepaid-balance threshold configuration: `fields` over an enabled one of 0 for product p."""
    base = {"commit": {"product_id": "p"}, "is_enabled": True, "payment_gate_config": _GATE}
    doc = {**base, "threshold_amount": 0, "recharge_to_amount": 0, **fields}
    return model.parse(doc, model.PrepaidBalanceThresholdConfiguration)


def terms(**fields: Any) -> model.Terms:
    """A contract's terms with nothing but `fields`."""
    doc: dict[str, Any] = {
        "id": "c",
        "customer_id": "cu",
        "starting_at": "2025-01-01T00:00:00Z",
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        "multiplier_override_prioritization": "LOWEST_MULTIPLIER",
        **{k: [] for k in model.Terms.__struct_fields__ if k in _LISTS},
        **fields,
    }
    return model.parse(doc, model.Terms)


_LISTS = {
    "overrides",
    "scheduled_charges",
    "discounts",
    "subscriptions",
    "professional_services",
    "recurring_commits",
    "recurring_credits",
    "usage_filter",
    "transitions",
}
