"""Segment expiration and renewal rollover (SPEC §5.13, §7.5).

Rollover [U decisions]: on a RENEWAL the rolled-over balance becomes a new commit (or credit) of
``rollover_fraction x remaining`` with one access segment from the new contract's start to the
``access_ending_before`` the caller gives; it keeps the old priority, applicability and rate_type and
is marked ``is_rollover`` so it is consumed first (§6.5). The unrolled remainder expires. A postpaid
commit never rolls over (its shortfall is trued up instead).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from tally.money.context import MONEY_CONTEXT, ZERO
from tally.rating.inputs import AccessSegment, Commit, CommitType, RatingInputError
from tally.rating.results import LedgerEntry, LedgerEntryKind


def remaining(segment: AccessSegment) -> Decimal:
    return max(ZERO, MONEY_CONTEXT.subtract(segment.amount, segment.consumed))


def expiration_entry(commit: Commit, segment: AccessSegment) -> LedgerEntry | None:
    """The entry that closes an unused segment balance at its end (none when nothing is left)."""
    left = remaining(segment)
    if left == 0:
        return None
    return LedgerEntry(
        LedgerEntryKind.EXPIRATION, commit.type, -left, segment.ending_before, commit.id, segment.id
    )


@dataclass(frozen=True, slots=True)
class Rollover:
    new_commit: Commit | None
    ledger_entries: tuple[LedgerEntry, ...]


def roll_over(
    commit: Commit,
    *,
    at: datetime,
    new_commit_id: str,
    access_ending_before: datetime,
) -> Rollover:
    """Carry ``rollover_fraction`` of the balance left at ``at`` into a new contract's commit."""
    if commit.type is CommitType.POSTPAID:
        raise RatingInputError("postpaid commits do not roll over; they are trued up")
    fraction = commit.rollover_fraction or ZERO
    if not ZERO <= fraction <= 1:
        raise RatingInputError("rollover_fraction must be within [0, 1]")
    live = [s for s in commit.access_schedule if s.starting_at <= at < s.ending_before]
    left = sum((remaining(s) for s in live), ZERO)
    rolled = MONEY_CONTEXT.multiply(left, fraction)
    entries: list[LedgerEntry] = []
    for s in live:
        share = MONEY_CONTEXT.multiply(remaining(s), fraction)
        expired = MONEY_CONTEXT.subtract(remaining(s), share)
        if share:
            entries.append(LedgerEntry(LedgerEntryKind.ROLLOVER, commit.type, -share, at, commit.id, s.id))
        if expired:
            entries.append(
                LedgerEntry(LedgerEntryKind.EXPIRATION, commit.type, -expired, at, commit.id, s.id)
            )
    if rolled == 0:
        return Rollover(None, tuple(entries))
    segment = AccessSegment(f"{new_commit_id}:0", rolled, at, access_ending_before)
    new = replace(
        commit,
        id=new_commit_id,
        access_schedule=(segment,),
        invoice_schedule=None,
        is_rollover=True,
        cost_basis=cost_basis_of(commit),
    )
    return Rollover(new, tuple(entries))


def cost_basis_of(commit: Commit) -> Decimal | None:
    from tally.rating.adjustments.drawdown import cost_basis

    return cost_basis(commit)
