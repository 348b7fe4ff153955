"""Every table, one module per aggregate. Importing this package registers them all on `metadata`."""

from tally.models import alerts, audit, catalog, contracts, customers, events, invoices, tenants, usage  # noqa: F401  (registers the tables)
from tally.models.base import metadata

__all__ = ["metadata"]
