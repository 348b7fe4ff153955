"""What an alert measures for one customer (SPEC §8.1), read from the same drafts the invoice API shows.

A `CustomerView` loads, on first use and once for all of a customer's alerts: the customer's active
draft invoices (rated by tally.invoices, never re-implemented here), the draw-down they would make, and
the commit and credit segments with what remains after finalized AND draft draw-down. Each `measure_*`
turns that into `Part`s: one for the whole customer, or one per segment (days alerts) or per group value
(group-scoped spend alerts), each with its figure and whether it is past the threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.alerts.kinds import ENTITY_KINDS, FIELD_ENTITY, INVOICE_TYPES, Family, Kind
from tally.alerts.repository import Alert
from tally.contracts import service as contracts
from tally.contracts.balances import ledger
from tally.contracts.balances import service as balances_service
from tally.contracts.service import Balance
from tally.credit_types.builtin import USD_CENTS_ID
from tally.custom_fields import service as custom_fields
from tally.invoices import service as invoices
from tally.invoices.inputs import Catalog, Loader
from tally.metering import hour_of, hour_start
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.money.context import ZERO, add, div, mul, sub
from tally.money.context import total as money_total
from tally.money.rounding import RoundingMode, round_to
from tally.rating import inputs as ri
from tally.rating.periods import Period
from tally.rating.results import Invoice, LedgerEntryKind, LineType
from tally.usage import service as usage
from tally.usage.events import Span
from tally.wire import encode_json, format_timestamp

_DAY_US = 86_400 * 1_000_000
_FIGURE_PLACES = 4  # percentages and days are reported to 4 decimal places
MAX_GROUPS = 1_000  # group values one group-scoped spend alert follows per customer


@dataclass(frozen=True)
class Part:
    """One thing an alert watches for a customer: `key` "" for the customer as a whole."""

    key: str
    figure: Decimal
    in_alarm: bool
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    parts: tuple[Part, ...]
    #: When the passing of time alone can change the answer (a period or segment boundary).
    next_check_at: datetime | None


@dataclass(frozen=True)
class Draft:
    contract_row: Row[Any]
    key: invoices.Key
    invoice_id: str
    invoice: Invoice


@dataclass(frozen=True)
class SegmentFact:
    balance: Balance
    segment: ledger.Segment
    granted: Decimal  # the segment's amount plus manual additions
    remaining: Decimal  # after finalized and draft draw-down, >= 0


def _usage_total(inv: Invoice, credit_type_id: str | None) -> Decimal:
    """Usage charges before any commit or credit is applied (applied lines are separate lines)."""
    return money_total(
        li.total for li in inv.line_items if li.type is LineType.USAGE and li.credit_type_id == credit_type_id
    )


def _min(values: Iterable[datetime | None]) -> datetime | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


class CustomerView:
    """Everything the alerts of one customer read, loaded on first use and shared between them."""

    def __init__(
        self, conn: Connection, tenant_id: str, customer_id: str, now: datetime, catalog: Catalog
    ) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.customer_id = customer_id
        self.now = now
        self.loader = Loader(conn, tenant_id, catalog)
        self._contracts: list[Row[Any]] | None = None
        self._drafts: list[Draft] | None = None
        self._drawn: dict[tuple[str, str], Decimal] = {}
        self._segments: list[SegmentFact] | None = None
        self._fields: dict[tuple[str, str], dict[str, str]] = {}

    # ------------------------------------------------------------------------------------ contracts

    def contracts(self) -> list[Row[Any]]:
        if self._contracts is None:
            rows = contracts.rows_of_customer(self.conn, self.tenant_id, self.customer_id)
            self._contracts = [r for r in rows if r.archived_at is None]
        return self._contracts

    def current_periods(self) -> list[tuple[Row[Any], Period]]:
        """The usage-statement period of each contract that contains now."""
        out = []
        for contract_row in self.contracts():
            periods = invoices.usage_periods(contract_row, self.now)
            if periods and periods[-1].starting_at <= self.now < periods[-1].ending_before:
                out.append((contract_row, periods[-1]))
        return out

    def next_boundary(self) -> datetime | None:
        """When a contract starts or its current period ends: spend and usage restart from zero."""
        times: list[datetime | None] = [p.ending_before for _, p in self.current_periods()]
        times += [c.starting_at for c in self.contracts() if c.starting_at > self.now]
        return _min(times)

    # --------------------------------------------------------------------------------------- drafts

    def drafts(self) -> list[Draft]:
        """Active drafts (service period started, not finalized), oldest first. Each is rated after the
        ones before it took their draw-down from the balances they share, as finalization would do."""
        if self._drafts is None:
            live = {c.id for c in self.contracts()}
            entries = [
                e
                for e in invoices.entries(self.conn, self.loader, self.tenant_id, self.customer_id, self.now)
                if e.status == InvoiceStatus.DRAFT and e.key.start <= self.now and e.key.contract_id in live
            ]
            entries.sort(key=lambda e: (e.key.start, e.key.kind, e.key.contract_id))
            drawn: dict[tuple[str, str], Decimal] = {}
            out = []
            for e in entries:
                release = {k: -v for k, v in drawn.items()} if drawn else None
                inv, _ = invoices.compute(self.loader, e.contract_row, e.key, self.now, release=release)
                for le in inv.ledger_entries:
                    if le.segment_id is None or le.kind is not LedgerEntryKind.DEDUCTION:
                        continue
                    k = (le.commit_id, le.segment_id)
                    drawn[k] = sub(drawn.get(k, ZERO), le.amount)  # deductions are negative
                out.append(Draft(e.contract_row, e.key, e.id, inv))
            self._drafts, self._drawn = out, drawn
        return self._drafts

    def current_usage_drafts(self) -> list[Draft]:
        return [
            d
            for d in self.drafts()
            if d.key.kind == InvoiceKind.USAGE and d.key.start <= self.now < d.key.end
        ]

    # ------------------------------------------------------------------------------------- balances

    def segments(self) -> list[SegmentFact]:
        if self._segments is None:
            live = {c.id for c in self.contracts()}
            found = balances_service.live_balances(
                self.conn, self.tenant_id, self.customer_id, self.now, limit=1_000_000
            )
            bals = [b for b in found if b.contract_id is None or b.contract_id in live]
            if bals:
                self.drafts()  # their draw-down (`_drawn`) counts against the balances
            entries = ledger.entries_by_balance(self.conn, self.tenant_id, [b.id for b in bals])
            out = []
            for b in bals:
                mine = entries.get(b.id, [])
                for seg in ledger.segments(b.doc):
                    added = money_total(
                        e.amount
                        for e in mine
                        if e.segment_id == seg.id and e.type.endswith("_MANUAL") and e.amount > 0
                    )
                    left = sub(ledger.segment_balance(seg, mine), self._drawn.get((b.id, seg.id), ZERO))
                    out.append(SegmentFact(b, seg, add(seg.amount, added), max(left, ZERO)))
            self._segments = out
        return self._segments

    # --------------------------------------------------------------------------------- custom fields

    def fields(self, entity: str, object_id: str | None) -> dict[str, str]:
        if object_id is None:
            return {}
        if (entity, object_id) not in self._fields:
            found = custom_fields.values_for(self.conn, self.tenant_id, entity, [object_id])
            self._fields[(entity, object_id)] = found.get(object_id, {})
        return self._fields[(entity, object_id)]

    def filter_matches(self, balance: Balance | None, contract_id: str | None, flt: dict[str, Any]) -> bool:
        """One custom-field filter: `Contract` looks at the contract's fields, the other entities at the
        commit's or credit's own (a credit never matches a `Commit` filter, and so on)."""
        if flt["entity"] == "Contract":
            values = self.fields("contract", contract_id)
        else:
            if balance is None or balance.kind not in ENTITY_KINDS[flt["entity"]]:
                return False
            values = self.fields(FIELD_ENTITY[balance.kind], balance.id)
        wanted = flt.get("value")
        return flt["key"] in values and (wanted is None or values[flt["key"]] == wanted)

    def balance_matches(self, alert: Alert, b: Balance) -> bool:
        filters = alert.filters.get("custom_field_filters") or []
        if not all(self.filter_matches(b, b.contract_id, f) for f in filters):
            return False
        specifiers = alert.filters.get("alert_specifiers")
        if not specifiers:
            return True
        return any(self._specifier_matches(b, s) for s in specifiers)

    def _specifier_matches(self, b: Balance, spec: dict[str, Any]) -> bool:
        if not all(self.filter_matches(b, b.contract_id, f) for f in spec.get("custom_field_filters") or []):
            return False
        for ex in spec.get("exclude") or []:
            flts = ex.get("custom_field_filters") or []
            if flts and all(self.filter_matches(b, b.contract_id, f) for f in flts):
                return False
        return True

    def contract_matches(self, alert: Alert, contract_id: str) -> bool:
        filters = alert.filters.get("custom_field_filters") or []
        return all(self.filter_matches(None, contract_id, f) for f in filters)


# ------------------------------------------------------------------------------------------ measures


def measure(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    return _MEASURES[kind.family](alert, kind, view)


def _at_least(alert: Alert, key: str, figure: Decimal, props: dict[str, Any] | None = None) -> Part:
    return Part(key, figure, figure >= alert.threshold, props or {})


def _spend(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    drafts = [d for d in view.current_usage_drafts() if view.contract_matches(alert, d.contract_row.id)]
    group = alert.filters.get("group_values")
    if not drafts:
        return Measure((), view.next_boundary())
    if not group:
        spend = money_total(_usage_total(d.invoice, alert.credit_type_id) for d in drafts)
        return Measure((_at_least(alert, "", spend),), view.next_boundary())
    sums: dict[tuple[tuple[str, str | None], ...], Decimal] = {}
    for d in drafts:
        period = Period(d.key.start, d.key.end)
        contract = view.loader.contract(d.contract_row, view.now, period)
        for values, records in _by_group(view.loader.usage(d.contract_row, contract, period), group).items():
            # Re-rate the group's usage alone, so tiers and rounding apply to the subset (SPEC §8.1).
            inv, _ = invoices.compute(view.loader, d.contract_row, d.key, view.now, usage_override=records)
            sums[values] = add(sums.get(values, ZERO), _usage_total(inv, alert.credit_type_id))
    parts = [
        _at_least(alert, group_key(dict(values)), spend, {"group_values": dict(values)})
        for values, spend in sorted(sums.items(), key=lambda kv: str(kv[0]))[:MAX_GROUPS]
    ]
    return Measure(tuple(parts), view.next_boundary())


def group_key(values: dict[str, str | None]) -> str:
    """The part key of a group-scoped spend alert: its group values as canonical JSON."""
    return encode_json(dict(sorted(values.items()))).decode()


def _by_group(
    records: list[ri.UsageRecord], group: list[dict[str, Any]]
) -> dict[tuple[tuple[str, str | None], ...], list[ri.UsageRecord]]:
    """Usage records split by the alert's group keys: a key with a value keeps only that value, a key
    without one gives one part per value seen. Records of products not grouped by every key are left out
    (their usage has no value for the key)."""
    out: dict[tuple[tuple[str, str | None], ...], list[ri.UsageRecord]] = {}
    for r in records:
        have = dict(r.group_values)
        values = []
        for g in group:
            got = have.get(g["key"])
            if got is None or (g.get("value") is not None and got != g["value"]):
                break
            values.append((g["key"], got))
        else:
            out.setdefault(tuple(sorted(values)), []).append(r)
    return out


def _usage(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    periods = [p for _, p in view.current_periods()]
    metric = view.loader.metric(alert.billable_metric_id or "")
    if not periods or metric is None:
        return Measure((), view.next_boundary())
    lo = min(p.starting_at for p in periods)
    hi = max(p.ending_before for p in periods)
    end_hour = hour_of(hi) if hour_start(hour_of(hi)) == hi else hour_of(hi) + 1
    keys = view.loader.keys(view.customer_id)
    cells = usage.compute(view.conn, view.tenant_id, metric, {"c": keys}, Span(hour_of(lo), end_hour, None))[
        "c"
    ]
    quantity = money_total(
        v for cell in cells.values() if (v := cell.value(metric.aggregation_type)) is not None
    )
    props = {
        "billable_metric_id": alert.billable_metric_id,
        "period_starting_at": format_timestamp(lo),
        "period_ending_before": format_timestamp(hi),
    }
    return Measure((_at_least(alert, "", quantity, props),), view.next_boundary())


def _invoice(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    types = alert.filters.get("invoice_types_filter") or list(INVOICE_TYPES)
    drafts = [
        d
        for d in view.drafts()
        if d.key.kind in types
        and d.invoice.credit_type.id == alert.credit_type_id
        and view.contract_matches(alert, d.contract_row.id)
    ]
    if not drafts:
        return Measure((), view.next_boundary())
    top = max(drafts, key=lambda d: (d.invoice.total, d.invoice_id))
    props = {"invoice_id": top.invoice_id, "invoice_type": top.key.kind}
    return Measure((_at_least(alert, "", top.invoice.total, props),), view.next_boundary())


def _monthly(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    drafts = [
        d
        for d in view.current_usage_drafts()
        if d.invoice.credit_type.id == alert.credit_type_id
        and view.contract_matches(alert, d.contract_row.id)
    ]
    if not drafts:
        return Measure((), view.next_boundary())
    spent = money_total(d.invoice.total for d in drafts)
    props = {"invoice_ids": [d.invoice_id for d in drafts]}
    return Measure((_at_least(alert, "", spent, props),), view.next_boundary())


def _facts(alert: Alert, kind: Kind, view: CustomerView) -> list[SegmentFact]:
    access = alert.filters.get("access_type") or "SPEND"
    out = []
    for f in view.segments():
        b = f.balance
        sched = b.doc["access_schedule"]
        if b.kind not in kind.balance_kinds or sched.get("access_type", "SPEND") != access:
            continue
        if (
            alert.credit_type_id is not None
            and (sched.get("credit_type_id") or USD_CENTS_ID) != alert.credit_type_id
        ):
            continue
        if view.balance_matches(alert, b):
            out.append(f)
    return out


def _active(f: SegmentFact, now: datetime) -> bool:
    return f.segment.starting_at <= now < f.segment.ending_before


def _segment_boundaries(facts: list[SegmentFact], now: datetime) -> datetime | None:
    times = [f.segment.starting_at for f in facts] + [f.segment.ending_before for f in facts]
    return _min(t for t in times if t > now)


def _balance(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    facts = _facts(alert, kind, view)
    nxt = _segment_boundaries(facts, view.now)
    if not any(f.segment.starting_at <= view.now for f in facts):
        return Measure((), nxt)  # nothing granted yet: nothing to run low on
    remaining = money_total(f.remaining for f in facts if _active(f, view.now))
    return Measure((Part("", remaining, remaining <= alert.threshold),), nxt)


def _percent(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    matching = _facts(alert, kind, view)
    nxt = _segment_boundaries(matching, view.now)
    facts = [f for f in matching if _active(f, view.now)]
    granted = money_total(f.granted for f in facts)
    if granted <= 0:
        return Measure((), nxt)  # expired and future balances do not count (SPEC §8.1)
    remaining = money_total(f.remaining for f in facts)
    # Compared exactly (remaining * 100 <= threshold * granted); the figure is rounded for display.
    in_alarm = mul(remaining, Decimal(100)) <= mul(alert.threshold, granted)
    pct = round_to(div(mul(remaining, Decimal(100)), granted), _FIGURE_PLACES, RoundingMode.HALF_EVEN)
    props = {"remaining_balance": remaining, "granted_balance": granted}
    return Measure((Part("", pct, in_alarm, props),), nxt)


def threshold_span(days: Decimal) -> timedelta:
    micros = mul(days, Decimal(_DAY_US)).quantize(Decimal(1), rounding=ROUND_FLOOR)
    return timedelta(microseconds=int(micros))


def _days(alert: Alert, kind: Kind, view: CustomerView) -> Measure:
    now = view.now
    facts = _facts(alert, kind, view)
    span = threshold_span(alert.threshold)
    parts = []
    times: list[datetime | None] = [_segment_boundaries(facts, now)]
    for f in facts:
        seg = f.segment
        if seg.ending_before - span > now:
            times.append(seg.ending_before - span)
        if not _active(f, now) or f.remaining <= 0:
            continue  # a used-up segment has nothing left to lose
        left = seg.ending_before - now
        micros = (left.days * 86_400 + left.seconds) * 1_000_000 + left.microseconds
        days = round_to(div(Decimal(micros), Decimal(_DAY_US)), _FIGURE_PLACES, RoundingMode.HALF_EVEN)
        id_name = "credit_id" if f.balance.kind == "CREDIT" else "commit_id"
        props = {
            id_name: f.balance.id,
            "segment_id": seg.id,
            "segment_ending_before": format_timestamp(seg.ending_before),
            "remaining_balance": f.remaining,
        }
        parts.append(Part(f"{f.balance.id}:{seg.id}", days, left <= span, props))
    return Measure(tuple(parts), _min(times))


_MEASURES: dict[Family, Callable[[Alert, Kind, CustomerView], Measure]] = {
    Family.SPEND: _spend,
    Family.USAGE: _usage,
    Family.INVOICE: _invoice,
    Family.MONTHLY: _monthly,
    Family.BALANCE: _balance,
    Family.PERCENT: _percent,
    Family.DAYS: _days,
}
