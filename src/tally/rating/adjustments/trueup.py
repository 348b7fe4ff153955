"""Minimums and true-ups: a postpaid commit bills its shortfall at its invoice date (SPEC §5.4).

Placement [U, SPEC conflict]: the true-up line goes on the usage invoice whose period contains the
commit's invoice-schedule timestamp (start exclusive, end inclusive), after that invoice's draw-down,
so the last period's consumption counts. shortfall = committed - consumed before - consumed now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tally.money.context import ZERO
from tally.rating.adjustments.drawdown import Slot
from tally.rating.inputs import Commit, CommitType
from tally.rating.periods import Period, utc


@dataclass(frozen=True, slots=True)
class TrueUp:
    commit: Commit
    timestamp: datetime
    amount: Decimal


def true_ups(commits: Sequence[Commit], slots: Sequence[Slot], period: Period) -> list[TrueUp]:
    out: list[TrueUp] = []
    for commit in commits:
        if commit.type is not CommitType.POSTPAID or not commit.trueup_enabled:
            continue
        items = commit.invoice_schedule.schedule_items if commit.invoice_schedule else ()
        if not items:
            continue
        ts = utc(items[0].timestamp)
        if not (period.starting_at < ts <= period.ending_before):
            continue
        committed = sum((s.amount for s in commit.access_schedule), ZERO)
        consumed = sum((s.consumed for s in commit.access_schedule), ZERO)
        consumed += sum((s.used for s in slots if s.commit.id == commit.id), ZERO)
        shortfall = committed - consumed
        if shortfall > 0:
            out.append(TrueUp(commit, ts, shortfall))
    return out
