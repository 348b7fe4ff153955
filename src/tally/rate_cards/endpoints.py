from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import JSONResponse, data, empty, page
from tally.rate_cards import rates, service
from tally.rate_cards import schemas as s

router = APIRouter(prefix="/v1/contract-pricing/rate-cards")


@router.post("/create")
def create(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.CreateRateCard, body)
    with uow.write(ctx.engine) as conn:
        card_id = service.create(conn, ctx.tenant_id, req, ctx.tenant.name, ctx.now())
    return data({"id": card_id})


@router.post("/get")
def retrieve(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.ById, body)
    with uow.read(ctx.engine) as conn:
        card = service.get(conn, ctx.tenant_id, req.id)
        return data(service.to_wire(conn, ctx.tenant_id, [card])[0])


@router.post("/list")
def list_cards(
    ctx: CtxDep, body: BodyDep, limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    parse(s.ListRateCards, body)
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = cut(service.page(conn, ctx.tenant_id, after_id(next_page), n), n, lambda c: c.id)
        return page(service.to_wire(conn, ctx.tenant_id, items), nxt)


@router.post("/update")
def update(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.UpdateRateCard, body)
    with uow.write(ctx.engine) as conn:
        service.update(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": req.rate_card_id})


@router.post("/archive")
def archive(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.ById, body)
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})


@router.post("/addRate")
def add_rate(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.AddRate, body)
    with uow.write(ctx.engine) as conn:
        [row] = rates.add(conn, ctx.tenant_id, req.rate_card_id, [req], False, ctx.now())
        names = rates.credit_type_names(conn, ctx.tenant_id, [row.credit_type_id])
    return data(rates.add_rate_wire(row, names))


@router.post("/addRates")
def add_rates(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.AddRates, body)
    with uow.write(ctx.engine) as conn:
        rates.add(conn, ctx.tenant_id, req.rate_card_id, req.rates, True, ctx.now())
    return data({"id": req.rate_card_id})


@router.post("/getRates")
def get_rates(
    ctx: CtxDep, body: BodyDep, limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    req = parse(s.GetRates, body)
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = rates.get_rates(conn, ctx.tenant_id, req, next_page, n)
    return page(items, nxt)


@router.post("/getRateSchedule")
def get_rate_schedule(
    ctx: CtxDep, body: BodyDep, limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    req = parse(s.GetRateSchedule, body)
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = rates.get_rate_schedule(conn, ctx.tenant_id, req, next_page, n)
    return page(items, nxt)


@router.post("/getNamedSchedule")
def get_named_schedule(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.GetNamedSchedule, body)
    with uow.read(ctx.engine) as conn:
        segments = service.get_card_schedule(conn, ctx.tenant_id, req)
    return data([g.to_wire() for g in segments])


@router.post("/updateNamedSchedule")
def update_named_schedule(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.UpdateNamedSchedule, body)
    with uow.write(ctx.engine) as conn:
        service.update_card_schedule(conn, ctx.tenant_id, req)
    return empty()


@router.post("/setRateCardProductsOrder")
def set_products_order(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.SetProductOrder, body)
    with uow.write(ctx.engine) as conn:
        service.set_product_order(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": req.rate_card_id})


@router.post("/moveRateCardProducts")
def move_products(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.MoveProducts, body)
    with uow.write(ctx.engine) as conn:
        service.move_products(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": req.rate_card_id})
