"""Every table, one module per aggregate. Importing this package registers them all on `metadata`."""

from tally.models import (  # noqa: F401  (registers the tables)
    alerts,
    audit,
    billing_providers,
    catalog,
    console,
    contracts,
    customers,
    documents,
    events,
    invoices,
    notifications,
    packages,
    tenants,
    thresholds,
    usage,
    webhooks,
)
from tally.models.base import metadata

__all__ = ["metadata"]
