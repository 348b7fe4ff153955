from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.db import uow
from tally.kit.responses import JSONResponse, ok
from tally.usage import ingest

router = APIRouter(prefix="/v1")


@router.post("/ingest")
def ingest_events(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    now = ctx.now()
    events = ingest.validate(body, now)
    with uow.write(ctx.engine) as conn:
        outcomes = ingest.ingest(conn, ctx.tenant_id, events, now)
    # Sent only after commit: a 200 means every listed event is durably stored exactly once.
    return ok(
        {
            "data": [
                {"transaction_id": o.transaction_id, "status": "accepted" if o.accepted else "duplicate"}
                for o in outcomes
            ]
        }
    )
