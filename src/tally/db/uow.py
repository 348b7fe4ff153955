"""Units of work: the one place a transaction begins and commits (STYLE rule 5).

Endpoints open exactly one `write` (or `read`) per request; services and repositories receive the
connection and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    with engine.connect().execution_options(tally_read=True) as conn, conn.begin():
        yield conn
