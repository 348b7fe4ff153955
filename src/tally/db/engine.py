"""Engine construction: SQLite (embedded default, WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from tally import tracing


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: every commit (an acknowledged ingest batch included) is fsynced, so it survives an OS
            # crash or power loss, not only a process crash. Ingest group-commits, so this costs no
            # measurable throughput (bench/ingest_bench.py: 19.0k vs 19.3k events/s, NORMAL vs FULL).
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # pysqlite's own transaction handling is off (isolation_level=None); take the write lock up
            # front so concurrent writers queue on busy_timeout instead of failing on lock upgrade.
            if conn.get_execution_options().get("tally_read"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        tracing.instrument_engine(engine)  # statement spans, while tracing is on
        return engine
    # Always plan with the parameters at hand: psycopg prepares statements after a few executions, and
    # a generic plan made while a table was small (a seq scan) would otherwise stick to the connection
    # as the table grows, turning every per-contract lookup during a month-end run into a full scan.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=8,
        pool_pre_ping=True,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
    )
    tracing.instrument_engine(engine)
    return engine
