"""A tenant's invoice settings (`/tally/v1/invoice-settings`): the finalization grace period and the issuer
profile printed on invoices (legal name, address, tax id, numbering prefix, payment terms, logo). The API
routes and the console's settings page both read and write them here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tally.db.uow import WriteConn
from tally.errors import BadRequest
from tally.invoices import documents, service
from tally.invoices.schemas import InvoiceSettings


def read(conn: Connection, tenant_id: str) -> dict[str, Any]:
    profile = documents.issuer(conn, tenant_id)
    sha, media_type = profile.pop("logo_sha256"), profile.pop("logo_media_type")
    return {
        "grace_period_hours": service.grace_hours(conn, tenant_id),
        **profile,
        "logo": {"media_type": media_type, "sha256": sha} if sha else None,
    }


def update(conn: WriteConn, tenant_id: str, req: InvoiceSettings) -> dict[str, Any]:
    """Change the fields given (a field left out keeps its value); returns the settings after."""
    given = req.model_fields_set
    if "grace_period_hours" in given and req.grace_period_hours is None:
        raise BadRequest("grace_period_hours: must be a number")
    changes = {f: getattr(req, f) for f in documents.ISSUER_FIELDS if f in given}
    if req.grace_period_hours is not None:
        service.set_grace(conn, tenant_id, req.grace_period_hours)
    if changes:
        documents.update_issuer(conn, tenant_id, changes)
    return read(conn, tenant_id)
