"""Embeddable customer dashboards (issue 14 §6): the page a signed URL from
`POST /v1/dashboards/getEmbeddableUrl` opens, outside /ui/ and without an operator session.

`GET /embed/{token}` renders one customer's invoices, usage, or commits and credits, read-only, from the
same service functions as the API. `GET /embed/{token}/style.css` is that URL's stylesheet: the package's
embed.css followed by the URL's colour overrides as CSS custom properties (validated hex colours only), so
the page needs no inline style. A tampered or expired token gets a 403 page.

The page may be framed by any site (`frame-ancestors *`): the token is the credential and the tenant
chooses where to embed it. It runs no script at all (no `script-src`).
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import HTMLResponse, Response

from tally.console.fmt import balance_credit_type, money, period
from tally.console.web import env
from tally.contracts import wire
from tally.contracts.balances import service as balances
from tally.customers import service as customers
from tally.dashboards import tokens
from tally.dashboards.endpoints import EMBED_PATH
from tally.dashboards.schemas import hex_color
from tally.db import uow
from tally.errors import NotFound
from tally.invoices import service as invoices
from tally.invoices.document import BillableStatus, LineItem
from tally.invoices.inputs import Loader
from tally.invoices.render import Money
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.rating.results import LineType
from tally.settings import Settings
from tally.webhooks.keys import server_key
from tally.wire import format_timestamp

router = APIRouter(prefix=EMBED_PATH, include_in_schema=False)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; "
    "frame-ancestors *; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
TITLES = {
    "invoices": "Invoices",
    "usage": "Usage",
    "credits": "Credits",
    "commits_and_credits": "Commits and credits",
}
MAX_BALANCES = 200


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def _page(template: str, status: int = 200, **values: Any) -> Response:
    body = env().get_template(template).render(**values)
    return _headers(HTMLResponse(body, status_code=status))


def _refused(message: str, status: int = 403) -> Response:
    return _page("embed_error.html", status, status_code=status, message=message)


def _claims(request: Request, token: str) -> tokens.Claims:
    settings: Settings = request.app.state.settings
    return tokens.verify(server_key(settings), token, request.app.state.clock.now())


def _css_var(name: str) -> str:
    return "--" + name.lower().replace("_", "-")


@router.get("/{token}/style.css")
def stylesheet(request: Request, token: str) -> Response:
    try:
        claims = _claims(request, token)
    except tokens.InvalidToken as exc:
        return _headers(Response(str(exc), status_code=403, media_type="text/plain"))
    base = resources.files("tally.console").joinpath("static", "embed.css").read_text()
    # Names come from the request model's closed list and values are re-validated hex: no CSS injection.
    lines = [
        f"  {_css_var(name)}: {hex_color(value)};" for name, value in claims.colors if name.isidentifier()
    ]
    css = base + (
        "\n/* this URL's colour overrides */\n:root {\n" + "\n".join(lines) + "\n}\n" if lines else ""
    )
    response = Response(css, media_type="text/css; charset=utf-8")
    return _headers(response)


@router.get("/{token}")
def dashboard(request: Request, token: str) -> Response:
    try:
        claims = _claims(request, token)
    except tokens.InvalidToken as exc:
        return _refused(str(exc))
    now = request.app.state.clock.now()
    engine = request.app.state.engine
    try:
        with uow.read(engine) as conn:
            customer = customers.get(conn, claims.tenant_id, claims.customer_id)
            view = _view(conn, claims, now)
    except NotFound:
        return _refused("This dashboard is no longer available.", 404)
    return _page(
        "embed.html",
        token=token,
        embed=EMBED_PATH,
        customer=customer,
        dashboard=claims.dashboard,
        title=TITLES[claims.dashboard],
        expires=format_timestamp(claims.expires_at),
        **view,
    )


def _view(conn: Connection, claims: tokens.Claims, now: Any) -> dict[str, Any]:
    if claims.dashboard in ("invoices", "usage"):
        return {"invoices": _invoices(conn, claims, now)}
    return {"balances": _balances(conn, claims, now)}


def _groups(claims: tokens.Claims, li: LineItem) -> list[str]:
    """A line's group values, named as the URL's bm_group_key_overrides say."""
    names = {g["key"]: g for g in claims.group_keys}
    out = []
    for key, value in li.group_values.items():
        if value is None:
            continue
        g = names.get(key) or {}
        shown = (g.get("values") or {}).get(value, value)
        out.append(f"{g.get('name') or key}: {shown}")
    return out


def _status_wanted(options: dict[str, str]) -> set[str]:
    wanted = options.get("invoice_status_filter", "ALL")
    groups: dict[str, set[str]] = {
        "ALL": set(InvoiceStatus),
        "FINALIZED_AND_DRAFT": {InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED},
    }
    statuses = groups.get(wanted, {wanted})
    if options.get("hide_voided_invoices") == "true":
        statuses.discard(InvoiceStatus.VOID)
    return statuses


def _invoices(conn: Connection, claims: tokens.Claims, now: Any) -> list[dict[str, Any]]:
    opts = claims.options
    usage_only = claims.dashboard == "usage"
    loader = Loader(conn, claims.tenant_id)
    statuses = {InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED} if usage_only else _status_wanted(opts)
    kind = InvoiceKind.USAGE if usage_only else opts.get("invoice_type")
    show_zero = opts.get("show_zero_usage_line_items") == "true"
    # Invoices are billable unless issued as unbillable (historical invoices may be).
    billable = opts.get("billable_status_filter")
    out = []
    found = invoices.entries(
        conn, loader, claims.tenant_id, claims.customer_id, now, contract_id=opts.get("contract_id") or None
    )
    for e in found:
        if e.status not in statuses or e.key.start > now:
            continue
        doc = e.view(loader, now)
        if kind and doc.type != kind:
            continue
        if billable and (doc.billable_status or BillableStatus.BILLABLE) != billable:
            continue
        lines = []
        for li in doc.line_items:
            is_usage = li.type is LineType.USAGE
            if usage_only and not is_usage:
                continue
            zero = li.total == 0 and not li.quantity
            if is_usage and zero and not show_zero:
                continue
            lines.append(
                {
                    "name": li.name,
                    "groups": _groups(claims, li),
                    "quantity": li.quantity,
                    "total": Money(li.credit_type).amount(li.total),
                }
            )
        if usage_only and not lines:
            continue
        out.append(
            {
                "id": e.id,
                "number": doc.invoice_number or "",
                "status": e.status,
                "type": doc.type,
                "period": period(e.key.start, e.key.end),
                "total": Money(doc.credit_type).amount(doc.total),
                "lines": lines,
                "order": format_timestamp(e.key.start),
            }
        )
    out.sort(key=lambda r: (r["order"], r["id"]), reverse=True)
    return out


def _balances(conn: Connection, claims: tokens.Claims, now: Any) -> list[dict[str, Any]]:
    opts = claims.options
    found = balances.live_balances(conn, claims.tenant_id, claims.customer_id, now, limit=MAX_BALANCES)
    if claims.dashboard == "credits":
        found = [b for b in found if b.kind == "CREDIT"]
    if opts.get("contract_id"):
        found = [b for b in found if b.contract_id == opts["contract_id"]]
    names = wire.names_for(conn, claims.tenant_id, [], found, now, ledgers=True)
    out = []
    for b in found:
        d = wire.balance_wire(b, names, now, include_balance=True, include_ledgers=True)
        credit_type = balance_credit_type(d)
        if (
            opts.get("credit_ledger_credit_type_id")
            and credit_type["id"] != opts["credit_ledger_credit_type_id"]
        ):
            continue
        items = d["access_schedule"]["schedule_items"]
        granted = sum((Decimal(str(i["amount"])) for i in items), Decimal(0))
        left = Decimal(str(d.get("balance", 0)))
        kind = "Credit" if d["type"] == "CREDIT" else "Commit"
        name = kind if opts.get("hide_grant_name") == "true" else d.get("name") or d["product"]["name"]
        out.append(
            {
                "kind": kind,
                "name": name,
                "balance": money(credit_type, left),
                "granted": money(credit_type, granted),
                # a <progress> element shows what is left (its width is not an inline style)
                "left": max(Decimal(0), min(left, granted)),
                "of": granted if granted > 0 else Decimal(1),
                "segments": [
                    period_of(i["starting_at"], i["ending_before"])
                    for i in d["access_schedule"]["schedule_items"]
                ],
                "ledger": [
                    {
                        "date": str(entry["timestamp"])[:10],
                        "type": entry["type"].replace("_", " ").lower(),
                        "amount": money(credit_type, entry["amount"]),
                    }
                    for entry in d.get("ledger", [])
                ],
            }
        )
    return out


def period_of(start: Any, end: Any) -> str:
    return f"{str(start)[:10]} to {str(end)[:10]}"
