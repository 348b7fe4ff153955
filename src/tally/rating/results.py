"""Results of rating: invoices, their lines (each with a stable key) and ledger entries.

The engine's own vocabulary: line kinds, product and commit types, ledger-entry kinds. Metronome's names
for them are the invoice layer's (``tally.invoices.wire``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tally.money import CreditType
from tally.rating.inputs import NO_GROUP, CommitType, GroupValues, ProductType


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
    #: The kind of list item: a fixed item (scheduled charge, commit purchase, applied commit, true-up)
    #: is ``FIXED`` whatever its product; a usage, subscription or composite charge has its product's type.
    product_type: ProductType | None = None
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
    #: The type of the commit or credit an APPLIED line draws down or a POSTPAID_TRUEUP line trues up.
    commit_type: CommitType | None = None
    quantity_consumed: Decimal | None = None
    #: Postpaid applications are shown but not subtracted (SPEC §6.3).
    excluded_from_total: bool = False


class LedgerEntryKind(StrEnum):
    """What a ledger entry does to a commit or credit balance."""

    DEDUCTION = "deduction"  # an invoice draws a segment down
    TRUEUP = "trueup"  # a postpaid commit's shortfall, billed (no segment)
    ROLLOVER = "rollover"  # carried into a renewal's new commit
    EXPIRATION = "expiration"  # left unused at the segment's end


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    kind: LedgerEntryKind
    commit_type: CommitType
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
