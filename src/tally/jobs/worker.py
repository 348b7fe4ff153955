"""The billing worker: one pass does everything that has fallen due, in a fixed order of steps.

The steps are listed in `STEPS`, in the order a pass runs them, each with one error policy: a step that
raises is logged and the pass goes on to the next step (each step keeps its work durable in the database,
so the next pass retries what failed). Finalizing invoices comes first (tally.invoices.finalizer) and
stops between batches when the worker is asked to stop; webhook delivery comes last, so the events the
other steps queue go out in the same pass. Settings are read once per process (`Worker` is given them;
`run_pass` reads them once when not).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import Engine

from tally import tracing
from tally.alerts.evaluate import evaluate_due
from tally.clock import Clock
from tally.collection import sync as stripe_sync
from tally.invoices import finalizer
from tally.invoices.finalizer import PassResult
from tally.invoices.inputs import Catalog
from tally.invoices.thresholds import run as thresholds
from tally.kit import metrics
from tally.notifications.lifecycle import fire_due
from tally.settings import Settings, load
from tally.webhooks.delivery import deliver_due, prune

log = logging.getLogger("tally.worker")

__all__ = ["STEPS", "PassResult", "Step", "Worker", "run_pass"]


@dataclass(frozen=True)
class Step:
    """One step of a pass after finalization: `run(engine, clock, settings)`."""

    name: str
    run: Callable[[Engine, Clock, Settings], object]


def _thresholds(engine: Engine, clock: Clock, settings: Settings) -> None:
    metrics.RECHARGES.inc(thresholds.run(engine, clock))  # threshold billing (SPEC §5.10-5.11)


def _webhooks(engine: Engine, clock: Clock, settings: Settings) -> None:
    deliver_due(engine, clock, settings)
    prune(engine, clock, timedelta(days=settings.webhooks_retention_days))


STEPS: tuple[Step, ...] = (
    Step("threshold billing", _thresholds),
    # Alerts (SPEC §8.1) before delivery, which sends what they queue.
    Step("alerts", lambda engine, clock, settings: evaluate_due(engine, clock)),
    # Stripe collection (collection/sync.py): staged invoices out, missed webhooks reconciled.
    Step("Stripe sync", stripe_sync.sync_due),
    # Lifecycle moments (contract.start, segment ends, offsets) the clock has reached, into the outbox.
    Step("lifecycle notifications", lambda engine, clock, settings: fire_due(engine, clock)),
    # Last, so this pass's invoice.finalized and other events go out now.
    Step("webhook delivery", _webhooks),
)


@cache
def _process_settings() -> Settings:
    return load()


def run_pass(
    engine: Engine, clock: Clock, stop: threading.Event | None = None, settings: Settings | None = None
) -> PassResult:
    """Do everything that is due now; with `stop` set, return after the batch in hand (each batch
    commits or rolls back whole, so nothing stays claimed)."""
    started = time.monotonic()
    with tracing.span("worker.pass") as span:
        try:
            result = _run_pass(engine, clock, stop, settings or _process_settings())
        finally:
            metrics.WORKER_PASS_DURATION.observe(time.monotonic() - started)
        if span is not None:
            span.set_attribute("tally.contracts", result.contracts)
            span.set_attribute("tally.invoices_finalized", result.finalized)
        return result


def _step(name: str, work: Callable[[], object]) -> bool:
    """The one error policy: log and go on (the next pass retries). True when the step succeeded."""
    try:
        work()
    except Exception:
        log.exception("%s failed; will retry on the next pass", name)
        return False
    return True


def _run_pass(engine: Engine, clock: Clock, stop: threading.Event | None, settings: Settings) -> PassResult:
    total = PassResult()
    _step("tracking contracts", lambda: finalizer.track(engine, clock))
    _step("reading the billing backlog", lambda: _backlog(engine, clock))
    graces: dict[str, timedelta] = {}
    catalogs: dict[str, Catalog] = {}
    while stop is None or not stop.is_set():
        try:
            r = finalizer.process_batch(engine, clock, graces, catalogs)
        except Exception:
            log.exception("billing failed; will retry on the next pass")  # the same policy as _step
            break
        if r is None:
            break
        total.contracts += r.contracts
        total.finalized += r.finalized
        metrics.INVOICES_FINALIZED.inc(r.finalized)
    if stop is not None and stop.is_set():
        return total
    for step in STEPS:
        _step(step.name, lambda step=step: step.run(engine, clock, settings))  # type: ignore[misc]
    return total


def _backlog(engine: Engine, clock: Clock) -> None:
    """The due-contract backlog and its lag (metrics), read once at the start of a pass."""
    now = clock.now()
    count, oldest = finalizer.backlog(engine, now)
    metrics.WORKER_DUE_CONTRACTS.set(count)
    metrics.WORKER_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)


class Worker:
    """The loop `tally serve` runs in a thread (SQLite, embedded) and `tally worker` runs in production."""

    def __init__(
        self, engine: Engine, clock: Clock, interval: float = 5.0, settings: Settings | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self.settings = settings or _process_settings()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                result = run_pass(self.engine, self.clock, self._stop, self.settings)
                if result.finalized:
                    log.info("finalized %d invoice(s) on %d contract(s)", result.finalized, result.contracts)
            except Exception:
                log.exception("billing worker pass failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="tally-billing-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
