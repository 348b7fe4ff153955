"""Invoice documents (issue 15) on every backend, on a server run with `--test-clock`: the issuer profile
(`/tally/v1/invoice-settings`), the bill-to (`/tally/v1/customers/billing-details`), sequential numbers on
the invoice JSON read by the SDK in strict mode, due dates, and the PDF read back with pdftotext.

The contract is the lifecycle scenario of test_invoices.py (USD cents), by hand:
  Tokens  TIERED  first 1,000 at 2, then 1   usage 4,000 + 3,000 = 7,000
          -> 1,000 x 2 + 6,000 x 1 = 8,000 = $80.00 (tiers: 1,000 x $0.02 = $20.00; 6,000 x $0.01 = $60.00)
  API     FLAT 50 x 0.8 (override) = 40      10 calls                   -> 10 x 40          =   400 =  $4.00
  subtotal $84.00; Welcome credit -$10.00; Prepaid commit -$50.00; total due $24.00
Due date: the contract has no net_payment_terms_days, so the tenant default (15 days) applies:
  issued at T1 (the period end) -> due T1 + 15 days.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from metronome import Metronome
from PIL import Image
from sqlalchemy import select

from tally.models.documents import invoice_pdfs
from tests.conftest import Running
from tests.sdk.invoice_support import (
    Scenario,
    build,
    clock_now,
    clock_server,  # noqa: F401 - fixture
    ingest,
    iso,
    set_clock,
)
from tests.support import pdf

CUSTOMER = "株式会社テスト — Zürich GmbH €"
ISSUER = "Ταλλυ Billing Σύστημα Ltd"
PREFIX = "ACME"


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (120, 40), (30, 90, 200)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _day(t: datetime) -> str:
    """Babel's medium date in en_US, written out by hand: 'Feb 16, 2027'."""
    return f"{t:%b} {t.day}, {t.year}"


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk()


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:  # noqa: F811
    with clock_server.http() as c:
        yield c


def _post(h: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = h.post(path, json=body)
    assert r.status_code == status, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def issued(a: Metronome, h: httpx.Client) -> dict[str, Any]:
    settings = _post(
        h,
        "/tally/v1/invoice-settings",
        {
            "legal_name": ISSUER,
            "address_lines": ["ул. Тверская 7", "125009 Москва"],
            "tax_id": "EL-998877",
            "contact_email": "billing@example.test",
            "footer_text": "Bank: Example Bank · IBAN XX00 0000 0000",
            "logo": {"media_type": "image/png", "data_base64": _png()},
            "invoice_number_prefix": PREFIX,
            "default_net_payment_terms_days": 15,
        },
    )["data"]
    uid = "doc" + iso(clock_now(h)).replace(":", "").replace("-", "")[:13]
    s = build(a, h, uid)
    a.v1.customers.set_name(customer_id=s.customer, name=CUSTOMER)
    _post(
        h,
        "/tally/v1/customers/billing-details",
        {
            "customer_id": s.customer,
            "address_lines": ["Bahnhofstrasse 1", "8001 Zürich"],
            "tax_id": "CHE-123.456.789",
            "billing_email": "ap@zurich.example.test",
        },
    )
    ingest(
        a,
        s,
        uid,
        "u",
        (s.token_event, s.t0 + timedelta(hours=2), {"tokens": "4000", "region": "us"}),
        (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 3000, "region": "eu"}),
        *[(s.api_event, s.t0 + timedelta(hours=4, minutes=i), {}) for i in range(10)],
    )
    draft = next(i for i in a.v1.customers.invoices.list(customer_id=s.customer) if i.type == "USAGE")
    draft_pdf = h.get(f"/v1/customers/{s.customer}/invoices/{draft.id}/pdf")
    set_clock(h, s.t1 + timedelta(hours=24, minutes=1))
    return {"s": s, "settings": settings, "draft": draft, "draft_pdf": draft_pdf.content}


def _s(issued: dict[str, Any]) -> Scenario:
    s = issued["s"]
    assert isinstance(s, Scenario)
    return s


