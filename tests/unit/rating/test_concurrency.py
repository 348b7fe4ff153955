"""The rating engine is called from request threads and the billing-worker thread of one `tally serve` at
once. It must hold no shared mutable state: many threads rating at the same time get exactly what one thread
gets alone, and a caller-owned `PreparedContracts` gives the same answer as none."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import tally.rating.engine as engine_module
from tally.invoices.wire import rated_invoice_json
from tally.rating import Period, PreparedContracts, rate_usage_invoice
from tally.rating.inputs import (
    AccessSegment,
    Commit,
    CommitType,
    Contract,
    Product,
    Rate,
    RateCard,
    RateType,
    Tier,
    UsageRecord,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MARCH = Period(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
THREADS = 8
CONTRACTS_PER_THREAD = 300  # more than any bounded cache would hold, so eviction runs while others insert


def _contract(i: int) -> Contract:
    products = {"api": Product("api", "API calls"), "gpu": Product("gpu", "GPU hours")}
    rates = (
        Rate("api", RateType.FLAT, T0, price=Decimal("0.5")),
        Rate("gpu", RateType.TIERED, T0, tiers=(Tier(price=Decimal(3), size=Decimal(10)), Tier(Decimal(2)))),
    )
    segment = AccessSegment(f"seg-{i}", Decimal(40), T0, datetime(2026, 1, 1, tzinfo=UTC))
    commit = Commit(id=f"commit-{i}", type=CommitType.PREPAID, access_schedule=(segment,), product_id="api")
    return Contract(f"k{i}", f"c{i}", T0, RateCard("rc", rates), products, commits=(commit,))


USAGE = [
    UsageRecord("api", MARCH.starting_at + timedelta(hours=1), Decimal(100)),
    UsageRecord("gpu", MARCH.starting_at + timedelta(hours=2), Decimal(15)),
]
# api: 100 x 0.5 = 50; gpu: 10 x 3 + 5 x 2 = 40; subtotal 90; the prepaid commit (no applicable
# products named, so all of them) draws its 40 -> total 90 - 40 = 50.
EXPECTED_TOTAL = Decimal(50)


def test_the_engine_module_holds_no_contract_cache() -> None:
    cached = [
        name
        for name, value in vars(engine_module).items()
        if isinstance(value, dict) and not name.isupper() and not name.startswith("__")
    ]
    assert cached == []
    assert not hasattr(engine_module, "_PREPARED")


def test_eight_threads_rating_at_once_agree_with_one() -> None:
    alone = rated_invoice_json(rate_usage_invoice(_contract(0), USAGE, MARCH))
    assert rate_usage_invoice(_contract(0), USAGE, MARCH).total == EXPECTED_TOTAL
    errors: list[BaseException] = []
    results: list[dict[str, object]] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def rate_many(worker: int) -> None:
        own = PreparedContracts(max_size=16) if worker % 2 else None
        try:
            start.wait(timeout=30)
            for i in range(CONTRACTS_PER_THREAD):
                contract = _contract(0) if i % 7 == 0 else _contract(worker * 10_000 + i)
                out = rated_invoice_json(rate_usage_invoice(contract, USAGE, MARCH, prepared=own))
                if contract.id == "k0":
                    with lock:
                        results.append(out)
                assert rate_usage_invoice(contract, USAGE, MARCH, prepared=own).total == EXPECTED_TOTAL
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=rate_many, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)  # a hang bound, not a timing assertion
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert results
    assert all(r == alone for r in results)
