"""Spend trackers as threshold billing reads them (SPEC §5.17), pure: which commit purchases a tracker
counts, and the payment fraction a discount configuration leaves once its cap's tracker is full."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from tally.credit_types.builtin import USD_CENTS_ID
from tally.money.context import ZERO, add
from tally.rating.periods import Period
from tally.wire import parse_timestamp

THRESHOLD_RECHARGE = "THRESHOLD_RECHARGE"  # a tracker source: commits granted by threshold billing
MANUAL = "MANUAL"  # a tracker source: every other commit


class StoredBalance(Protocol):
    """A stored commit or credit (a balances row)."""

    @property
    def kind(self) -> str: ...
    @property
    def archived_at(self) -> datetime | None: ...
    @property
    def doc(self) -> dict[str, Any]: ...


def payment_fraction(
    cfg: dict[str, Any],
    terms: dict[str, Any],
    period: Period | None,
    balances: Callable[[], Iterable[StoredBalance]],
) -> Decimal:
    """`payment_fraction`, unless its cap's spend tracker has already tracked `cap.amount` of commit
    purchases in the current billing period `period` (then the full price). `balances` (called only
    when a cap applies) gives the contract's commits and credits."""
    dc = cfg.get("discount_configuration") or {}
    if dc.get("payment_fraction") is None:
        return Decimal(1)
    fraction = Decimal(str(dc["payment_fraction"]))
    cap = dc.get("cap")
    if cap and period is not None:
        tracker = next(
            (s for s in terms.get("spend_trackers") or [] if s.get("alias") == cap["spend_tracker_alias"]),
            None,
        )
        if tracker is not None and tracked(balances(), tracker, period) >= Decimal(str(cap["amount"])):
            return Decimal(1)
    return fraction


def tracked(balances: Iterable[StoredBalance], tracker: dict[str, Any], period: Period) -> Decimal:
    """Commit-purchase spend invoiced inside `period` that the tracker counts: the invoice-schedule
    items of live, invoiced PREPAID commits in the tracker's credit type whose source (threshold
    commit or not) and discount flag one of its specifiers accepts."""
    specs = tracker.get("applicable_spend_specifiers") or []
    ct_id = tracker.get("credit_type_id") or USD_CENTS_ID
    out = ZERO
    for b in balances:
        if b.kind != "PREPAID" or b.archived_at is not None:
            continue
        sched = b.doc.get("invoice_schedule") or {}
        if sched.get("do_not_invoice") or (sched.get("credit_type_id") or USD_CENTS_ID) != ct_id:
            continue
        source = THRESHOLD_RECHARGE if b.doc.get("threshold_billing") else MANUAL
        discounted = bool((b.doc.get("spend_tracker_attributes") or {}).get("counts_as_discounted"))
        if not any(counts(s, source, discounted) for s in specs):
            continue
        for item in sched.get("schedule_items") or []:
            if period.contains(parse_timestamp(item["timestamp"], "timestamp")):
                out = add(out, Decimal(str(item.get("amount") or 0)))
    return out


def counts(spec: dict[str, Any], source: str, discounted: bool) -> bool:
    """Whether a spend specifier accepts a commit purchase from `source`, discounted or not."""
    if spec.get("spend_type", "COMMIT_PURCHASE") != "COMMIT_PURCHASE" or source not in spec.get(
        "sources", []
    ):
        return False
    mode = spec.get("discounted") or "ANY"
    return mode == "ANY" or (mode == "DISCOUNTED_ONLY") == discounted
