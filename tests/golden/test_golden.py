"""Run every golden scenario through the library entry point and compare with the hand-computed figures."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tally.invoices.wire import rate_contract
from tests.golden.scenarios import MAR, SCENARIOS
from tests.support.lines import assert_lines


def run(s: dict[str, Any]) -> dict[str, Any]:
    contract = {"id": "k", "customer_id": "c", "starting_at": "2025-03-01T00:00:00Z", **s.get("contract", {})}
    return rate_contract(
        contract,
        rate_card={"id": "rc", "rates": s["rates"], **s.get("rate_card", {})},
        products=s["products"],
        usage=s["usage"],
        period=s.get("period", MAR),
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_golden(scenario: dict[str, Any]) -> None:
    invoice = run(scenario)
    json.dumps(invoice)  # plain JSON values only
    expect = scenario["expect"]
    assert invoice["total"] == expect["total"], invoice
    if "subtotal" in expect:
        assert invoice["subtotal"] == expect["subtotal"]
    if "end" in expect:
        assert invoice["end_timestamp"] == expect["end"]
    for prefix, total in expect.get("lines", {}).items():
        matching = [li for li in invoice["line_items"] if li["key"].startswith(prefix)]
        assert len(matching) == 1, (prefix, [li["key"] for li in invoice["line_items"]])
        assert matching[0]["total"] == total, matching[0]
    counted = [
        li
        for li in invoice["line_items"]
        if li["credit_type_id"] == invoice["credit_type"]["id"]
        and li.get("applied_commit_or_credit", {}).get("type") != "POSTPAID"
    ]
    assert sum(Decimal(li["total"]) for li in counted) == Decimal(invoice["total"])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_golden_lines(scenario: dict[str, Any]) -> None:
    """Every line of the invoice, whole: product, quantity, unit price or tiers, amount, group values, and the
    balance each deduction draws on."""
    assert_lines(run(scenario), scenario["line_items"])


def test_at_least_25_scenarios() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_stable_line_keys(scenario: dict[str, Any]) -> None:
    """A recomputed draft matches the previous one line for line (keys unique and identical)."""
    first, second = run(scenario), run(scenario)
    keys = [li["key"] for li in first["line_items"]]
    assert len(keys) == len(set(keys))
    assert first == second
