"""The console's pages and actions. Each view reads through the API's own service functions and renders a
template; each action runs the API's service function in a transaction audited as that API route."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from tally.billing_providers import service as billing_providers
from tally.billing_providers.schemas import StripeConnection
from tally.console import accounts, customer_usage
from tally.console.fmt import balance_credit_type, invoice_url, money, period
from tally.console.web import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    ConsoleCtx,
    Form,
    check_csrf,
    is_https,
    redirect,
    render,
    secure_headers,
)
from tally.contracts import service as contracts
from tally.contracts import wire
from tally.contracts.balances import service as balances
from tally.customers import service as customers
from tally.db import uow
from tally.errors import BadRequest
from tally.invoices import explain, export, output
from tally.invoices import render as invoice_render
from tally.invoices import service as invoices
from tally.invoices.document import InvoiceDoc, ProductListType
from tally.invoices.inputs import Loader
from tally.kit.api import parse
from tally.models.invoices import InvoiceStatus
from tally.rating.results import LineType
from tally.settings import Settings
from tally.webhooks.keys import server_key
from tally.wire import format_timestamp, parse_timestamp

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = 50
STATIC = {"console.css": "text/css; charset=utf-8"}


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def _safe_next(value: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/customers"


# ---------------------------------------------------------------------------------------- sign-in


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        return secure_headers(Response("Not found", status_code=404, media_type="text/plain"))
    body = resources.files("tally.console").joinpath("static", name).read_bytes()
    response = Response(body, media_type=STATIC[name])
    secure_headers(response)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@router.get("")
@router.get("/")
def home() -> Response:
    return redirect(f"{PREFIX}/customers")


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", csrf=token, next=_safe_next(next), error=None)
    _set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login")
async def login(request: Request, form: Form) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    nxt = _safe_next(form.get("next"))
    if not expected or not secrets.compare_digest(expected, form.get("csrf", "")):
        return _login_again(request, nxt, "The sign-in form expired; please try again.", 403)
    engine = request.app.state.engine
    now: datetime = request.app.state.clock.now()

    def sign_in() -> str | None:
        with uow.write(engine) as conn:
            if form.get("token"):
                return accounts.sign_in_with_token(conn, form["token"], now)
            return accounts.sign_in_with_password(conn, form.get("email", ""), form.get("password", ""), now)

    session_id = await anyio.to_thread.run_sync(sign_in)
    if session_id is None:
        return _login_again(request, nxt, "Those credentials were not accepted.", 401)
    response = redirect(nxt)
    _set_cookie(request, response, COOKIE, session_id, int(accounts.SESSION_TTL.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


def _login_again(request: Request, nxt: str, error: str, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, csrf=token, next=nxt, error=error)
    _set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


@router.post("/logout")
def logout(request: Request, ctx: ConsoleCtx, form: Form) -> Response:
    check_csrf(ctx, form)
    with uow.write(ctx.engine) as conn:
        accounts.end(conn, request.cookies.get(COOKIE, ""))
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# ---------------------------------------------------------------------------------------- customers


@router.get("/customers")
def customer_list(request: Request, ctx: ConsoleCtx, q: str = "", after: str | None = None) -> Response:
    with ctx.read() as conn:
        found = customers.search(conn, ctx.tenant_id, q[:255], after=after, limit=PAGE)
    more = len(found) > PAGE
    found = found[:PAGE]
    nxt = f"{PREFIX}/customers?q={quote(q)}&after={quote(found[-1].id)}" if more else None
    return render(request, "customers.html", q=q, customers=found, next_url=nxt)


def _invoice_rows(conn: Any, ctx: ConsoleCtx, customer_id: str, now: datetime) -> list[dict[str, Any]]:
    loader = Loader(conn, ctx.tenant_id)
    out: list[dict[str, Any]] = []
    for e in invoices.entries(conn, loader, ctx.tenant_id, customer_id, now):
        doc = e.view(loader, now)
        out.append(
            {
                "id": e.id,
                "status": e.status,
                "number": doc.invoice_number or "",
                "type": doc.type,
                "period": period(e.key.start, e.key.end),
                "total": invoice_render.Money(doc.credit_type).amount(doc.total),
                "current": e.status == InvoiceStatus.DRAFT and e.key.start <= now < e.key.end,
                "order": (format_timestamp(e.key.start), e.id),
                "bounds": (e.key.start, e.key.end),
            }
        )
    out.sort(key=lambda r: r["order"], reverse=True)
    return out


@router.get("/customers/{customer_id}")
def customer_page(request: Request, ctx: ConsoleCtx, customer_id: str) -> Response:
    now = ctx.now()
    with ctx.read() as conn:
        customer = customers.get(conn, ctx.tenant_id, customer_id)
        loaded = contracts.load_many(
            conn, ctx.tenant_id, contracts.rows_of_customer(conn, ctx.tenant_id, customer_id)
        )
        found = balances.live_balances(conn, ctx.tenant_id, customer_id, now, limit=200)
        names = wire.names_for(conn, ctx.tenant_id, [], found, now, ledgers=True)
        docs = [wire.balance_wire(b, names, now, include_balance=True, include_ledgers=True) for b in found]
        rows = _invoice_rows(conn, ctx, customer_id, now)
        period = next((r["bounds"] for r in rows if r["current"] and r["type"] == "USAGE"), None)
        usage = customer_usage.usage_charts(conn, ctx.tenant_id, customer_id, loaded, now, period)
        alerts, more_alerts = customer_usage.alert_rows(conn, ctx.tenant_id, customer_id)
    balance_rows = [
        {
            "id": d["id"],
            "type": d["type"],
            "name": d.get("name") or d["product"]["name"],
            "contract": (d.get("contract") or {}).get("id", ""),
            "balance": money(balance_credit_type(d), d.get("balance", Decimal(0))),
            "ledger": [
                {
                    "type": entry["type"],
                    "timestamp": entry["timestamp"],
                    "amount": money(balance_credit_type(d), entry["amount"]),
                }
                for entry in d.get("ledger", [])
            ],
        }
        for d in docs
    ]
    return render(
        request,
        "customer.html",
        customer=customer,
        contracts=loaded,
        balances=balance_rows,
        invoices=rows,
        drafts=[r for r in rows if r["current"]],
        usage=usage,
        alerts=alerts,
        more_alerts=more_alerts,
    )


# ---------------------------------------------------------------------------------------- invoices


@router.get("/customers/{customer_id}/invoices/{invoice_id}")
def invoice_page(request: Request, ctx: ConsoleCtx, customer_id: str, invoice_id: str) -> Response:
    with ctx.read() as conn:
        viewed = output.view(conn, ctx.tenant_id, customer_id, invoice_id, ctx.now())
        sync = billing_providers.sync_row(conn, ctx.tenant_id, invoice_id)
    lines = _with_explain_links(viewed.invoice, viewed.view["lines"])
    return render(
        request,
        "invoice.html",
        customer_id=customer_id,
        customer_name=viewed.customer_name,
        doc=viewed.doc,
        inv=viewed.view,
        lines=lines,
        stripe_retry=sync is not None and billing_providers.retryable(sync),
    )


def _with_explain_links(doc: InvoiceDoc, lines: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The formatted lines (render.context), each usage line with the index of its invoice line item:
    render.context emits one "line" row per line item that is not a deduction, then its tier rows."""
    items = [(i, li) for i, li in enumerate(doc.line_items) if li.type is not LineType.APPLIED]
    out: list[dict[str, Any]] = []
    pending = iter(items)
    for line in lines:
        explain = None
        if line["kind"] == "line":
            i, li = next(pending)
            # Usage lines of a billable metric; a composite line (a fee on other lines) has no events.
            metered = li.type is LineType.USAGE and li.product_type is not ProductListType.COMPOSITE
            explain = i if metered else None
        out.append({**line, "explain": explain})
    return out


