"""Invoice document formatting (issue 15), pure: Babel money in the invoice's currency, numbers, due dates,
the template's escaping. Invariants by hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tally.invoices import document, documents, render
from tally.money.credit_types import USD_CENTS_ID, fiat_id

USD_DOC = {"id": USD_CENTS_ID, "name": "USD (cents)"}
USD = render.Money.of(USD_DOC)
EUR = render.Money.of({"id": fiat_id("EUR"), "name": "EUR"})
TOKENS = render.Money.of({"id": "custom-1", "name": "tokens"})


def _back(text: str, symbol: str) -> Decimal:
    negative = text.startswith("-")
    digits = text.lstrip("-").removeprefix(symbol).replace(",", "")
    return -Decimal(digits) if negative else Decimal(digits)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_usd_cents_print_as_dollars_exactly(cents: int) -> None:
    text = USD.amount(Decimal(cents))
    assert _back(text, "$") == Decimal(cents) / 100
    assert text.split(".")[-1].isdigit() and len(text.split(".")[-1]) == 2  # noqa: PT018


@given(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**6), places=6))
def test_unit_prices_keep_their_precision(price: Decimal) -> None:
    assert _back(USD.price(price), "$") == price / 100
    assert _back(EUR.price(price), "€") == price


def test_examples() -> None:
    assert USD.amount(Decimal(123456)) == "$1,234.56"
    assert USD.amount(Decimal(-1000)) == "-$10.00"
    assert EUR.amount(Decimal("12")) == "€12.00"
    assert TOKENS.amount(Decimal("1250.5")) == "1,250.5 tokens"
    assert USD.price(Decimal("0.25")) == "$0.0025"


@given(st.integers(min_value=1, max_value=999_999), st.integers(min_value=1, max_value=999_999))
def test_numbers_sort_like_their_sequence(a: int, b: int) -> None:
    na, nb = documents.format_number("INV", a), documents.format_number("INV", b)
    assert (na < nb) == (a < b)
    assert int(na.split("-")[1]) == a


def test_due_date_uses_contract_terms_else_default() -> None:
    issued = datetime(2026, 3, 31, tzinfo=UTC)
    assert documents.due_date(issued, 10, 30) == datetime(2026, 4, 10, tzinfo=UTC)
    assert documents.due_date(issued, None, 30) == datetime(2026, 4, 30, tzinfo=UTC)
    assert documents.due_date(issued, 0, 30) == issued


def test_template_escapes_what_customers_type() -> None:
    doc = {
        "id": "i1",
        "customer_id": "c1",
        "contract_id": "k1",
        "type": "USAGE",
        "status": "FINALIZED",
        "credit_type": USD_DOC,
        "start_timestamp": "2026-03-01T00:00:00Z",
        "end_timestamp": "2026-04-01T00:00:00Z",
        "issued_at": "2026-04-01T00:00:00Z",
        "subtotal": Decimal(500),
        "total": Decimal(500),
        "line_items": [
            {"credit_type": USD_DOC, "name": "<script>x</script>", "total": Decimal(500), "type": "usage"}
        ],
    }
    parties = render.Parties({"address_lines": []}, {"address_lines": []}, "INV-000001", datetime.now(UTC))
    page = render.html(render.context(document.parse(doc), parties, "A & B <GmbH>"))
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "A &amp; B &lt;GmbH&gt;" in page
    assert "Mar 1, 2026 – Mar 31, 2026" in page  # noqa: RUF001  (the period's end is exclusive)
