"""Alembic environment. The connection is handed in by tally.db.migrate (config.attributes)."""

from __future__ import annotations

from alembic import context

from tally.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via tally.db.migrate
    raise RuntimeError("run migrations through `tally migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
