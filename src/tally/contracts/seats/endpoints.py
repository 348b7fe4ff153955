"""Seat and subscription-quantity reads (SPEC §5.8): seats history, seat balances, quantity history
(thin: parse, one read unit of work; the logic is in `service` and `balances`)."""

from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.contracts import schemas as s
from tally.contracts.seats import balances, service
from tally.contracts.seats.schemas import GetQuantityHistory, GetSeatsHistory, ListSeatBalances
from tally.db import uow
from tally.kit.pagination import check_limit
from tally.kit.responses import Data, Doc, JSONResponse, Page, data, ok, page

router = APIRouter(prefix="/v1/contracts")

SEATS_HISTORY_MAX = 10  # entries per page (SPEC §5.8)


@router.post("/getSubscriptionSeatsHistory", response_model=Page[s.SeatsHistoryDoc])
def seats_history(ctx: CtxDep, req: JsonBody[GetSeatsHistory]) -> JSONResponse:
    n = check_limit(req.limit, SEATS_HISTORY_MAX, SEATS_HISTORY_MAX)
    with uow.read(ctx.engine) as conn:
        items, nxt = service.seats_history(conn, ctx.tenant_id, req, n)
    return page(items, nxt)


@router.post("/seatBalances/list", response_model=s.SeatBalancesDoc)
def seat_balances(ctx: CtxDep, req: JsonBody[ListSeatBalances]) -> JSONResponse:
    n = check_limit(req.limit)
    with uow.read(ctx.engine) as conn:
        items, pagination = balances.seat_balances(conn, ctx.tenant_id, req, n, ctx.now())
    return ok({"data": items, "pagination": pagination})


@router.post("/getSubscriptionQuantityHistory", response_model=Data[list[Doc]])
def quantity_history(ctx: CtxDep, req: JsonBody[GetQuantityHistory]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        out = service.quantity_history(conn, ctx.tenant_id, req, ctx.now())
    return data(out)
