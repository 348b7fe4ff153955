"""Formatting shared by the console's pages: money as the invoice shows it, service periods, deep links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from tally.console.web import PREFIX
from tally.invoices import render as invoice_render
from tally.money.credit_types import USD_CENTS_ID


def money(credit_type: dict[str, Any], amount: Any) -> str:
    return invoice_render.Money.of(credit_type).amount(amount)


def period(start: datetime, end: datetime) -> str:
    """Dates of a service period, both inclusive (its end is exclusive); one date for an instant."""
    last = end - timedelta(microseconds=1)
    if end <= start or last.date() == start.date():
        return start.strftime("%Y-%m-%d")
    return f"{start:%Y-%m-%d} \u2013 {last:%Y-%m-%d}"


def balance_credit_type(balance_doc: dict[str, Any]) -> dict[str, Any]:
    schedule = balance_doc.get("access_schedule") or {}
    return schedule.get("credit_type") or {"id": USD_CENTS_ID, "name": "USD (cents)"}


def invoice_url(customer_id: str, invoice_id: str) -> str:
    return f"{PREFIX}/customers/{quote(customer_id, safe='')}/invoices/{quote(invoice_id, safe='')}"
