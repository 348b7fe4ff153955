"""In-process service tests (issue 13 §8): the contracts and invoices services called directly on a real
database (a SQLite file and a PostgreSQL database, both migrated once), each test inside one transaction
that is rolled back at its end, so tests neither see nor clean up after each other and need no server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tally.db import migrate
from tally.db.engine import make_engine
from tally.db.uow import WriteConn
from tests.support.servers import create_pg_database, drop_pg_database


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("svc") / "tally.db"
        eng = make_engine(f"sqlite:///{path}")
        migrate.upgrade(eng)
        yield eng
        eng.dispose()
    else:
        url = create_pg_database()
        eng = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        migrate.upgrade(eng)
        yield eng
        eng.dispose()
        drop_pg_database(url)


@pytest.fixture
def conn(engine: Engine) -> Iterator[WriteConn]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as c:
        outer = c.begin()
        try:
            yield WriteConn(c)
        finally:
            outer.rollback()
