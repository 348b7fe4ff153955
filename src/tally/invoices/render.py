"""The invoice document: one Jinja2 template (templates/invoice.html.j2) renders the HTML invoice and,
through WeasyPrint, the PDF (docs/decisions.md says why WeasyPrint). Money is formatted by Babel in the
invoice's currency (`$1,234.56`; USD amounts are stored in cents), custom pricing units by name.

Nothing here reads the database: `Parties` (issuer, bill-to, logo, number, due date) are gathered by the
caller, frozen for issued invoices and live for drafts.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, select_autoescape

from tally.invoices.document import CreditType, InvoiceDoc, LineItem
from tally.models.invoices import InvoiceStatus
from tally.money.credit_types import FIAT_BY_ID, USD_CENTS_ID
from tally.rating.results import LineType

LOCALE = "en_US"
_DASH = "\u2013"  # en dash between the dates of a range


@dataclass(frozen=True)
class Parties:
    issuer: dict[str, Any]
    bill_to: dict[str, Any]
    number: str | None
    due_date: datetime
    logo: tuple[str, bytes] | None = None


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("tally.invoices", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Money:
    """Formats amounts of one credit type."""

    def __init__(self, credit_type: CreditType) -> None:
        fiat = FIAT_BY_ID.get(credit_type.id)
        self.code = fiat.code if fiat is not None else None
        self.scale = Decimal(100) if credit_type.id == USD_CENTS_ID else Decimal(1)
        self.name = credit_type.name if fiat is None else (fiat.code or credit_type.name)

    @classmethod
    def of(cls, credit_type: Mapping[str, Any]) -> Money:
        """For a credit type as other wire documents hold it (`{"id": ..., "name": ...}`)."""
        return cls(CreditType(id=credit_type["id"], name=credit_type["name"]))

    def amount(self, value: Any) -> str:
        if value is None:
            return ""
        d = _dec(value) / self.scale
        if self.code is None:
            return f"{format_decimal(d, locale=LOCALE, decimal_quantization=False)} {self.name}"
        return format_currency(d, self.code, locale=LOCALE)

    def price(self, value: Any) -> str:
        """A unit price keeps its precision ($0.005 stays $0.005)."""
        if value is None:
            return ""
        d = _dec(value) / self.scale
        if self.code is None:
            return f"{format_decimal(d, locale=LOCALE, decimal_quantization=False)} {self.name}"
        return format_currency(d, self.code, locale=LOCALE, decimal_quantization=False)


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _qty(value: Any) -> str:
    return "" if value is None else format_decimal(_dec(value), locale=LOCALE, decimal_quantization=False)


def quantity(value: Any) -> str:
    """A quantity as the invoice prints it (`1,500`, `2.5`): the console shows the same figures."""
    return _qty(value)


def _date(value: datetime) -> str:
    return format_date(value.date(), format="medium", locale=LOCALE)


def _range(start: datetime, end: datetime) -> str:
    return f"{_date(start)} {_DASH} {_date(end - timedelta(microseconds=1))}"  # the end is exclusive


def _period(doc: InvoiceDoc) -> str:
    if doc.end_timestamp <= doc.start_timestamp:
        return _date(doc.start_timestamp)
    return _range(doc.start_timestamp, doc.end_timestamp)


def _detail(li: LineItem) -> str:
    bits = [f"{k}: {v}" for k, v in sorted(li.group_values.items()) if v is not None]
    if li.starting_at and li.ending_before and li.ending_before > li.starting_at:
        bits.append(_range(li.starting_at, li.ending_before))
    if li.is_prorated:
        bits.append("prorated")
    return " · ".join(bits)


def context(doc: InvoiceDoc, parties: Parties, customer_name: str) -> dict[str, Any]:
    """Everything the template shows, formatted."""
    money = Money(doc.credit_type)
    lines: list[dict[str, str]] = []
    deductions: list[dict[str, str]] = []
    subtotal = Decimal(0)
    for li in doc.line_items:
        lm = Money(li.credit_type)
        if li.type is LineType.APPLIED:
            deductions.append({"name": li.name, "amount": lm.amount(li.total)})
            continue
        subtotal += li.total
        lines.append(
            {
                "kind": "line",
                "name": li.name,
                "detail": _detail(li),
                "quantity": _qty(li.quantity),
                "unit_price": lm.price(li.unit_price),
                "amount": lm.amount(li.total),
            }
        )
        for sub in li.sub_line_items:
            for i, tier in enumerate(sub.tiers):
                start = _qty(tier.starting_at)
                lines.append(
                    {
                        "kind": "tier",
                        "name": sub.name if i == 0 else "",
                        "detail": f"from {start}" if start else "",
                        "quantity": _qty(tier.quantity),
                        "unit_price": lm.price(tier.price),
                        "amount": lm.amount(tier.subtotal),
                    }
                )
    status = doc.status
    number_or_status = parties.number or (status if status == InvoiceStatus.DRAFT else "not numbered")
    bill_to = dict(parties.bill_to)
    bill_to["legal_name"] = bill_to.get("legal_name") or customer_name
    logo_uri = None
    if parties.logo is not None:
        media_type, data = parties.logo
        logo_uri = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    return {
        "title": f"Invoice {number_or_status}",
        "invoice_id": doc.id,
        "number_or_status": number_or_status,
        "watermark": status if status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID) else None,
        "issuer": parties.issuer,
        "bill_to": bill_to,
        "logo_uri": logo_uri,
        "issue_date": _date(doc.issued_at),
        "due_date": _date(parties.due_date),
        "period": _period(doc),
        "lines": lines,
        "deductions": deductions,
        "subtotal": money.amount(subtotal),
        "total": money.amount(doc.total),
        "currency": money.code or money.name,
    }


def html(ctx: dict[str, Any]) -> str:
    return _env().get_template("invoice.html.j2").render(ctx)


@lru_cache(maxsize=1)
def _fetcher() -> Any:
    """The renderer fetches nothing but inline data: the only image (the logo) is a data: URI, so no
    template value can make the server reach a file or the network."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)


# WeasyPrint's Pango/fontconfig state is not safe to drive from several threads at once (the server's
# endpoint threads): one render at a time per process.
_RENDER_LOCK = threading.Lock()


def pdf(ctx: dict[str, Any]) -> bytes:
    import weasyprint  # imported on first use: it loads Pango and fonts

    page = html(ctx)
    with _RENDER_LOCK:
        out = weasyprint.HTML(string=page, url_fetcher=_fetcher()).write_pdf()
    assert out is not None
    return bytes(out)
