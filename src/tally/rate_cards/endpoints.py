from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.db import uow
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import Data, Empty, IdDoc, JSONResponse, Page, data, empty, page
from tally.rate_cards import rates, service
from tally.rate_cards import schemas as s

router = APIRouter(prefix="/v1/contract-pricing/rate-cards")


@router.post("/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreateRateCard]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        card_id = service.create(conn, ctx.tenant_id, req, ctx.tenant.name, ctx.now())
    return data({"id": card_id})


@router.post("/get", response_model=Data[s.RateCardDoc])
def retrieve(ctx: CtxDep, req: JsonBody[s.ById]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        card = service.get(conn, ctx.tenant_id, req.id)
        return data(service.to_wire(conn, ctx.tenant_id, [card])[0])


@router.post("/list", response_model=Page[s.RateCardDoc])
def list_cards(
    ctx: CtxDep, _req: JsonBody[s.ListRateCards], limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = cut(service.page(conn, ctx.tenant_id, after_id(next_page), n), n, lambda c: c.id)
        return page(service.to_wire(conn, ctx.tenant_id, items), nxt)


@router.post("/update", response_model=Data[IdDoc])
def update(ctx: CtxDep, req: JsonBody[s.UpdateRateCard]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.update(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": req.rate_card_id})


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ById]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})


@router.post("/addRate", response_model=Data[s.AddedRateDoc])
def add_rate(ctx: CtxDep, req: JsonBody[s.AddRate]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        [row] = rates.add(conn, ctx.tenant_id, req.rate_card_id, [req], False, ctx.now())
        names = rates.credit_type_names(conn, ctx.tenant_id, [row.credit_type_id])
    return data(rates.add_rate_wire(row, names))


@router.post("/addRates", response_model=Data[IdDoc])
def add_rates(ctx: CtxDep, req: JsonBody[s.AddRates]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        rates.add(conn, ctx.tenant_id, req.rate_card_id, req.rates, True, ctx.now())
    return data({"id": req.rate_card_id})


@router.post("/getRates", response_model=Page[s.RateDoc])
def get_rates(
    ctx: CtxDep, req: JsonBody[s.GetRates], limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = rates.get_rates(conn, ctx.tenant_id, req, next_page, n)
    return page(items, nxt)


@router.post("/getRateSchedule", response_model=Page[s.RateDoc])
def get_rate_schedule(
    ctx: CtxDep, req: JsonBody[s.GetRateSchedule], limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = rates.get_rate_schedule(conn, ctx.tenant_id, req, next_page, n)
    return page(items, nxt)


@router.post("/getNamedSchedule", response_model=Data[list[s.ScheduleSegmentDoc]])
def get_named_schedule(ctx: CtxDep, req: JsonBody[s.GetNamedSchedule]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        segments = service.get_card_schedule(conn, ctx.tenant_id, req)
    return data([g.to_wire() for g in segments])


@router.post("/updateNamedSchedule", response_model=Empty)
def update_named_schedule(ctx: CtxDep, req: JsonBody[s.UpdateNamedSchedule]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.update_card_schedule(conn, ctx.tenant_id, req)
    return empty()


@router.post("/setRateCardProductsOrder", response_model=Data[IdDoc])
def set_products_order(ctx: CtxDep, req: JsonBody[s.SetProductOrder]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.set_product_order(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": req.rate_card_id})


@router.post("/moveRateCardProducts", response_model=Data[IdDoc])
def move_products(ctx: CtxDep, req: JsonBody[s.MoveProducts]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.move_products(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": req.rate_card_id})
