"""Stripe's webhooks (docs/stripe.md): `POST /tally/v1/stripe/webhooks/{tenant_id}`.

Stripe cannot send tally's bearer token, so this route is public and authenticated by Stripe's
signature scheme instead: `Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256(secret, "t.payload")>`,
checked by Stripe's library against the tenant's webhook signing secret (sealed at rest), with a
replay window of five minutes on `t`. A bad, missing or stale signature is a 400 and changes nothing.
An event id already applied is acknowledged again without effect (Stripe redelivers).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends, Request
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from tally.billing_providers import service as providers
from tally.collection.sync import apply_status
from tally.db import uow
from tally.errors import BadRequest
from tally.kit.responses import JSONResponse, ok
from tally.models.billing_providers import stripe_invoice_syncs as S
from tally.models.billing_providers import stripe_webhook_events as E
from tally.settings import Settings
from tally.webhooks import keys
from tally.wire import decode_json

log = logging.getLogger("tally.stripe")
router = APIRouter()
TOLERANCE_SECONDS = 300
MAX_BODY = 1 << 20
PATH = "/tally/v1/stripe/webhooks/{tenant_id}"
EVENT_STATUS = {
    "invoice.finalized": "FINALIZED",
    "invoice.sent": "SENT",
    "invoice.paid": "PAID",
    "invoice.payment_succeeded": "PAID",
    "invoice.payment_failed": "PAYMENT_FAILED",
    "invoice.voided": "VOID",
    "invoice.marked_uncollectible": "UNCOLLECTIBLE",
    "invoice.deleted": "DELETED",
}


async def raw_payload(request: Request) -> bytes:
    """The exact bytes Stripe signed (the signature covers them, not a re-encoding), size-limited."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest("payload too large")
        chunks.append(chunk)
    return b"".join(chunks)


# Stripe's servers call this, not API clients: it is authenticated by Stripe's signature and kept out of
# /openapi.json (docs/stripe.md documents it). A plain `def`, so its database work runs in the threadpool
# and never blocks the event loop.
@router.post(PATH, include_in_schema=False)
def receive(
    tenant_id: str, request: Request, payload: Annotated[bytes, Depends(raw_payload)]
) -> JSONResponse:
    signature = request.headers.get("stripe-signature")
    settings: Settings = request.app.state.settings
    engine = request.app.state.engine
    clock = request.app.state.clock
    with uow.read(engine) as conn:
        creds = providers.credentials(conn, tenant_id[:64], keys.server_key(settings))
    if creds is None or not creds.webhook_secret:
        raise BadRequest("no Stripe webhook signing secret is configured for this tenant")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature or "", creds.webhook_secret, TOLERANCE_SECONDS)
    except (UnicodeDecodeError, stripe.SignatureVerificationError):
        raise BadRequest("invalid Stripe signature (or outside the replay window)") from None
    event: Any = decode_json(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadRequest("not a Stripe event")
    status = EVENT_STATUS.get(str(event.get("type")))
    obj = (event.get("data") or {}).get("object") or {}
    now = clock.now()
    with uow.write(engine) as conn:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(E).values(tenant_id=tenant_id, event_id=event["id"][:255], received_at=now)
                )
        except IntegrityError:
            return ok({"received": True, "duplicate": True})
        if status is not None and isinstance(obj.get("id"), str):
            row = conn.execute(
                select(S)
                .where(S.c.tenant_id == tenant_id, S.c.stripe_invoice_id == obj["id"])
                .with_for_update()
            ).first()
            if row is not None:
                extra: dict[str, Any] = {}
                if isinstance(obj.get("payment_intent"), str):
                    extra["external_payment_id"] = obj["payment_intent"]
                apply_status(conn, row, status, now, **extra)
    return ok({"received": True})
