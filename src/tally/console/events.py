"""The console's events pages (issue 14 §3): look an event up by transaction id, the unmatched events
(customer keys that name no customer; event types no billable metric admits), and a customer's late
events. Reads go through the usage and invoices services the API uses (`POST /v1/events/search`,
`POST /tally/v1/late-events/list`); the unmatched listings are indexed and paginated in the database."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from tally.console.web import PREFIX, ConsoleCtx, render
from tally.customers import service as customers
from tally.errors import BadRequest
from tally.invoices import late
from tally.invoices.schemas import ListLateEvents
from tally.kit.api import parse
from tally.kit.pagination import decode_key, encode_cursor
from tally.usage import service as usage
from tally.usage.schemas import SearchEvents
from tally.wire import parse_timestamp

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = 50


def _url(path: str, **params: str) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{PREFIX}{path}" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/events")
def lookup(request: Request, ctx: ConsoleCtx, transaction_id: str = "") -> Response:
    """One event by transaction id: as `POST /v1/events/search` finds it, plus whether it was late."""
    tid = transaction_id.strip()
    found: dict[str, Any] | None = None
    late_invoice = None
    if tid:
        req = parse(SearchEvents, {"transactionIds": [tid]})
        with ctx.read() as conn:
            hits = usage.search(conn, ctx.tenant_id, req)
            found = hits[0] if hits else None
            owner = (found or {}).get("matched_customer")
            if found is not None and owner is not None:
                ts = parse_timestamp(found["timestamp"], "timestamp")
                late_invoice = late.late_for(conn, ctx.tenant_id, owner["id"], tid, ts)
    return render(
        request,
        "events.html",
        tab="lookup",
        transaction_id=tid,
        event=found,
        late_invoice=late_invoice,
    )


@router.get("/events/unmatched")
def unmatched(request: Request, ctx: ConsoleCtx, after: str = "", types_after: str = "") -> Response:
    """Events that count toward nothing yet: keys that name no customer, types no metric admits."""
    if len(after) > 255 or "\x00" in after:
        raise BadRequest("after: must be a customer key")
    cursor = decode_key(types_after or None, str, str)
    with ctx.read() as conn:
        keys = usage.unknown_keys_page(conn, ctx.tenant_id, after, PAGE)
        types = usage.unmatched_types_page(conn, ctx.tenant_id, cursor, PAGE)
    totals: dict[str, int] = {}
    for g in keys.groups:
        totals[g.customer_key] = totals.get(g.customer_key, 0) + g.count
    return render(
        request,
        "events_unmatched.html",
        tab="unmatched",
        keys=keys,
        key_totals=totals,
        types=types,
        keys_next=_url("/events/unmatched", after=keys.next_after or "", types_after=types_after)
        if keys.next_after
        else None,
        types_next=_url("/events/unmatched", after=after, types_after=encode_cursor(list(types.next_after)))
        if types.next_after
        else None,
        first_url=_url("/events/unmatched") if after or types_after else None,
    )


@router.get("/events/late")
def late_events(request: Request, ctx: ConsoleCtx, customer_id: str = "", next_page: str = "") -> Response:
    """A customer's late events: as `POST /tally/v1/late-events/list` lists them."""
    cid = customer_id.strip()
    items: list[dict[str, Any]] = []
    nxt = None
    customer = None
    if cid:
        req = parse(ListLateEvents, {"customer_id": cid, "limit": PAGE, "next_page": next_page or None})
        with ctx.read() as conn:
            customer = customers.get(conn, ctx.tenant_id, cid)
            items, nxt = late.page(conn, ctx.tenant_id, req)
    return render(
        request,
        "events_late.html",
        tab="late",
        customer_id=cid,
        customer=customer,
        items=items,
        next_url=_url("/events/late", customer_id=cid, next_page=nxt) if nxt else None,
    )
