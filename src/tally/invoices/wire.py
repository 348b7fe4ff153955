"""Engine invoices -> Metronome's invoice JSON (SPEC §6.3), and the canonical snapshot bytes.

Every number is a normalized Decimal (`1200`, not `1.2E+3` or `1200.00`), so the same invoice encodes to
the same bytes whatever the database returned (NUMERIC on PostgreSQL, text on SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tally.money.format import plain
from tally.rating import inputs as ri
from tally.rating.results import Invoice, InvoiceLine, LineType
from tally.wire import encode_json, format_timestamp, parse_timestamp


def num(value: Decimal) -> Decimal:
    return Decimal(plain(value))


def _ct(credit_type_id: str, names: Mapping[str, str]) -> dict[str, str]:
    return {"id": credit_type_id, "name": names.get(credit_type_id, credit_type_id)}


def line_wire(line: InvoiceLine, names: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "credit_type": _ct(line.credit_type_id, names),
        "name": line.name,
        "total": num(line.total),
        "type": line.type.value,
    }
    if line.quantity is not None:
        out["quantity"] = num(line.quantity)
    if line.unit_price is not None:
        out["unit_price"] = num(line.unit_price)
    for key in (
        "product_id",
        "product_type",
        "subscription_id",
        "scheduled_charge_id",
        "discount_id",
        "commit_id",
        "commit_segment_id",
        "commit_type",
        "is_prorated",
    ):
        value = getattr(line, key)
        if value is not None:
            out[key] = value
    if line.starting_at is not None:
        out["starting_at"] = format_timestamp(line.starting_at)
    if line.ending_before is not None:
        out["ending_before"] = format_timestamp(line.ending_before)
    if line.pricing_group_values:
        out["pricing_group_values"] = dict(line.pricing_group_values)
    if line.presentation_group_values:
        out["presentation_group_values"] = dict(line.presentation_group_values)
    if line.quantity_consumed is not None:
        out["quantity_consumed"] = num(line.quantity_consumed)
    if line.applied_type is not None and line.commit_id is not None:
        out["applied_commit_or_credit"] = {"id": line.commit_id, "type": line.applied_type}
    if line.type is LineType.POSTPAID_TRUEUP and line.commit_id is not None:
        out["postpaid_commit"] = {"id": line.commit_id}
    if line.tiers:
        out["sub_line_items"] = [
            {
                "name": f"{line.name} (tier {i + 1})",
                "quantity": num(t.quantity),
                "subtotal": num(t.subtotal),
                "price": num(t.price),
                "custom_fields": {},
                "tiers": [
                    {
                        "price": num(t.price),
                        "quantity": num(t.quantity),
                        "starting_at": num(t.starting_at),
                        "subtotal": num(t.subtotal),
                    }
                ],
            }
            for i, t in enumerate(line.tiers)
        ]
    return out


def invoice_wire(
    inv: Invoice,
    *,
    invoice_id: str,
    status: str,
    names: Mapping[str, str],
    net_payment_terms_days: int | None = None,
    regenerated_from: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": invoice_id,
        "customer_id": inv.customer_id,
        "contract_id": inv.contract_id,
        "type": inv.type.value,
        "status": status,
        "credit_type": {
            "id": inv.credit_type.id,
            "name": names.get(inv.credit_type.id, inv.credit_type.name),
        },
        "start_timestamp": format_timestamp(inv.start_timestamp),
        "end_timestamp": format_timestamp(inv.end_timestamp),
        "issued_at": format_timestamp(inv.end_timestamp),
        "subtotal": num(inv.subtotal),
        "total": num(inv.total),
        "line_items": [line_wire(li, names) for li in inv.line_items],
        "invoice_adjustments": [],
    }
    if net_payment_terms_days is not None:
        out["net_payment_terms_days"] = Decimal(net_payment_terms_days)
    if regenerated_from is not None:
        out["regenerated_from_invoice_id"] = regenerated_from
    return out


def snapshot_bytes(doc: dict[str, Any]) -> tuple[str, str]:
    """The stored snapshot text and its SHA-256 (hex)."""
    raw = encode_json(doc)
    return raw.decode(), hashlib.sha256(raw).hexdigest()


def list_price(
    rates: tuple[ri.Rate, ...], line: dict[str, Any], names: Mapping[str, str]
) -> dict[str, Any] | None:
    """The rate-card rate in force for a usage or subscription line (`include_list_prices`)."""
    pid = line.get("product_id")
    if pid is None or line["type"] not in ("usage", "subscription"):
        return None
    at = _ts(line.get("starting_at"))
    pgv = tuple(sorted((line.get("pricing_group_values") or {}).items()))
    candidates = [
        r
        for r in rates
        if r.product_id == pid
        and (at is None or (r.starting_at <= at and (r.ending_before is None or at < r.ending_before)))
    ]
    exact = [r for r in candidates if r.pricing_group_values == pgv]
    pool = exact or [r for r in candidates if not r.pricing_group_values]
    if not pool:
        return None
    chosen = pool[0]
    out: dict[str, Any] = {
        "rate_type": chosen.rate_type.value,
        "credit_type": _ct(chosen.credit_type_id or line["credit_type"]["id"], names),
    }
    if chosen.price is not None:
        out["price"] = num(chosen.price)
    if chosen.tiers:
        out["tiers"] = [
            {"price": num(t.price), **({"size": num(t.size)} if t.size is not None else {})}
            for t in chosen.tiers
        ]
    if chosen.quantity is not None:
        out["quantity"] = num(chosen.quantity)
    if chosen.pricing_group_values:
        out["pricing_group_values"] = dict(chosen.pricing_group_values)
    return out


def _ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return parse_timestamp(value, "starting_at")
