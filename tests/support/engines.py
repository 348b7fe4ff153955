"""A migrated engine on each backend for tests that call services in process: a SQLite file, or a
PostgreSQL database of its own (dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from tally.db import migrate
from tally.db.engine import make_engine
from tests.support.servers import create_pg_database, drop_pg_database


@contextmanager
def migrated_engine(backend: str, workdir: Path, *, migrated: bool = True) -> Iterator[Engine]:
    if backend == "sqlite":
        eng = make_engine(f"sqlite:///{workdir / 'tally.db'}")
        url = None
    else:
        url = create_pg_database()
        eng = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        if migrated:
            migrate.upgrade(eng)
        yield eng
    finally:
        eng.dispose()
        if url is not None:
            drop_pg_database(url)
