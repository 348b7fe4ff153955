"""Billing periods: anchored, half-open, computed from the anchor (never from the previous period).

Boundary n of a schedule is ``anchor + n x step``, where a month step keeps the anchor's day of month
and clamps it to the month's last day (Jan 31 -> Feb 28/29 -> Mar 31: no drift). Periods of a contract
are the boundaries clipped to [contract start, contract end): the first and last may be partial.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tally.rating.inputs import AnchorDay, Frequency, RatingInputError, UsageStatementSchedule

_MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.SEMI_ANNUAL: 6, Frequency.ANNUAL: 12}
_DAYS = {Frequency.DAILY: 1, Frequency.WEEKLY: 7}


@dataclass(frozen=True, slots=True, order=True)
class Period:
    starting_at: datetime
    ending_before: datetime

    def __post_init__(self) -> None:
        if self.ending_before <= self.starting_at:
            raise RatingInputError(f"empty period [{self.starting_at}, {self.ending_before})")

    def contains(self, t: datetime) -> bool:
        return self.starting_at <= t < self.ending_before

    @property
    def seconds(self) -> int:
        return int((self.ending_before - self.starting_at).total_seconds())


def utc(t: datetime) -> datetime:
    """Check that ``t`` is timezone-aware and express it in UTC."""
    if t.tzinfo is UTC:
        return t
    if t.tzinfo is None or t.utcoffset() is None:
        raise RatingInputError(f"naive datetime {t.isoformat()}: every timestamp must carry a timezone")
    return t.astimezone(UTC)


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by whole months, the day clamped to the target month's length."""
    month_index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(month_index, 12)
    day = min(anchor.day, calendar.monthrange(year, month0 + 1)[1])
    return anchor.replace(year=year, month=month0 + 1, day=day)


def boundary(anchor: datetime, frequency: Frequency, n: int) -> datetime:
    """The n-th boundary of a schedule (n may be negative), computed from the anchor alone."""
    months = _MONTHS.get(frequency)
    if months is not None:
        return add_months(anchor, months * n)
    return anchor + timedelta(days=_DAYS[frequency] * n)


def index_at(anchor: datetime, frequency: Frequency, t: datetime) -> int:
    """The n with ``boundary(n) <= t < boundary(n + 1)``."""
    months = _MONTHS.get(frequency)
    if months is not None:
        n = ((t.year - anchor.year) * 12 + (t.month - anchor.month)) // months
    else:
        n = (t - anchor).days // _DAYS[frequency]
    while boundary(anchor, frequency, n) > t:
        n -= 1
    while boundary(anchor, frequency, n + 1) <= t:
        n += 1
    return n


def schedule_anchor(schedule: UsageStatementSchedule, contract_start: datetime) -> datetime:
    """The datetime boundary 0 falls on.

    FIRST_OF_MONTH: 00:00 UTC on the 1st; quarterly, semi-annual and annual schedules start on calendar
    quarters / halves / years. Weekly and daily schedules have no month to anchor on: they anchor on
    the contract start's UTC midnight. CONTRACT_START: the contract start itself. CUSTOM_DATE: the
    ``billing_anchor_date`` (may be historical or later than the contract start).
    """
    start = utc(contract_start)
    if schedule.day is AnchorDay.CUSTOM_DATE:
        if schedule.billing_anchor_date is None:
            raise RatingInputError("CUSTOM_DATE schedules need a billing_anchor_date")
        return utc(schedule.billing_anchor_date)
    if schedule.day is AnchorDay.CONTRACT_START:
        return start
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    months = _MONTHS.get(schedule.frequency)
    if months is None:
        return midnight
    month0 = (start.month - 1) // months * months
    return midnight.replace(month=month0 + 1, day=1)


def billing_periods(
    schedule: UsageStatementSchedule,
    contract_start: datetime,
    contract_end: datetime | None,
    until: datetime | None = None,
) -> Iterator[Period]:
    """The contract's usage-statement periods, in order, up to ``contract_end`` (or ``until``)."""
    start = utc(contract_start)
    stop = utc(contract_end) if contract_end is not None else None
    if until is not None:
        stop = utc(until) if stop is None else min(stop, utc(until))
    if stop is None:
        raise RatingInputError("an open-ended contract needs `until`")
    anchor = schedule_anchor(schedule, start)
    n = index_at(anchor, schedule.frequency, start)
    while True:
        lo = max(boundary(anchor, schedule.frequency, n), start)
        if lo >= stop:
            return
        hi = min(boundary(anchor, schedule.frequency, n + 1), stop)
        yield Period(lo, hi)
        n += 1


def period_containing(
    schedule: UsageStatementSchedule, contract_start: datetime, contract_end: datetime | None, t: datetime
) -> Period:
    start = utc(contract_start)
    t = utc(t)
    end = utc(contract_end) if contract_end is not None else None
    if t < start or (end is not None and t >= end):
        raise RatingInputError(f"{t.isoformat()} is outside the contract")
    anchor = schedule_anchor(schedule, start)
    n = index_at(anchor, schedule.frequency, t)
    lo = max(boundary(anchor, schedule.frequency, n), start)
    hi = boundary(anchor, schedule.frequency, n + 1)
    return Period(lo, hi if end is None else min(hi, end))


def is_usage_period_end(
    schedule: UsageStatementSchedule, contract_start: datetime, contract_end: datetime | None, at: datetime
) -> bool:
    """Is ``at`` the end of one of the contract's usage-statement periods (a usage invoice's issue date)?"""
    start = utc(contract_start)
    at = utc(at)
    if at <= start:
        return False
    end = utc(contract_end) if contract_end is not None else None
    if end is not None and at >= end:
        return at == end
    return period_containing(schedule, start, end, at).starting_at == at
