"""The pure rating engine: contract snapshots + usage in, invoices and ledger draw-downs out.

Entry points: ``rate_usage_invoice`` / ``rate_scheduled_invoices`` (typed inputs, ``engine.py``); inputs may
be built from plain dicts shaped like Metronome's JSON (``from_wire.py``). Results speak the engine's own
vocabulary (``results.py``); ``tally.invoices.wire`` names them as Metronome does.
"""

from tally.rating.engine import PreparedContracts, rate_scheduled_invoices, rate_usage_invoice
from tally.rating.periods import Period, billing_periods, period_containing

__all__ = [
    "Period",
    "PreparedContracts",
    "billing_periods",
    "period_containing",
    "rate_scheduled_invoices",
    "rate_usage_invoice",
]
