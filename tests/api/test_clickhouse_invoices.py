"""The same scenario on a server with the SQL event store and on one with the ClickHouse event store (chdb,
`TALLY_EVENTS_URL=chdb://...`), on the same database backend: identical usage, identical drafts and
byte-identical finalized invoices (ids normalized by order of appearance, as in test_cross_db).

The events include a duplicate, a conflicting retry (same id, another timestamp and value: dropped), an
event for an alias attached to the customer only afterwards (late binding), out-of-order timestamps and a
late event after finalization (listed as late, never billed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from tally.rating.periods import add_months
from tests.api.test_cross_db import normalized
from tests.conftest import Running, serving
from tests.sdk.invoice_support import build, clock_now, ingest, iso, month_start, set_clock


@pytest.fixture(scope="module")
def pair(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Running]]:
    with ExitStack() as stack:
        out = {}
        for store in ("sql", "clickhouse"):
            work: Path = tmp_path_factory.mktemp(f"ch-{backend}-{store}")
            env = {"TALLY_WORKER_INTERVAL_SECONDS": "3600"}
            if store == "clickhouse":
                env["TALLY_EVENTS_URL"] = f"chdb://{work / 'chdb'}"
            out[store] = stack.enter_context(serving(backend, work, "--test-clock", env=env))
            if store == "clickhouse":
                assert (work / "chdb").is_dir()  # `tally migrate` created the ClickHouse tables there
        yield out


def test_usage_drafts_and_finalized_invoices_are_identical(pair: dict[str, Running]) -> None:
    clients = {k: r.http() for k, r in pair.items()}
    try:
        start = max(clock_now(h) for h in clients.values())
        common = month_start(add_months(start, 1)) + timedelta(days=2)
        for h in clients.values():
            set_clock(h, common)
        seen: dict[str, list[bytes]] = {}
        for store, r in pair.items():
            h = clients[store]
            sdk = r.sdk()
            s = build(sdk, h, "chx")
            ingest(
                sdk,
                s,
                "chx",
                "e",
                (s.token_event, s.t0 + timedelta(hours=9), {"tokens": "1234.5", "region": "us"}),
                (
                    s.token_event,
                    s.t0 + timedelta(hours=6),
                    {"tokens": "0.25", "region": "eu"},
                ),  # out of order
                *[(s.api_event, s.t0 + timedelta(hours=7, minutes=i), {}) for i in range(3)],
            )
            # A retry of the first id with another timestamp and value: a duplicate, dropped.
            ingest(
                sdk,
                s,
                "chx",
                "e",
                (s.token_event, s.t0 + timedelta(hours=1), {"tokens": "99", "region": "us"}),
            )
            # Usage sent to an alias nobody has yet, then the alias is attached (late binding).
            late_alias = "chx-late-alias"
            sdk.v1.usage.ingest(
                usage=[
                    {
                        "transaction_id": "chx-alias-1",
                        "customer_id": late_alias,
                        "event_type": s.token_event,
                        "timestamp": iso(s.t0 + timedelta(hours=3)),
                        "properties": {"tokens": "10", "region": "eu"},
                    }
                ]
            )
            sdk.v1.customers.set_ingest_aliases(customer_id=s.customer, ingest_aliases=[s.alias, late_alias])
            usage = h.post(
                "/v1/usage",
                json={
                    "starting_on": iso(s.t0),
                    "ending_before": iso(s.t0 + timedelta(days=1)),
                    "window_size": "HOUR",
                    "customer_ids": [s.customer],
                },
            )
            assert usage.status_code == 200, usage.text
            drafts = h.get(f"/v1/customers/{s.customer}/invoices", params={"status": "DRAFT"})
            assert drafts.status_code == 200
            set_clock(h, s.t1 + timedelta(hours=25))
            # Too late for the finalized period: listed as late, never billed.
            ingest(sdk, s, "chx", "late", (s.api_event, s.t0 + timedelta(hours=8), {}))
            listing = h.get(f"/v1/customers/{s.customer}/invoices", params={"status": "FINALIZED"})
            ids = [i["id"] for i in listing.json()["data"]]
            assert len(ids) == 3
            final = [h.get(f"/v1/customers/{s.customer}/invoices/{i}").content for i in ids]
            seen[store] = [usage.content, drafts.content, *final]
        a, b = ([normalized(x) for x in seen[k]] for k in ("sql", "clickhouse"))
        assert a[0] == b[0], "usage"
        assert a[1] == b[1], "drafts"
        assert a[2:] == b[2:], "finalized invoices"
        assert b"1244.75" in a[1]  # 1234.5 + 0.25 + 10 (the retry's 99 is not there)
    finally:
        for h in clients.values():
            h.close()
