"""The console's operations pages (issue 14 §3, §4): alerts (list, create, archive), webhooks (endpoints,
deliveries, retry a failed delivery, rotate a secret), the audit log, and settings (invoice settings and
API tokens). Views read through the services the API routes use; actions run those services inside a
transaction audited as the API route they stand for (`ctx.action`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from tally.alerts import service as alerts
from tally.alerts.kinds import KINDS
from tally.alerts.schemas import ArchiveAlert, CreateAlert
from tally.audit import service as audit_log
from tally.auth import service as auth
from tally.billing_providers import service as billing_providers
from tally.console.web import PREFIX, ConsoleCtx, Form, check_csrf, redirect, render
from tally.customers import service as customers
from tally.customers.schemas import Filter as CustomerFilter
from tally.errors import BadRequest, NotFound
from tally.invoices import tenant_settings
from tally.invoices.schemas import InvoiceSettings
from tally.kit.api import parse
from tally.kit.pagination import decode_key, encode_cursor
from tally.settings import Settings
from tally.webhooks import keys as webhook_keys
from tally.webhooks import service as webhooks
from tally.webhooks.schemas import DeliveryRef, RotateSecret

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = 50


def _url(path: str, **params: str) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{PREFIX}{path}" + (f"?{urlencode(kept)}" if kept else "")


def _number(text: str) -> Any:
    """A form's number as the API's JSON would carry it; anything else is passed on for the API's 400."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return text
    return value if value.is_finite() else text


def _names(ctx_conn: Any, tenant_id: str, ids: list[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = customers.page(ctx_conn, tenant_id, CustomerFilter(ids=wanted), after=None, limit=len(wanted))
    return {c.id: c.name for c in found}


# ---------------------------------------------------------------------------------------- alerts


@router.get("/alerts")
def alerts_page(request: Request, ctx: ConsoleCtx, archived: str = "", after: str = "") -> Response:
    show_archived = archived == "1"
    with ctx.read() as conn:
        rows = alerts.tenant_page(
            conn, ctx.tenant_id, archived=show_archived, after=after or None, limit=PAGE
        )
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        names = _names(conn, ctx.tenant_id, [a.customer_id for a in rows if a.customer_id])
    return render(
        request,
        "alerts.html",
        alerts=rows,
        names=names,
        archived=show_archived,
        kinds=sorted(KINDS),
        next_url=_url("/alerts", archived=archived, after=rows[-1].id) if more and rows else None,
    )


_ALERT_FIELDS = (
    "alert_type",
    "name",
    "customer_id",
    "billable_metric_id",
    "credit_type_id",
    "uniqueness_key",
)


@router.post("/alerts")
def alert_create(ctx: ConsoleCtx, form: Form) -> Response:
    """Create an alert, as `POST /v1/alerts/create`."""
    check_csrf(ctx, form)
    body: dict[str, Any] = {k: form[k].strip() for k in _ALERT_FIELDS if form.get(k, "").strip()}
    if form.get("threshold", "").strip():
        body["threshold"] = _number(form["threshold"])
    req = parse(CreateAlert, body)
    with ctx.action("POST /v1/alerts/create", {}) as conn:
        alerts.create(conn, ctx.tenant_id, req, ctx.now())
    return redirect(f"{PREFIX}/alerts")


@router.post("/alerts/archive")
def alert_archive(ctx: ConsoleCtx, form: Form) -> Response:
    """Archive an alert, as `POST /v1/alerts/archive`."""
    check_csrf(ctx, form)
    req = parse(ArchiveAlert, {"id": form.get("id", "")})
    with ctx.action("POST /v1/alerts/archive", {"id": req.id}) as conn:
        alerts.archive(conn, ctx.tenant_id, req.id, False, ctx.now())
    return redirect(f"{PREFIX}/alerts")


# ---------------------------------------------------------------------------------------- webhooks


def _webhooks(
    request: Request, ctx: ConsoleCtx, failed: str, before: str, secret: dict[str, str] | None = None
) -> Response:
    cursor = decode_key(before or None, str, str)
    after = None
    if cursor is not None:
        try:
            after = (datetime.fromisoformat(cursor[0]), cursor[1])
        except ValueError:
            raise BadRequest("next_page: invalid cursor") from None
    now = ctx.now()
    with ctx.read() as conn:
        endpoints = webhooks.page(conn, ctx.tenant_id, None, 100, True)[:100]
        rows = webhooks.deliveries_page(
            conn, ctx.tenant_id, failed_only=failed == "1", before=after, limit=PAGE
        )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    nxt = None
    if more and rows:
        nxt = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id])
    return render(
        request,
        "webhooks.html",
        endpoints=[webhooks.to_wire(e, now) for e in endpoints],
        deliveries=rows,
        failed=failed == "1",
        secret=secret,
        next_url=_url("/webhooks", failed=failed, before=nxt) if nxt else None,
    )


@router.get("/webhooks")
def webhooks_page(request: Request, ctx: ConsoleCtx, failed: str = "", before: str = "") -> Response:
    return _webhooks(request, ctx, failed, before)


@router.post("/webhooks/deliveries/retry")
def delivery_retry(ctx: ConsoleCtx, form: Form) -> Response:
    """Send a failed delivery again, as `POST /tally/v1/webhooks/deliveries/retry`."""
    check_csrf(ctx, form)
    req = parse(DeliveryRef, {"id": form.get("id", "")})
    with ctx.action("POST /tally/v1/webhooks/deliveries/retry", {"id": req.id}) as conn:
        webhooks.retry_delivery(conn, ctx.tenant_id, req.id, ctx.now())
    return redirect(_url("/webhooks", failed=form.get("failed", "")))


