"""localstripe 1.15.10 extended with Stripe's one-off invoice flow and idempotency-key replay, as thin
additions on its own stateful objects (docs/decisions.md lists each one and the Stripe doc it follows).

Run as `python -m tests.support.localstripe_ext --port N --state PATH`: listens on 127.0.0.1 only, and
keeps its store in PATH (so a stopped and restarted server has the same customers and invoices).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from localstripe import resources as R
from localstripe import server as srv
from localstripe.errors import UserError

_STATE = {"path": "/nonexistent"}


# --- store on a per-server path (localstripe hard-codes one file in /tmp) -----------------------------
def _load(self: R.Store) -> None:
    try:
        with open(_STATE["path"], "rb") as f:
            old = pickle.load(f)
        self.clear()
        self.update(old)
    except FileNotFoundError:
        pass


def _dump(self: R.Store) -> None:
    with open(_STATE["path"], "wb") as f:
        pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)


R.Store.try_load_from_disk = _load  # type: ignore[method-assign]
R.Store.dump_to_disk = _dump  # type: ignore[method-assign]

# --- 1. one-off invoices: POST /v1/invoices without a subscription -----------------------------------
# docs.stripe.com/api/invoices/create: collection_method, auto_advance, days_until_due, currency,
# pending_invoice_items_behavior=exclude (docs.stripe.com/invoicing/integration).
_original_create = R.Invoice._api_create


def _create_invoice(cls: Any, **data: Any) -> Any:
    if data.get("subscription") is not None:
        return _original_create(**data)
    collection = data.pop("collection_method", "charge_automatically")
    auto_advance = R.try_convert_to_bool(data.pop("auto_advance", False))
    days = R.try_convert_to_int(data.pop("days_until_due", None))
    currency = data.pop("currency", None)
    behavior = data.pop("pending_invoice_items_behavior", "include")
    if collection not in ("charge_automatically", "send_invoice"):
        raise UserError(400, "Invalid collection_method")
    if collection == "send_invoice" and days is None:
        raise UserError(400, "days_until_due is required with collection_method=send_invoice")
    customer = data.get("customer")
    pending = (
        [
            ii
            for ii in R.InvoiceItem._api_list_all(None, customer=customer, limit=99)._list
            if ii.invoice is None
        ]
        if isinstance(customer, str) and customer.startswith("cus_")
        else []
    )
    if behavior == "exclude":
        for ii in pending:  # hidden from the constructor's sweep of pending items
            ii.invoice = "in_excluded"
    try:
        inv = R.Invoice(
            customer=customer,
            metadata=data.pop("metadata", None),
            description=data.pop("description", None),
            default_tax_rates=data.pop("default_tax_rates", None),
        )
    finally:
        if behavior == "exclude":
            for ii in pending:
                ii.invoice = None
    inv.collection_method = collection
    inv.auto_advance = auto_advance
    inv.days_until_due = days
    inv._sent = False
    if currency:
        inv.currency = str(currency).lower()
    R.store[inv.object + ":" + inv.id] = inv  # persist the added fields
    return inv


R.Invoice._api_create = classmethod(_create_invoice)  # type: ignore[assignment]


# --- 2. invoice items created with `invoice=` are lines of that draft invoice -------------------------
# docs.stripe.com/api/invoiceitems/create: `invoice` (the draft to add to) and `period[start|end]`.
_original_item_create = R.InvoiceItem._api_create


def _create_item(cls: Any, **data: Any) -> Any:
    period = data.pop("period", None)
    if isinstance(period, dict):
        data["period_start"], data["period_end"] = period.get("start"), period.get("end")
    invoice = data.get("invoice")
    inv = R.Invoice._api_retrieve(invoice) if invoice is not None else None
    if inv is not None and inv.status != "draft":
        raise UserError(400, "You can only add invoice items to draft invoices")
    item = _original_item_create(**data)
    if inv is not None:
        line = R.InvoiceLineItem(item)
        line.metadata = dict(item.metadata)
        inv.lines._list.append(line)
        R.store[inv.object + ":" + inv.id] = inv
    return item


R.InvoiceItem._api_create = classmethod(_create_item)  # type: ignore[assignment]


# --- 3. finalize, send, pay out of band, void with their events -------------------------------------
# docs.stripe.com/api/invoices/finalize, /send, /pay (paid_out_of_band), /void; events from
# docs.stripe.com/api/events/types (invoice.finalized, invoice.sent, invoice.paid, invoice.voided).
def _finalize(id: str, auto_advance: Any = None, **kwargs: Any) -> Any:
    inv = R.Invoice._api_retrieve(id)
    if inv.status != "draft":
        raise UserError(400, "This invoice is already finalized")
    inv._finalize()
    R.schedule_webhook(R.Event("invoice.finalized", inv))
    if inv.status == "paid":  # a zero total is paid on finalization
        inv._on_payment_success()
        R.schedule_webhook(R.Event("invoice.paid", inv))
    R.store[inv.object + ":" + inv.id] = inv
    return inv


def _send(id: str, **kwargs: Any) -> Any:
    inv = R.Invoice._api_retrieve(id)
    if getattr(inv, "collection_method", None) != "send_invoice":
        raise UserError(400, "Only invoices with collection_method=send_invoice can be sent")
    if inv.status != "open":
        raise UserError(400, "Only open invoices can be sent")
    inv._sent = True
    R.schedule_webhook(R.Event("invoice.sent", inv))
    R.store[inv.object + ":" + inv.id] = inv
    return inv


_original_pay = R.Invoice._api_pay_invoice


def _pay(id: str, paid_out_of_band: Any = None, **kwargs: Any) -> Any:
    inv = R.Invoice._api_retrieve(id)
    if R.try_convert_to_bool(paid_out_of_band):
        if inv.status != "open":
            raise UserError(400, "Only open invoices can be paid")
        inv._paid_out_of_band = True
    else:
        try:
            inv = _original_pay(id)
        except UserError as exc:
            if exc.code == 404:  # no payment method: Stripe answers 402 card_error
                raise UserError(
                    402,
                    "This customer has no attached payment source or default payment method.",
                    {"type": "card_error", "code": "invoice_no_customer_payment_method"},
                ) from None
            raise
    if inv.status == "paid":
        inv.status_transitions["paid_at"] = int(time.time())
        R.schedule_webhook(R.Event("invoice.paid", inv))
    R.store[inv.object + ":" + inv.id] = inv
    return inv


def _void(id: str, **kwargs: Any) -> Any:
    # localstripe's own void cancels a payment intent unconditionally; an invoice that was only sent
    # has none (Stripe voids any open invoice).
    inv = R.Invoice._api_retrieve(id)
    if inv.status not in ("draft", "open"):
        raise UserError(400, f"You can only void open invoices (this one is {inv.status})")
    if inv.payment_intent:
        R.PaymentIntent._api_cancel(inv.payment_intent)
    inv._draft = False
    inv._voided = True
    inv.status_transitions["voided_at"] = int(time.time())
    R.schedule_webhook(R.Event("invoice.voided", inv))
    R.store[inv.object + ":" + inv.id] = inv
    return inv


_status = R.Invoice.status.fget


def _status_with_oob(self: Any) -> str:
    if getattr(self, "_paid_out_of_band", False) and not self._voided:
        return "paid"
    return str(_status(self))


R.Invoice.status = property(_status_with_oob)  # type: ignore[assignment]


def _route(method: str, url: str, func: Callable[..., Any]) -> None:
    """Replace localstripe's handler of `url`, or add one."""
    handler = srv.api_extra(func, url)
    for resource in srv.app.router.resources():
        if resource.canonical == url:
            for route in resource:
                if route.method == method:
                    route._handler = handler  # type: ignore[attr-defined]
                    return
    srv.app.router.add_route(method, url, handler)


