"""PB-11 / P12: the same scenario on SQLite and on PostgreSQL yields byte-identical finalized invoices.

Both servers run with `--test-clock` set to the same instant, get the same catalog, contract and events,
and are moved past the period end and grace. Invoice ids are uuid5 of (tenant, contract, key) and every
other id is a time-ordered uuid, so ids differ between the two databases: the comparison replaces each
uuid by its order of first appearance, then compares the raw response bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest

from tally.rating.periods import add_months
from tests.conftest import Running, serving
from tests.sdk.invoice_support import build, clock_now, ingest, month_start, set_clock

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalized(raw: bytes) -> bytes:
    seen: dict[bytes, bytes] = {}
    return _UUID.sub(lambda m: seen.setdefault(m.group(0), b"<id%d>" % len(seen)), raw)


@pytest.fixture(scope="module")
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Running]]:
    wanted = {b.strip() for b in request.config.getoption("backend").split(",")}
    if wanted != {"sqlite", "postgres"}:
        pytest.skip("needs both backends")
    with ExitStack() as stack:
        yield {
            backend: stack.enter_context(
                serving(
                    backend,
                    tmp_path_factory.mktemp(f"xdb-{backend}"),
                    "--test-clock",
                    env={"TALLY_WORKER_INTERVAL_SECONDS": "3600"},
                )
            )
            for backend in ("sqlite", "postgres")
        }


def test_finalized_invoices_are_byte_identical(pair: dict[str, Running]) -> None:
    clients = {b: r.http() for b, r in pair.items()}
    try:
        start = max(clock_now(h) for h in clients.values())
        common = month_start(add_months(start, 1)) + timedelta(days=2)  # the same instant on both
        for h in clients.values():
            set_clock(h, common)
        raw: dict[str, list[bytes]] = {}
        for backend, r in pair.items():
            h = clients[backend]
            sdk = r.sdk()
            s = build(sdk, h, "xdb")
            ingest(
                sdk,
                s,
                "xdb",
                "e",
                (s.token_event, s.t0 + timedelta(hours=5), {"tokens": "1234.5", "region": "us"}),
                (s.token_event, s.t0 + timedelta(hours=6), {"tokens": "0.25", "region": "eu"}),
                *[(s.api_event, s.t0 + timedelta(hours=7, minutes=i), {}) for i in range(3)],
            )
            set_clock(h, s.t1 + timedelta(hours=25))
            listing = h.get(f"/v1/customers/{s.customer}/invoices", params={"status": "FINALIZED"})
            assert listing.status_code == 200
            ids = [i["id"] for i in listing.json()["data"]]
            assert len(ids) == 3  # SCHEDULED at T0 and T1, USAGE for [T0, T1)
            raw[backend] = [h.get(f"/v1/customers/{s.customer}/invoices/{i}").content for i in ids]
        a, b = ([normalized(x) for x in raw[k]] for k in ("sqlite", "postgres"))
        assert a == b
        print(f"RESULT PB-11 invoices={len(a)} identical=1 bytes={sum(map(len, a))} sample={a[-1][:120]!r}")
    finally:
        for h in clients.values():
            h.close()