@router.post("/webhooks/rotate")
def webhook_rotate(request: Request, ctx: ConsoleCtx, form: Form) -> Response:
    """Rotate an endpoint's signing secret, as `POST /tally/v1/webhooks/rotateSecret`; the new secret is
    shown on this one page and never again."""
    check_csrf(ctx, form)
    body: dict[str, Any] = {"id": form.get("id", "")}
    if form.get("previous_secret_ttl_hours", "").strip():
        ttl = _number(form["previous_secret_ttl_hours"])
        body["previous_secret_ttl_hours"] = int(ttl) if isinstance(ttl, Decimal) and ttl == int(ttl) else ttl
    req = parse(RotateSecret, body)
    settings: Settings = request.app.state.settings
    key = webhook_keys.server_key(settings)
    with ctx.action("POST /tally/v1/webhooks/rotateSecret", {"id": req.id}) as conn:
        row, secret = webhooks.rotate_secret(
            conn, ctx.tenant_id, req.id, req.previous_secret_ttl_hours, key, ctx.now()
        )
    return _webhooks(request, ctx, "", "", secret={"webhook_id": row.id, "url": row.url, "secret": secret})


# ---------------------------------------------------------------------------------------- audit


@router.get("/audit")
def audit_page(
    request: Request, ctx: ConsoleCtx, actor: str = "", action: str = "", next_page: str = ""
) -> Response:
    """The audit log newest first, as `GET /v1/auditLogs?sort=date_desc`, filterable by actor and action."""
    q = audit_log.parse_query(
        limit=str(PAGE),
        next_page=next_page or None,
        sort="date_desc",
        starting_on=None,
        ending_before=None,
        resource_type=None,
        resource_id=None,
        actor_name=actor.strip() or None,
        action=action.strip() or None,
    )
    with ctx.read() as conn:
        items, nxt = audit_log.page(conn, ctx.tenant_id, q)
    return render(
        request,
        "audit.html",
        items=items,
        actor=actor.strip(),
        action=action.strip(),
        next_url=_url("/audit", actor=actor.strip(), action=action.strip(), next_page=nxt) if nxt else None,
    )


# ---------------------------------------------------------------------------------------- settings


def _settings(request: Request, ctx: ConsoleCtx, new_token: str | None = None) -> Response:
    with ctx.read() as conn:
        invoice = tenant_settings.read(conn, ctx.tenant_id)
        tokens = auth.tenant_tokens(conn, ctx.tenant_id)
        stripe = billing_providers.connection_info(conn, ctx.tenant_id)
    return render(
        request, "settings.html", invoice=invoice, tokens=tokens, stripe=stripe, new_token=new_token
    )


@router.get("/settings")
def settings_page(request: Request, ctx: ConsoleCtx) -> Response:
    return _settings(request, ctx)


_TEXT_SETTINGS = ("legal_name", "tax_id", "contact_email", "footer_text", "invoice_number_prefix")
_NUMBER_SETTINGS = ("grace_period_hours", "default_net_payment_terms_days")


@router.post("/settings/invoice")
def invoice_settings_update(ctx: ConsoleCtx, form: Form) -> Response:
    """Change the invoice settings, as `POST /tally/v1/invoice-settings`: a field left empty keeps its
    value; the address is one line per line."""
    check_csrf(ctx, form)
    body: dict[str, Any] = {k: form[k].strip() for k in _TEXT_SETTINGS if form.get(k, "").strip()}
    body |= {k: _number(form[k]) for k in _NUMBER_SETTINGS if form.get(k, "").strip()}
    if form.get("address_lines", "").strip():
        body["address_lines"] = [x.strip() for x in form["address_lines"].splitlines() if x.strip()]
    req = parse(InvoiceSettings, body)
    with ctx.action("POST /tally/v1/invoice-settings", {}) as conn:
        tenant_settings.update(conn, ctx.tenant_id, req)
    return redirect(f"{PREFIX}/settings")


MAX_TOKEN_NAME = 255


@router.post("/settings/tokens")
def token_create(request: Request, ctx: ConsoleCtx, form: Form) -> Response:
    """Create an API token for this tenant, as `tally tokens create`; the token is shown once."""
    check_csrf(ctx, form)
    name = form.get("name", "").strip() or "console"
    if len(name) > MAX_TOKEN_NAME or "\x00" in name:
        raise BadRequest(f"name: at most {MAX_TOKEN_NAME} characters")
    with ctx.action("POST /ui/settings/tokens", {}) as conn:
        token = auth.create_token(conn, ctx.session.tenant, ctx.now(), name=name)
    return _settings(request, ctx, new_token=token)


@router.post("/settings/tokens/revoke")
def token_revoke(ctx: ConsoleCtx, form: Form) -> Response:
    """Revoke one of this tenant's API tokens, as `tally tokens revoke`."""
    check_csrf(ctx, form)
    token_id = form.get("id", "").strip()
    with ctx.action("POST /ui/settings/tokens/revoke", {"id": token_id}) as conn:
        if auth.revoke_tenant_token(conn, ctx.tenant_id, token_id, ctx.now()) is None:
            raise NotFound(f"API token {token_id} not found")
    return redirect(f"{PREFIX}/settings")
