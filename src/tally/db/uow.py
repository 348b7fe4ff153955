"""Units of work: the one place a transaction begins and commits (STYLE rule 5).

Endpoints open exactly one `write` (or `read`) per request; services and repositories receive the
connection and never commit.

- `read` yields a `ReadConn` and `write` a `WriteConn`: distinct types, so a service that changes data
  declares `WriteConn` and mypy refuses a read connection there. On PostgreSQL a read transaction is
  `READ ONLY`, so the database refuses a write inside one too.
- A write never opens inside another (`NestedWrite`): a second connection's transaction inside the first
  could wait on the first's locks (SQLite: on its single writer), and would commit apart from it.
- Work that must follow the commit (the immediate threshold evaluation after a contract write) is
  registered with `after_commit`; it runs once the transaction has committed, never after a rollback,
  and its failure is logged, never raised: the request's write has succeeded. That is the one documented
  reason a request opens a second write transaction (ARCHITECTURE.md, "Units of work").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NewType, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tally import tracing

log = logging.getLogger("tally.uow")

ReadConn = NewType("ReadConn", Connection)
WriteConn = NewType("WriteConn", Connection)


class NestedWrite(RuntimeError):
    """A write unit of work was opened inside another one (a programming error)."""


_writing: ContextVar[bool] = ContextVar("tally_writing", default=False)
_AFTER_COMMIT = "tally_after_commit"


def after_commit(conn: Connection, name: str, work: Callable[[], None]) -> None:
    """Run `work()` once this write transaction has committed (never after a rollback); work registered
    under the same name runs once. A failure is logged, not raised."""
    pending: dict[str, Callable[[], None]] = conn.info.setdefault(_AFTER_COMMIT, {})
    pending.setdefault(name, work)


class CommitHook(Protocol):
    def before_commit(self, conn: Connection) -> None: ...

    def after_commit(self) -> None: ...


# Set per API request by tally.audit (a layer above, hence a hook rather than an import): `write` lets it
# add its audit row to the transaction just before COMMIT, so the row commits or rolls back with the change.
commit_hook: ContextVar[CommitHook | None] = ContextVar("tally_commit_hook", default=None)


_PRE_COMMIT = "tally_pre_commit"


def pre_commit(conn: Connection, name: str, work: Callable[[Connection], None]) -> None:
    """Run `work(conn)` once, just before this transaction commits (a rolled-back transaction never runs
    it). Work registered under the same name runs once. Used for locks that must be taken last and held
    briefly (invoice numbers: invoices.numbering)."""
    pending: dict[str, Callable[[Connection], None]] = conn.info.setdefault(_PRE_COMMIT, {})
    pending.setdefault(name, work)


def _run_pre_commit(conn: Connection) -> None:
    while pending := conn.info.pop(_PRE_COMMIT, None):
        for work in pending.values():
            work(conn)


@contextmanager
def write(engine: Engine) -> Iterator[WriteConn]:
    if _writing.get():
        raise NestedWrite("a write unit of work was opened inside another one")
    hook = commit_hook.get()
    token = _writing.set(True)
    try:
        with tracing.span("uow.write", {"db.system.name": engine.dialect.name}), engine.begin() as conn:
            # Left over by a rolled-back transaction on this pooled connection.
            conn.info.pop(_PRE_COMMIT, None)
            conn.info.pop(_AFTER_COMMIT, None)
            yield WriteConn(conn)
            _run_pre_commit(conn)
            if hook is not None:
                hook.before_commit(conn)
            later: dict[str, Callable[[], None]] = conn.info.pop(_AFTER_COMMIT, None) or {}
    finally:
        _writing.reset(token)
    if hook is not None:
        hook.after_commit()
    for name, work in later.items():
        try:
            work()
        except Exception:
            log.exception("after-commit work %s failed (the transaction itself committed)", name)


@contextmanager
def read(engine: Engine) -> Iterator[ReadConn]:
    with (
        tracing.span("uow.read", {"db.system.name": engine.dialect.name}),
        engine.connect().execution_options(tally_read=True) as conn,
        conn.begin(),
    ):
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        yield ReadConn(conn)


T = TypeVar("T")


def per_transaction(conn: Connection, name: str, key: str, compute: Callable[[], T]) -> T:
    """`compute()` once per (transaction, name, key). `conn.info` belongs to the pooled connection and
    outlives the transaction, so entries remember the transaction they were computed in."""
    cache: dict[tuple[str, str], tuple[object, T]] = conn.info.setdefault("tally_per_transaction", {})
    txn = conn.get_transaction()
    hit = cache.get((name, key))
    if txn is not None and hit is not None and hit[0] is txn:
        return hit[1]
    value = compute()
    cache[(name, key)] = (txn, value)
    return value
