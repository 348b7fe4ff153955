"""Every worked example in SPEC.md that concerns rating, as a table-driven test."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tally.invoices.wire import ledger_entry_type, rate_contract, scheduled_invoices
from tally.money import USD, RoundingMode, round_to
from tally.rating.adjustments.rollover import expiration_entry, roll_over
from tally.rating.from_wire import commit_from_wire, schedule_from_wire
from tally.rating.inputs import AnchorDay, Frequency, UsageStatementSchedule
from tally.rating.periods import billing_periods
from tally.rating.schedules import expand
from tests.support.lines import applied_line, assert_lines, subscription_line, tiered_line, usage_line

T0 = "2025-01-01T00:00:00Z"
MAR = {"starting_at": "2025-03-01T00:00:00Z", "ending_before": "2025-04-01T00:00:00Z"}
IN_MARCH = "2025-03-10T00:00:00Z"


def d(x: str) -> datetime:
    return datetime.fromisoformat(x.replace("Z", "+00:00"))


def flat(pid: str, price: str, **kw: Any) -> dict[str, Any]:
    return {"product_id": pid, "rate_type": "FLAT", "price": price, "starting_at": T0, **kw}


def rate(
    rates: list[dict[str, Any]],
    products: list[dict[str, Any]],
    usage: list[tuple[str, str]],
    contract: dict[str, Any] | None = None,
    period: dict[str, str] = MAR,
    **kw: Any,
) -> dict[str, Any]:
    base = {"id": "k", "customer_id": "c", "starting_at": "2025-03-01T00:00:00Z"}
    return rate_contract(
        {**base, **(contract or {})},
        rate_card={"id": "rc", "rates": rates},
        products=products,
        usage=[{"product_id": p, "timestamp": IN_MARCH, "quantity": q} for p, q in usage],
        period=period,
        **kw,
    )


def line_total(inv: dict[str, Any], prefix: str) -> str:
    return str(next(li["total"] for li in inv["line_items"] if li["key"].startswith(prefix)))


# §3.3 quantity conversion and rounding: 3,500 MB / 1024 -> 3.41796875 GB.
@pytest.mark.parametrize(
    ("rounding", "expected", "gb"),
    [
        ({"rounding_method": "ROUND_UP", "decimal_places": 0}, "100", "4"),  # 4 GB x 25 = 100
        ({"rounding_method": "ROUND_HALF_UP", "decimal_places": 2}, "85.5", "3.42"),  # 3.42 x 25 = 85.5
    ],
)
def test_spec_3_3_quantity_conversion(rounding: dict[str, Any], expected: str, gb: str) -> None:
    product = {
        "id": "gb",
        "name": "Storage",
        "quantity_conversion": {"conversion_factor": "1024", "operation": "DIVIDE"},
        "quantity_rounding": rounding,
    }
    # 85.5 cents is then rounded once on the line (HALF_UP) -> 86; the exact figure is checked unrounded.
    inv = rate([flat("gb", "25")], [product], [("gb", "3500")], line_rounding="HALF_EVEN")
    total = Decimal(line_total(inv, "usage:gb"))
    assert total == round_to(Decimal(expected), 0, RoundingMode.HALF_EVEN)
    # the line: the rounded GB at 25 a GB; 100 stays 100, 85.5 -> 86 (HALF_EVEN: 86 is even)
    assert_lines(inv, [usage_line("gb", "Storage", gb, "25", str(total))])


# §3.5 composite: 5% of compute+storage with a $500 minimum.
@pytest.mark.parametrize(("spend", "expected"), [("800000", "50000"), ("2000000", "100000")])
def test_spec_3_5_composite_minimum(spend: str, expected: str) -> None:
    """Lines: compute spend x 1; support 0.05 of that spend (basis as its quantity), at least 50,000:
    0.05 x 800,000 = 40,000 -> 50,000; 0.05 x 2,000,000 = 100,000."""
    products: list[dict[str, Any]] = [
        {"id": "compute", "name": "Compute"},
        {"id": "support", "name": "Support", "type": "COMPOSITE", "composite_product_ids": ["compute"]},
    ]
    rates: list[dict[str, Any]] = [
        flat("compute", "1"),
        {
            "product_id": "support",
            "rate_type": "PERCENTAGE",
            "price": "0.05",
            "minimum": "50000",
            "starting_at": T0,
        },
    ]
    inv = rate(rates, products, [("compute", spend)])
    assert line_total(inv, "usage:support") == expected
    assert_lines(
        inv,
        [
            usage_line("compute", "Compute", spend, "1", spend),
            usage_line("support", "Support", spend, "0.05", expected),
        ],
    )


# §4.3 tiered: 10,000 x 1 + 5,000 x 0.5 = 12,500 cents.
def test_spec_4_3_tiered() -> None:
    tiers = [{"size": "10000", "price": "1"}, {"price": "0.5"}]
    inv = rate(
        [{"product_id": "api", "rate_type": "TIERED", "tiers": tiers, "starting_at": T0}],
        [{"id": "api", "name": "API"}],
        [("api", "15000")],
    )
    assert inv["total"] == "12500"
    # tier 1 from 0: 10,000 x 1 = 10,000; tier 2 from 10,000: 5,000 x 0.5 = 2,500
    rows = [("0", "10000", "1", "10000"), ("10000", "5000", "0.5", "2500")]
    assert_lines(inv, [tiered_line("api", "API", "15000", rows, "12500")])


# §5.3 overrides: list FLAT 10, 8 units.
OVR = {"starting_at": T0, "product_id": "p"}


@pytest.mark.parametrize(
    ("prioritization", "overrides", "expected", "whole"),
    [
        (
            "LOWEST_MULTIPLIER",
            [
                {**OVR, "type": "MULTIPLIER", "multiplier": "0.9"},
                {**OVR, "type": "MULTIPLIER", "multiplier": "0.8"},
            ],
            "64",
            usage_line("p", "P", "8", "8", "64"),  # lowest multiplier 0.8: 10 x 0.8 = 8; 8 x 8 = 64
        ),
        (
            "LOWEST_MULTIPLIER",
            [
                {**OVR, "type": "MULTIPLIER", "multiplier": "0.9"},
                {**OVR, "type": "MULTIPLIER", "multiplier": "0.8"},
                {**OVR, "type": "OVERWRITE", "overwrite_rate": {"rate_type": "FLAT", "price": "7"}},
            ],
            "56",
            usage_line("p", "P", "8", "7", "56"),  # OVERWRITE wins: 8 x 7 = 56
        ),
        # 5 x 9 + 3 x 9.5 = 73.5 -> rounded once on the line
        (
            "EXPLICIT",
            [
                {**OVR, "type": "TIERED", "priority": "1", "tiers": [{"size": "5", "multiplier": "0.9"}]},
                {**OVR, "type": "MULTIPLIER", "priority": "2", "multiplier": "0.95"},
            ],
            "73.5",
            # 5 x (10 x 0.9) = 45; from 5: 3 x (10 x 0.95) = 28.5, shown HALF_UP as 29 (docs/rating.md)
            tiered_line("p", "P", "8", [("0", "5", "9", "45"), ("5", "3", "9.5", "29")], "74"),
        ),
    ],
)
def test_spec_5_3_overrides(
    prioritization: str, overrides: list[dict[str, Any]], expected: str, whole: dict[str, Any]
) -> None:
    contract = {"overrides": overrides, "multiplier_override_prioritization": prioritization}
    inv = rate([flat("p", "10")], [{"id": "p", "name": "P"}], [("p", "8")], contract)
    line = next(li for li in inv["line_items"] if li["key"].startswith("usage:p"))
    assert Decimal(line["total"]) == round_to(Decimal(expected), 0, RoundingMode.HALF_UP)
    assert_lines(inv, [whole])


# §5.4 amount_distribution: 1,000,000 cents over 3 occurrences.
@pytest.mark.parametrize(
    ("distribution", "expected"),
    [
        ("DIVIDED_ROUNDED", ["333333", "333333", "333334"]),
        ("EACH", ["1000000", "1000000", "1000000"]),
    ],
)
def test_spec_5_4_amount_distribution(distribution: str, expected: list[str]) -> None:
    sched = schedule_from_wire(
        {
            "recurring_schedule": {
                "starting_at": T0,
                "ending_before": "2025-04-01T00:00:00Z",
                "frequency": "MONTHLY",
                "amount_distribution": distribution,
                "amount": "1000000",
            }
        }
    )
    assert sched is not None
    assert [str(i.amount) for i in expand(sched, "c", USD)] == expected


def test_spec_5_4_divided_keeps_fractions() -> None:
    sched = schedule_from_wire(
        {
            "recurring_schedule": {
                "starting_at": T0,
                "ending_before": "2025-04-01T00:00:00Z",
                "frequency": "MONTHLY",
                "amount_distribution": "DIVIDED",
                "amount": "1000000",
            }
        }
    )
    assert sched is not None
    items = expand(sched, "c", USD)
    assert all(str(i.amount).startswith("333333.333") for i in items)


# §5.7 proration: $10/month from 2024-01-15 -> 17/31 of 1000 = 548.387 -> HALF_UP 0 dp = 548.
# In advance (issue 12, Metronome "Set up seat-based billing": charged at the beginning of the billing
# period): the first, partial period is on the SCHEDULED invoice issued at the start (2024-01-15); the
# usage invoice [01-15, 02-01), issued 02-01, carries February in advance: 1 x 1000.
def test_spec_5_7_proration_example() -> None:
    sub = {
        "id": "s",
        "subscription_rate": {"product_id": "seat", "billing_frequency": "MONTHLY"},
        "collection_schedule": "ADVANCE",
        "initial_quantity": "1",
        "starting_at": "2024-01-15T00:00:00Z",
        "proration": {"is_prorated": True, "rounding": {"decimal_places": 0, "rounding_method": "HALF_UP"}},
    }
    inv = rate(
        [
            {
                "product_id": "seat",
                "rate_type": "FLAT",
                "price": "1000",
                "billing_frequency": "MONTHLY",
                "starting_at": "2024-01-01T00:00:00Z",
            }
        ],
        [{"id": "seat", "name": "Seat", "type": "SUBSCRIPTION"}],
        [],
        {"starting_at": "2024-01-15T00:00:00Z", "subscriptions": [sub]},
        period={"starting_at": "2024-01-15T00:00:00Z", "ending_before": "2024-02-01T00:00:00Z"},
    )
    assert inv["total"] == "1000"
    assert line_total(inv, "subscription:s@2024-02-01") == "1000"
    feb = {"starting_at": "2024-02-01T00:00:00Z", "ending_before": "2024-03-01T00:00:00Z"}
    assert_lines(inv, [subscription_line("s", "seat", "Seat", "1", "1000", "1000", False, **feb)])  # 1 x 1000
    first = scheduled_invoices(
        {"id": "k", "customer_id": "c", "starting_at": "2024-01-15T00:00:00Z", "subscriptions": [sub]},
        rate_card={
            "id": "rc",
            "rates": [
                {
                    "product_id": "seat",
                    "rate_type": "FLAT",
                    "price": "1000",
                    "billing_frequency": "MONTHLY",
                    "starting_at": "2024-01-01T00:00:00Z",
                }
            ],
        },
        products=[{"id": "seat", "name": "Seat", "type": "SUBSCRIPTION"}],
        window={"starting_at": "2024-01-15T00:00:00Z", "ending_before": "2024-02-01T00:00:00Z"},
    )
    assert [(i["start_timestamp"], i["total"]) for i in first] == [("2024-01-15T00:00:00Z", "548")]
    jan = {"starting_at": "2024-01-15T00:00:00Z", "ending_before": "2024-02-01T00:00:00Z"}
    # 1 x 1000 x 17/31 = 548.39 -> 548
    assert_lines(first[0], [subscription_line("s", "seat", "Seat", "1", "1000", "548", True, **jan)])


# §5.8 seats: $30/seat/month ADVANCE, 10 seats; 04-16 -> 15 with BILL_IMMEDIATELY, prorated.
def test_spec_5_8_subscription_increase() -> None:
    sub = {
        "id": "s",
        "subscription_rate": {"product_id": "seat", "billing_frequency": "MONTHLY"},
        "collection_schedule": "ADVANCE",
        "initial_quantity": "10",
        "quantity_updates": [{"starting_at": "2025-04-16T00:00:00Z", "quantity": "15"}],
    }
    args: tuple[Any, Any, Any, Any] = (
        [
            {
                "product_id": "seat",
                "rate_type": "FLAT",
                "price": "3000",
                "billing_frequency": "MONTHLY",
                "starting_at": T0,
            }
        ],
        [{"id": "seat", "name": "Seat", "type": "SUBSCRIPTION"}],
        [],
        {"starting_at": "2025-04-01T00:00:00Z", "subscriptions": [sub]},
    )
    # Issue 12 (Metronome "Set up seat-based billing"): April in advance, 10 x 3000 = 30,000, on the
    # SCHEDULED invoice issued 04-01 (the contract's start); the increase, 5 x 3000 x 15/30 = 7,500, on a new
    # SCHEDULED invoice issued 04-16; May in advance, 15 x 3000 = 45,000, on April's usage invoice
    # (issued 05-01).
    sched = scheduled_invoices(
        {"id": "k", "customer_id": "c", **args[3]},
        rate_card={"id": "rc", "rates": args[0]},
        products=args[1],
        window={"starting_at": "2025-04-01T00:00:00Z", "ending_before": "2025-05-01T00:00:00Z"},
    )
    assert [(i["start_timestamp"], i["total"]) for i in sched] == [
        ("2025-04-01T00:00:00Z", "30000"),
        ("2025-04-16T00:00:00Z", "7500"),
    ]
    april = rate(
        *args, period={"starting_at": "2025-04-01T00:00:00Z", "ending_before": "2025-05-01T00:00:00Z"}
    )
    assert april["total"] == "45000"
    assert line_total(april, "subscription:s@2025-05-01") == "45000"
    apr1, apr16, may1 = "2025-04-01T00:00:00Z", "2025-04-16T00:00:00Z", "2025-05-01T00:00:00Z"
    seat = ("s", "seat", "Seat")
    # 10 x 3000 = 30,000 for [04-01, 05-01)
    assert_lines(
        sched[0],
        [subscription_line(*seat, "10", "3000", "30000", False, starting_at=apr1, ending_before=may1)],
    )
    # the increase: 5 x 3000 x 15/30 = 7,500 for [04-16, 05-01)
    assert_lines(
        sched[1],
        [subscription_line(*seat, "5", "3000", "7500", True, starting_at=apr16, ending_before=may1)],
    )
    # May in advance: 15 x 3000 = 45,000 for [05-01, 06-01)
    june1 = "2025-06-01T00:00:00Z"
    assert_lines(
        april,
        [subscription_line(*seat, "15", "3000", "45000", False, starting_at=may1, ending_before=june1)],
    )


# §5.9 periods: start 2024-09-15.
@pytest.mark.parametrize(
    ("day", "anchor", "ends"),
    [
        ("CUSTOM_DATE", "2024-09-10", ["2024-10-10", "2024-11-10"]),
        ("FIRST_OF_MONTH", None, ["2024-10-01", "2024-11-01"]),
        ("CONTRACT_START", None, ["2024-10-15", "2024-11-15"]),
    ],
)
def test_spec_5_9_periods(day: str, anchor: str | None, ends: list[str]) -> None:
    schedule = UsageStatementSchedule(
        Frequency.MONTHLY, AnchorDay(day), d(anchor + "T00:00:00Z") if anchor else None
    )
    periods = list(
        billing_periods(schedule, d("2024-09-15T00:00:00Z"), None, until=d(ends[-1] + "T00:00:00Z"))
    )
    assert periods[0].starting_at == d("2024-09-15T00:00:00Z")
    assert [p.ending_before.date().isoformat() for p in periods] == ends


# §5.13 rollover: 200,000 left, fraction 0.5 -> new commit 100,000; -100,000 rollover, -100,000 expiration.
def test_spec_5_13_rollover() -> None:
    commit = commit_from_wire(
        {
            "id": "P",
            "type": "PREPAID",
            "rollover_fraction": "0.5",
            "access_schedule": {
                "schedule_items": [
                    {
                        "amount": "500000",
                        "consumed": "300000",
                        "starting_at": T0,
                        "ending_before": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        }
    )
    result = roll_over(
        commit,
        at=d("2025-12-01T00:00:00Z"),
        new_commit_id="P2",
        access_ending_before=d("2026-12-01T00:00:00Z"),
    )
    assert result.new_commit is not None
    assert result.new_commit.access_schedule[0].amount == Decimal(100000)
    assert result.new_commit.is_rollover
    assert [(ledger_entry_type(e), e.amount) for e in result.ledger_entries] == [
        ("PREPAID_COMMIT_ROLLOVER", Decimal(-100000)),
        ("PREPAID_COMMIT_EXPIRATION", Decimal(-100000)),
    ]


# §6.6 worked invoice: 139,125 charges - 70,000 balances = 69,125.
def test_spec_6_6_worked_invoice() -> None:
    seg = {"starting_at": T0, "ending_before": "2025-04-01T00:00:00Z"}
    contract = {
        "credits": [
            {
                "id": "CR1",
                "priority": "1",
                "access_schedule": {"schedule_items": [{"amount": "10000", **seg}]},
            }
        ],
        "commits": [
            {
                "id": "P1",
                "type": "PREPAID",
                "priority": "1",
                "applicable_product_tags": ["compute"],
                "invoice_schedule": {"schedule_items": [{"timestamp": T0, "amount": "60000"}]},
                "access_schedule": {"schedule_items": [{"amount": "60000", **seg}]},
            }
        ],
    }
    rates: list[dict[str, Any]] = [
        flat("compute", "10"),
        {
            "product_id": "storage",
            "rate_type": "TIERED",
            "starting_at": T0,
            "tiers": [{"size": "10000", "price": "1"}, {"price": "0.5"}],
        },
        {"product_id": "support", "rate_type": "PERCENTAGE", "price": "0.05", "starting_at": T0},
    ]
    products: list[dict[str, Any]] = [
        {"id": "compute", "name": "Compute", "tags": ["compute"]},
        {"id": "storage", "name": "Storage"},
        {
            "id": "support",
            "name": "Support",
            "type": "COMPOSITE",
            "composite_product_ids": ["compute", "storage"],
        },
    ]
    inv = rate(rates, products, [("compute", "12000"), ("storage", "15000")], contract)
    assert inv["subtotal"] == "139125"
    assert inv["total"] == "69125"
    assert_lines(
        inv,
        [
            usage_line("compute", "Compute", "12000", "10", "120000"),  # 12,000 x 10
            # 10,000 x 1 + 5,000 x 0.5 = 12,500
            tiered_line(
                "storage",
                "Storage",
                "15000",
                [("0", "10000", "1", "10000"), ("10000", "5000", "0.5", "2500")],
                "12500",
            ),
            usage_line("support", "Support", "132500", "0.05", "6625"),  # 0.05 x (120,000 + 12,500)
            applied_line("CR1", "CREDIT", "-10000"),  # free, same priority: first, all of its 10,000
            applied_line("P1", "PREPAID", "-60000"),  # compute only: all of its 60,000
        ],
    )
    assert [(e["type"], e["amount"], e["timestamp"]) for e in inv["ledger_entries"]] == [
        ("CREDIT_AUTOMATED_INVOICE_DEDUCTION", "-10000", "2025-04-01T00:00:00Z"),
        ("PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", "-60000", "2025-04-01T00:00:00Z"),
    ]


# §6.6 postpaid: 1,000,000 commitment, 62,500 a month; 12 months -> 750,000 consumed, true-up 250,000.
def test_spec_6_6_postpaid_trueup() -> None:
    commit = {
        "id": "PP",
        "type": "POSTPAID",
        "access_schedule": {
            "schedule_items": [
                {"amount": "1000000", "starting_at": T0, "ending_before": "2026-01-01T00:00:00Z"}
            ]
        },
        "invoice_schedule": {"schedule_items": [{"timestamp": "2026-01-01T00:00:00Z", "amount": "1000000"}]},
    }
    consumed = Decimal(0)
    for month in range(1, 13):
        start = f"2025-{month:02d}-01T00:00:00Z"
        end = f"2025-{month + 1:02d}-01T00:00:00Z" if month < 12 else "2026-01-01T00:00:00Z"
        commit["access_schedule"]["schedule_items"][0]["consumed"] = str(consumed)  # type: ignore[index]
        inv = rate_contract(
            {"id": "k", "customer_id": "c", "starting_at": T0, "commits": [commit]},
            rate_card={"rates": [flat("p", "1")]},
            products=[{"id": "p", "name": "P"}],
            usage=[{"product_id": "p", "timestamp": start, "quantity": "62500"}],
            period={"starting_at": start, "ending_before": end},
        )
        applied = line_total(inv, "applied:PP")
        assert applied == "-62500"
        # 62,500 x 1, absorbed whole by the postpaid commit; in December the shortfall
        # 1,000,000 - 12 x 62,500 = 250,000 is billed once (quantity 1 at 250,000)
        trueup: dict[str, Any] = {
            "type": "postpaid_trueup",
            "name": "Postpaid commit true-up",
            "quantity": "1",
        }
        trueup |= {"unit_price": "250000", "total": "250000", "postpaid_commit": {"id": "PP"}}
        assert_lines(
            inv,
            [usage_line("p", "P", "62500", "1", "62500"), applied_line("PP", "POSTPAID", "-62500")]
            + ([trueup] if month == 12 else []),
        )
        consumed += 62500
        if month < 12:
            assert inv["total"] == "62500"  # postpaid application not subtracted
        else:
            assert line_total(inv, "trueup:PP") == "250000"
            assert inv["total"] == "312500"
            assert inv["ledger_entries"][-1]["type"] == "POSTPAID_COMMIT_TRUEUP"


# §6.7 CPU: 1,000 calls x 10 tokens = 10,000 tokens; commit covers 6,500; 3,500 x 2 cents = 7,000.
def test_spec_6_7_custom_pricing_unit() -> None:
    tok = "tokens-id"
    contract = {
        "commits": [
            {
                "id": "T",
                "type": "PREPAID",
                "access_schedule": {
                    "credit_type_id": tok,
                    "schedule_items": [
                        {"amount": "6500", "starting_at": T0, "ending_before": "2025-04-01T00:00:00Z"}
                    ],
                },
            }
        ]
    }
    inv = rate_contract(
        {"id": "k", "customer_id": "c", "starting_at": "2025-03-01T00:00:00Z", **contract},
        rate_card={
            "rates": [flat("calls", "10", credit_type_id=tok)],
            "credit_type_conversions": [{"custom_credit_type_id": tok, "fiat_per_custom_credit": "2"}],
        },
        products=[{"id": "calls", "name": "Calls"}],
        credit_types=[{"id": tok, "name": "tokens", "decimal_places": 2}],
        usage=[{"product_id": "calls", "timestamp": IN_MARCH, "quantity": "1000"}],
        period=MAR,
    )
    assert line_total(inv, "usage:calls") == "10000"
    assert line_total(inv, "applied:T") == "-6500"
    assert line_total(inv, "cpu_conversion") == "7000"
    assert inv["total"] == "7000"
    usd = USD.id
    assert_lines(
        inv,
        [
            usage_line("calls", "Calls", "1000", "10", "10000", credit_type_id=tok),  # 1,000 x 10 tokens
            # the 3,500 tokens left x 2 cents = 7,000 cents
            {"type": "cpu_conversion", "name": "tokens conversion", "quantity": "3500", "unit_price": "2"}
            | {"total": "7000", "credit_type_id": usd},
            # charge lines first, then deductions: all of the 6,500-token commit
            applied_line("T", "PREPAID", "-6500", credit_type_id=tok),
        ],
    )


# §7.1 doc example: $100 credit, $63 used in September -> expiration -37 at 10/1.
def test_spec_7_1_credit_ledger() -> None:
    credit = commit_from_wire(
        {
            "id": "C",
            "access_schedule": {
                "schedule_items": [
                    {
                        "amount": "10000",
                        "starting_at": "2024-09-01T00:00:00Z",
                        "ending_before": "2024-10-01T00:00:00Z",
                    }
                ]
            },
        },
        "CREDIT",
    )
    inv = rate_contract(
        {
            "id": "k",
            "customer_id": "c",
            "starting_at": "2024-09-01T00:00:00Z",
            "credits": [
                {
                    "id": "C",
                    "access_schedule": {
                        "schedule_items": [
                            {
                                "amount": "10000",
                                "starting_at": "2024-09-01T00:00:00Z",
                                "ending_before": "2024-10-01T00:00:00Z",
                            }
                        ]
                    },
                }
            ],
        },
        rate_card={"rates": [flat("p", "1", starting_at="2024-01-01T00:00:00Z")]},
        products=[{"id": "p", "name": "P"}],
        usage=[{"product_id": "p", "timestamp": "2024-09-05T00:00:00Z", "quantity": "6300"}],
        period={"starting_at": "2024-09-01T00:00:00Z", "ending_before": "2024-10-01T00:00:00Z"},
    )
    assert inv["ledger_entries"][0]["amount"] == "-6300"
    assert_lines(
        inv, [usage_line("p", "P", "6300", "1", "6300"), applied_line("C", "CREDIT", "-6300")]
    )  # $63
    assert inv["ledger_entries"][0]["timestamp"] == "2024-10-01T00:00:00Z"
    seg = credit.access_schedule[0]
    after = type(seg)(seg.id, seg.amount, seg.starting_at, seg.ending_before, Decimal(6300))
    entry = expiration_entry(credit, after)
    assert entry is not None
    assert (ledger_entry_type(entry), entry.amount, entry.timestamp) == (
        "CREDIT_EXPIRATION",
        Decimal(-3700),
        datetime(2024, 10, 1, tzinfo=UTC),
    )


# §1.8/§4.x the brief's wire example: 2 cents/unit x 600 units = 1200.
def test_wire_cents_example() -> None:
    inv = rate([flat("api", "2")], [{"id": "api", "name": "API"}], [("api", "600")])
    assert inv["total"] == "1200"
    assert_lines(inv, [usage_line("api", "API", "600", "2", "1200")])
