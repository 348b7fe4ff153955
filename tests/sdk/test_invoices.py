"""Invoices through the official SDK in strict mode, on every backend, on a server run with
`--test-clock` (SPEC §6, issue 5). One contract is carried through its whole lifecycle and every figure
is checked against the hand computation below (USD cents).

Contract from T0 (a month start), monthly statements, grace 24 h:
  Tokens  TIERED  first 1,000 at 2, then 1          usage 4,000 + 3,000 = 7,000 -> 2,000 + 6,000 = 8,000
  API     FLAT 50, MULTIPLIER override 0.8 -> 40   usage 10 calls              ->                 400
  charges                                                                                      8,400
  Welcome credit (priority 1, free)   1,000 -> applied                                       - 1,000
  Prepaid commit (priority 2)         5,000 -> applied                                       - 5,000
  total due                                                                                    2,400
SCHEDULED invoice at T0: commit purchase 4,000 + Support (recurring monthly 2,500) = 6,500; at T1: 2,500.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import metronome
import pytest
from metronome import Metronome

from tests.conftest import Running
from tests.sdk.invoice_support import (
    Scenario,
    build,
    clock_now,
    clock_server,  # noqa: F401 - fixture
    ingest,
    iso,
    lines_by,
    set_clock,
)
from tests.support import pdf

TOKENS_CHARGE, API_CHARGE = 8000, 400
SUBTOTAL = TOKENS_CHARGE + API_CHARGE
TOTAL = SUBTOTAL - 1000 - 5000


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk()


@pytest.fixture(scope="module")
def b(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk(clock_server.token_b)


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:  # noqa: F811
    with clock_server.http() as c:
        yield c


@pytest.fixture(scope="module")
def lifecycle(a: Metronome, h: httpx.Client) -> dict[str, object]:
    """The scenario up to the finalized first period, with what each step saw."""
    uid = "lc" + iso(clock_now(h)).replace(":", "").replace("-", "")[:13]
    s = build(a, h, uid)
    ingest(
        a,
        s,
        uid,
        "u",
        (s.token_event, s.t0 + timedelta(hours=2), {"tokens": "4000", "region": "us"}),
        (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 3000, "region": "eu"}),
        *[(s.api_event, s.t0 + timedelta(hours=4, minutes=i), {}) for i in range(10)],
    )
    drafts = [i for i in a.v1.customers.invoices.list(customer_id=s.customer) if i.type == "USAGE"]
    balances_before = {
        x.id: x.balance
        for x in a.v1.contracts.list_balances(
            customer_id=s.customer, include_balance=True, include_contract_balances=True
        )
    }
    moved = set_clock(h, s.t1 + timedelta(hours=24, minutes=1))
    return {"s": s, "drafts": drafts, "balances_before": balances_before, "moved": moved, "uid": uid}


def _scenario(lc: dict[str, object]) -> Scenario:
    s = lc["s"]
    assert isinstance(s, Scenario)
    return s


def test_draft_is_computed_in_real_time(lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    drafts = lifecycle["drafts"]
    assert isinstance(drafts, list)
    assert len(drafts) == 1
    d = drafts[0]
    assert d.status == "DRAFT"
    assert d.contract_id == s.contract
    assert d.start_timestamp == s.t0
    assert d.end_timestamp == s.t1
    lines = lines_by(d)
    tok = lines[("usage", s.tokens_product)]
    assert (tok.quantity, tok.total) == (7000, TOKENS_CHARGE)
    assert [(t.quantity, t.subtotal) for sub in tok.sub_line_items or [] for t in sub.tiers or []] == [
        (1000, 2000),
        (6000, 6000),
    ]
    api = lines[("usage", s.api_product)]
    assert (api.quantity, api.unit_price, api.total) == (10, 40, API_CHARGE)
    assert lines[("applied_commit_or_credit", s.credit)].total == -1000
    assert lines[("applied_commit_or_credit", s.credit)].applied_commit_or_credit.type == "CREDIT"
    assert lines[("applied_commit_or_credit", s.commit)].total == -5000
    assert d.subtotal == SUBTOTAL
    assert d.total == TOTAL
    # Balances count finalized invoices only, so nothing is drawn yet.
    assert lifecycle["balances_before"] == {s.commit: 5000, s.credit: 1000}


def test_new_usage_shows_on_the_draft_at_once(a: Metronome, h: httpx.Client) -> None:
    uid = "rt" + iso(clock_now(h)).replace(":", "")[-6:]
    s = build(a, h, uid)
    now = clock_now(h)
    ingest(a, s, uid, "x", (s.api_event, now - timedelta(minutes=1), {}))
    d = next(i for i in a.v1.customers.invoices.list(customer_id=s.customer, type="USAGE"))
    assert lines_by(d)[("usage", s.api_product)].quantity == 1
    ingest(a, s, uid, "y", (s.api_event, now - timedelta(minutes=1), {}))
    again = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=d.id).data
    assert lines_by(again)[("usage", s.api_product)].quantity == 2
    assert again.id == d.id
    assert again.status == "DRAFT"


def test_finalized_after_period_end_and_grace(a: Metronome, lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    draft = lifecycle["drafts"][0]  # type: ignore[index]
    moved = lifecycle["moved"]
    assert isinstance(moved, dict)
    assert moved["finalized_invoices"] >= 3
    inv = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=draft.id).data
    assert inv.status == "FINALIZED"
    assert (inv.subtotal, inv.total) == (SUBTOTAL, TOTAL)
    assert inv.issued_at == s.t1
    by_status = {
        (i.type, i.start_timestamp, i.status) for i in a.v1.customers.invoices.list(customer_id=s.customer)
    }
    assert ("USAGE", s.t1, "DRAFT") in by_status  # the next period is open
    scheduled = {
        i.start_timestamp: i for i in a.v1.customers.invoices.list(customer_id=s.customer, type="SCHEDULED")
    }
    assert scheduled[s.t0].status == "FINALIZED"
    assert scheduled[s.t0].total == 4000 + 2500
    assert sorted(li.type for li in scheduled[s.t0].line_items) == ["commit_purchase", "scheduled"]
    assert scheduled[s.t1].status == "FINALIZED"
    assert scheduled[s.t1].total == 2500
    bal = {
        x.id: x
        for x in a.v1.contracts.list_balances(
            customer_id=s.customer, include_balance=True, include_contract_balances=True, include_ledgers=True
        )
    }
    assert (bal[s.commit].balance, bal[s.credit].balance) == (0, 0)
    deductions = [
        (e.type, e.amount, e.invoice_id) for e in bal[s.commit].ledger or [] if e.type.endswith("DEDUCTION")
    ]
    assert deductions == [("PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", -5000, draft.id)]
    assert [(e.type, e.amount) for e in bal[s.credit].ledger or [] if e.type.endswith("DEDUCTION")] == [
        ("CREDIT_AUTOMATED_INVOICE_DEDUCTION", -1000)
    ]
    # Filters: period, status, sort.
    finalized = list(a.v1.customers.invoices.list(customer_id=s.customer, status="FINALIZED", type="USAGE"))
    assert [i.id for i in finalized] == [draft.id]
    desc = [i.start_timestamp for i in a.v1.customers.invoices.list(customer_id=s.customer, sort="date_desc")]
    assert desc == sorted(desc, reverse=True)
    first_month = list(
        a.v1.customers.invoices.list(customer_id=s.customer, starting_on=s.t0, ending_before=s.t1)
    )
    assert {(i.type, i.start_timestamp) for i in first_month} == {
        ("USAGE", s.t0),
        ("SCHEDULED", s.t0),
        ("SCHEDULED", s.t1),  # a SCHEDULED invoice at T1 is issued in range
    }


def test_late_event_never_changes_a_finalized_invoice(
    a: Metronome, h: httpx.Client, lifecycle: dict[str, object]
) -> None:
    s = _scenario(lifecycle)
    uid = str(lifecycle["uid"])
    inv_id = lifecycle["drafts"][0].id  # type: ignore[index]
    before = h.get(f"/v1/customers/{s.customer}/invoices/{inv_id}").content
    ingest(a, s, uid, "late", (s.token_event, s.t1 - timedelta(hours=1), {"tokens": 100, "region": "us"}))
    after = h.get(f"/v1/customers/{s.customer}/invoices/{inv_id}").content
    assert after == before
    late = h.post("/tally/v1/late-events/list", json={"customer_id": s.customer}).json()
    assert [(e["transaction_id"], e["invoice_id"]) for e in late["data"]] == [(f"late-{uid}-0", inv_id)]
    assert late["next_page"] is None


def test_void_and_regenerate(a: Metronome, h: httpx.Client, lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    old = lifecycle["drafts"][0].id  # type: ignore[index]
    with pytest.raises(metronome.BadRequestError):
        a.v1.invoices.regenerate(id=old)  # only voided invoices
    assert a.v1.invoices.void(id=old).data.id == old
    assert a.v1.invoices.void(id=old).data.id == old  # idempotent
    voided = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=old).data
    assert voided.status == "VOID"
    assert voided.total == TOTAL
    bal = {
        x.id: x.balance
        for x in a.v1.contracts.list_balances(
            customer_id=s.customer, include_balance=True, include_contract_balances=True
        )
    }
    assert bal == {s.commit: 5000, s.credit: 1000}  # the void gave the draw-downs back
    new = a.v1.invoices.regenerate(id=old).data.id
    assert new
    assert new != old
    with pytest.raises(metronome.ConflictError):
        a.v1.invoices.regenerate(id=old)
    regen = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=new).data
    assert regen.regenerated_from_invoice_id == old
    assert regen.status == "FINALIZED"
    # Regenerated from current usage: the late 100 tokens now count (8,100 + 400 - 6,000).
    assert lines_by(regen)[("usage", s.tokens_product)].total == TOKENS_CHARGE + 100
    assert (regen.subtotal, regen.total) == (SUBTOTAL + 100, TOTAL + 100)
    statuses = sorted(
        (i.id, i.status)
        for i in a.v1.customers.invoices.list(customer_id=s.customer, type="USAGE")
        if i.start_timestamp == s.t0
    )
    assert statuses == sorted([(old, "VOID"), (new, "FINALIZED")])


def test_breakdowns_add_up_to_the_invoice(a: Metronome, lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    hours = list(
        a.v1.customers.invoices.list_breakdowns(
            customer_id=s.customer,
            starting_on=s.t0,
            ending_before=s.t0 + timedelta(days=1),
            window_size="HOUR",
            status="FINALIZED",
            limit=100,
        )
    )
    usage = [b for b in hours if b.type == "USAGE"]
    assert len(usage) == 24
    by_start = {b.breakdown_start_timestamp: b for b in usage}
    w2, w3, w4 = (by_start[s.t0 + timedelta(hours=n)] for n in (2, 3, 4))
    # Hour 2: 4,000 tokens = 2,000 + 3,000 = 5,000, paid by the credit (1,000) and the commit (4,000).
    assert (lines_by(w2)[("usage", s.tokens_product)].total, w2.total) == (5000, 0)
    assert lines_by(w2)[("applied_commit_or_credit", s.commit)].total == -4000
    # Hour 3: 3,000 more tokens; the commit's last 1,000 pays part.
    assert (lines_by(w3)[("usage", s.tokens_product)].total, w3.total) == (3000, 2000)
    assert (lines_by(w4)[("usage", s.api_product)].total, w4.total) == (API_CHARGE, API_CHARGE)
    assert sum(b.total for b in usage) == TOTAL
    days = list(
        a.v1.customers.invoices.list_breakdowns(
            customer_id=s.customer, starting_on=s.t0, ending_before=s.t1, status="FINALIZED", limit=100
        )
    )
    assert sum(b.total for b in days if b.type == "USAGE") == TOTAL + 100  # the late event's day included
    page = a.v1.customers.invoices.list_breakdowns(
        customer_id=s.customer, starting_on=s.t0, ending_before=s.t1, status="FINALIZED", limit=5
    )
    assert len(page.data) == 5
    assert page.next_page
    # A credit-type filter applies before paging: pages stay full, and another currency matches nothing.
    usd = a.v1.customers.invoices.list_breakdowns(
        customer_id=s.customer,
        starting_on=s.t0,
        ending_before=s.t1,
        status="FINALIZED",
        limit=5,
        credit_type_id="2714e483-4ff1-48e4-9e25-ac732e8f24f2",
    )
    assert [b.id for b in usd.data] == [b.id for b in page.data]
    eur = a.v1.customers.invoices.list_breakdowns(
        customer_id=s.customer,
        starting_on=s.t0,
        ending_before=s.t1,
        status="FINALIZED",
        limit=5,
        credit_type_id="d65c0f88-32fc-507c-a789-8bf63d71828a",
    )
    assert eur.data == []
    assert eur.next_page is None


def test_pdf(a: Metronome, lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    inv = lifecycle["drafts"][0]  # type: ignore[index]
    raw = a.v1.customers.invoices.retrieve_pdf(customer_id=s.customer, invoice_id=inv.id)
    body = raw.read()
    assert raw.http_response.headers["content-type"] == "application/pdf"
    assert body.startswith(b"%PDF-")
    text = pdf.text(body)
    assert "Total due" in text
    assert f"${TOTAL / 100:,.2f}" in text  # 2,400 cents -> $24.00 (Babel, read back by pdftotext)


def test_preview_events(a: Metronome, h: httpx.Client, lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    now = clock_now(h)
    ev = [
        {
            "event_type": s.token_event,
            "timestamp": iso(now - timedelta(minutes=5)),
            "properties": {"tokens": 600, "region": "us"},
            "transaction_id": f"pv-{lifecycle['uid']}",
        }
    ]
    out = a.v1.customers.preview_events(customer_id=s.customer, events=ev, mode="replace").data
    assert len(out) == 1
    assert out[0].status == "DRAFT"
    # 600 tokens in the second period, all in tier 1 (1,200); the balances are used up.
    assert lines_by(out[0])[("usage", s.tokens_product)].total == 1200
    assert out[0].total == 1200
    merged = a.v1.customers.preview_events(customer_id=s.customer, events=ev, mode="merge").data
    assert merged[0].total == 1200  # nothing stored yet in the second period
    with pytest.raises(metronome.BadRequestError) as err:
        a.v1.customers.preview_events(customer_id=s.customer, events=ev + ev)
    assert "used twice" in str(err.value.body)
    # Nothing was stored.
    assert h.post("/v1/events/search", json={"transactionIds": [ev[0]["transaction_id"]]}).json() == []


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/v1/invoices/void", {}, "id"),
        ("/v1/invoices/void", {"id": 5}, "id"),
        ("/v1/invoices/void", {"id": "x", "extra": 1}, "extra"),
        ("/v1/invoices/regenerate", {"id": ""}, "id"),
        ("/tally/v1/late-events/list", {}, "customer_id"),
        ("/tally/v1/invoice-settings", {"grace_period_hours": -1}, "grace_period_hours"),
        ("/tally/v1/test-clock", {"now": "yesterday"}, "now"),
        ("/tally/v1/test-clock", {"now": "2001-01-01T00:00:00Z"}, "backwards"),
    ],
)
def test_bad_bodies_are_400(h: httpx.Client, path: str, body: dict[str, object], fragment: str) -> None:
    # Frozen first (an unfrozen test clock follows the wall clock), so "the clock did not move" is exact
    # whichever tests ran before this one.
    before = clock_now(h).replace(microsecond=0) + timedelta(minutes=1)
    set_clock(h, before)
    r = h.post(path, json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["message"]
    assert clock_now(h) == before


def test_bad_preview_bodies_store_nothing(
    a: Metronome, h: httpx.Client, lifecycle: dict[str, object]
) -> None:
    s = _scenario(lifecycle)
    for body, fragment in [
        ({"events": []}, "events"),
        ({"events": [{"event_type": "x"}], "mode": "bogus"}, "mode"),
        ({"events": [{"event_type": ""}]}, "event_type"),
        ({"events": [{"event_type": "x", "timestamp": "not a time"}]}, "timestamp"),
    ]:
        r = h.post(f"/v1/customers/{s.customer}/previewEvents", json=body)
        assert r.status_code == 400, r.text
        assert fragment in r.json()["message"]
    for q in ("status=bogus", "sort=up", "type=NOPE", "starting_on=soon", "limit=0"):
        r = h.get(f"/v1/customers/{s.customer}/invoices?{q}")
        assert r.status_code == 400, (q, r.text)
    r = h.get(
        f"/v1/customers/{s.customer}/invoices/breakdowns?starting_on={iso(s.t1)}&ending_before={iso(s.t0)}"
    )
    assert r.status_code == 400


def test_other_tenants_get_404(a: Metronome, b: Metronome, lifecycle: dict[str, object]) -> None:
    s = _scenario(lifecycle)
    inv = lifecycle["drafts"][0].id  # type: ignore[index]
    for call in (
        lambda: b.v1.customers.invoices.list(customer_id=s.customer),
        lambda: b.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=inv),
        lambda: b.v1.customers.invoices.retrieve_pdf(customer_id=s.customer, invoice_id=inv),
        lambda: b.v1.invoices.void(id=inv),
        lambda: b.v1.invoices.regenerate(id=inv),
        lambda: b.v1.customers.preview_events(customer_id=s.customer, events=[{"event_type": "x"}]),
        lambda: b.v1.customers.invoices.list_breakdowns(
            customer_id=s.customer, starting_on=s.t0, ending_before=s.t1
        ),
    ):
        with pytest.raises(metronome.NotFoundError):
            call()
    assert a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=inv).data.status in (
        "FINALIZED",
        "VOID",
    )


def test_grace_period_is_configurable(b: Metronome, clock_server: Running) -> None:  # noqa: F811
    with clock_server.http(clock_server.token_b) as hb:
        assert hb.post("/tally/v1/invoice-settings/get").json()["data"]["grace_period_hours"] == 24
        assert hb.post("/tally/v1/invoice-settings", json={"grace_period_hours": 0}).status_code == 200
        assert hb.post("/tally/v1/invoice-settings/get").json()["data"]["grace_period_hours"] == 0
        uid = "gr" + iso(clock_now(hb)).replace(":", "")[-6:]
        s = build(b, hb, uid)
        set_clock(hb, s.t1 + timedelta(minutes=1))  # period end, no grace
        inv = next(i for i in b.v1.customers.invoices.list(customer_id=s.customer, type="USAGE"))
        assert inv.status == "FINALIZED"
        assert inv.total == 0


def test_test_clock_route_needs_the_flag(http: httpx.Client) -> None:
    assert http.post("/tally/v1/test-clock", json={"now": "2030-01-01T00:00:00Z"}).status_code == 404
    assert http.post("/tally/v1/test-clock/get").status_code == 404
