from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.billable_metrics import service as metrics
from tally.billable_metrics.schemas import MetricDoc
from tally.custom_fields import service as custom_fields
from tally.customers import schemas as s
from tally.customers import service
from tally.db import uow
from tally.errors import BadRequest
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import Data, Empty, IdDoc, JSONResponse, Page, data, empty, page

router = APIRouter(prefix="/v1/customers")
MAX_FILTER_IDS = 100


def _split(value: str | None, field: str) -> list[str] | None:
    """Array query params arrive comma-joined in one parameter (API.md §2)."""
    if value is None:
        return None
    items = [x for x in (p.strip() for p in value.split(",")) if x]
    if len(items) > MAX_FILTER_IDS:
        raise BadRequest(f"{field}: at most {MAX_FILTER_IDS} values")
    if any("\x00" in x for x in items):
        raise BadRequest(f"{field}: must not contain NUL characters")
    return items


@router.post("", response_model=Data[s.CustomerSummaryDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreateCustomer]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        customer = service.create(conn, ctx.tenant_id, req, ctx.now())
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [customer.id])
    return data(service.summary(customer, custom[customer.id]))


@router.get("", response_model=Page[s.CustomerDoc])
def list_customers(
    ctx: CtxDep,
    limit: str | None = None,
    next_page: str | None = None,
    customer_ids: str | None = None,
    ingest_alias: str | None = None,
    only_archived: bool = False,
    salesforce_account_ids: str | None = None,
) -> JSONResponse:
    n = check_limit(limit)
    ids = _split(customer_ids, "customer_ids")
    salesforce = _split(salesforce_account_ids, "salesforce_account_ids")
    if ingest_alias is not None and "\x00" in ingest_alias:
        raise BadRequest("ingest_alias: must not contain NUL characters")
    with uow.read(ctx.engine) as conn:
        f = s.Filter(only_archived, ids, ingest_alias, salesforce)
        rows = service.page(conn, ctx.tenant_id, f, after=after_id(next_page), limit=n)
        items, nxt = cut(rows, n, lambda c: c.id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [c.id for c in items])
    return page([service.to_wire(c, custom[c.id]) for c in items], nxt)


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ArchiveCustomer]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})


@router.get("/{customer_id}", response_model=Data[s.CustomerDoc])
def retrieve(ctx: CtxDep, customer_id: str) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        customer = service.get(conn, ctx.tenant_id, customer_id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [customer.id])
    return data(service.to_wire(customer, custom[customer.id]))


@router.post("/{customer_id}/setName", response_model=Data[s.CustomerSummaryDoc])
def set_name(ctx: CtxDep, customer_id: str, req: JsonBody[s.SetName]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        customer = service.set_name(conn, ctx.tenant_id, customer_id, req.name, ctx.now())
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [customer.id])
    return data(service.summary(customer, custom[customer.id]))


@router.post("/{customer_id}/setIngestAliases", response_model=Empty)
def set_ingest_aliases(ctx: CtxDep, customer_id: str, req: JsonBody[s.SetIngestAliases]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.set_ingest_aliases(conn, ctx.tenant_id, customer_id, req.ingest_aliases, ctx.now())
    return empty()


@router.post("/{customer_id}/updateConfig", response_model=Empty)
def update_config(ctx: CtxDep, customer_id: str, req: JsonBody[s.UpdateConfig]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.update_config(conn, ctx.tenant_id, customer_id, req, ctx.now())
    return empty()


@router.get("/{customer_id}/billable-metrics", response_model=Page[MetricDoc])
def list_billable_metrics(
    ctx: CtxDep,
    customer_id: str,
    limit: str | None = None,
    next_page: str | None = None,
    include_archived: bool = False,
    on_current_plan: bool | None = None,  # accepted; no contracts yet, so it does not narrow the list
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        rows = service.billable_metrics(
            conn, ctx.tenant_id, customer_id, after_id(next_page), n, include_archived
        )
        items, nxt = cut(rows, n, lambda m: m.id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, metrics.ENTITY, [m.id for m in items])
    return page([metrics.to_wire(m, custom[m.id]) for m in items], nxt)
