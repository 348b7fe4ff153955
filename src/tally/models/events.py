"""Raw usage events. The primary key (tenant_id, transaction_id) is the dedup rule: the first accepted
event wins, forever (tally never recycles a transaction id; SPEC's 34-day window is a lower bound).

`customer_id` is the string the event carried (a customer id or an ingest alias); which customer it
belongs to is resolved when usage is read (late binding, SPEC §1.4)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table

from tally.models.base import at, doc, metadata, tenant_ref

events = Table(
    "events",
    metadata,
    tenant_ref(),
    Column("transaction_id", String(255), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("event_type", String(255), nullable=False),
    at("timestamp"),
    doc("properties"),
    at("received_at"),
    # The event's position in the log (usage.late_gate): on PostgreSQL drawn from the `events_seq`
    # sequence at INSERT; SQLite leaves it NULL and uses the rowid, assigned in commit order.
    Column("seq", BigInteger, nullable=True),
    PrimaryKeyConstraint("tenant_id", "transaction_id"),
)
Index("ix_events_customer_time", events.c.tenant_id, events.c.customer_id, events.c.timestamp)
# The console's unmatched events (usage.service.unmatched_types): a tenant's event types, and per type the
# customer keys with counts and first/last seen, read from the index alone.
Index(
    "ix_events_type_customer",
    events.c.tenant_id,
    events.c.event_type,
    events.c.customer_id,
    events.c.timestamp,
)
# The log in position order (PostgreSQL): the ClickHouse store ships `seq > shipped position` in batches.
Index("ix_events_seq", events.c.seq)

# ClickHouse event store (usage.clickhouse): the event-log position shipped so far (one row, id 1).
clickhouse_shipping = Table(
    "clickhouse_shipping",
    metadata,
    Column("id", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    PrimaryKeyConstraint("id"),
)
