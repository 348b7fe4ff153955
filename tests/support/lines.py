"""Whole invoice lines, checked exactly: every line of the invoice, in order, on the fields a reader computes
by hand (product, quantity, unit price, amount, group values, tiers, the balance a deduction draws on).

Numbers compare as decimals (``"8"`` equals ``"8.0"``); a field an expected line names beyond ``CHECKED``
(``starting_at``, ``credit_type_id``...) is then compared on every line of that invoice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CHECKED = (
    "type",
    "name",
    "product_id",
    "quantity",
    "unit_price",
    "total",
    "pricing_group_values",
    "presentation_group_values",
    "tiers",
    "applied_commit_or_credit",
    "quantity_consumed",
    "subscription_id",
    "is_prorated",
    "scheduled_charge_id",
    "discount_id",
)
NUMBERS = frozenset({"quantity", "unit_price", "total", "quantity_consumed"})

Tier = tuple[str, str, str, str]  # (starting_at, quantity, price, subtotal)


def _value(field: str, value: Any) -> Any:
    if field in NUMBERS and value is not None:
        return Decimal(str(value))
    if field == "tiers":
        return [{k: Decimal(str(v)) for k, v in tier.items()} for tier in value]
    return value


def _project(line: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: _value(f, line[f]) for f in fields if f in line}


def assert_lines(invoice: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    """The invoice has exactly these lines, in this order (fields outside the projection are ignored)."""
    fields = CHECKED + tuple(sorted({k for e in expected for k in e} - set(CHECKED)))
    actual = [_project(li, fields) for li in invoice["line_items"]]
    assert actual == [_project(e, fields) for e in expected], [li.get("key") for li in invoice["line_items"]]


def assert_sdk_lines(invoice: Any, expected: list[dict[str, Any]], *, by_start: bool = False) -> None:
    """assert_lines on an invoice from the Metronome SDK; ``by_start`` orders its lines by service start
    first (the order of one product's lines is not specified)."""
    items = [li.model_dump(exclude_none=True) for li in invoice.line_items]
    if by_start:
        items.sort(key=lambda li: li["starting_at"])
    assert_lines({"line_items": items}, expected)


def usage_line(pid: str, name: str, quantity: str, unit_price: str, total: str, **kw: Any) -> dict[str, Any]:
    line = {"type": "usage", "product_id": pid, "name": name, "quantity": quantity, "unit_price": unit_price}
    return {**line, "total": total, **kw}


def tiered_line(
    pid: str, name: str, quantity: str, tiers: list[Tier], total: str, **kw: Any
) -> dict[str, Any]:
    rows = [{"starting_at": s, "quantity": q, "price": p, "subtotal": t} for s, q, p, t in tiers]
    line = {"type": "usage", "product_id": pid, "name": name, "quantity": quantity, "tiers": rows}
    return {**line, "total": total, **kw}


def subscription_line(
    sid: str, pid: str, name: str, quantity: str, unit_price: str, total: str, is_prorated: bool, **kw: Any
) -> dict[str, Any]:
    line = {"type": "subscription", "subscription_id": sid, "product_id": pid, "name": name}
    return {
        **line,
        "quantity": quantity,
        "unit_price": unit_price,
        "total": total,
        "is_prorated": is_prorated,
        **kw,
    }


def applied_line(cid: str, kind: str, total: str, name: str | None = None, **kw: Any) -> dict[str, Any]:
    """A deduction from commit/credit ``cid`` (kind PREPAID, POSTPAID or CREDIT); unnamed balances are
    named after their kind ("Prepaid", "Credit")."""
    access = kw.pop("access", {})
    return {
        "type": "applied_commit_or_credit",
        "name": name or kind.title(),
        "total": total,
        "applied_commit_or_credit": {"id": cid, "type": kind, **access},
        **kw,
    }
