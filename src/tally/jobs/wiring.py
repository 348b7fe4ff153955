"""The one place where domains are connected to each other at run time, explicitly.

A lower domain that must trigger work of a higher one exposes a registration point, and `install` fills
it; nothing is registered by importing a module. `tally.server.app.create_app` calls it, so every process
that serves the API (and the console) has the hooks whatever routers it mounts. The worker's steps are
listed in `tally.jobs.worker.STEPS`.
"""

from __future__ import annotations

from tally.contracts.balances import thresholds as contract_thresholds
from tally.invoices import historical, pro_services
from tally.invoices import service as invoices
from tally.invoices.thresholds import run as invoice_thresholds
from tally.models.invoices import InvoiceKind


def install() -> None:
    """Connect the hooks (idempotent)."""
    # A contract create or v2 edit that carries a threshold configuration is evaluated at once (SPEC
    # §5.10: "toggling is_enabled to true results in an immediate evaluation").
    contract_thresholds.on_write(invoice_thresholds.evaluate_now)
    # A voided invoice that a request issued (professional services, historical) is regenerated from that
    # request; the invoice service dispatches on the invoice's kind.
    invoices.register_reissuer(InvoiceKind.PRO_SERVICES, pro_services.reissue)
    invoices.register_reissuer(InvoiceKind.HISTORICAL, historical.reissue)