@router.get("/customers/{customer_id}/invoices/{invoice_id}/pdf")
def invoice_pdf(ctx: ConsoleCtx, customer_id: str, invoice_id: str) -> Response:
    body = output.pdf(ctx.engine, ctx.tenant_id, customer_id, invoice_id, ctx.now())
    response = Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'},
    )
    return secure_headers(response)


def _check_invoice_action(ctx: ConsoleCtx, form: Form, customer_id: str, invoice_id: str) -> None:
    """Before an action on an invoice: the form's CSRF token, then a 404 unless it is this customer's."""
    check_csrf(ctx, form)
    with ctx.read() as conn:
        output.view(conn, ctx.tenant_id, customer_id, invoice_id, ctx.now())


@router.post("/customers/{customer_id}/invoices/{invoice_id}/void")
def invoice_void(ctx: ConsoleCtx, form: Form, customer_id: str, invoice_id: str) -> Response:
    _check_invoice_action(ctx, form, customer_id, invoice_id)
    with ctx.action("POST /v1/invoices/void", {"id": invoice_id}) as conn:
        invoices.void(conn, ctx.tenant_id, invoice_id, ctx.now())
    return redirect(invoice_url(customer_id, invoice_id))


@router.post("/customers/{customer_id}/invoices/{invoice_id}/regenerate")
def invoice_regenerate(ctx: ConsoleCtx, form: Form, customer_id: str, invoice_id: str) -> Response:
    _check_invoice_action(ctx, form, customer_id, invoice_id)
    with ctx.action("POST /v1/invoices/regenerate", {"id": invoice_id}) as conn:
        new_id = invoices.regenerate(conn, ctx.tenant_id, invoice_id, ctx.now())
    return redirect(invoice_url(customer_id, new_id))


