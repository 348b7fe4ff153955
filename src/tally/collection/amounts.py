"""tally invoice JSON -> Stripe invoice items in the currency's minor units (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tally.money.credit_types import FIAT_BY_ID, USD_CENTS_ID
from tally.wire import parse_timestamp

# Stripe's zero-decimal currencies among tally's fiat credit types: none today, kept explicit.
_ZERO_DECIMAL: frozenset[str] = frozenset()


class NotSendable(Exception):
    """The invoice cannot be expressed as a Stripe invoice (e.g. a custom pricing unit)."""


@dataclass(frozen=True)
class Item:
    index: int
    description: str
    amount: int  # minor units
    period_start: int | None
    period_end: int | None


@dataclass(frozen=True)
class Plan:
    currency: str  # lower-case ISO code, as Stripe writes it
    total: int  # minor units
    items: list[Item]


def _factor(credit_type_id: str) -> tuple[str, Decimal]:
    ct = FIAT_BY_ID.get(credit_type_id)
    if ct is None or ct.code is None:
        raise NotSendable(f"credit type {credit_type_id} is not a fiat currency; Stripe bills only fiat")
    if credit_type_id == USD_CENTS_ID:
        return "usd", Decimal(1)  # USD (cents): amounts already count the minor unit
    code = ct.code.lower()
    return code, Decimal(1) if ct.code in _ZERO_DECIMAL else Decimal(100)


def minor(amount: Decimal, factor: Decimal) -> int:
    return int((amount * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _epoch(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    return int(parse_timestamp(value, "timestamp").timestamp())


def plan(doc: dict[str, Any]) -> Plan:
    """One item per non-zero line; a last 'Rounding' item if the lines' rounded amounts do not add up
    to the rounded invoice total (never expected: lines are rounded to the minor unit already)."""
    currency, factor = _factor(doc["credit_type"]["id"])
    total = minor(Decimal(doc["total"]), factor)
    items: list[Item] = []
    for i, li in enumerate(doc.get("line_items") or []):
        if li["credit_type"]["id"] != doc["credit_type"]["id"]:
            raise NotSendable(f"line {i} ({li.get('name')}) is in another credit type than the invoice")
        amount = minor(Decimal(li["total"]), factor)
        if amount == 0:
            continue
        name = str(li.get("name") or "Charge")
        quantity = li.get("quantity")
        if quantity is not None and li.get("type") == "usage":
            name = f"{name} (quantity {quantity})"
        start = _epoch(li.get("starting_at")) or _epoch(doc.get("start_timestamp"))
        end = _epoch(li.get("ending_before")) or _epoch(doc.get("end_timestamp"))
        items.append(Item(i, name[:500], amount, start, end if start is not None else None))
    rest = total - sum(it.amount for it in items)
    if rest:
        items.append(Item(len(doc.get("line_items") or []), "Rounding", rest, None, None))
    return Plan(currency, total, items)
