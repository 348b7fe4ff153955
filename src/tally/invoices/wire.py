"""Engine invoices -> Metronome's invoice JSON (SPEC §6.3), and the canonical snapshot bytes.

The engine speaks its own vocabulary (``ProductType``, ``CommitType``, ``LedgerEntryKind``); the tables
below are the one place that names them as Metronome does.

Every number is a normalized Decimal (`1200`, not `1.2E+3` or `1200.00`), so the same invoice encodes to
the same bytes whatever the database returned (NUMERIC on PostgreSQL, text on SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tally.invoices.document import CommitKind, LineItem, ProductListType
from tally.money import RoundingMode
from tally.money.format import plain
from tally.rating import inputs as ri
from tally.rating.engine import rate_scheduled_invoices, rate_usage_invoice
from tally.rating.from_wire import Json, contract_from_wire, ts, usage_from_wire
from tally.rating.inputs import CommitType, ProductType
from tally.rating.periods import Period
from tally.rating.prices.custom import CustomPricer
from tally.rating.results import Invoice, InvoiceLine, LedgerEntry, LedgerEntryKind, LineType
from tally.wire import encode_json, format_timestamp

#: A line's ``product_type``: Metronome names list items, not products (a professional service is fixed).
PRODUCT_TYPE = {
    ProductType.USAGE: ProductListType.USAGE,
    ProductType.SUBSCRIPTION: ProductListType.SUBSCRIPTION,
    ProductType.COMPOSITE: ProductListType.COMPOSITE,
    ProductType.FIXED: ProductListType.FIXED,
    ProductType.PRO_SERVICE: ProductListType.FIXED,
}
#: A line's ``commit_type``: a credit is applied as a prepaid commit.
COMMIT_TYPE = {
    CommitType.PREPAID: CommitKind.PREPAID,
    CommitType.CREDIT: CommitKind.PREPAID,
    CommitType.POSTPAID: CommitKind.POSTPAID,
}
#: A ledger entry's ``type``. Only a postpaid commit is trued up.
LEDGER_ENTRY_TYPE = {
    (LedgerEntryKind.DEDUCTION, CommitType.PREPAID): "PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
    (LedgerEntryKind.DEDUCTION, CommitType.CREDIT): "CREDIT_AUTOMATED_INVOICE_DEDUCTION",
    (LedgerEntryKind.DEDUCTION, CommitType.POSTPAID): "POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
    (LedgerEntryKind.TRUEUP, CommitType.POSTPAID): "POSTPAID_COMMIT_TRUEUP",
    (LedgerEntryKind.ROLLOVER, CommitType.PREPAID): "PREPAID_COMMIT_ROLLOVER",
    (LedgerEntryKind.ROLLOVER, CommitType.CREDIT): "CREDIT_ROLLOVER",
    (LedgerEntryKind.ROLLOVER, CommitType.POSTPAID): "POSTPAID_COMMIT_ROLLOVER",
    (LedgerEntryKind.EXPIRATION, CommitType.PREPAID): "PREPAID_COMMIT_EXPIRATION",
    (LedgerEntryKind.EXPIRATION, CommitType.CREDIT): "CREDIT_EXPIRATION",
    (LedgerEntryKind.EXPIRATION, CommitType.POSTPAID): "POSTPAID_COMMIT_EXPIRATION",
}


def ledger_entry_type(entry: LedgerEntry) -> str:
    return LEDGER_ENTRY_TYPE[(entry.kind, entry.commit_type)]


def num(value: Decimal) -> Decimal:
    return Decimal(plain(value))


def _product_type(line: InvoiceLine) -> ProductListType | None:
    return PRODUCT_TYPE[line.product_type] if line.product_type is not None else None


def _billed_item(line: InvoiceLine) -> dict[str, Any]:
    """The subscription, scheduled charge, discount or commit a line bills (None where it has none)."""
    return {
        "subscription_id": line.subscription_id,
        "scheduled_charge_id": line.scheduled_charge_id,
        "discount_id": line.discount_id,
        "commit_id": line.commit_id,
        "commit_segment_id": line.commit_segment_id,
        "commit_type": COMMIT_TYPE[line.commit_type] if line.commit_type is not None else None,
    }


def _references(line: InvoiceLine) -> dict[str, Any]:
    """The applied commit or credit, or the trued-up postpaid commit, a line points at."""
    if line.commit_id is None:
        return {}
    if line.type is LineType.APPLIED and line.commit_type is not None:
        applied = {"id": line.commit_id, "type": line.commit_type.value}
        if line.quantity_consumed is not None:  # a QUANTITY balance; absent means SPEND, the SDK's default
            applied["access_type"] = "QUANTITY"
        return {"applied_commit_or_credit": applied}
    if line.type is LineType.POSTPAID_TRUEUP:
        return {"postpaid_commit": {"id": line.commit_id}}
    return {}


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
    refs = {
        "product_id": line.product_id,
        "product_type": _product_type(line),
        **_billed_item(line),
        "is_prorated": line.is_prorated,
    }
    out.update({k: v for k, v in refs.items() if v is not None})
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
    out.update(_references(line))
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


def rated_invoice_json(inv: Invoice) -> dict[str, Any]:
    """The library's JSON for an engine invoice: every Decimal as a string, lines with their keys, the
    ledger entries it makes, and the warnings."""
    return {
        "type": inv.type.value,
        "contract_id": inv.contract_id,
        "customer_id": inv.customer_id,
        "credit_type": {"id": inv.credit_type.id, "name": inv.credit_type.name},
        "start_timestamp": _stamp(inv.start_timestamp),
        "end_timestamp": _stamp(inv.end_timestamp),
        "subtotal": plain(inv.subtotal),
        "total": plain(inv.total),
        "line_items": [rated_line_json(li) for li in inv.line_items],
        "ledger_entries": [
            {
                "type": ledger_entry_type(e),
                "amount": plain(e.amount),
                "timestamp": _stamp(e.timestamp),
                "commit_id": e.commit_id,
                "segment_id": e.segment_id,
            }
            for e in inv.ledger_entries
        ],
        "warnings": list(inv.warnings),
    }


def rated_line_json(line: InvoiceLine) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": line.key,
        "type": line.type.value,
        "name": line.name,
        "credit_type_id": line.credit_type_id,
        "total": plain(line.total),
    }
    optional: dict[str, Any] = {
        "quantity": plain(line.quantity) if line.quantity is not None else None,
        "unit_price": plain(line.unit_price) if line.unit_price is not None else None,
        "product_id": line.product_id,
        "product_type": _product_type(line),
        "starting_at": _stamp(line.starting_at) if line.starting_at else None,
        "ending_before": _stamp(line.ending_before) if line.ending_before else None,
        "pricing_group_values": dict(line.pricing_group_values) or None,
        "presentation_group_values": dict(line.presentation_group_values) or None,
        "is_prorated": line.is_prorated,
        **_billed_item(line),
        "quantity_consumed": plain(line.quantity_consumed) if line.quantity_consumed is not None else None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out.update(_references(line))
    if line.tiers:
        out["tiers"] = [
            {
                "starting_at": plain(t.starting_at),
                "quantity": plain(t.quantity),
                "price": plain(t.price),
                "subtotal": plain(t.subtotal),
            }
            for t in line.tiers
        ]
    return out


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def rate_contract(
    contract: Json,
    *,
    rate_card: Json,
    products: Sequence[Json],
    usage: Sequence[Json] = (),
    period: Json,
    credit_types: Sequence[Json] = (),
    line_rounding: str = "HALF_UP",
    custom_pricers: Mapping[str, CustomPricer] | None = None,
) -> dict[str, Any]:
    """Rate one usage period of a Metronome-shaped contract; returns the invoice as plain JSON values
    (``rated_invoice_json``): the library API.

    ``period`` is ``{"starting_at": ..., "ending_before": ...}``. Balance segments may carry
    ``"consumed"``: what earlier invoices already drew from them.
    """
    built = contract_from_wire(contract, rate_card, products, credit_types)
    invoice = rate_usage_invoice(
        built,
        usage_from_wire(usage),
        Period(ts(period["starting_at"]), ts(period["ending_before"])),
        options=ri.RatingOptions(line_rounding=RoundingMode(line_rounding)),
        custom_pricers=custom_pricers,
    )
    return rated_invoice_json(invoice)


def scheduled_invoices(
    contract: Json, *, rate_card: Json, products: Sequence[Json], window: Json
) -> list[dict[str, Any]]:
    """SCHEDULED invoices (scheduled charges, commit purchases) dated inside ``window``, as JSON."""
    built = contract_from_wire(contract, rate_card, products)
    found = rate_scheduled_invoices(built, Period(ts(window["starting_at"]), ts(window["ending_before"])))
    return [rated_invoice_json(inv) for inv in found]


def snapshot_bytes(doc: dict[str, Any]) -> tuple[str, str]:
    """The stored snapshot text and its SHA-256 (hex)."""
    raw = encode_json(doc)
    return raw.decode(), hashlib.sha256(raw).hexdigest()


def list_price(rates: tuple[ri.Rate, ...], line: LineItem, names: Mapping[str, str]) -> dict[str, Any] | None:
    """The rate-card rate in force for a usage or subscription line (`include_list_prices`)."""
    pid = line.product_id
    if pid is None or line.type not in (LineType.USAGE, LineType.SUBSCRIPTION):
        return None
    at = line.starting_at
    pgv = tuple(sorted((line.pricing_group_values or {}).items()))
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
        "credit_type": _ct(chosen.credit_type_id or line.credit_type.id, names),
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
