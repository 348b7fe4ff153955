from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from tally.auth.dependencies import CtxDep, JsonBody
from tally.customers import service as customers
from tally.db import uow
from tally.errors import BadRequest
from tally.invoices import (
    breakdowns,
    documents,
    explain,
    late,
    output,
    preview,
    render,
    service,
    tenant_settings,
)
from tally.invoices import schemas as s
from tally.invoices.inputs import Loader
from tally.kit.pagination import check_limit, decode_cursor, decode_key, encode_cursor
from tally.kit.responses import Data, IdDoc, JSONResponse, Page, data, page
from tally.models.invoices import InvoiceStatus
from tally.wire import format_timestamp, parse_timestamp

router = APIRouter()

HTML_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The invoice as an HTML page",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}
PDF_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The invoice as a PDF document",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}

_STATUSES: set[str] = set(InvoiceStatus)
_TYPES = {"USAGE", "USAGE_CONSOLIDATED", "SCHEDULED"}


def _ts(value: str | None, field: str) -> datetime | None:
    return None if value is None or value == "" else parse_timestamp(value, field)


def _choice(value: str | None, allowed: set[str], field: str) -> str | None:
    if value is None or value == "":
        return None
    if value.upper() not in allowed:
        raise BadRequest(f"{field}: must be one of {', '.join(sorted(allowed))}")
    return value.upper()


def _sort(value: str | None) -> bool:
    if value not in (None, "", "date_asc", "date_desc"):
        raise BadRequest("sort: must be date_asc or date_desc")
    return value == "date_desc"


def _order(e: service.Entry) -> tuple[str, str, str]:
    return (format_timestamp(e.key.issued_at), format_timestamp(e.key.start), e.id)


def _after(cursor: str | None) -> tuple[str, str, str] | None:
    key = decode_key(cursor, str, str, str)
    return None if key is None else (key[0], key[1], key[2])


@router.get("/v1/customers/{customer_id}/invoices", response_model=Page[s.InvoiceDoc])
def list_invoices(
    ctx: CtxDep,
    customer_id: str,
    contract_id: str | None = None,
    credit_type_id: str | None = None,
    status: str | None = None,
    type: str | None = None,
    starting_on: str | None = None,
    ending_before: str | None = None,
    sort: str | None = None,
    limit: str | None = None,
    next_page: str | None = None,
    skip_zero_qty_line_items: bool = False,
    include_historical_commit_invoices: bool = False,
    include_list_prices: bool = False,
    webhook_notification_id: str | None = None,
) -> JSONResponse:
    n = check_limit(limit)
    want_status = _choice(status, _STATUSES, "status")
    want_type = _choice(type, _TYPES, "type")
    lo, hi = _ts(starting_on, "starting_on"), _ts(ending_before, "ending_before")
    desc = _sort(sort)
    after = _after(next_page)
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        customers.get(conn, ctx.tenant_id, customer_id)
        loader = Loader(conn, ctx.tenant_id)
        found = [
            e
            for e in service.entries(conn, loader, ctx.tenant_id, customer_id, now, contract_id)
            if (want_status is None or e.status == want_status)
            and (want_type is None or service.wire_type(e.key.kind) == want_type)
            and (lo is None or e.key.start >= lo)
            and (hi is None or e.key.end <= hi)
        ]
        found.sort(key=_order, reverse=desc)
        if after is not None:
            found = [e for e in found if (_order(e) < after if desc else _order(e) > after)]
        out: list[dict[str, Any]] = []
        last = None
        for e in found:
            if credit_type_id and e.view(loader, now).credit_type.id != credit_type_id:
                continue
            if len(out) == n:
                break
            doc = e.materialize(loader, now)
            if include_list_prices:
                doc = service.with_list_prices(loader, e, now)
            out.append(service.skip_zero(doc) if skip_zero_qty_line_items else doc)
            last = e
        more = last is not None and len(out) == n and found and found[-1] is not last
    nxt = encode_cursor(list(_order(last))) if more and last is not None else None
    return page(out, nxt)


@router.get("/v1/customers/{customer_id}/invoices/breakdowns", response_model=Page[s.BreakdownDoc])
def list_breakdowns(
    ctx: CtxDep,
    customer_id: str,
    starting_on: str | None = None,
    ending_before: str | None = None,
    window_size: str | None = None,
    status: str | None = None,
    credit_type_id: str | None = None,
    sort: str | None = None,
    limit: str | None = None,
    next_page: str | None = None,
    skip_zero_qty_line_items: bool = False,
) -> JSONResponse:
    n = check_limit(limit)
    lo, hi = _ts(starting_on, "starting_on"), _ts(ending_before, "ending_before")
    if lo is None or hi is None:
        raise BadRequest(f"{'starting_on' if lo is None else 'ending_before'}: required")
    want_status = _choice(status, _STATUSES, "status")
    desc = _sort(sort)
    offset = decode_cursor(next_page) or 0
    if type(offset) is not int or offset < 0:
        raise BadRequest("next_page: invalid cursor")
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        customers.get(conn, ctx.tenant_id, customer_id)
        loader = Loader(conn, ctx.tenant_id)
        found = [
            e
            for e in service.entries(conn, loader, ctx.tenant_id, customer_id, now)
            if (want_status is None or e.status == want_status)
            # Filter before paging, so every page is full: a usage invoice is in its rate card's currency.
            and (not credit_type_id or breakdowns.credit_type_id(loader, e, now) == credit_type_id)
        ]
        slots = breakdowns.windows(found, lo, hi, (window_size or "DAY").upper())
        slots.sort(key=lambda sl: (sl.start, _order(sl.entry)), reverse=desc)
        chunk = slots[offset : offset + n]
        docs = breakdowns.render(loader, chunk, now, skip_zero_qty_line_items)
    nxt = encode_cursor(offset + n) if offset + n < len(slots) else None
    return page(docs, nxt)


