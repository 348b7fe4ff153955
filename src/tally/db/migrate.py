"""Schema management: the schema comes only from Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from tally.models import metadata

_HERE = Path(__file__).parent / "migrations"
# PostgreSQL advisory-lock key that serializes migrations across processes ("tally-mg" in ASCII).
MIGRATION_LOCK_KEY = 0x74616C6C792D6D67


def _config() -> Config:
    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to head. Safe to run from any number of processes at once: on PostgreSQL the
    migration transaction first takes an advisory lock (held until it commits), so the others wait and
    then find the schema current; on SQLite the transaction begins IMMEDIATE, which serializes writers."""
    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a migration from the models (`tally migrate --new MESSAGE`)."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def drift(engine: Engine) -> list[object]:
    """Differences between the migrated database and the models; empty when migrations are complete."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))


def head() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The migration the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
