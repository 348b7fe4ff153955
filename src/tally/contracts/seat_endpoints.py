"""Seat and subscription-quantity reads (SPEC §5.8): seats history, seat balances, quantity history
(thin: parse, one read unit of work; the logic is in tally.contracts.seats)."""

from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.contracts import seats
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import check_limit
from tally.kit.responses import JSONResponse, data, ok, page

router = APIRouter(prefix="/v1/contracts")

SEATS_HISTORY_MAX = 10  # entries per page (SPEC §5.8)


@router.post("/getSubscriptionSeatsHistory")
def seats_history(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(seats.GetSeatsHistory, body)
    n = check_limit(req.limit, SEATS_HISTORY_MAX, SEATS_HISTORY_MAX)
    with uow.read(ctx.engine) as conn:
        items, nxt = seats.seats_history(conn, ctx.tenant_id, req, n)
    return page(items, nxt)


@router.post("/seatBalances/list")
def seat_balances(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(seats.ListSeatBalances, body)
    n = check_limit(req.limit)
    with uow.read(ctx.engine) as conn:
        items, pagination = seats.seat_balances(conn, ctx.tenant_id, req, n, ctx.now())
    return ok({"data": items, "pagination": pagination})


@router.post("/getSubscriptionQuantityHistory")
def quantity_history(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(seats.GetQuantityHistory, body)
    with uow.read(ctx.engine) as conn:
        out = seats.quantity_history(conn, ctx.tenant_id, req, ctx.now())
    return data(out)
