"""Metering rollups, kept current by ingest in the same transaction as the raw events.

Usage queries read only these tables, never raw events. Rows are keyed by the string the event carried
(`customer_key`: a customer id or an ingest alias), so alias changes re-attribute usage at read time.

- usage_rollups: one row per (metric, customer_key, hour, group) with count, exact sum, max and the
  latest (timestamp, transaction_id, value). `hour` counts hours since the epoch; `group_key` is the JSON
  array of the metric's group-property values (or `h:` + sha256 when long, see usage_group_values).
- usage_uniques: the distinct values behind UNIQUE metrics, per hour, for the whole metric (slice -1) and
  for each declared group key (slice = its index), so distinct counts over any window are exact.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from tally.db.types import ExactDecimal
from tally.models.base import at, metadata, ref, tenant_ref

usage_rollups = Table(
    "usage_rollups",
    metadata,
    tenant_ref(),
    ref("metric_id"),
    Column("customer_key", String(255), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("group_key", String(512), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("total", ExactDecimal, nullable=True),
    Column("maximum", ExactDecimal, nullable=True),
    at("latest_ts", nullable=True),
    Column("latest_txn", String(255), nullable=True),
    Column("latest_value", ExactDecimal, nullable=True),
    PrimaryKeyConstraint("tenant_id", "metric_id", "customer_key", "hour", "group_key"),
)
# "Which customers have usage in this range" (`/v1/usage` without customer_ids) without a full scan.
Index(
    "ix_usage_rollups_time",
    usage_rollups.c.tenant_id,
    usage_rollups.c.metric_id,
    usage_rollups.c.hour,
    usage_rollups.c.customer_key,
)

usage_uniques = Table(
    "usage_uniques",
    metadata,
    tenant_ref(),
    ref("metric_id"),
    Column("slice", Integer, nullable=False),
    Column("customer_key", String(255), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("group_key", String(512), nullable=False),
    Column("value", String(512), nullable=False),
    PrimaryKeyConstraint("tenant_id", "metric_id", "slice", "customer_key", "hour", "group_key", "value"),
)

# Group-value tuples too long to index as a key, stored once under their hash.
usage_group_values = Table(
    "usage_group_values",
    metadata,
    tenant_ref(),
    Column("group_key", String(512), nullable=False),
    Column("group_values", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "group_key"),
)
