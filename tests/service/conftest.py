"""In-process service tests (issue 13 §8): the contracts and invoices services called directly on a real
database (a SQLite file and a PostgreSQL database, both migrated once), each test inside one transaction
that is rolled back at its end, so tests neither see nor clean up after each other and need no server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tally.db.uow import WriteConn
from tests.support.engines import migrated_engine


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(backend, tmp_path_factory.mktemp("svc")) as eng:
        yield eng


@pytest.fixture
def conn(engine: Engine) -> Iterator[WriteConn]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as c:
        outer = c.begin()
        try:
            yield WriteConn(c)
        finally:
            outer.rollback()
