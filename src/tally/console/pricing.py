"""How the console words a rate from its wire shape (a rate card's `rate`, an override's `overwrite_rate`):
`$0.02 / unit`, `0-1,000 @ $0.02 · 1,000+ @ $0.01`, `10% of spend`. Labels only; no pricing logic."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tally.invoices import render as invoice_render
from tally.money.credit_types import USD_CENTS_ID
from tally.wire import parse_timestamp

USD_CENTS = {"id": USD_CENTS_ID, "name": "USD (cents)"}
PERCENT_TYPES = ("PERCENTAGE", "TIERED_PERCENTAGE")


def unit_price(credit_type: dict[str, Any] | None, value: Any) -> str:
    """A unit price at full precision ($0.005 stays $0.005)."""
    return invoice_render.Money.of(credit_type or USD_CENTS).price(value)


def qty(value: Any) -> str:
    return invoice_render.quantity(value)


def _percent(value: Any) -> str:
    return f"{qty(Decimal(str(value)) * 100)}%"


def tiers_label(
    tiers: list[dict[str, Any]], credit_type: dict[str, Any] | None, percent: bool = False
) -> str:
    """Tiers by their cumulative bounds: a tier's `size` is how many units it holds."""
    parts = []
    lower = Decimal(0)
    for t in tiers:
        price = _percent(t["price"]) if percent else unit_price(credit_type, t["price"])
        if t.get("size") is None:
            parts.append(f"{qty(lower)}+ @ {price}")
        else:
            upper = lower + Decimal(str(t["size"]))
            parts.append(f"{qty(lower)}\u2013{qty(upper)} @ {price}")
            lower = upper
    return " \u00b7 ".join(parts)


def rate_label(rate: dict[str, Any]) -> str:
    kind = rate.get("rate_type", "")
    ct = rate.get("credit_type")
    if kind in ("TIERED", "TIERED_PERCENTAGE") and rate.get("tiers"):
        return tiers_label(rate["tiers"], ct, percent=kind == "TIERED_PERCENTAGE")
    if kind == "PERCENTAGE" and rate.get("price") is not None:
        return f"{_percent(rate['price'])} of spend"
    if kind == "CUSTOM":
        return "custom rate"
    if rate.get("price") is None:
        return kind.lower() or "\u2014"
    price = unit_price(ct, rate["price"])
    if kind == "SUBSCRIPTION":
        return (
            f"{price} / seat" if rate.get("quantity") is None else f"{price} \u00d7 {qty(rate['quantity'])}"
        )
    if rate.get("quantity") is not None:
        return f"{price} \u00d7 {qty(rate['quantity'])}"
    return f"{price} / unit"


def when(value: Any) -> str:
    """A wire timestamp (string or datetime) as `2026-01-01` at midnight, else `2026-01-01 13:05` (UTC)."""
    if value is None or value == "":
        return ""
    t = value if isinstance(value, datetime) else parse_timestamp(str(value), "timestamp")
    if (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0):
        return f"{t:%Y-%m-%d}"
    return f"{t:%Y-%m-%d %H:%M}"


def moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else parse_timestamp(str(value), "timestamp")
