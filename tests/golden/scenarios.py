"""Golden scenarios: a contract + usage in, invoice JSON out, each computed by hand from SPEC.

Amounts are USD cents unless a scenario says otherwise. ``expect`` lists the invoice total, subtotal
and the totals of lines by key prefix; the arithmetic is in the comment above each scenario.
``line_items`` is every line of the invoice, in order (tests/support/lines.py), with its arithmetic beside
it.
"""

from __future__ import annotations

from typing import Any

from tests.support.lines import applied_line, tiered_line, usage_line

T0 = "2025-01-01T00:00:00Z"
MAR = {"starting_at": "2025-03-01T00:00:00Z", "ending_before": "2025-04-01T00:00:00Z"}
APR1 = "2025-04-01T00:00:00Z"
SEG = {"starting_at": T0, "ending_before": APR1}
MAR1, MAR8, MAR11, MAR16 = (f"2025-03-{day}T00:00:00Z" for day in ("01", "08", "11", "16"))


def flat(pid: str, price: str, **kw: Any) -> dict[str, Any]:
    return {"product_id": pid, "rate_type": "FLAT", "price": price, "starting_at": T0, **kw}


def tiered(pid: str, tiers: list[tuple[str | None, str]], **kw: Any) -> dict[str, Any]:
    return {
        "product_id": pid,
        "rate_type": "TIERED",
        "starting_at": T0,
        "tiers": [{"price": p, **({"size": s} if s else {})} for s, p in tiers],
        **kw,
    }


def use(pid: str, q: str, at: str = "2025-03-10T05:00:00Z", **gv: str) -> dict[str, Any]:
    return {"product_id": pid, "timestamp": at, "quantity": q, "group_values": gv}


def credit(cid: str, amount: str, **kw: Any) -> dict[str, Any]:
    seg = {"amount": amount, **SEG, **kw.pop("seg", {})}
    return {"id": cid, "access_schedule": {"schedule_items": [seg]}, **kw}


def prepaid(cid: str, amount: str, paid: str | None = None, **kw: Any) -> dict[str, Any]:
    c = credit(cid, amount, **kw)
    c["type"] = "PREPAID"
    if paid is not None:
        c["invoice_schedule"] = {"schedule_items": [{"timestamp": T0, "amount": paid}]}
    return c


P = {"id": "p", "name": "Product P"}
Q = {"id": "q", "name": "Product Q", "tags": ["compute"]}

