"""The settable clock behind `--test-clock`, persisted so every process (serve workers, `tally worker`)
and every restart agree on the time. Until it is first set it reads the wall clock; once set it stands
still until set again, and it only ever moves forward."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import Engine, select, update

from tally.clock import SystemClock
from tally.db import uow
from tally.errors import BadRequest
from tally.models.invoices import test_clock

_TTL = 0.2  # seconds another process may see a stale value after a move


class PersistentClock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._cached: tuple[float, datetime | None] | None = None

    def _stored(self) -> datetime | None:
        with self._lock:
            hit = self._cached
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with uow.read(self.engine) as conn:
            value = conn.execute(select(test_clock.c.now).where(test_clock.c.id == 1)).scalar()
        with self._lock:
            self._cached = (time.monotonic() + _TTL, value)
        return value

    def now(self) -> datetime:
        stored = self._stored()
        return stored if stored is not None else SystemClock().now()

    def set(self, value: datetime) -> datetime:
        """Move the clock to `value` (never backwards); returns the new time."""
        with uow.write(self.engine) as conn:
            current = conn.execute(select(test_clock.c.now).where(test_clock.c.id == 1)).scalar()
            if current is None:
                current = SystemClock().now()
                if value < current:
                    raise BadRequest(f"now: the clock cannot move backwards (it is {current.isoformat()})")
                conn.execute(test_clock.insert().values(id=1, now=value))
            else:
                if value < current:
                    raise BadRequest(f"now: the clock cannot move backwards (it is {current.isoformat()})")
                conn.execute(update(test_clock).where(test_clock.c.id == 1).values(now=value))
        with self._lock:
            self._cached = (time.monotonic() + _TTL, value)
        return value
