"""`tally demo` on a fresh database of each backend, checked from outside through the SDK and the console:
36 customers, the earlier month's invoices finalized with the figures worked out by hand for Bluefin
Analytics (src/tally/cli/demo.py, `Bluefin`), the current month open, and the printed credentials sign in.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from metronome import Metronome

from tally.cli.demo import BLUEFIN, COMPANIES, GRACE_HOURS, months
from tally.rating.periods import add_months
from tests.console.support import csrf_of
from tests.support.servers import Server, drop_pg_database, make_server

PASSWORD = "demo-password-for-tests"


@pytest.fixture(scope="module")
def seeded(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    srv, pg_url = make_server(backend, tmp_path_factory.mktemp(f"demo-{backend}"))
    try:
        out = srv.cli("demo", "--password", PASSWORD, "--port", str(srv.port))
        token = out.strip().splitlines()[-1]
        srv.start()
        yield srv, token, out
    finally:
        srv.stop()
        if pg_url:
            drop_pg_database(pg_url)


def _sdk(srv: Server, token: str) -> Metronome:
    return Metronome(base_url=srv.url, bearer_token=token, max_retries=0, _strict_response_validation=True)


def test_demo_prints_how_to_sign_in(seeded: tuple[Server, str, str]) -> None:
    srv, token, out = seeded
    assert token.startswith("tly_")
    assert f"console: {srv.url}/ui/" in out
    assert f"sign in as demo@example.com with the password {PASSWORD}" in out
    assert re.search(r"36 customers, \d{4,} usage events, \d+ invoices finalized", out), out


def test_demo_customers_and_finalized_month(seeded: tuple[Server, str, str]) -> None:
    srv, token, _ = seeded
    client = _sdk(srv, token)
    customers = list(client.v1.customers.list())
    assert sorted(c.name for c in customers) == sorted(COMPANIES)
    earlier, later = months(datetime.now(UTC), timedelta(hours=GRACE_HOURS))
    bluefin = next(c for c in customers if c.name == BLUEFIN.name)
    assert bluefin.ingest_aliases == [BLUEFIN.alias]
    invoices = list(client.v1.customers.invoices.list(customer_id=bluefin.id))
    by_kind = {(i.type, i.start_timestamp): i for i in invoices}

    # SCHEDULED at the month start: the commit bought for 18,000, plus the month's 5 seats at 2,500 =
    # 12,500 paid by the welcome credit (5,000) and then the commit (7,500): 18,000 + 12,500 - 12,500.
    scheduled = by_kind[("SCHEDULED", earlier)]
    assert scheduled.status == "FINALIZED"
    assert scheduled.total == BLUEFIN.scheduled_total == 18000
    lines = {(li.type, li.name): li.total for li in scheduled.line_items}
    assert lines == {
        ("commit_purchase", "Annual prepaid commit"): 18000,
        ("subscription", "Team seats"): 12500,
        ("applied_commit_or_credit", "Welcome credit"): -5000,
        ("applied_commit_or_credit", "Annual prepaid commit"): -7500,
    }

    # USAGE for the month (hand computation in demo.Bluefin): 12,160 + 4,200 + 4,200 + 10,720 + 1,564
    # + 12,500 (next month's seats in advance) = 45,344, less the commit's remaining 12,500 = 32,844.
    usage = by_kind[("USAGE", earlier)]
    assert (usage.status, usage.end_timestamp) == ("FINALIZED", later)
    assert usage.total == BLUEFIN.usage_total == 32844
    got = sorted(
        (li.name, li.quantity, li.total, (li.presentation_group_values or {}).get("region"))
        for li in usage.line_items
    )
    assert got == sorted(
        [
            ("API requests", 966000, 12160, None),  # 250,000 x 0.02 + 716,000 x 0.01
            ("Compute", 140, 4200, "us-east"),  # 14 odd days x 10 h x 30
            ("Compute", 140, 4200, "eu-west"),  # 14 even days x 10 h x 30
            ("LLM tokens", 560, 10720, None),  # 560,000 / 1,000: 500 x 20 + 60 x 12
            ("Platform fee", 31280, 1564, None),  # 5% of 12,160 + 8,400 + 10,720
            ("Team seats", 5, 12500, None),  # 5 x 2,500, the next month in advance
            ("Annual prepaid commit", None, -12500, None),  # 20,000 - 7,500 used in the SCHEDULED
        ],
        key=lambda x: (x[0], x[1] or 0, x[2], x[3] or ""),
    ), got

    # Every customer's earlier month is finalized; the next month is a draft (or awaits its grace period).
    statuses = {}
    for c in customers:
        for inv in client.v1.customers.invoices.list(customer_id=c.id):
            if inv.type == "USAGE":
                statuses[(c.id, inv.start_timestamp)] = inv.status
    assert {s for (_, t), s in statuses.items() if t == earlier} == {"FINALIZED"}
    assert len([1 for (_, t) in statuses if t == earlier]) == len(COMPANIES)
    assert {s for (_, t), s in statuses.items() if t == later} == {"DRAFT"}
    assert add_months(earlier, 1) == later


def test_demo_console_sign_in(seeded: tuple[Server, str, str]) -> None:
    srv, token, _ = seeded
    for fields in ({"email": "demo@example.com", "password": PASSWORD}, {"token": token}):
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            form = c.get("/ui/login")
            r = c.post("/ui/login", data={"csrf": csrf_of(form.text), "next": "/ui/customers", **fields})
            assert r.status_code == 303, r.text
            page = c.get("/ui/customers?q=Bluefin")
            assert page.status_code == 200
            assert BLUEFIN.name in page.text


def test_demo_refuses_a_second_run(seeded: tuple[Server, str, str]) -> None:
    srv, _, _ = seeded
    again = subprocess.run(
        [sys.executable, "-m", "tally", "demo"], env=srv.env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1
    assert "the demo tenant 'demo' already exists" in again.stderr
    skip = subprocess.run(
        [sys.executable, "-m", "tally", "demo", "--if-missing"],
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert skip.returncode == 0, skip.stderr
    assert "not seeding it again" in skip.stdout


def test_demo_invoice_explains_its_metered_lines_only(seeded: tuple[Server, str, str]) -> None:
    # Bluefin's finalized usage month: every metered line opens an explanation whose events re-aggregate
    # to the line; the composite Platform fee (5% of other lines) and the seats have no events to show.
    srv, token, _ = seeded
    client = _sdk(srv, token)
    bluefin = next(c for c in client.v1.customers.list() if c.name == BLUEFIN.name)
    earlier, _ = months(datetime.now(UTC), timedelta(hours=GRACE_HOURS))
    usage = next(
        i
        for i in client.v1.customers.invoices.list(customer_id=bluefin.id)
        if i.type == "USAGE" and i.start_timestamp == earlier
    )
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        form = c.get("/ui/login")
        c.post("/ui/login", data={"csrf": csrf_of(form.text), "next": "/ui/customers", "token": token})
        page = c.get(f"/ui/customers/{bluefin.id}/invoices/{usage.id}")
        assert page.status_code == 200
        linked = sorted(int(n) for n in re.findall(r"explain\?line=(\d+)", page.text))
        names = sorted(usage.line_items[i].name for i in linked)
        assert names == ["API requests", "Compute", "Compute", "LLM tokens"]
        for i in linked:
            r = c.get(f"/ui/customers/{bluefin.id}/invoices/{usage.id}/explain?line={i}")
            assert r.status_code == 200, r.text[:300]
            summary = re.search(r'<div class="summary".*?</div>', r.text, re.S)
            assert "matches the line" in r.text, (i, summary.group(0) if summary else r.text[:2000])