def test_settings_keep_grace_and_hold_the_issuer(h: httpx.Client, issued: dict[str, Any]) -> None:
    got = _post(h, "/tally/v1/invoice-settings/get", {})["data"]
    assert got == issued["settings"]
    assert got["grace_period_hours"] == 24  # the field the route always had
    assert got["legal_name"] == ISSUER
    assert got["address_lines"] == ["ул. Тверская 7", "125009 Москва"]
    assert got["invoice_number_prefix"] == PREFIX
    assert got["default_net_payment_terms_days"] == 15
    assert got["logo"]["media_type"] == "image/png"
    assert len(got["logo"]["sha256"]) == 64
    # The old single-field form still works and leaves the issuer alone.
    assert _post(h, "/tally/v1/invoice-settings", {"grace_period_hours": 24})["data"]["legal_name"] == ISSUER


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"invoice_number_prefix": "bad prefix!"}, "invoice_number_prefix"),
        ({"invoice_number_prefix": ""}, "invoice_number_prefix"),
        ({"default_net_payment_terms_days": -1}, "default_net_payment_terms_days"),
        ({"default_net_payment_terms_days": 1.5}, "default_net_payment_terms_days"),
        ({"address_lines": "one string"}, "address_lines"),
        ({"address_lines": ["a"] * 7}, "address_lines"),
        ({"legal_name": "x" * 201}, "legal_name"),
        ({"logo": {"media_type": "image/gif", "data_base64": "R0lG"}}, "logo.media_type"),
        ({"logo": {"media_type": "image/png", "data_base64": "%%%"}}, "logo.data_base64"),
        ({"logo": {"media_type": "image/png", "data_base64": base64.b64encode(b"GIF89a").decode()}}, "PNG"),
        (
            {"logo": {"media_type": "image/png", "data_base64": base64.b64encode(b"\0" * 300_000).decode()}},
            "KiB",
        ),
        (
            {
                "logo": {
                    "media_type": "image/svg+xml",
                    "data_base64": base64.b64encode(
                        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
                    ).decode(),
                }
            },
            "script",
        ),
        (
            {
                "logo": {
                    "media_type": "image/svg+xml",
                    "data_base64": base64.b64encode(
                        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
                        b'<image x:href="http://127.0.0.1/x.png"/></svg>'
                    ).decode(),
                }
            },
            "outside",
        ),
        ({"grace_period_hours": None}, "grace_period_hours"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_settings_refuse_bad_fields(
    h: httpx.Client, issued: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    before = _post(h, "/tally/v1/invoice-settings/get", {})["data"]
    r = h.post("/tally/v1/invoice-settings", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert _post(h, "/tally/v1/invoice-settings/get", {})["data"] == before  # nothing half-written


def test_svg_logo_accepted(h: httpx.Client, issued: dict[str, Any]) -> None:
    before = _post(h, "/tally/v1/invoice-settings/get", {})["data"]["logo"]
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><rect width="80" height="20"/></svg>'
    )
    logo = {"media_type": "image/svg+xml", "data_base64": base64.b64encode(svg).decode()}
    got = _post(h, "/tally/v1/invoice-settings", {"logo": logo})["data"]["logo"]
    assert got["media_type"] == "image/svg+xml"
    # Put the PNG back (the issued invoice keeps the logo it was issued with either way).
    png = {"media_type": "image/png", "data_base64": _png()}
    assert _post(h, "/tally/v1/invoice-settings", {"logo": png})["data"]["logo"] == before


def test_billing_details(h: httpx.Client, issued: dict[str, Any]) -> None:
    s = _s(issued)
    got = _post(h, "/tally/v1/customers/billing-details/get", {"customer_id": s.customer})["data"]
    assert got == {
        "customer_id": s.customer,
        "legal_name": None,
        "address_lines": ["Bahnhofstrasse 1", "8001 Zürich"],
        "tax_id": "CHE-123.456.789",
        "billing_email": "ap@zurich.example.test",
    }
    r = h.post("/tally/v1/customers/billing-details", json={"customer_id": s.customer, "billing_email": "x@"})
    assert r.status_code == 400
    assert "billing_email" in r.json()["message"]
    r = h.post("/tally/v1/customers/billing-details/get", json={"customer_id": "nope"})
    assert r.status_code == 404


def test_number_and_due_date_on_the_invoice_json(a: Metronome, issued: dict[str, Any]) -> None:
    s = _s(issued)
    draft = issued["draft"]
    assert (draft.model_extra or {}).get("invoice_number") is None  # a draft has no number yet
    inv = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=draft.id).data
    assert inv.status == "FINALIZED"
    extra = inv.model_extra or {}
    assert extra["invoice_number"].startswith(f"{PREFIX}-")
    assert len(extra["invoice_number"]) == len(PREFIX) + 7
    assert extra["due_date"] == iso(s.t1 + timedelta(days=15))
    # Every issued invoice of the customer has its own number.
    numbers = [
        (i.model_extra or {}).get("invoice_number")
        for i in a.v1.customers.invoices.list(customer_id=s.customer)
        if i.status != "DRAFT"
    ]
    assert all(numbers)
    assert len(set(numbers)) == len(numbers)


def test_pdf_reads_back(a: Metronome, h: httpx.Client, issued: dict[str, Any], clock_server: Running) -> None:  # noqa: F811
    s = _s(issued)
    inv = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=issued["draft"].id).data
    number = (inv.model_extra or {})["invoice_number"]
    r = h.get(f"/v1/customers/{s.customer}/invoices/{inv.id}/pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    text = pdf.text(r.content)
    for expected in [
        ISSUER,
        "ул. Тверская 7",
        "EL-998877",
        CUSTOMER,  # CJK, the em dash, the umlaut and the euro sign print as themselves
        "8001 Zürich",
        "CHE-123.456.789",
        number,
        _day(s.t1),  # issue date
        _day(s.t1 + timedelta(days=15)),  # due date
        "$80.00",  # tokens
        "$20.00",  # tier 1
        "$60.00",  # tier 2
        "$0.02",
        "$0.01",
        "$4.00",  # API calls
        "$0.40",
        "$84.00",  # subtotal
        "-$10.00",  # welcome credit
        "-$50.00",  # prepaid commit
        "$24.00",  # total due
        "Page 1 of 1",
    ]:
        assert expected in text, (expected, text)
    assert "?" not in text  # nothing fell back to a replacement character
    raw = pdf.text(r.content, raw=True)
    assert "DRAFT" not in raw
    assert "VOID" not in raw
    assert pdf.images(r.content) == 1  # the logo
    # Cached: the same bytes again, stored once.
    again = h.get(f"/v1/customers/{s.customer}/invoices/{inv.id}/pdf")
    assert again.content == r.content
    engine = clock_server.server.engine()
    try:
        with engine.connect() as conn:
            cached = conn.execute(
                select(invoice_pdfs.c.status).where(invoice_pdfs.c.invoice_id == inv.id)
            ).all()
    finally:
        engine.dispose()
    assert [c.status for c in cached] == ["FINALIZED"]
    # The draft PDF (fetched before finalization) carried the DRAFT watermark and no number.
    draft_text = pdf.text(issued["draft_pdf"], raw=True)
    assert draft_text.count("DRAFT") >= 3  # number box, page footer, watermark
    assert number not in draft_text
    assert "$24.00" in draft_text
    # The HTML invoice is the same template.
    page = h.get(f"/tally/v1/customers/{s.customer}/invoices/{inv.id}/html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert CUSTOMER in page.text
    assert number in page.text
    assert "$24.00" in page.text


def test_void_keeps_its_number_regenerate_takes_a_new_one(
    a: Metronome, h: httpx.Client, issued: dict[str, Any]
) -> None:
    s = _s(issued)
    inv = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=issued["draft"].id).data
    number = (inv.model_extra or {})["invoice_number"]
    a.v1.invoices.void(id=inv.id)
    voided = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=inv.id).data
    assert voided.status == "VOID"
    assert (voided.model_extra or {})["invoice_number"] == number
    text = pdf.text(h.get(f"/v1/customers/{s.customer}/invoices/{inv.id}/pdf").content, raw=True)
    assert "VOID" in text
    assert number in text
    new_id = a.v1.invoices.regenerate(id=inv.id).data.id
    assert new_id is not None
    new = a.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=new_id).data
    assert new.status == "FINALIZED"  # the period is past due, so it is issued at once
    new_number = (new.model_extra or {})["invoice_number"]
    assert int(new_number.split("-")[1]) > int(number.split("-")[1])


