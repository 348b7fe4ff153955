"""Units of work: the one place a transaction begins and commits (STYLE rule 5).

Endpoints open exactly one `write` (or `read`) per request; services and repositories receive the
connection and never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tally import tracing


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
def write(engine: Engine) -> Iterator[Connection]:
    hook = commit_hook.get()
    with tracing.span("uow.write", {"db.system.name": engine.dialect.name}), engine.begin() as conn:
        conn.info.pop(_PRE_COMMIT, None)  # left over by a rolled-back transaction on this pooled connection
        yield conn
        _run_pre_commit(conn)
        if hook is not None:
            hook.before_commit(conn)
    if hook is not None:
        hook.after_commit()


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    with (
        tracing.span("uow.read", {"db.system.name": engine.dialect.name}),
        engine.connect().execution_options(tally_read=True) as conn,
        conn.begin(),
    ):
        yield conn


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
