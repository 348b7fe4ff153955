"""Group commit for ingest: batches that arrive while a commit is running share the next transaction.

A commit costs about as much as inserting a few hundred rows (SQLite WAL append and page writes,
PostgreSQL WAL flush), so committing each 100-event request alone caps throughput well below what the
database can take. Request threads hand their validated batch to a writer thread and wait; the writer
takes everything queued, stores it in ONE transaction (dedup check, insert and metering together) and
wakes each request only after COMMIT returns, so a 200 still means "durably stored". No request waits
for a timer: under light load a group is one batch.

If a group fails, each of its batches is retried alone, so one bad batch (or a metering error) fails
only its own request. Writers per engine: one on SQLite (it has one writer anyway), two on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from tally.db import uow
from tally.kit import metrics
from tally.usage import store as events_store
from tally.usage.ingest import Job, Outcome, store

log = logging.getLogger("tally.ingest")

MAX_GROUP = 32  # batches per transaction: bounds the latency one group adds to its members


@dataclass
class _Pending:
    job: Job
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Outcome]]

    def resolve(self, result: list[Outcome] | None, error: BaseException | None) -> None:
        # Called on the writer thread; the request's event loop completes the future.
        def finish() -> None:
            if self.future.done():  # the client went away and the request was cancelled
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result or [])

        try:
            self.loop.call_soon_threadsafe(finish)
        except RuntimeError:  # the loop is closed: the server is shutting down, nobody is waiting
            log.debug("ingest result dropped: event loop closed")


class GroupWriter:
    def __init__(self, engine: Engine, writers: int) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        for n in range(writers):
            threading.Thread(target=self._run, name=f"tally-ingest-writer-{n}", daemon=True).start()

    async def submit(self, job: Job) -> list[Outcome]:
        """Queue a batch and wait (without holding a thread) until its transaction has committed."""
        loop = asyncio.get_running_loop()
        pending = _Pending(job, loop, loop.create_future())
        self._queue.put(pending)
        # shield: a client disconnect must not cancel a batch the writer may already be committing.
        return await asyncio.shield(pending.future)

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        try:
            with uow.write(self._engine) as conn:
                results = store(conn, [p.job for p in group])
        except BaseException as exc:
            if len(group) > 1:
                for p in group:
                    self._commit([p])
                return
            group[0].resolve(None, exc)
            return
        metrics.INGEST_GROUP_BATCHES.observe(len(group))
        metrics.INGEST_GROUP_EVENTS.observe(sum(len(p.job.events) for p in group))
        try:
            events_store.current().committed(self._engine)
        except Exception:
            # The events are committed (acknowledged below); a store that missed them catches up
            # before its next read or finalization.
            log.exception("event store did not take the committed events yet")
        for p, r in zip(group, results, strict=True):
            p.resolve(r, None)


_writers: dict[int, GroupWriter] = {}
_lock = threading.Lock()


def writer_for(engine: Engine) -> GroupWriter:
    key = id(engine)
    w = _writers.get(key)
    if w is None:
        with _lock:
            w = _writers.get(key)
            if w is None:
                w = GroupWriter(engine, 1 if engine.dialect.name == "sqlite" else 2)
                _writers[key] = w
    return w