@router.post("/customers/{customer_id}/invoices/{invoice_id}/stripe-retry")
def invoice_stripe_retry(ctx: ConsoleCtx, form: Form, customer_id: str, invoice_id: str) -> Response:
    """The operator's retry of a Stripe sync that Stripe refused, as `POST /tally/v1/stripe/syncs/retry`."""
    _check_invoice_action(ctx, form, customer_id, invoice_id)
    with ctx.action("POST /tally/v1/stripe/syncs/retry", {"invoice_id": invoice_id}) as conn:
        billing_providers.retry(conn, ctx.tenant_id, invoice_id, ctx.now())
    return redirect(invoice_url(customer_id, invoice_id))


EXPLAIN_PAGE = 50


@router.get("/customers/{customer_id}/invoices/{invoice_id}/explain")
def explain_page(
    request: Request,
    ctx: ConsoleCtx,
    customer_id: str,
    invoice_id: str,
    line: int = 0,
    offset: int = 0,
    verify: int = 0,
) -> Response:
    if offset < 0:
        raise BadRequest("offset: must not be negative")
    with ctx.read() as conn:
        out = explain.explain(
            conn,
            ctx.tenant_id,
            customer_id,
            invoice_id,
            line,
            offset=offset,
            limit=EXPLAIN_PAGE,
            now=ctx.now(),
            verify=bool(verify),
        )
    base = invoice_url(customer_id, invoice_id)
    keep = "&verify=1" if verify else ""
    priced = invoice_render.Money.of(out["credit_type"])
    for t in out["tiers"]:
        t["price_text"] = priced.price(t["price"])
        t["subtotal_text"] = priced.amount(t["subtotal"])
    nxt = out["next_offset"]
    return render(
        request,
        "explain.html",
        x=out,
        invoice_url=base,
        next_url=f"{base}/explain?line={line}&offset={nxt}{keep}" if nxt is not None else None,
        prev_url=f"{base}/explain?line={line}&offset={max(0, offset - EXPLAIN_PAGE)}{keep}"
        if offset
        else None,
        verify_url=f"{base}/explain?line={line}&offset={offset}&verify=1",
        first=offset + 1,
    )


# ---------------------------------------------------------------------------------------- export


def _when(value: str, name: str) -> datetime:
    if not value:
        raise BadRequest(f"{name}: required (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
    return parse_timestamp(value, name)


@router.get("/invoices/export.csv")
def export_csv(
    ctx: ConsoleCtx,
    request: Request,
    customer: str = "",
) -> Response:
    lo = _when(request.query_params.get("from", ""), "from")
    hi = _when(request.query_params.get("to", ""), "to")
    if hi <= lo:
        raise BadRequest("to: must be after from")
    wanted = export.statuses(request.query_params.getlist("status"), "status")
    if customer:
        with ctx.read() as conn:
            customers.get(conn, ctx.tenant_id, customer)
    q = export.Query(ctx.tenant_id, lo, hi, wanted, customer or None)
    response = StreamingResponse(
        export.csv_chunks(ctx.engine, q, ctx.now()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="invoices.csv"'},
    )
    return secure_headers(response)


@router.get("/invoices/export")
def export_form(request: Request, ctx: ConsoleCtx, customer: str = "") -> Response:
    return render(request, "export.html", statuses=export.STATUSES, request_customer=customer)


# ---------------------------------------------------------------------------------------- settings


@router.get("/settings/stripe")
def stripe_settings(request: Request, ctx: ConsoleCtx) -> Response:
    with ctx.read() as conn:
        info = billing_providers.connection_info(conn, ctx.tenant_id)
    return render(request, "settings_stripe.html", info=info)


@router.post("/settings/stripe")
def stripe_connect(request: Request, ctx: ConsoleCtx, form: Form) -> Response:
    """Connect (or replace) the tenant's Stripe account, as `POST /tally/v1/stripe/connection`."""
    check_csrf(ctx, form)
    fields = ("secret_key", "webhook_secret", "account_id", "api_base")
    req = parse(StripeConnection, {k: form[k] for k in fields if form.get(k, "").strip()})
    settings: Settings = request.app.state.settings
    key = server_key(settings)
    with ctx.action("POST /tally/v1/stripe/connection", {}) as conn:
        billing_providers.set_connection(conn, ctx.tenant_id, req, key, ctx.now())
    return redirect(f"{PREFIX}/settings/stripe")


@router.post("/settings/stripe/delete")
def stripe_disconnect(ctx: ConsoleCtx, form: Form) -> Response:
    check_csrf(ctx, form)
    with ctx.action("POST /tally/v1/stripe/connection/delete", {}) as conn:
        billing_providers.delete_connection(conn, ctx.tenant_id)
    return redirect(f"{PREFIX}/settings/stripe")