_route("POST", "/v1/invoices/{id}/finalize", _finalize)
_route("POST", "/v1/invoices/{id}/send", _send)
_route("POST", "/v1/invoices/{id}/pay", _pay)
_route("POST", "/v1/invoices/{id}/void", _void)


# --- 4. idempotency-key replay ----------------------------------------------------------------------
# docs.stripe.com/api/idempotent_requests: a POST repeated with the same Idempotency-Key returns the
# first response (status and body) with `Idempotent-Replayed: true`; the same key with other parameters
# is a 400 idempotency_error; a key whose first request is still running is a 409.
# Kept in localstripe's own store (so they survive a restart, as Stripe's do), under a key prefix no
# resource uses: "idempotency:<api key>:<idempotency key>" -> (path, body, status, response body).
_running: set[tuple[str, str]] = set()
# Test hook: POST /_config/crash {"method": "POST", "path": "/v1/invoices"} makes the server exit right
# after it executed the next such request and before it answers (a crash with the work done).
_crash: dict[str, str] = {}
# Test hook: POST /_config/fail {"count": N, "method": M, "path": P} answers the next N such requests
# with a 500, without executing them.
_fail_next: dict[str, int] = {}
_fail_at: dict[str, tuple[str, str]] = {}


def _idem_key(scope: tuple[str, str]) -> str:
    return "idempotency:" + "\x00".join(scope)


@web.middleware
async def idempotency(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> Any:
    if _fail_next.get("count", 0) > 0 and (request.method, request.path) == _fail_at.get("at"):
        _fail_next["count"] -= 1
        return web.json_response({"error": {"type": "api_error", "message": "Injected failure"}}, status=500)
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    body = await request.read()
    seen = R.store.get(_idem_key(scope))
    if seen is not None:
        path, first_body, status, text = seen
        if path != request.path or first_body != body:
            return web.json_response(
                {
                    "error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same parameters"
                        " they were first used with.",
                    }
                },
                status=400,
            )
        return web.Response(
            body=text, status=status, content_type="application/json", headers={"Idempotent-Replayed": "true"}
        )
    if scope in _running:
        return web.json_response(
            {"error": {"type": "idempotency_error", "message": "A request with this key is in progress."}},
            status=409,
        )
    _running.add(scope)
    try:
        response = await handler(request)
        # Results are kept once the request executed; localstripe refuses bad parameters before it
        # executes anything, and Stripe saves no result for a request that failed validation.
        if isinstance(response, web.Response) and response.status < 400 and response.body is not None:
            raw = response.body if isinstance(response.body, bytes) else json.dumps(response.body).encode()
            R.store[_idem_key(scope)] = (request.path, body, response.status, raw)
        if _crash and _crash.get("method") == request.method and _crash.get("path") == request.path:
            os._exit(3)
        return response
    finally:
        _running.discard(scope)


async def _config_crash(request: web.Request) -> web.Response:
    data = await request.json()
    _crash.clear()
    _crash.update({"method": str(data["method"]), "path": str(data["path"])})
    return web.Response()


async def _config_fail(request: web.Request) -> web.Response:
    data = await request.json()
    _fail_next["count"] = int(data["count"])
    _fail_at["at"] = (str(data["method"]), str(data["path"]))
    return web.Response()


srv.app.router.add_post("/_config/crash", _config_crash)
srv.app.router.add_post("/_config/fail", _config_fail)
srv.app.middlewares.insert(0, idempotency)  # runs first, around localstripe's error handling


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    _STATE["path"] = args.state
    R.store.try_load_from_disk()
    web.run_app(srv.app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