@router.get("/v1/customers/{customer_id}/invoices/{invoice_id}", response_model=Data[s.InvoiceDoc])
def retrieve(
    ctx: CtxDep,
    customer_id: str,
    invoice_id: str,
    skip_zero_qty_line_items: bool = False,
    include_list_prices: bool = False,
) -> JSONResponse:
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        customers.get(conn, ctx.tenant_id, customer_id)
        loader = Loader(conn, ctx.tenant_id)
        e = service.find(conn, loader, ctx.tenant_id, customer_id, invoice_id, now)
        doc = e.materialize(loader, now)
        if include_list_prices:
            doc = service.with_list_prices(loader, e, now)
    return data(service.skip_zero(doc) if skip_zero_qty_line_items else doc)


@router.get(
    "/v1/customers/{customer_id}/invoices/{invoice_id}/pdf", response_class=Response, responses=PDF_DOC
)
def retrieve_pdf(ctx: CtxDep, customer_id: str, invoice_id: str) -> Response:
    body = output.pdf(ctx.engine, ctx.tenant_id, customer_id, invoice_id, ctx.now())
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'},
    )


@router.get(
    "/tally/v1/customers/{customer_id}/invoices/{invoice_id}/html",
    response_class=Response,
    responses=HTML_DOC,
)
def retrieve_html(ctx: CtxDep, customer_id: str, invoice_id: str) -> Response:
    """The same document as the PDF, as an HTML page (console, email)."""
    with uow.read(ctx.engine) as conn:
        viewed = output.view(conn, ctx.tenant_id, customer_id, invoice_id, ctx.now())
    return Response(render.html(viewed.view), media_type="text/html; charset=utf-8")


@router.post("/v1/invoices/void", response_model=Data[IdDoc])
def void(ctx: CtxDep, req: JsonBody[s.InvoiceRef]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        voided = service.void(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": voided})


@router.post("/v1/invoices/regenerate", response_model=Data[IdDoc])
def regenerate(ctx: CtxDep, req: JsonBody[s.InvoiceRef]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        new_id = service.regenerate(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": new_id})


@router.post("/tally/v1/invoices/explain", response_model=Data[s.ExplanationDoc])
def explain_line(ctx: CtxDep, req: JsonBody[s.ExplainLine]) -> JSONResponse:
    """The events behind one usage line, its quantity from the usage rollups, or with `verify` every event
    re-aggregated to it (tally.invoices.explain)."""
    offset = decode_cursor(req.next_page) or 0
    if type(offset) is not int or offset < 0:
        raise BadRequest("next_page: invalid cursor")
    n = req.limit or 50
    with uow.read(ctx.engine) as conn:
        out = explain.explain(
            conn,
            ctx.tenant_id,
            req.customer_id,
            req.invoice_id,
            req.line_index,
            offset=offset,
            limit=n,
            now=ctx.now(),
            verify=req.verify,
        )
    nxt = out.pop("next_offset")
    out["next_page"] = encode_cursor(nxt) if nxt is not None else None
    return data(out)


@router.post("/v1/customers/{customer_id}/previewEvents", response_model=Data[list[s.InvoiceDoc]])
def preview_events(ctx: CtxDep, customer_id: str, req: JsonBody[s.PreviewEvents]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        docs = preview.preview(conn, ctx.tenant_id, customer_id, req, ctx.now())
    return data(docs)


@router.post("/tally/v1/late-events/list", response_model=Page[s.LateEventDoc])
def list_late_events(ctx: CtxDep, req: JsonBody[s.ListLateEvents]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        items, nxt = late.page(conn, ctx.tenant_id, req)
    return page(items, nxt)


@router.post("/tally/v1/invoice-settings/get", response_model=Data[s.InvoiceSettingsDoc])
def get_settings(ctx: CtxDep, _req: JsonBody[s.NoFields]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        out = tenant_settings.read(conn, ctx.tenant_id)
    return data(out)


@router.post("/tally/v1/invoice-settings", response_model=Data[s.InvoiceSettingsDoc])
def set_settings(ctx: CtxDep, req: JsonBody[s.InvoiceSettings]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        out = tenant_settings.update(conn, ctx.tenant_id, req)
    return data(out)


@router.post("/tally/v1/customers/billing-details/get", response_model=Data[s.BillingDetailsDoc])
def get_billing_details(ctx: CtxDep, req: JsonBody[s.CustomerRef]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        customers.get(conn, ctx.tenant_id, req.customer_id)
        out = documents.bill_to(conn, ctx.tenant_id, req.customer_id)
    return data({"customer_id": req.customer_id, **out})


@router.post("/tally/v1/customers/billing-details", response_model=Data[s.BillingDetailsDoc])
def set_billing_details(ctx: CtxDep, req: JsonBody[s.BillingDetails]) -> JSONResponse:
    changes = {f: getattr(req, f) for f in documents.BILL_TO_FIELDS if f in req.model_fields_set}
    with uow.write(ctx.engine) as conn:
        customers.get(conn, ctx.tenant_id, req.customer_id)
        out = documents.set_bill_to(conn, ctx.tenant_id, req.customer_id, changes, ctx.now())
    return data({"customer_id": req.customer_id, **out})
