from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tally.auth.dependencies import CtxDep, json_body
from tally.kit import metrics
from tally.kit.api import RawBody
from tally.kit.responses import JSONResponse, ok
from tally.usage import ingest
from tally.usage.ingest_writer import writer_for
from tally.usage.schemas import IngestBatch, IngestDoc

router = APIRouter(prefix="/v1")

# The raw decoded body: ingest.validate checks it by hand; IngestBatch documents what it accepts.
Batch = Annotated[Any, Depends(RawBody(IngestBatch, json_body))]


@router.post("/ingest", response_model=IngestDoc)
async def ingest_events(ctx: CtxDep, body: Batch) -> JSONResponse:
    # async on purpose (the hot path): validation is a fraction of a millisecond of pure CPU, and the
    # database work happens on the writer thread, so no worker thread is parked per request.
    now = ctx.now()
    events = ingest.validate(body, now)
    metrics.EVENTS_RECEIVED.inc(len(events))
    # One transaction per group of concurrent batches (see ingest_writer); returns after COMMIT, so a 200
    # means every listed event is durably stored exactly once.
    outcomes = await writer_for(ctx.engine).submit(ingest.Job(ctx.tenant_id, events, now))
    accepted = sum(o.accepted for o in outcomes)
    metrics.EVENTS_STORED.labels("accepted").inc(accepted)
    metrics.EVENTS_STORED.labels("duplicate").inc(len(outcomes) - accepted)
    return ok(
        {
            "data": [
                {"transaction_id": o.transaction_id, "status": "accepted" if o.accepted else "duplicate"}
                for o in outcomes
            ]
        }
    )
