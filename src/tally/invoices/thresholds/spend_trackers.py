"""Spend trackers as threshold billing reads them (SPEC §5.17), pure: which commit purchases a tracker
counts, and the payment fraction a discount configuration leaves once its cap's tracker is full."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tally.contracts.terms import model
from tally.credit_types.builtin import USD_CENTS_ID
from tally.money.context import ZERO, add
from tally.rating.inputs import CommitType
from tally.rating.periods import Period


class StoredBalance(Protocol):
    """A stored commit or credit (a balances row)."""

    @property
    def kind(self) -> str: ...
    @property
    def archived_at(self) -> datetime | None: ...
    @property
    def parsed(self) -> model.Balance: ...


def payment_fraction(
    dc: model.DiscountConfiguration | None,
    trackers: Iterable[model.SpendTracker],
    period: Period | None,
    balances: Callable[[], Iterable[StoredBalance]],
) -> Decimal:
    """The discount configuration's `payment_fraction`, unless its cap's spend tracker (one of the
    contract's `trackers`) has already tracked `cap.amount` of commit purchases in the current billing
    period `period` (then the full price). `balances` (called only when a cap applies) gives the
    contract's commits and credits."""
    if dc is None or dc.payment_fraction is None:
        return Decimal(1)
    cap = dc.cap
    if cap is not None and period is not None:
        tracker = next((s for s in trackers if s.alias == cap.spend_tracker_alias), None)
        if tracker is not None and tracked(balances(), tracker, period) >= cap.amount:
            return Decimal(1)
    return dc.payment_fraction


def tracked(balances: Iterable[StoredBalance], tracker: model.SpendTracker, period: Period) -> Decimal:
    """Commit-purchase spend invoiced inside `period` that the tracker counts: the invoice-schedule
    items of live, invoiced PREPAID commits in the tracker's credit type whose source (threshold
    commit or not) and discount flag one of its specifiers accepts."""
    ct_id = tracker.credit_type_id or USD_CENTS_ID
    out = ZERO
    for b in balances:
        if b.kind != CommitType.PREPAID or b.archived_at is not None:
            continue
        doc = b.parsed
        sched = doc.invoice_schedule
        if sched is None or sched.do_not_invoice or (sched.credit_type_id or USD_CENTS_ID) != ct_id:
            continue
        threshold = doc.threshold_billing is not None
        source = model.SpendSource.THRESHOLD_RECHARGE if threshold else model.SpendSource.MANUAL
        attributes = doc.spend_tracker_attributes
        discounted = attributes is not None and attributes.counts_as_discounted
        if not any(counts(s, source, discounted) for s in tracker.applicable_spend_specifiers):
            continue
        for item in sched.schedule_items:
            if period.contains(item.timestamp):
                out = add(out, item.amount or ZERO)
    return out


def counts(spec: model.SpendSpecifier, source: model.SpendSource, discounted: bool) -> bool:
    """Whether a spend specifier accepts a commit purchase from `source`, discounted or not."""
    if spec.spend_type != model.SpendType.COMMIT_PURCHASE or source not in spec.sources:
        return False
    mode = spec.discounted or model.DiscountedSpend.ANY
    return mode == model.DiscountedSpend.ANY or (mode == model.DiscountedSpend.DISCOUNTED_ONLY) == discounted
