"""Units of work on both databases (issue 13 §3): a write never opens inside another; a read transaction
on PostgreSQL refuses writes; work registered with `after_commit` runs once after a commit and never
after a rollback, and its failure does not undo the write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import DBAPIError

from tally.db import uow
from tally.db.engine import make_engine
from tests.support.servers import create_pg_database, drop_pg_database

_md = MetaData()
rows = Table("uow_probe", _md, Column("id", Integer, primary_key=True))


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "t.db"
        eng = make_engine(f"sqlite:///{path}")
        _md.create_all(eng)
        yield eng
        eng.dispose()
    else:
        url = create_pg_database()
        eng = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        _md.create_all(eng)
        yield eng
        eng.dispose()
        drop_pg_database(url)


def _ids(engine: Engine) -> list[int]:
    with uow.read(engine) as conn:
        return list(conn.execute(select(rows.c.id).order_by(rows.c.id)).scalars())


def test_a_write_inside_a_write_is_refused_and_the_outer_one_rolls_back(engine: Engine) -> None:
    def nested() -> None:
        with uow.write(engine) as conn:
            conn.execute(insert(rows).values(id=1))
            with uow.write(engine):
                pass

    with pytest.raises(uow.NestedWrite):
        nested()
    assert 1 not in _ids(engine)
    # The refusal leaves nothing behind: the next write works.
    with uow.write(engine) as conn:
        conn.execute(insert(rows).values(id=2))
    assert 2 in _ids(engine)


def test_after_commit_runs_once_after_the_commit_and_never_after_a_rollback(engine: Engine) -> None:
    seen: list[list[int]] = []
    with uow.write(engine) as conn:
        conn.execute(insert(rows).values(id=10))
        uow.after_commit(conn, "probe", lambda: seen.append(_ids(engine)))
        uow.after_commit(conn, "probe", lambda: seen.append([-1]))  # the same name runs once
    assert len(seen) == 1
    assert 10 in seen[0]  # it ran after the commit: a new read sees the row

    def rolled_back() -> None:
        with uow.write(engine) as conn:
            conn.execute(insert(rows).values(id=11))
            uow.after_commit(conn, "probe", lambda: seen.append([11]))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        rolled_back()
    assert len(seen) == 1
    assert 11 not in _ids(engine)
    # Work left by the rolled-back transaction on the pooled connection never runs later.
    with uow.write(engine) as conn:
        conn.execute(insert(rows).values(id=12))
    assert len(seen) == 1


def test_a_failing_after_commit_work_does_not_undo_the_write(engine: Engine) -> None:
    def boom() -> None:
        raise ValueError("after-commit failure")

    with uow.write(engine) as conn:
        conn.execute(insert(rows).values(id=20))
        uow.after_commit(conn, "boom", boom)
    assert 20 in _ids(engine)


def test_after_commit_work_may_open_its_own_write(engine: Engine) -> None:
    def follow() -> None:
        with uow.write(engine) as conn:
            conn.execute(insert(rows).values(id=31))

    with uow.write(engine) as conn:
        conn.execute(insert(rows).values(id=30))
        uow.after_commit(conn, "follow", follow)
    assert {30, 31} <= set(_ids(engine))


def test_a_read_is_read_only_on_postgresql(engine: Engine, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no read-only transactions; the types and NestedWrite guard it there")

    def write_in_a_read() -> None:
        with uow.read(engine) as conn:
            conn.execute(insert(rows).values(id=40))

    with pytest.raises(DBAPIError, match="read-only"):
        write_in_a_read()
    assert 40 not in _ids(engine)
