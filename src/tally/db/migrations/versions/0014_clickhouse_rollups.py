"""ClickHouse event store: usage rollups in ClickHouse (tally_rollups, tally_uniques; created by
`tally migrate` with IF NOT EXISTS). Rollup rows are written as events are shipped, so the shipped
position is put back to the start: the next ship re-sends every event once, which builds the rollups of
the events shipped before this version (raw copies collapse under FINAL; no rollup row existed yet, so
none counts twice). A deployment on the SQL store has no shipping row, and nothing changes there.

`ix_events_seq`: the shipper reads the log in position order (`seq > position ORDER BY seq LIMIT n`), which
was a full scan of `events` on PostgreSQL. On a large events table create it beforehand with
`CREATE INDEX CONCURRENTLY ix_events_seq ON events (seq)`; this migration then skips it.

Revision ID: 0014_clickhouse_rollups
Revises: 0014_notifications
"""

from alembic import op

revision = "0014_clickhouse_rollups"
down_revision = "0014_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_events_seq ON events (seq)")
    op.execute("UPDATE clickhouse_shipping SET position = 0")


def downgrade() -> None:
    # The earlier version reads raw events only; the reset position only re-sent copies FINAL collapses.
    op.drop_index("ix_events_seq", "events")
