"""Results of rating: invoices, their lines (each with a stable key) and ledger entries.

``Invoice.to_json()`` gives Metronome-shaped JSON with every Decimal as a string, ready for the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tally.money import CreditType
from tally.money.format import plain
from tally.rating.inputs import NO_GROUP, GroupValues


class LineType(StrEnum):
    USAGE = "usage"
    SUBSCRIPTION = "subscription"
    SCHEDULED = "scheduled"
    COMMIT_PURCHASE = "commit_purchase"
    APPLIED = "applied_commit_or_credit"
    CPU_CONVERSION = "cpu_conversion"
    POSTPAID_TRUEUP = "postpaid_trueup"
    DISCOUNT = "discount"


class InvoiceType(StrEnum):
    USAGE = "USAGE"
    SCHEDULED = "SCHEDULED"


@dataclass(frozen=True, slots=True)
class TierLine:
    starting_at: Decimal  # cumulative quantity where the tier starts
    quantity: Decimal
    price: Decimal
    subtotal: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One invoice line. ``key`` is stable: recomputing a draft gives the same key for the same line."""

    key: str
    type: LineType
    name: str
    credit_type_id: str
    total: Decimal
    exact_total: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    product_id: str | None = None
    product_type: str | None = None
    starting_at: datetime | None = None
    ending_before: datetime | None = None
    pricing_group_values: GroupValues = NO_GROUP
    presentation_group_values: GroupValues = NO_GROUP
    tiers: tuple[TierLine, ...] = ()
    is_prorated: bool | None = None
    subscription_id: str | None = None
    scheduled_charge_id: str | None = None
    discount_id: str | None = None
    commit_id: str | None = None
    commit_segment_id: str | None = None
    commit_type: str | None = None  # PrepaidCommit | PostpaidCommit
    applied_type: str | None = None  # PREPAID | POSTPAID | CREDIT
    quantity_consumed: Decimal | None = None
    #: Postpaid applications are shown but not subtracted (SPEC §6.3).
    excluded_from_total: bool = False


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    type: str
    amount: Decimal
    timestamp: datetime
    commit_id: str
    segment_id: str | None = None


@dataclass(frozen=True, slots=True)
class SegmentBalance:
    """A balance segment after this invoice: granted - consumed_before - consumed = remaining."""

    commit_id: str
    segment_id: str
    granted: Decimal
    consumed_before: Decimal
    consumed: Decimal
    remaining: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    type: InvoiceType
    contract_id: str
    customer_id: str
    credit_type: CreditType
    start_timestamp: datetime
    end_timestamp: datetime
    line_items: tuple[InvoiceLine, ...]
    subtotal: Decimal
    total: Decimal
    ledger_entries: tuple[LedgerEntry, ...] = ()
    balances: tuple[SegmentBalance, ...] = ()
    warnings: tuple[str, ...] = ()

    def line(self, key: str) -> InvoiceLine:
        for line in self.line_items:
            if line.key == key:
                return line
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "contract_id": self.contract_id,
            "customer_id": self.customer_id,
            "credit_type": {"id": self.credit_type.id, "name": self.credit_type.name},
            "start_timestamp": _ts(self.start_timestamp),
            "end_timestamp": _ts(self.end_timestamp),
            "subtotal": _num(self.subtotal),
            "total": _num(self.total),
            "line_items": [line_to_json(li) for li in self.line_items],
            "ledger_entries": [
                {
                    "type": e.type,
                    "amount": _num(e.amount),
                    "timestamp": _ts(e.timestamp),
                    "commit_id": e.commit_id,
                    "segment_id": e.segment_id,
                }
                for e in self.ledger_entries
            ],
            "warnings": list(self.warnings),
        }


def line_to_json(line: InvoiceLine) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": line.key,
        "type": line.type.value,
        "name": line.name,
        "credit_type_id": line.credit_type_id,
        "total": _num(line.total),
    }
    optional: dict[str, Any] = {
        "quantity": _num(line.quantity) if line.quantity is not None else None,
        "unit_price": _num(line.unit_price) if line.unit_price is not None else None,
        "product_id": line.product_id,
        "product_type": line.product_type,
        "starting_at": _ts(line.starting_at) if line.starting_at else None,
        "ending_before": _ts(line.ending_before) if line.ending_before else None,
        "pricing_group_values": dict(line.pricing_group_values) or None,
        "presentation_group_values": dict(line.presentation_group_values) or None,
        "is_prorated": line.is_prorated,
        "subscription_id": line.subscription_id,
        "scheduled_charge_id": line.scheduled_charge_id,
        "discount_id": line.discount_id,
        "commit_id": line.commit_id,
        "commit_segment_id": line.commit_segment_id,
        "commit_type": line.commit_type,
        "quantity_consumed": _num(line.quantity_consumed) if line.quantity_consumed is not None else None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if line.applied_type is not None:
        out["applied_commit_or_credit"] = {"id": line.commit_id, "type": line.applied_type}
    if line.type is LineType.POSTPAID_TRUEUP:
        out["postpaid_commit"] = {"id": line.commit_id}
    if line.tiers:
        out["tiers"] = [
            {
                "starting_at": _num(t.starting_at),
                "quantity": _num(t.quantity),
                "price": _num(t.price),
                "subtotal": _num(t.subtotal),
            }
            for t in line.tiers
        ]
    return out


_num = plain


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
