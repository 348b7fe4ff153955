"""Storage on both databases: the schema comes from migrations with no drift, and exact decimal and
timestamp columns round-trip (SQLite has no decimal type; tally stores canonical decimal text)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, delete, insert, select

from tally.db import migrate
from tally.db.engine import make_engine
from tally.db.types import ExactDecimal, JsonDoc, UtcDateTime
from tests.support.servers import create_pg_database, drop_pg_database


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "t.db"
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        url = create_pg_database()
        eng = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        yield eng
        eng.dispose()
        drop_pg_database(url)


def test_migrations_build_the_schema_with_no_drift(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # idempotent
    assert migrate.drift(engine) == []


_probe_md = MetaData()
probe = Table(
    "probe_exact",
    _probe_md,
    Column("id", Integer, primary_key=True),
    Column("d", ExactDecimal),
    Column("ts", UtcDateTime),
    Column("j", JsonDoc),
)


@pytest.fixture(scope="module")
def probe_table(engine: Engine) -> Iterator[Table]:
    _probe_md.create_all(engine)
    yield probe
    _probe_md.drop_all(engine)


exact = st.decimals(allow_nan=False, allow_infinity=False, places=12, min_value=-(10**25), max_value=10**25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=exact, when=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)))
def test_decimal_timestamp_and_document_round_trip(
    engine: Engine, probe_table: Table, value: Decimal, when: datetime
) -> None:
    when = when.replace(tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(delete(probe_table))
        conn.execute(insert(probe_table).values(id=1, d=value, ts=when, j={"v": value, "s": "0.1"}))
        row = conn.execute(select(probe_table)).one()
    assert row.d == value
    assert str(row.d) == str(value) or row.d.normalize() == value.normalize()
    assert row.ts == when
    assert row.j == {"v": value, "s": "0.1"}


def test_classic_float_trap_is_exact(engine: Engine, probe_table: Table) -> None:
    with engine.begin() as conn:
        conn.execute(delete(probe_table))
        conn.execute(insert(probe_table).values(id=2, d=Decimal("0.1") + Decimal("0.2")))
        assert conn.execute(select(probe_table.c.d)).scalar_one() == Decimal("0.3")


def test_seeded_fiat_credit_types_match_the_code(engine: Engine) -> None:
    from tally.credit_types.builtin import BUILTIN_FIAT
    from tally.models.catalog import credit_types

    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = {r.id: (r.currency_code, r.name) for r in conn.execute(select(credit_types)).all()}
    assert {f.id: (f.code, f.name) for f in BUILTIN_FIAT}.items() <= rows.items()
