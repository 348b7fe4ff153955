"""Every domain router, in one list. Adding a domain = adding its router here."""

from __future__ import annotations

from fastapi import APIRouter

from tally.alerts.endpoints import router as alerts
from tally.billable_metrics.endpoints import router as billable_metrics
from tally.billing_providers.endpoints import router as billing_providers
from tally.contracts.balances.endpoints import router as contract_balances
from tally.contracts.endpoints import router as contracts
from tally.contracts.packages.endpoints import router as packages
from tally.contracts.seats.endpoints import router as contract_seats
from tally.credit_types.endpoints import router as credit_types
from tally.custom_fields.endpoints import router as custom_fields
from tally.customers.endpoints import router as customers
from tally.dashboards.endpoints import router as dashboards
from tally.invoices.endpoints import router as invoices
from tally.invoices.manual_endpoints import router as manual_invoices
from tally.jobs.endpoints import router as test_clock_router
from tally.notifications.endpoints import router as notifications
from tally.products.endpoints import router as products
from tally.rate_cards.endpoints import router as rate_cards
from tally.server.audit_endpoints import router as audit_logs
from tally.usage.endpoints import router as usage
from tally.usage.ingest_endpoints import router as ingest
from tally.webhooks.endpoints import router as webhooks

ROUTERS: list[APIRouter] = [
    alerts,
    audit_logs,
    billable_metrics,
    billing_providers,
    contracts,
    contract_balances,
    contract_seats,
    packages,
    credit_types,
    custom_fields,
    customers,
    dashboards,
    ingest,
    invoices,
    manual_invoices,
    notifications,
    products,
    rate_cards,
    usage,
    webhooks,
]

# Mounted only under `tally serve --test-clock`; otherwise its paths are unknown (404) and undocumented.
TEST_CLOCK: APIRouter = test_clock_router