SCENARIOS: list[dict[str, Any]] = [
    # 1. FLAT: 600 units x 2 cents = 1,200.
    {
        "name": "flat",
        "rates": [flat("p", "2")],
        "products": [P],
        "usage": [use("p", "600")],
        "line_items": [usage_line("p", "Product P", "600", "2", "1200")],  # 600 x 2 = 1,200
        "expect": {"total": "1200", "lines": {"usage:p": "1200"}},
    },
    # 2. TIERED graduated: 10,000 x 1 + 5,000 x 0.5 = 12,500.
    {
        "name": "tiered",
        "rates": [tiered("p", [("10000", "1"), (None, "0.5")])],
        "products": [P],
        "usage": [use("p", "15000")],
        "line_items": [
            # 10,000 x 1 = 10,000 (tier 1) + 5,000 x 0.5 = 2,500 (tier 2 from 10,000) = 12,500
            tiered_line(
                "p",
                "Product P",
                "15000",
                [("0", "10000", "1", "10000"), ("10000", "5000", "0.5", "2500")],
                "12500",
            )
        ],
        "expect": {"total": "12500"},
    },
    # 3. TIERED exactly on a boundary: 10,000 units all in tier 1 = 10,000.
    {
        "name": "tier_boundary",
        "rates": [tiered("p", [("10000", "1"), (None, "0.5")])],
        "products": [P],
        "usage": [use("p", "10000")],
        "line_items": [
            tiered_line(
                "p", "Product P", "10000", [("0", "10000", "1", "10000")], "10000"
            )  # tier 2 never reached
        ],
        "expect": {"total": "10000"},
    },
    # 4. Tier position is cumulative across hours: 6,000 on the 2nd + 6,000 on the 20th
    #    = 10,000 x 1 + 2,000 x 0.5 = 11,000.
    {
        "name": "tier_cumulative_hours",
        "rates": [tiered("p", [("10000", "1"), (None, "0.5")])],
        "products": [P],
        "usage": [use("p", "6000", "2025-03-02T00:00:00Z"), use("p", "6000", "2025-03-20T00:00:00Z")],
        "line_items": [
            # 6,000 + 6,000 = 12,000: 10,000 x 1 + 2,000 x 0.5 = 11,000
            tiered_line(
                "p",
                "Product P",
                "12000",
                [("0", "10000", "1", "10000"), ("10000", "2000", "0.5", "1000")],
                "11000",
            )
        ],
        "expect": {"total": "11000"},
    },
    # 5. Price change on 03-16: 100 units before at 10 = 1,000; 50 after at 12 = 600; two lines.
    {
        "name": "mid_period_price_change",
        "rates": [
            flat("p", "10", ending_before="2025-03-16T00:00:00Z"),
            flat("p", "12", starting_at="2025-03-16T00:00:00Z"),
        ],
        "products": [P],
        "usage": [use("p", "100", "2025-03-05T00:00:00Z"), use("p", "50", "2025-03-20T00:00:00Z")],
        "line_items": [
            usage_line(
                "p", "Product P", "100", "10", "1000", starting_at=MAR1, ending_before=MAR16
            ),  # 100 x 10
            usage_line("p", "Product P", "50", "12", "600", starting_at=MAR16, ending_before=APR1),  # 50 x 12
        ],
        "expect": {"total": "1600", "lines": {"usage:p::@2025-03-01": "1000", "usage:p::@2025-03-16": "600"}},
    },
    # 6. Pricing group values select the rate: us 100 x 3 = 300, eu 100 x 4 = 400.
    {
        "name": "pricing_group_values",
        "rates": [
            flat("p", "3", pricing_group_values={"region": "us"}),
            flat("p", "4", pricing_group_values={"region": "eu"}),
        ],
        "products": [{**P, "pricing_group_key": ["region"]}],
        "usage": [use("p", "100", region="us"), use("p", "100", region="eu")],
        "line_items": [
            usage_line("p", "Product P", "100", "4", "400", pricing_group_values={"region": "eu"}),  # 100 x 4
            usage_line("p", "Product P", "100", "3", "300", pricing_group_values={"region": "us"}),  # 100 x 3
        ],
        "expect": {"total": "700", "lines": {"usage:p:region=eu": "400", "usage:p:region=us": "300"}},
    },
    # 7. Presentation groups split lines but share the tier position: prod 8 (hour 1) then dev 8 (hour 2),
    #    tiers [10 @ 5, rest @ 1]: prod 8 x 5 = 40; dev 2 x 5 + 6 x 1 = 16; total 56.
    {
        "name": "presentation_groups",
        "rates": [tiered("p", [("10", "5"), (None, "1")])],
        "products": [{**P, "presentation_group_key": ["env"]}],
        "usage": [
            use("p", "8", "2025-03-02T01:00:00Z", env="prod"),
            use("p", "8", "2025-03-02T02:00:00Z", env="dev"),
        ],
        "line_items": [
            # dev comes second in time: positions 8..16 -> 2 x 5 = 10 (to 10) + 6 x 1 = 6 (from 10) = 16
            tiered_line(
                "p",
                "Product P",
                "8",
                [("0", "2", "5", "10"), ("10", "6", "1", "6")],
                "16",
                presentation_group_values={"env": "dev"},
            ),
            # prod first: positions 0..8, all in tier 1: 8 x 5 = 40
            tiered_line(
                "p",
                "Product P",
                "8",
                [("0", "8", "5", "40")],
                "40",
                presentation_group_values={"env": "prod"},
            ),
        ],
        "expect": {"total": "56", "lines": {"usage:p::env=prod": "40", "usage:p::env=dev": "16"}},
    },
    # 8. Quantity conversion + ROUND_UP: 3,500 MB / 1024 = 3.418 GB -> 4 GB x 25 = 100.
    {
        "name": "quantity_conversion",
        "rates": [flat("p", "25")],
        "products": [
            {
                **P,
                "quantity_conversion": {"conversion_factor": "1024", "operation": "DIVIDE"},
                "quantity_rounding": {"rounding_method": "ROUND_UP", "decimal_places": 0},
            }
        ],
        "usage": [use("p", "1500", "2025-03-02T00:00:00Z"), use("p", "2000", "2025-03-03T00:00:00Z")],
        "line_items": [
            usage_line("p", "Product P", "4", "25", "100")
        ],  # 3,500 / 1024 = 3.418 -> ROUND_UP 4; 4 x 25
        "expect": {"total": "100"},
    },
    # 9. Composite 5% of tagged compute: q 10,000 x 1 = 10,000 -> 500; p untagged not in the basis.
    {
        "name": "composite_percentage",
        "rates": [
            flat("p", "1"),
            flat("q", "1"),
            {"product_id": "s", "rate_type": "PERCENTAGE", "price": "0.05", "starting_at": T0},
        ],
        "products": [
            P,
            Q,
            {"id": "s", "name": "Support", "type": "COMPOSITE", "composite_tags": ["compute"]},
        ],
        "usage": [use("p", "3000"), use("q", "10000")],
        "line_items": [
            usage_line("p", "Product P", "3000", "1", "3000"),  # 3,000 x 1
            usage_line("q", "Product Q", "10000", "1", "10000"),  # 10,000 x 1
            usage_line(
                "s", "Support", "10000", "0.05", "500"
            ),  # basis: q's 10,000 (tagged compute) x 0.05 = 500
        ],
        "expect": {"total": "13500", "lines": {"usage:s": "500"}},
    },
    # 10. MULTIPLIER override by tag: 100 x 10 x 0.8 = 800.
    {
        "name": "override_multiplier_by_tag",
        "rates": [flat("q", "10")],
        "products": [Q],
        "contract": {
            "overrides": [
                {
                    "starting_at": T0,
                    "type": "MULTIPLIER",
                    "multiplier": "0.8",
                    "applicable_product_tags": ["compute"],
                }
            ]
        },
        "usage": [use("q", "100")],
        "line_items": [usage_line("q", "Product Q", "100", "8", "800")],  # unit price 10 x 0.8 = 8; 100 x 8
        "expect": {"total": "800"},
    },
    # 11. OVERWRITE beats MULTIPLIER: 100 x 7 = 700.
    {
        "name": "override_overwrite_wins",
        "rates": [flat("p", "10")],
        "products": [P],
        "contract": {
            "overrides": [
                {"starting_at": T0, "product_id": "p", "type": "MULTIPLIER", "multiplier": "0.5"},
                {
                    "starting_at": T0,
                    "product_id": "p",
                    "type": "OVERWRITE",
                    "overwrite_rate": {"rate_type": "FLAT", "price": "7"},
                },
            ]
        },
        "usage": [use("p", "100")],
        "line_items": [usage_line("p", "Product P", "100", "7", "700")],  # OVERWRITE price 7; 100 x 7
        "expect": {"total": "700"},
    },
    # 12. EXPLICIT TIERED override with fall-through: first 5 at 9, next 3 at 9.5 = 73.5 -> 74 (HALF_UP).
    {
        "name": "override_tiered_explicit",
        "rates": [flat("p", "10")],
        "products": [P],
        "contract": {
            "multiplier_override_prioritization": "EXPLICIT",
            "overrides": [
                {
                    "starting_at": T0,
                    "product_id": "p",
                    "type": "TIERED",
                    "priority": "1",
                    "tiers": [{"size": "5", "multiplier": "0.9"}],
                },
                {
                    "starting_at": T0,
                    "product_id": "p",
                    "type": "MULTIPLIER",
                    "priority": "2",
                    "multiplier": "0.95",
                },
            ],
        },
        "usage": [use("p", "8")],
        "line_items": [
            # 5 x (10 x 0.9 = 9) = 45; 3 x (10 x 0.95 = 9.5) = 28.5, shown HALF_UP as 29 (tier subtotals
            # are rounded like lines: docs/rating.md, rounding point); the line: 73.5 -> 74 (HALF_UP, once)
            tiered_line("p", "Product P", "8", [("0", "5", "9", "45"), ("5", "3", "9.5", "29")], "74")
        ],
        "expect": {"total": "74"},
    },
    # 13. Override by specifier on pricing group values: only eu gets 0.5
    #     -> us 100 x 4 = 400, eu 100 x 2 = 200.
    {
        "name": "override_specifier_group",
        "rates": [flat("p", "4")],
        "products": [{**P, "pricing_group_key": ["region"]}],
        "contract": {
            "overrides": [
                {
                    "starting_at": T0,
                    "type": "MULTIPLIER",
                    "multiplier": "0.5",
                    "override_specifiers": [{"product_id": "p", "pricing_group_values": {"region": "eu"}}],
                }
            ]
        },
        "usage": [use("p", "100", region="us"), use("p", "100", region="eu")],
        "line_items": [
            usage_line(
                "p", "Product P", "100", "2", "200", pricing_group_values={"region": "eu"}
            ),  # 100 x 4 x 0.5
            usage_line("p", "Product P", "100", "4", "400", pricing_group_values={"region": "us"}),  # 100 x 4
        ],
        "expect": {"total": "600"},
    },
    # 14. entitled=false on the card is not billed; an entitling override brings q back: q 10 x 3 = 30.
    {
        "name": "entitlement",
        "rates": [flat("p", "5", entitled=False), flat("q", "3", entitled=False)],
        "products": [P, Q],
        "contract": {"overrides": [{"starting_at": T0, "product_id": "q", "entitled": True}]},
        "usage": [use("p", "10"), use("q", "10")],
        "line_items": [usage_line("q", "Product Q", "10", "3", "30")],  # p not entitled: no line; q 10 x 3
        "expect": {"total": "30"},
    },
    # 15. Override window: 0.5 multiplier until 03-16.
    #     10 units on the 5th x 10 x 0.5 = 50; 10 on the 20th = 100.
    {
        "name": "override_time_window",
        "rates": [flat("p", "10")],
        "products": [P],
        "contract": {
            "overrides": [
                {
                    "starting_at": T0,
                    "ending_before": "2025-03-16T00:00:00Z",
                    "product_id": "p",
                    "type": "MULTIPLIER",
                    "multiplier": "0.5",
                }
            ]
        },
        "usage": [use("p", "10", "2025-03-05T00:00:00Z"), use("p", "10", "2025-03-20T00:00:00Z")],
        "line_items": [
            usage_line(
                "p", "Product P", "10", "5", "50", starting_at=MAR1, ending_before=MAR16
            ),  # 10 x (10 x 0.5)
            usage_line("p", "Product P", "10", "10", "100", starting_at=MAR16, ending_before=APR1),  # 10 x 10
        ],
        "expect": {"total": "150"},
    },
    # 16. Credit then prepaid commit at equal priority: free credit first (cost basis 0 < 1).
    #     charges 10,000; credit 3,000 -> 7,000; commit (paid 5,000 for 5,000) -> 2,000 due.
    {
        "name": "credit_before_paid_commit",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "credits": [credit("CR", "3000", priority="1")],
            "commits": [prepaid("PC", "5000", "5000", priority="1")],
        },
        "usage": [use("p", "10000")],
        "line_items": [
            usage_line("p", "Product P", "10000", "1", "10000"),  # 10,000 x 1
            applied_line("CR", "CREDIT", "-3000"),  # free credit first: all of its 3,000
            applied_line(
                "PC", "PREPAID", "-5000"
            ),  # then the paid commit: all of its 5,000 of the 7,000 left
        ],
        "expect": {
            "total": "2000",
            "subtotal": "10000",
            "lines": {"applied:CR": "-3000", "applied:PC": "-5000"},
        },
    },
    # 17. Priority dominates cost basis: commit priority 1 used before credit priority 2.
    #     charges 4,000; commit 3,000 -> 1,000; credit covers 1,000 of its 5,000.
    {
        "name": "priority_dominates",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "credits": [credit("CR", "5000", priority="2")],
            "commits": [prepaid("PC", "3000", "3000", priority="1")],
        },
        "usage": [use("p", "4000")],
        "line_items": [
            usage_line("p", "Product P", "4000", "1", "4000"),  # 4,000 x 1
            applied_line("PC", "PREPAID", "-3000"),  # priority 1: all of its 3,000
            applied_line("CR", "CREDIT", "-1000"),  # priority 2: the 1,000 left
        ],
        "expect": {"total": "0", "lines": {"applied:PC": "-3000", "applied:CR": "-1000"}},
    },
    # 18. Applicability by tag: commit for "compute" covers q only. p 1,000 + q 2,000; commit 5,000
    #     covers q's 2,000 -> due 1,000.
    {
        "name": "commit_applicability_tags",
        "rates": [flat("p", "1"), flat("q", "1")],
        "products": [P, Q],
        "contract": {"commits": [prepaid("PC", "5000", applicable_product_tags=["compute"])]},
        "usage": [use("p", "1000"), use("q", "2000")],
        "line_items": [
            usage_line("p", "Product P", "1000", "1", "1000"),  # 1,000 x 1, untagged: not covered
            usage_line("q", "Product Q", "2000", "1", "2000"),  # 2,000 x 1, tagged compute
            applied_line("PC", "PREPAID", "-2000"),  # covers q only: min(5,000, 2,000)
        ],
        "expect": {"total": "1000", "lines": {"applied:PC": "-2000"}},
    },
    # 19. Segment ends mid-period: credit valid until 03-16 covers only usage before it:
    #     1,000 on the 5th covered; 1,000 on the 20th due.
    {
        "name": "segment_window",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {"credits": [credit("CR", "5000", seg={"ending_before": "2025-03-16T00:00:00Z"})]},
        "usage": [use("p", "1000", "2025-03-05T00:00:00Z"), use("p", "1000", "2025-03-20T00:00:00Z")],
        "line_items": [
            usage_line("p", "Product P", "2000", "1", "2000"),  # (1,000 + 1,000) x 1, one rate all month
            applied_line("CR", "CREDIT", "-1000"),  # only the 1,000 used before 03-16
        ],
        "expect": {"total": "1000", "lines": {"applied:CR": "-1000"}},
    },
    # 20. Balance never negative: credit 500 on 2,000 of charges -> 1,500 due, remaining 0.
    {
        "name": "balance_exhausted",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {"credits": [credit("CR", "500")]},
        "usage": [use("p", "2000")],
        "line_items": [
            usage_line("p", "Product P", "2000", "1", "2000"),  # 2,000 x 1
            applied_line("CR", "CREDIT", "-500"),  # min(500, 2,000)
        ],
        "expect": {"total": "1500", "lines": {"applied:CR": "-500"}},
    },
    # 21. Postpaid commit absorbs after prepaid; its line is shown but not subtracted.
    #     charges 3,000; credit 1,000; postpaid absorbs 2,000 (excluded) -> due 2,000.
    {
        "name": "postpaid_after_prepaid",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "credits": [credit("CR", "1000")],
            "commits": [
                {
                    **credit("PP", "100000"),
                    "type": "POSTPAID",
                    "invoice_schedule": {
                        "schedule_items": [{"timestamp": "2026-01-01T00:00:00Z", "amount": "100000"}]
                    },
                }
            ],
        },
        "usage": [use("p", "3000")],
        "line_items": [
            usage_line("p", "Product P", "3000", "1", "3000"),  # 3,000 x 1
            applied_line("CR", "CREDIT", "-1000"),  # prepaid balances first: all of the 1,000
            applied_line(
                "PP", "POSTPAID", "-2000"
            ),  # postpaid absorbs the 2,000 left (shown, not subtracted)
        ],
        "expect": {"total": "2000", "lines": {"applied:CR": "-1000", "applied:PP": "-2000"}},
    },
    # 22. COMMIT_RATE "guarantee zero overages": list 0, commit rate 10; 100 units; commit 500.
    #     covered share priced at 10: 50 units x 10 = 500, drawn by the commit; the other 50 at list 0.
    {
        "name": "commit_rate",
        "rates": [flat("p", "0", commit_rate={"rate_type": "FLAT", "price": "10"})],
        "products": [P],
        "contract": {"commits": [prepaid("PC", "500", rate_type="COMMIT_RATE")]},
        "usage": [use("p", "100")],
        "line_items": [
            usage_line("p", "Product P", "50", "0", "0"),  # the 50 units past the commit at list 0
            usage_line("p", "Product P", "50", "10", "500"),  # 500 / 10 = 50 units drawing the commit at 10
            applied_line("PC", "PREPAID", "-500"),  # all of the commit
        ],
        "expect": {
            "total": "0",
            "subtotal": "500",
            "lines": {"usage:p::@2025-03-01T00:00:00Z:commit_rate": "500", "applied:PC": "-500"},
        },
    },
    # 23. QUANTITY commit: 30 units free of 100 at 4 -> 30 x 4 = 120 applied; due 280.
    {
        "name": "quantity_commit",
        # SPEC 6.3 (and the SDK's LineItemAppliedCommitOrCredit) give the applied line an access_type; tally
        # leaves it out, so a reader cannot tell a QUANTITY draw from a SPEND one.
        "rates": [flat("p", "4")],
        "products": [P],
        "contract": {
            "commits": [
                {
                    **prepaid("QC", "30"),
                    "access_schedule": {
                        "access_type": "QUANTITY",
                        "schedule_items": [{"amount": "30", **SEG}],
                    },
                }
            ]
        },
        "usage": [use("p", "100")],
        "line_items": [
            usage_line("p", "Product P", "100", "4", "400"),  # 100 x 4
            # 30 units consumed x 4 = 120
            applied_line("QC", "PREPAID", "-120", quantity_consumed="30", access={"access_type": "QUANTITY"}),
        ],
        "expect": {"total": "280", "lines": {"applied:QC": "-120"}},
    },
    # 24. Subscription in arrears, contract starts 03-16: 3000 x 2 seats x 16/31 = 3096.77 -> 3097.
    {
        "name": "subscription_arrears_prorated",
        "rates": [flat("seat", "3000", billing_frequency="MONTHLY")],
        "products": [{"id": "seat", "name": "Seat", "type": "SUBSCRIPTION"}],
        "contract": {
            "starting_at": "2025-03-16T00:00:00Z",
            "subscriptions": [
                {
                    "id": "S",
                    "subscription_rate": {"product_id": "seat", "billing_frequency": "MONTHLY"},
                    "initial_quantity": "2",
                    "collection_schedule": "ARREARS",
                }
            ],
        },
        "usage": [],
        "line_items": [
            # 2 x 3000 x 16/31 (03-16..04-01 of March's 31 days) = 3096.77 -> 3097
            {
                "type": "subscription",
                "product_id": "seat",
                "name": "Seat",
                "quantity": "2",
                "unit_price": "3000",
                "total": "3097",
                "subscription_id": "S",
                "is_prorated": True,
            },
        ],
        "expect": {"total": "3097", "lines": {"subscription:S@2025-03-16": "3097"}},
    },
    # 25. Subscription in arrears with a quantity change on 03-11 (1 -> 3): 1000 x (1 x 10/31 + 3 x 21/31)
    #     = 1000 x 73/31 = 2354.84 -> 2355.
    {
        "name": "subscription_quantity_change",
        # docs/rating.md rule 29: ARREARS quantity changes are prorated per segment, one line each.
        "rates": [flat("seat", "1000", billing_frequency="MONTHLY")],
        "products": [{"id": "seat", "name": "Seat", "type": "SUBSCRIPTION"}],
        "contract": {
            "subscriptions": [
                {
                    "id": "S",
                    "subscription_rate": {"product_id": "seat", "billing_frequency": "MONTHLY"},
                    "initial_quantity": "1",
                    "quantity_updates": [{"starting_at": "2025-03-11T00:00:00Z", "quantity": "3"}],
                }
            ]
        },
        "usage": [],
        "line_items": [
            # 1 x 1000 x 10/31 (03-01..03-11) = 322.58 -> 323
            {
                "type": "subscription",
                "product_id": "seat",
                "name": "Seat",
                "quantity": "1",
                "unit_price": "1000",
                "total": "323",
                "subscription_id": "S",
                "is_prorated": True,
                "starting_at": MAR1,
                "ending_before": MAR11,
            },
            # 3 x 1000 x 21/31 (03-11..04-01) = 2032.26 -> 2032; 323 + 2032 = 2355
            {
                "type": "subscription",
                "product_id": "seat",
                "name": "Seat",
                "quantity": "3",
                "unit_price": "1000",
                "total": "2032",
                "subscription_id": "S",
                "is_prorated": True,
                "starting_at": MAR11,
                "ending_before": APR1,
            },
        ],
        "expect": {"total": "2355"},
    },
    # 26. Scheduled charge consolidated onto the usage invoice at the period end: 100 x 1 + 5,000.
    {
        "name": "scheduled_on_usage_invoice",
        "rates": [flat("p", "1")],
        "products": [P, {"id": "fee", "name": "Platform fee", "type": "FIXED"}],
        "contract": {
            "scheduled_charges_on_usage_invoices": "ALL",
            "scheduled_charges": [
                {
                    "id": "F",
                    "product_id": "fee",
                    "name": "Platform fee",
                    "schedule": {"schedule_items": [{"timestamp": APR1, "amount": "5000"}]},
                }
            ],
        },
        "usage": [use("p", "100")],
        "line_items": [
            usage_line("p", "Product P", "100", "1", "100"),  # 100 x 1
            # an item with an amount alone is unit_price = amount, quantity = 1 (SPEC 5.4): 1 x 5,000
            {
                "type": "scheduled",
                "product_id": "fee",
                "name": "Platform fee",
                "quantity": "1",
                "unit_price": "5000",
                "total": "5000",
                "scheduled_charge_id": "F",
            },
        ],
        "expect": {"total": "5100", "lines": {"scheduled:F": "5000"}},
    },
    # 27. Discount after draw-down: charges 10,000, credit 2,000, discount 1,500 -> 6,500.
    {
        "name": "discount",
        "rates": [flat("p", "1")],
        "products": [P, {"id": "d", "name": "Discount", "type": "FIXED"}],
        "contract": {
            "credits": [credit("CR", "2000")],
            "discounts": [
                {
                    "id": "D",
                    "product_id": "d",
                    "schedule": {"schedule_items": [{"timestamp": "2025-03-15T00:00:00Z", "amount": "1500"}]},
                }
            ],
        },
        "usage": [use("p", "10000")],
        "line_items": [
            usage_line("p", "Product P", "10000", "1", "10000"),  # 10,000 x 1
            applied_line("CR", "CREDIT", "-2000"),  # all of the credit
            {"type": "discount", "product_id": "d", "name": "Discount", "total": "-1500", "discount_id": "D"},
        ],
        "expect": {"total": "6500", "lines": {"discount:D": "-1500"}},
    },
    # 28. Discount capped at the amount due: charges 1,000, discount 5,000 -> 0.
    {
        "name": "discount_capped",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "discounts": [
                {
                    "id": "D",
                    "product_id": "d",
                    "schedule": {"schedule_items": [{"timestamp": "2025-03-15T00:00:00Z", "amount": "5000"}]},
                }
            ]
        },
        "usage": [use("p", "1000")],
        "line_items": [
            usage_line("p", "Product P", "1000", "1", "1000"),  # 1,000 x 1
            # min(5,000, 1,000 due); an unnamed discount is called "Discount"
            {
                "type": "discount",
                "product_id": "d",
                "name": "Discount",
                "total": "-1000",
                "discount_id": "D",
            },
        ],
        "expect": {"total": "0", "lines": {"discount:D": "-1000"}},
    },
    # 29. Capped trial (SPEC §5.12a): a one-week free credit of 10,000 from 03-01. 5,000 units on the 3rd
    #     covered; 3,000 on the 20th (after the trial) due.
    {
        "name": "trial_capped_credit",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "credits": [
                credit(
                    "TRIAL",
                    "10000",
                    seg={"starting_at": "2025-03-01T00:00:00Z", "ending_before": "2025-03-08T00:00:00Z"},
                )
            ]
        },
        "usage": [use("p", "5000", "2025-03-03T00:00:00Z"), use("p", "3000", "2025-03-20T00:00:00Z")],
        "line_items": [
            usage_line("p", "Product P", "8000", "1", "8000"),  # (5,000 + 3,000) x 1
            applied_line("TRIAL", "CREDIT", "-5000"),  # the 5,000 used during the trial week
        ],
        "expect": {"total": "3000", "lines": {"applied:TRIAL": "-5000"}},
    },
    # 30. Uncapped trial (SPEC §5.12b): multiplier 0 until 03-08; 5,000 x 0 + 3,000 x 1 = 3,000.
    {
        "name": "trial_uncapped_override",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "overrides": [
                {
                    "starting_at": "2025-03-01T00:00:00Z",
                    "ending_before": "2025-03-08T00:00:00Z",
                    "product_id": "p",
                    "type": "MULTIPLIER",
                    "multiplier": "0",
                }
            ]
        },
        "usage": [use("p", "5000", "2025-03-03T00:00:00Z"), use("p", "3000", "2025-03-20T00:00:00Z")],
        "line_items": [
            usage_line(
                "p", "Product P", "5000", "0", "0", starting_at=MAR1, ending_before=MAR8
            ),  # 5,000 x (1 x 0)
            usage_line(
                "p", "Product P", "3000", "1", "3000", starting_at=MAR8, ending_before=APR1
            ),  # 3,000 x 1
        ],
        "expect": {"total": "3000"},
    },
    # 31. Contract ends 03-20: usage on the 25th is outside the contract; 100 x 1 on the 5th only.
    {
        "name": "contract_ends_mid_period",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {"ending_before": "2025-03-20T00:00:00Z"},
        "usage": [use("p", "100", "2025-03-05T00:00:00Z"), use("p", "900", "2025-03-25T00:00:00Z")],
        "line_items": [
            usage_line(
                "p", "Product P", "100", "1", "100", ending_before="2025-03-20T00:00:00Z"
            )  # 100 x 1; the 25th dropped
        ],
        "expect": {"total": "100", "end": "2025-03-20T00:00:00Z"},
    },
    # 32. EUR rate card (whole euros): 3 units x 2.505 = 7.515 -> 7.52 (2 places, HALF_UP).
    {
        "name": "eur_whole_units",
        "rates": [flat("p", "2.505")],
        "products": [P],
        "rate_card": {"fiat_credit_type_id": "d65c0f88-32fc-507c-a789-8bf63d71828a"},
        "usage": [use("p", "3")],
        "line_items": [usage_line("p", "Product P", "3", "2.505", "7.52")],  # 3 x 2.505 = 7.515 -> 7.52
        "expect": {"total": "7.52"},
    },
    # 33. Rollover commit consumed before an ordinary credit (SPEC §6.5.1), even at worse priority:
    #     charges 1,000; rollover 600 first; credit 400.
    {
        "name": "rollover_first",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {
            "credits": [credit("CR", "5000", priority="1")],
            "commits": [prepaid("RO", "600", priority="5", rolled_over_from={"commit_id": "old"})],
        },
        "usage": [use("p", "1000")],
        "line_items": [
            usage_line("p", "Product P", "1000", "1", "1000"),  # 1,000 x 1
            applied_line("RO", "PREPAID", "-600"),  # rollover first: all of its 600
            applied_line("CR", "CREDIT", "-400"),  # the 400 left
        ],
        "expect": {"total": "0", "lines": {"applied:RO": "-600", "applied:CR": "-400"}},
    },
    # 34. Commit consumed by earlier invoices: 5,000 granted, 4,500 consumed before -> 500 left; 800 due-300.
    {
        "name": "commit_consumed_before",
        "rates": [flat("p", "1")],
        "products": [P],
        "contract": {"commits": [prepaid("PC", "5000", seg={"consumed": "4500"})]},
        "usage": [use("p", "800")],
        "line_items": [
            usage_line("p", "Product P", "800", "1", "800"),  # 800 x 1
            applied_line("PC", "PREPAID", "-500"),  # 5,000 - 4,500 consumed = 500 left
        ],
        "expect": {"total": "300", "lines": {"applied:PC": "-500"}},
    },
    # 35. Subscription in arrears that has no seats until 03-16, then 2 (0 -> 2): the seatless segment bills
    #     nothing and shows no line; 2 x 1000 x 16/31 (03-16..04-01) = 1032.26 -> 1032.
    {
        "name": "subscription_seats_from_zero",
        "rates": [flat("seat", "1000", billing_frequency="MONTHLY")],
        "products": [{"id": "seat", "name": "Seat", "type": "SUBSCRIPTION"}],
        "contract": {
            "subscriptions": [
                {
                    "id": "S",
                    "subscription_rate": {"product_id": "seat", "billing_frequency": "MONTHLY"},
                    "initial_quantity": "0",
                    "quantity_updates": [{"starting_at": "2025-03-16T00:00:00Z", "quantity": "2"}],
                }
            ]
        },
        "usage": [],
        "line_items": [
            # 2 x 1000 x 16/31 = 1032.26 -> 1032
            {
                "type": "subscription",
                "product_id": "seat",
                "name": "Seat",
                "quantity": "2",
                "unit_price": "1000",
                "total": "1032",
                "subscription_id": "S",
                "is_prorated": True,
                "starting_at": MAR16,
                "ending_before": APR1,
            },
        ],
        "expect": {"total": "1032"},
    },
]
