"""Engine inputs for one contract: the contract snapshot (terms, rate card, products, balances with what
earlier invoices consumed) and its usage per product x group x hour, read from the metering rollups.

A `Loader` lives for one request or one worker pass and caches rate cards, products and metrics, so
rating many contracts on the same card costs one read of the card.

Aggregations (SPEC §2.3): COUNT and SUM are read per hour, so rate and override changes inside a
period apply hour by hour. MAX and UNIQUE are not additive over hours: they are read over the whole
slice of the period (a product version's span) and stamped at its first hour. LATEST is billed as
increments (issue 12, Metronome: a non-monotonic metric is billed as the increments over the period and
a rate change applies to the increments after it): read per hour, each hour's latest value minus the
latest value before it (carried across hours, slices and periods), stamped at that hour, so the rate,
override and commit/credit applicability in force at each increment's hour apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from msgspec.structs import replace as replace_struct
from sqlalchemy import Connection, Row

from tally.billable_metrics import service as metrics_service
from tally.contracts.balances import ledger
from tally.contracts.terms import model, to_engine
from tally.credit_types import service as credit_types
from tally.customers import service as customers
from tally.errors import NotFound
from tally.metering import MetricDef, hour_of, hour_start
from tally.money import CreditTypeConversion, custom_pricing_unit
from tally.money.credit_types import FIAT_BY_ID, USD
from tally.products import service as products
from tally.rate_cards import rates as rate_rows
from tally.rate_cards import service as rate_cards
from tally.rating import inputs as ri
from tally.rating.from_wire import product_from_wire
from tally.rating.periods import Period
from tally.usage import service as usage
from tally.usage.events import Span

Versions = list[tuple[datetime, products.ProductView]]


@dataclass(frozen=True)
class CardData:
    card: ri.RateCard
    product_ids: tuple[str, ...]


class Catalog:
    """Rate cards, products and metrics already read; a worker pass shares one per tenant across its
    transactions (a pass lasts seconds; catalog changes apply from the next pass)."""

    def __init__(self) -> None:
        self.cards: dict[str, CardData] = {}
        self.products: dict[str, Versions | None] = {}
        self.metrics: dict[str, MetricDef | None] = {}


class Loader:
    def __init__(self, conn: Connection, tenant_id: str, catalog: Catalog | None = None) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        cat = catalog or Catalog()
        self._cards = cat.cards
        self._products = cat.products
        self._metrics = cat.metrics
        self._keys: dict[str, list[str]] = {}
        self._contracts: dict[tuple[str, datetime, datetime | None], ri.Contract] = {}
        self.known = ledger.Known({}, {})  # balances read ahead by `prefetch`
        self._customer_of: dict[str, str] = {}
        self._locked: set[str] = set()  # customers whose balances this transaction has locked

    def prefetch(self, rows: list[Row[Any]], *, lock_balances: bool = False) -> None:
        """Read what rating a batch of contracts needs per customer (ingest keys, balances and their
        entries) in four queries rather than several per contract. `lock_balances`: see `ledger.prefetch`."""
        cids = list(dict.fromkeys(r.customer_id for r in rows))
        self._keys.update(customers.ingest_keys_many(self.conn, self.tenant_id, cids))
        self.known = ledger.prefetch(self.conn, self.tenant_id, cids, lock=lock_balances)
        self._customer_of.update({r.id: r.customer_id for r in rows})
        if lock_balances:
            self._locked.update(cids)

    def lock_balances(self, customer_id: str) -> None:
        """Lock a customer's balances until the transaction ends (a no-op if this loader already did),
        and read them afresh. Every finalizer calls this before it rates, after the late-data slot and
        before the invoice row: one lock order everywhere, so concurrent finalizers wait, never deadlock."""
        if customer_id in self._locked:
            return
        fresh = ledger.prefetch(self.conn, self.tenant_id, [customer_id], lock=True)
        self.known.rows.update(fresh.rows)
        self.known.entries.update(fresh.entries)
        self._locked.add(customer_id)

    def forget(self, contract_id: str) -> None:
        """Drop cached snapshots of a contract, and balances read ahead for its customer (they changed)."""
        self._contracts = {k: v for k, v in self._contracts.items() if k[0] != contract_id}
        customer_id = self._customer_of.get(contract_id)
        if customer_id is not None:
            self.known.drop(customer_id)

    # ---------------------------------------------------------------------------------- catalog

    def card(self, rate_card_id: str | None) -> CardData:
        key = rate_card_id or ""
        found = self._cards.get(key)
        if found is not None:
            return found
        if rate_card_id is None:
            data = CardData(ri.RateCard(id="none", rates=()), ())
        else:
            card = rate_cards.get(self.conn, self.tenant_id, rate_card_id)
            rows = rate_rows.rates_for_card(self.conn, self.tenant_id, rate_card_id)
            customs = []
            for conv in card.credit_type_conversions:
                try:
                    ct = credit_types.get(self.conn, self.tenant_id, conv.custom_credit_type_id)
                    customs.append(custom_pricing_unit(ct.id, ct.name))
                except NotFound:
                    continue
            engine_card = ri.RateCard(
                id=card.id,
                rates=tuple(r.to_rating() for r in rows),
                fiat_credit_type=FIAT_BY_ID.get(card.fiat_credit_type_id, USD),
                product_order=tuple(rate_cards.effective_order(self.conn, self.tenant_id, card)),
                credit_type_conversions=tuple(
                    CreditTypeConversion(c.custom_credit_type_id, c.fiat_per_custom_credit)
                    for c in card.credit_type_conversions
                ),
                custom_credit_types=tuple(customs),
            )
            data = CardData(engine_card, tuple(dict.fromkeys(r.product_id for r in rows)))
        self._cards[key] = data
        return data

    def versions(self, product_id: str) -> Versions | None:
        if product_id not in self._products:
            try:
                self._products[product_id] = products.versions(self.conn, self.tenant_id, product_id)
            except NotFound:
                self._products[product_id] = None
        return self._products[product_id]

    def metric(self, metric_id: str) -> MetricDef | None:
        if metric_id not in self._metrics:
            found = metrics_service.get_many(self.conn, self.tenant_id, [metric_id]).get(metric_id)
            self._metrics[metric_id] = (
                None
                if found is None or (found.aggregation_type is None and found.sql is None)
                else usage.definition(found)
            )
        return self._metrics[metric_id]

    def keys(self, customer_id: str) -> list[str]:
        if customer_id not in self._keys:
            self._keys[customer_id] = customers.ingest_keys(self.conn, self.tenant_id, customer_id)
        return self._keys[customer_id]

    # --------------------------------------------------------------------------------- contract

    def contract(
        self,
        row: Row[Any],
        at: datetime,
        period: Period | None = None,
        release: dict[tuple[str, str], Decimal] | None = None,
    ) -> ri.Contract:
        """The contract as the engine sees it. `release` gives back what one invoice consumed per
        (balance, segment), so a finalized invoice can be recomputed (breakdowns)."""
        memo = (row.id, at, period.starting_at if period is not None else None)
        if release is None and memo in self._contracts:
            return self._contracts[memo]
        built = self._build(row, at, period, release)
        if release is None:
            self._contracts[memo] = built
        return built

    def _build(
        self,
        row: Row[Any],
        at: datetime,
        period: Period | None,
        release: dict[tuple[str, str], Decimal] | None,
    ) -> ri.Contract:
        terms = model.parse(row.terms, model.Terms)
        commits = ledger.commits_for(self.conn, self.tenant_id, row.customer_id, row.id, at, self.known)
        if release:
            commits = [_released(c, release) for c in commits]
        card = self.card(row.rate_card_id)
        wanted = [
            *card.product_ids,
            *(c.product_id for c in commits if c.product_id),
            *(x.product_id for x in (*terms.scheduled_charges, *terms.discounts)),
            *(s.subscription_rate.product_id for s in terms.subscriptions),
        ]
        # Archived scheduled charges no longer bill.
        terms = replace_struct(
            terms, scheduled_charges=tuple(x for x in terms.scheduled_charges if x.archived_at is None)
        )
        state_at = period.starting_at if period is not None else at
        prods = {}
        for pid in dict.fromkeys(wanted):
            versions = self.versions(pid)
            if versions:
                view = _in_force(versions, state_at)
                prods[view.id] = product_from_wire({**view.spec, "id": view.id, "type": view.type})
        return to_engine.contract(terms, card.card, prods, commits)

    # ------------------------------------------------------------------------------------ usage

    def usage(self, row: Row[Any], contract: ri.Contract, window: Period) -> list[ri.UsageRecord]:
        """Usage of every USAGE product of the contract inside `window` (hour aligned)."""
        keys = self.keys(row.customer_id)
        start = max(window.starting_at, contract.starting_at)
        end = (
            window.ending_before
            if contract.ending_before is None
            else min(window.ending_before, contract.ending_before)
        )
        if end <= start:
            return []
        out: list[ri.UsageRecord] = []
        for pid, product in contract.products.items():
            if product.type is not ri.ProductType.USAGE:
                continue
            versions = self.versions(pid) or []
            for (v_start, view), v_end in zip(versions, [v[0] for v in versions[1:]] + [None], strict=True):
                lo = max(start, v_start)
                hi = end if v_end is None else min(end, v_end)
                if hi <= lo or not view.billable_metric_id:
                    continue
                metric = self.metric(view.billable_metric_id)
                if metric is None:
                    continue
                group = tuple(
                    dict.fromkeys([*(view.pricing_group_key or []), *(view.presentation_group_key or [])])
                )
                out.extend(
                    self._records(
                        pid,
                        metric,
                        keys,
                        lo,
                        hi,
                        group,
                        contract.starting_at,
                        view.spec.get("sql_breakdown_granularity"),
                    )
                )
        return out

    def _records(
        self,
        pid: str,
        metric: MetricDef,
        keys: list[str],
        lo: datetime,
        hi: datetime,
        group: tuple[str, ...],
        contract_start: datetime,
        granularity: str | None = None,
    ) -> list[ri.UsageRecord]:
        first, last = hour_of(lo), _hour_ceil(hi)
        agg = metric.aggregation_type
        grouped = group or None
        slice_index = _slice(metric, group) if group else -1
        if grouped is not None and slice_index == -2:
            return []  # the product's keys are not a declared group key of the metric: nothing rates
        hourly = agg in ("COUNT", "SUM", "LATEST") or (agg == "SQL" and granularity == "HOUR")
        span = Span(first, last, 1 if hourly else None)
        cells = usage.compute(self.conn, self.tenant_id, metric, {"c": keys}, span, grouped, slice_index)["c"]
        before: dict[Any, Decimal] = {}
        if agg == "LATEST" and hour_of(contract_start) < first:
            prev = usage.compute(
                self.conn,
                self.tenant_id,
                metric,
                {"c": keys},
                Span(hour_of(contract_start), first, None),
                grouped,
                slice_index,
            )["c"]
            before = {
                values: v for (_, values), cell in prev.items() if (v := cell.value("LATEST")) is not None
            }
        out = []
        for (bucket, values), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            q = cell.value(agg)
            if q is None:
                continue
            if agg == "LATEST":
                q, before[values] = q - before.get(values, Decimal(0)), q
                if q == 0:
                    continue
            gv = tuple(sorted(zip(group, values, strict=True))) if group and values else ()
            if hourly:
                at = hour_start(first + bucket)
            elif agg == "SQL":
                # SERVICE_PERIOD: the usage applies at the last instant of the window (its last hour).
                at = max(lo, hour_start(last - 1))
            else:
                at = lo
            out.append(ri.UsageRecord(pid, at, q, gv))
        return out


def _slice(metric: MetricDef, group: tuple[str, ...]) -> int:
    """Index of the declared group key equal to `group`; -1 when any subset will do; -2 when none fits."""
    for i, key in enumerate(metric.group_keys):
        if set(key) == set(group) and len(key) == len(group):
            return i
    if metric.aggregation_type != "UNIQUE" and set(group) <= set(metric.group_properties):
        return -1
    return -2


def _hour_ceil(t: datetime) -> int:
    h = hour_of(t)
    return h if hour_start(h) == t else h + 1


def _in_force(versions: Versions, at: datetime) -> products.ProductView:
    found = versions[0][1]
    for start, view in versions:
        if start <= at:
            found = view
    return found


def _released(commit: ri.Commit, release: dict[tuple[str, str], Decimal]) -> ri.Commit:
    segments = tuple(
        replace(seg, consumed=max(Decimal(0), seg.consumed - back))
        if (back := release.get((commit.id, seg.id)))
        else seg
        for seg in commit.access_schedule
    )
    return replace(commit, access_schedule=segments)
