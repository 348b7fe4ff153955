"""Rating benchmark: invoices rated per second on one core.

Contract: 20 usage products (5 tiered), 2 overrides, 1 prepaid commit, 2 credits, 2 scheduled charges
(consolidated onto the usage invoice). Each invoice rates one month with 3 usage records per product.

    PYTHONPATH=src python bench/rating_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tally.rating import Period, PreparedContracts, rate_usage_invoice
from tally.rating.inputs import (
    AccessSegment,
    Commit,
    CommitType,
    Contract,
    Override,
    OverrideType,
    Product,
    ProductType,
    Rate,
    RateCard,
    RateType,
    Schedule,
    ScheduledCharge,
    ScheduleItem,
    Tier,
    UsageRecord,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
MARCH = Period(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))


def build() -> tuple[Contract, list[UsageRecord]]:
    products = {
        f"p{i}": Product(f"p{i}", f"Product {i}", tags=("compute",) if i % 2 else ()) for i in range(20)
    }
    products["fee"] = Product("fee", "Platform fee", ProductType.FIXED)
    rates = []
    for i in range(20):
        if i < 5:
            tiers = (
                Tier(Decimal(1), Decimal(1000)),
                Tier(Decimal("0.5"), Decimal(9000)),
                Tier(Decimal("0.25")),
            )
            rates.append(Rate(f"p{i}", RateType.TIERED, START, tiers=tiers))
        else:
            rates.append(Rate(f"p{i}", RateType.FLAT, START, price=Decimal(i) / 10))
    overrides = (
        Override("o1", START, type=OverrideType.MULTIPLIER, multiplier=Decimal("0.9"), product_id="p7"),
        Override(
            "o2",
            START,
            type=OverrideType.MULTIPLIER,
            multiplier=Decimal("0.8"),
            applicable_product_tags=("compute",),
        ),
    )
    end = datetime(2026, 1, 1, tzinfo=UTC)
    commit = Commit(
        "pc",
        CommitType.PREPAID,
        (AccessSegment("pc0", Decimal(200000), START, end),),
        priority=Decimal(1),
        applicable_product_tags=("compute",),
        invoice_schedule=Schedule((ScheduleItem(START, Decimal(200000)),)),
    )
    credits = (
        Commit(
            "c1", CommitType.CREDIT, (AccessSegment("c10", Decimal(5000), START, end),), priority=Decimal(1)
        ),
        Commit(
            "c2", CommitType.CREDIT, (AccessSegment("c20", Decimal(7000), START, end),), priority=Decimal(2)
        ),
    )
    scheduled = tuple(
        ScheduledCharge(
            f"s{i}", "fee", Schedule((ScheduleItem(MARCH.ending_before, Decimal(1000 * (i + 1))),))
        )
        for i in range(2)
    )
    contract = Contract(
        "k",
        "c",
        START,
        RateCard("rc", tuple(rates), product_order=tuple(products)),
        products,
        overrides=overrides,
        commits=(commit,),
        credits=credits,
        scheduled_charges=scheduled,
        scheduled_charges_on_usage_invoices=True,
    )
    usage = [
        UsageRecord(f"p{i}", MARCH.starting_at + timedelta(days=d, hours=i), Decimal(400 + 37 * i))
        for i in range(20)
        for d in (2, 11, 23)
    ]
    return contract, usage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    contract, usage = build()
    invoice = rate_usage_invoice(contract, usage, MARCH)
    assert invoice.total >= 0
    assert len(invoice.line_items) >= 20
    # The caller-owned lookup cache, as a breakdown or a batch reuses it for one contract.
    prepared = PreparedContracts()
    for _ in range(50):  # warm-up
        rate_usage_invoice(contract, usage, MARCH, prepared=prepared)
    n = 0
    began = time.perf_counter()
    cpu_began = time.process_time()
    deadline = began + args.seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            rate_usage_invoice(contract, usage, MARCH, prepared=prepared)
        n += 50
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    wall_rate = n / elapsed
    cpu_rate = n / cpu
    lines = len(invoice.line_items)
    print(f"rated {n} invoices in {elapsed:.2f}s wall {cpu:.2f}s CPU ({lines} lines, total {invoice.total})")
    # The figure is per CPU-second of this single-threaded process (one core), so that other load on
    # the machine does not distort it; the wall-clock rate is printed beside it.
    verdict = "PASS" if cpu_rate >= 2000 else "FAIL"
    print(
        f"RESULT rating_bench invoices_per_second={cpu_rate:.0f} wall_invoices_per_second={wall_rate:.0f} "
        f"target=2000 {verdict}"
    )


if __name__ == "__main__":
    main()
