"""The customer page's usage charts and alerts (issue 14 §3), read as the API reads them.

Usage: the billable metrics of the products priced on the customer's contracts' rate cards, charted in
daily windows by `usage.service.list_usage` (what `POST /v1/usage` runs), each grouped by the metric's
first group key. The window is the current usage invoice's period when it is whole UTC days, else the last
30 days. The work is bounded: at most MAX_CONTRACTS contracts, MAX_CHARTS metrics, one usage query.

Alerts: `alerts.service.list_for_customer` (what `POST /v1/customer-alerts/list` runs), its first page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.alerts import service as alerts
from tally.alerts.kinds import KINDS, Family
from tally.billable_metrics import service as metrics
from tally.console import charts, fmt
from tally.console.fmt import money
from tally.console.pricing import USD_CENTS, qty, when
from tally.contracts.service import Contract
from tally.errors import BadRequest
from tally.products import service as products
from tally.rate_cards import rates as card_rates
from tally.usage import service as usage
from tally.usage.schemas import GroupBy, ListUsage, MetricSelector

MAX_CONTRACTS = 20
MAX_CHARTS = 8
MAX_DAYS = 92
DEFAULT_DAYS = 30
ADDITIVE = ("COUNT", "SUM")


@dataclass(frozen=True)
class Chart:
    metric_id: str
    metric_name: str
    aggregation: str
    group_key: str | None
    chart: charts.BarChart


@dataclass(frozen=True)
class Usage:
    starting_on: datetime
    ending_before: datetime
    caption: str
    charts: list[Chart]
    more: int  # metrics left out beyond MAX_CHARTS


def _midnight(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def window(now: datetime, period: tuple[datetime, datetime] | None) -> tuple[datetime, datetime, str]:
    """The current usage invoice's period if it is whole UTC days (and not too long), else the last 30
    days up to the end of today."""
    if period is not None:
        lo, hi = period
        if lo == _midnight(lo) and hi == _midnight(hi) and timedelta(0) < hi - lo <= timedelta(days=MAX_DAYS):
            return lo, hi, "current invoice period"
    hi = _midnight(now) + timedelta(days=1)
    return hi - timedelta(days=DEFAULT_DAYS), hi, f"last {DEFAULT_DAYS} days"


def _group_key(metric: metrics.Metric) -> str | None:
    """The key to split by: a declared single-property group key first (UNIQUE needs one), else the
    first property of the first declared key."""
    try:
        keys = usage.definition(metric).group_keys
    except BadRequest:  # a metric metering cannot read is charted ungrouped (and shows its error there)
        return None
    single = [k[0] for k in keys if len(k) == 1]
    if single:
        return single[0]
    if keys and metric.aggregation_type != "UNIQUE":
        return keys[0][0]
    return None


def metrics_of(
    conn: Connection, tenant_id: str, contracts: list[Contract], now: datetime
) -> list[metrics.Metric]:
    """The billable metrics behind the usage products on the contracts' rate cards (one query per distinct
    card, one for the products, one for the metrics)."""
    live = [c for c in contracts if c.archived_at is None][:MAX_CONTRACTS]
    product_ids: set[str] = set()
    for card_id in sorted({c.rate_card_id for c in live if c.rate_card_id}):
        product_ids |= {r.product_id for r in card_rates.rates_for_card(conn, tenant_id, card_id)}
    found = products.get_many(conn, tenant_id, sorted(product_ids), now)
    metric_ids = sorted({p.billable_metric_id for p in found.values() if p.billable_metric_id})
    by_id = metrics.get_many(conn, tenant_id, metric_ids)
    return sorted((m for m in by_id.values() if m.archived_at is None), key=lambda m: (m.name, m.id))


def usage_charts(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contracts: list[Contract],
    now: datetime,
    period: tuple[datetime, datetime] | None,
) -> Usage:
    lo, hi, which = window(now, period)
    caption = f"{fmt.period(lo, hi)} ({which}, UTC)"
    found = metrics_of(conn, tenant_id, contracts, now)
    shown = found[:MAX_CHARTS]
    if not shown:
        return Usage(lo, hi, caption, [], 0)
    keys = {m.id: _group_key(m) for m in shown}
    req = ListUsage(
        starting_on=lo,
        ending_before=hi,
        window_size="DAY",
        billable_metrics=[
            MetricSelector(id=m.id, group_by=GroupBy(key=keys[m.id]) if keys[m.id] else None) for m in shown
        ],
        customer_ids=[customer_id],
    )
    # One page holds every series: at most MAX_CHARTS series of at most MAX_DAYS windows.
    items, _ = usage.list_usage(conn, tenant_id, req, None)
    series: dict[str, list[tuple[datetime, Decimal | None, dict[str, Decimal | None]]]] = {}
    for it in items:
        start = datetime.fromisoformat(it["start_timestamp"].replace("Z", "+00:00"))
        series.setdefault(it["billable_metric_id"], []).append(
            (start, it["value"], dict(it.get("groups") or {}))
        )
    out = []
    for m in shown:
        agg = "SQL" if m.sql is not None else (m.aggregation_type or "")
        out.append(
            Chart(
                metric_id=m.id,
                metric_name=m.name,
                aggregation=agg,
                group_key=keys[m.id],
                chart=charts.bar_chart(series.get(m.id, []), additive=agg in ADDITIVE),
            )
        )
    return Usage(lo, hi, caption, out, len(found) - len(shown))


def alert_rows(conn: Connection, tenant_id: str, customer_id: str) -> tuple[list[dict[str, Any]], bool]:
    """The customer's enabled alerts with their status for this customer (the API's first page)."""
    items, nxt = alerts.list_for_customer(conn, tenant_id, customer_id, None, None)
    rows = []
    for item in items:
        a = item["alert"]
        kind = KINDS.get(a["type"])
        family = kind.family if kind is not None else None
        if family is Family.PERCENT:
            threshold = f"{qty(a['threshold'])}%"
        elif family is Family.DAYS:
            threshold = f"{qty(a['threshold'])} days"
        elif family in (Family.SPEND, Family.INVOICE, Family.MONTHLY, Family.BALANCE):
            threshold = money(a.get("credit_type") or USD_CENTS, a["threshold"])
        else:
            threshold = qty(a["threshold"])
        rows.append(
            {
                "id": a["id"],
                "name": a["name"],
                "type": a["type"],
                "threshold": threshold,
                "status": item.get("customer_status") or "\u2014",
                "updated_at": when(a.get("updated_at")),
            }
        )
    return rows, nxt is not None
