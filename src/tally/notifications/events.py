"""The lifecycle events Metronome documents as system notifications (docs.metronome.com, "System
notifications"): which exist, which happen at a moment on the object's own dates (time-based), and
which happen when the object is written."""

from __future__ import annotations

CONTRACT_EVENTS = ("contract.create", "contract.start", "contract.edit", "contract.end", "contract.archive")
COMMIT_EVENTS = (
    "commit.create",
    "commit.edit",
    "commit.archive",
    "commit.segment.start",
    "commit.segment.end",
)
CREDIT_EVENTS = (
    "credit.create",
    "credit.edit",
    "credit.archive",
    "credit.segment.start",
    "credit.segment.end",
)
ALL = CONTRACT_EVENTS + COMMIT_EVENTS + CREDIT_EVENTS
# Happen on the object's own dates: the worker sends them when the clock reaches them.
TIME_BASED = frozenset(
    {
        "contract.start",
        "contract.end",
        "commit.segment.start",
        "commit.segment.end",
        "credit.segment.start",
        "credit.segment.end",
    }
)
# Happen when the object is written; an offset on one can only point after it.
WRITE_BASED = frozenset(set(ALL) - TIME_BASED)
ENVIRONMENT = "PRODUCTION"  # tally has one environment per tenant token
