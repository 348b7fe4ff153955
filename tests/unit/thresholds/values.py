"""Typed threshold-billing inputs for the unit tests, built from the JSON a contract stores."""

from __future__ import annotations

from typing import Any, get_origin

import msgspec

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
    """A contract's terms with nothing but `fields` (every list it requires empty)."""
    fields_ = msgspec.structs.fields(model.Terms)
    lists = {f.name: [] for f in fields_ if f.required and get_origin(f.type) is tuple}
    doc: dict[str, Any] = {
        "id": "c",
        "customer_id": "cu",
        "starting_at": "2025-01-01T00:00:00Z",
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        "multiplier_override_prioritization": "LOWEST_MULTIPLIER",
        **lists,
        **fields,
    }
    return model.parse(doc, model.Terms)