def test_five_hundred_lines_flow_over_pages(a: Metronome, h: httpx.Client, issued: dict[str, Any]) -> None:
    """500 pricing groups -> 500 lines. Region r000..r499 uses i+1 tokens at 3 cents:
    3 x (1 + 2 + ... + 500) = 3 x 125,250 = 375,750 cents = $3,757.50."""
    s = _s(issued)
    uid = "many" + iso(clock_now(h)).replace(":", "").replace("-", "")[:13]
    event = f"many_{uid}"
    metric = a.v1.billable_metrics.create(
        name=f"many {uid}",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": [event]},
        property_filters=[{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    ).data.id
    product = a.v1.contracts.products.create(
        name=f"Regional tokens {uid}", type="USAGE", billable_metric_id=metric, pricing_group_key=["region"]
    ).data.id
    now = clock_now(h)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=product, entitled=True, rate_type="FLAT", price=3, starting_at=start
    )
    customer = a.v1.customers.create(name=f"{CUSTOMER} {uid}", ingest_aliases=[uid]).data.id
    a.v1.contracts.create(customer_id=customer, starting_at=start, rate_card_id=card, name=f"c {uid}")
    at = iso(now - timedelta(minutes=5))
    for batch in range(5):
        a.v1.usage.ingest(
            usage=[
                {
                    "transaction_id": f"{uid}-{i}",
                    "customer_id": uid,
                    "event_type": event,
                    "timestamp": at,
                    "properties": {"tokens": i + 1, "region": f"r{i:03d}"},
                }
                for i in range(batch * 100, batch * 100 + 100)
            ]
        )
    draft = next(i for i in a.v1.customers.invoices.list(customer_id=customer) if i.type == "USAGE")
    assert len(draft.line_items) == 500
    assert draft.total == 375750
    body = h.get(f"/v1/customers/{customer}/invoices/{draft.id}/pdf", timeout=300).content  # hang bound
    n = pdf.pages(body)
    assert n >= 5
    text = pdf.text(body)
    assert "Page 1 of" in text
    assert f"Page {n} of {n}" in text
    assert "region: r000" in text
    assert "region: r499" in text
    assert "$3,757.50" in text
    assert "$15.00" in text  # r499: 500 tokens x 3 cents
    del s
