"""`POST /tally/v1/test-clock` (only with `tally serve --test-clock`): move the server's time forward and
run whatever falls due before answering. Without the flag the route answers 404 like any unknown path."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tally.auth.dependencies import CtxDep, JsonBody
from tally.errors import NotFound
from tally.invoices.schemas import NoFields, SetTestClock, TestClockDoc, TestClockSetDoc
from tally.jobs.clock import PersistentClock
from tally.jobs.worker import run_pass
from tally.kit.responses import Data, JSONResponse, data
from tally.wire import format_timestamp

router = APIRouter(prefix="/tally/v1")


def _clock(request: Request) -> PersistentClock:
    clock = request.app.state.clock
    if not request.app.state.settings.test_clock or not isinstance(clock, PersistentClock):
        raise NotFound("Not found")
    return clock


@router.post("/test-clock/get", response_model=Data[TestClockDoc])
def get_test_clock(request: Request, ctx: CtxDep, _req: JsonBody[NoFields]) -> JSONResponse:
    clock = _clock(request)
    return data({"now": format_timestamp(clock.now())})


@router.post("/test-clock", response_model=Data[TestClockSetDoc])
def set_test_clock(request: Request, ctx: CtxDep, req: JsonBody[SetTestClock]) -> JSONResponse:
    clock = _clock(request)
    clock.set(req.now)
    result = run_pass(ctx.engine, clock, settings=request.app.state.settings)
    return data({"now": format_timestamp(clock.now()), "finalized_invoices": result.finalized})
