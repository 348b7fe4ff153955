"""Billing-provider routes: Metronome's (settings, customer billing configurations) and tally's own
Stripe connection under /tally/v1/stripe (docs/stripe.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select

from tally.auth.dependencies import CtxDep, JsonBody
from tally.billing_providers import schemas as s
from tally.billing_providers import service
from tally.db import uow
from tally.errors import BadRequest, NotFound
from tally.kit.pagination import check_limit, decode_cursor, encode_cursor
from tally.kit.responses import Data, Doc, Empty, JSONResponse, Page, data, empty, page
from tally.models.customers import customers
from tally.settings import Settings
from tally.webhooks import keys

router = APIRouter()


def _server_key(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    return keys.server_key(settings)


@router.post("/tally/v1/stripe/connection", response_model=Data[Doc])
def set_stripe_connection(ctx: CtxDep, req: JsonBody[s.StripeConnection], request: Request) -> JSONResponse:
    key = _server_key(request)
    with uow.write(ctx.engine) as conn:
        info = service.set_connection(conn, ctx.tenant_id, req, key, ctx.now())
    return data(info)


@router.post("/tally/v1/stripe/connection/get", response_model=Data[Doc])
def get_stripe_connection(ctx: CtxDep, _req: JsonBody[s.DeleteConnection]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        info = service.connection_info(conn, ctx.tenant_id)
    if info is None:
        raise NotFound("Stripe is not connected")
    return data(info)


@router.post("/tally/v1/stripe/connection/delete", response_model=Empty)
def delete_stripe_connection(ctx: CtxDep, _req: JsonBody[s.DeleteConnection]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.delete_connection(conn, ctx.tenant_id)
    return empty()


@router.post("/tally/v1/stripe/syncs/retry", response_model=Data[Doc])
def retry_sync(ctx: CtxDep, req: JsonBody[s.RetrySync]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        out = service.retry(conn, ctx.tenant_id, req.invoice_id, ctx.now())
    return data(out)


@router.post("/v1/setUpBillingProvider", response_model=Data[Doc])
def create_billing_provider(ctx: CtxDep, req: JsonBody[s.CreateBillingProvider]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        dm_id = service.create_setting(conn, ctx.tenant_id, req, ctx.now())
    return data({"delivery_method_id": dm_id})


@router.post("/v1/listConfiguredBillingProviders", response_model=Page[Doc])
def list_billing_providers(ctx: CtxDep, req: JsonBody[s.ListBillingProviders]) -> JSONResponse:
    offset = decode_cursor(req.next_page) or 0
    if type(offset) is not int or offset < 0:
        raise BadRequest("next_page: invalid cursor")
    n = check_limit(None)
    with uow.read(ctx.engine) as conn:
        rows = service.list_settings(conn, ctx.tenant_id)
    chunk = rows[offset : offset + n]
    return page(chunk, encode_cursor(offset + n) if offset + n < len(rows) else None)


@router.post("/v1/setCustomerBillingProviderConfigurations", response_model=Data[list[Doc]])
def set_configurations(ctx: CtxDep, req: JsonBody[s.SetConfigurations]) -> JSONResponse:
    now = ctx.now()
    with uow.write(ctx.engine) as conn:
        out = [
            service.add_configuration(conn, ctx.tenant_id, item, now, f"data[{i}]")
            for i, item in enumerate(req.data)
        ]
    return data(out)


@router.post("/v1/getCustomerBillingProviderConfigurations", response_model=Data[list[Doc]])
def retrieve_configurations(ctx: CtxDep, req: JsonBody[s.RetrieveConfigurations]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        _customer_exists(conn, ctx.tenant_id, req.customer_id)
        out = service.configurations(conn, ctx.tenant_id, req.customer_id, bool(req.include_archived))
    return data(out)


@router.post("/v1/archiveCustomerBillingProviderConfigurations", response_model=Data[Doc])
def archive_configurations(ctx: CtxDep, req: JsonBody[s.ArchiveConfigurations]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        _customer_exists(conn, ctx.tenant_id, req.customer_id)
        ids = service.archive_configurations(
            conn, ctx.tenant_id, req.customer_id, req.customer_billing_provider_configuration_ids, ctx.now()
        )
    return data({"customer_billing_provider_configuration_ids": ids, "customer_id": req.customer_id})


def _customer_exists(conn: Connection, tenant_id: str, customer_id: str) -> None:
    found = conn.execute(
        select(customers.c.id).where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
    ).first()
    if found is None:
        raise NotFound(f"Customer {customer_id} not found")
