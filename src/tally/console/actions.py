"""Operator actions (issue 14 §4): create a customer, set its ingest aliases, create a contract from a rate
card (with a commit, a credit and a discount), and add a manual balance ledger entry.

Each action builds the API route's request body from the form, parses it with the route's own pydantic
model (`kit.api.parse`, so bad input gets the API's 400 message) and calls the route's service function in
a transaction audited as that route (`ctx.action`). A refused action writes nothing and shows the form
again with the message and what the operator typed.

Amounts: forms take dollars for USD balances (100 = $100.00) and turn them into the API's USD cents; other
credit types take the API's own units.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tally.console.fmt import balance_credit_type
from tally.console.web import PREFIX, ConsoleCtx, Ctx, Forbidden, Form, check_csrf, redirect, render
from tally.contracts import schemas as contract_schemas
from tally.contracts import service as contracts
from tally.contracts import wire
from tally.contracts.balances import service as balances
from tally.contracts.balances import thresholds
from tally.contracts.schemas_create import CreateContract
from tally.customers import schemas as customer_schemas
from tally.customers import service as customers
from tally.errors import TallyError
from tally.kit.api import parse
from tally.money.credit_types import USD_CENTS_ID
from tally.products import service as products
from tally.rate_cards import service as rate_cards

router = APIRouter(prefix=PREFIX, include_in_schema=False)

CHOICES = 500  # rate cards and products offered in a form's select lists
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Refused(Exception):
    """An action the service refused: the form is shown again with the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _admin(ctx: Ctx) -> None:
    if not ctx.session.can_act:
        raise Forbidden("A viewer cannot change anything")


def _attempt(run: Callable[[], Any]) -> Any:
    """Run a parse or an audited write; a refusal (400, 404 of a referenced object, 409) becomes Refused.
    The write's transaction has rolled back by then: nothing is written."""
    try:
        return run()
    except Forbidden:
        raise
    except TallyError as exc:
        raise Refused(exc.status, exc.message) from None


def _ts(value: str) -> str:
    """A date picker's `YYYY-MM-DD` is midnight UTC; anything else goes to the API's parser as typed."""
    value = value.strip()
    return f"{value}T00:00:00Z" if _DATE.match(value) else value


def _amount(value: str, usd: bool) -> Any:
    """Dollars to the API's USD cents (exactly, in Decimal); other units, and what is not a number, as
    typed (the API's parser names the field)."""
    value = value.strip().replace(",", "")
    if not usd:
        return value
    try:
        return Decimal(value) * 100
    except InvalidOperation:
        return value


def _aliases(value: str) -> list[str]:
    return [a.strip() for a in re.split(r"[,\n]", value) if a.strip()]


def _customer_url(customer_id: str) -> str:
    return f"{PREFIX}/customers/{quote(customer_id, safe='')}"


# ---------------------------------------------------------------------------------------- customers


@router.post("/customers/new")
def customer_create(request: Request, ctx: ConsoleCtx, form: Form) -> Response:
    """New customer, as `POST /v1/customers`."""
    check_csrf(ctx, form)
    _admin(ctx)
    body: dict[str, Any] = {"name": form.get("name", "")}
    if form.get("external_id", "").strip():
        body["external_id"] = form["external_id"].strip()
    if _aliases(form.get("ingest_aliases", "")):
        body["ingest_aliases"] = _aliases(form["ingest_aliases"])
    try:
        req = _attempt(lambda: parse(customer_schemas.CreateCustomer, body))

        def write() -> str:
            with ctx.action("POST /v1/customers", {}) as conn:
                return customers.create(conn, ctx.tenant_id, req, ctx.now()).id

        customer_id = _attempt(write)
    except Refused as r:
        return render(request, "actions/customer_new_page.html", r.status, form=form, error=r.message)
    return redirect(_customer_url(customer_id))


@router.post("/customers/{customer_id}/ingest-aliases")
def customer_set_aliases(request: Request, ctx: ConsoleCtx, form: Form, customer_id: str) -> Response:
    """Set ingest aliases, as `POST /v1/customers/{customer_id}/setIngestAliases` (replaces the list)."""
    check_csrf(ctx, form)
    with ctx.read() as conn:
        customer = customers.get(conn, ctx.tenant_id, customer_id)  # 404 unless the session's tenant's
    _admin(ctx)
    try:
        body = {"ingest_aliases": _aliases(form.get("ingest_aliases", ""))}
        req = _attempt(lambda: parse(customer_schemas.SetIngestAliases, body))

        def write() -> None:
            with ctx.action(
                "POST /v1/customers/{customer_id}/setIngestAliases", {"customer_id": customer_id}
            ) as conn:
                customers.set_ingest_aliases(conn, ctx.tenant_id, customer_id, req.ingest_aliases, ctx.now())

        _attempt(write)
    except Refused as r:
        return render(
            request, "actions/aliases_page.html", r.status, customer=customer, form=form, error=r.message
        )
    return redirect(_customer_url(customer_id))


# ---------------------------------------------------------------------------------------- contracts


def _contract_choices(ctx: Ctx) -> dict[str, Any]:
    now = ctx.now()
    with ctx.read() as conn:
        cards = rate_cards.page(conn, ctx.tenant_id, None, CHOICES)[:CHOICES]
        found = products.page(conn, ctx.tenant_id, None, CHOICES, "NOT_ARCHIVED")[:CHOICES]
    names = [(p.id, str(p.in_force(now).spec.get("name") or p.id), p.type) for p in found]
    return {
        "rate_cards": sorted(((c.id, c.name) for c in cards), key=lambda c: c[1].lower()),
        "products": sorted(names, key=lambda p: p[1].lower()),
    }


def _balance_fields(form: dict[str, str], prefix: str) -> dict[str, Any]:
    """The commit or credit of the new-contract form's `prefix` fieldset (the balance_fields macro): one
    access-schedule item, and the optional priority and name."""
    item = {
        "amount": _amount(form.get(f"{prefix}_amount", ""), usd=True),
        "starting_at": _ts(form.get(f"{prefix}_starting_at", "")),
        "ending_before": _ts(form.get(f"{prefix}_ending_before", "")),
    }
    balance: dict[str, Any] = {
        "product_id": form[f"{prefix}_product_id"],
        "access_schedule": {"schedule_items": [item]},
    }
    for name in ("priority", "name"):
        if form.get(f"{prefix}_{name}", "").strip():
            balance[name] = form[f"{prefix}_{name}"].strip()
    return balance


def contract_body(customer_id: str, form: dict[str, str]) -> dict[str, Any]:
    """`POST /v1/contracts/create`'s body from the New contract form (USD amounts in dollars)."""
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "starting_at": _ts(form.get("starting_at", "")),
        "rate_card_id": form.get("rate_card_id", ""),
    }
    if form.get("name", "").strip():
        body["name"] = form["name"].strip()
    if form.get("ending_before", "").strip():
        body["ending_before"] = _ts(form["ending_before"])
    if form.get("commit_product_id"):
        body["commits"] = [{"type": "PREPAID", **_balance_fields(form, "commit")}]
    if form.get("credit_product_id"):
        body["credits"] = [_balance_fields(form, "credit")]
    if form.get("discount_product_id"):
        # Metronome's contract `discounts`: a scheduled charge of the discount's amount on the given date.
        discount: dict[str, Any] = {
            "product_id": form["discount_product_id"],
            "schedule": {
                "schedule_items": [
                    {
                        "timestamp": _ts(form.get("discount_date", "")),
                        "amount": _amount(form.get("discount_amount", ""), usd=True),
                    }
                ]
            },
        }
        if form.get("discount_name", "").strip():
            discount["name"] = form["discount_name"].strip()
        body["discounts"] = [discount]
    return body


@router.get("/customers/{customer_id}/contracts/new")
def contract_form(request: Request, ctx: ConsoleCtx, customer_id: str) -> Response:
    with ctx.read() as conn:
        customer = customers.get(conn, ctx.tenant_id, customer_id)
    _admin(ctx)
    return render(
        request, "actions/contract_new.html", customer=customer, form={}, error=None, **_contract_choices(ctx)
    )


@router.post("/customers/{customer_id}/contracts/new")
def contract_create(request: Request, ctx: ConsoleCtx, form: Form, customer_id: str) -> Response:
    """New contract from a rate card, as `POST /v1/contracts/create`."""
    check_csrf(ctx, form)
    with ctx.read() as conn:
        customer = customers.get(conn, ctx.tenant_id, customer_id)
    _admin(ctx)
    try:
        req = _attempt(lambda: parse(CreateContract, contract_body(customer_id, form)))

        def write() -> str:
            with ctx.action("POST /v1/contracts/create", {}) as conn:
                made = contracts.create(conn, ctx.tenant_id, req, ctx.now(), ctx.session.tenant.name)
                thresholds.written(conn, ctx.engine, ctx.tenant_id, made, ctx.now(), req)  # as the API route
                return made

        _attempt(write)
    except Refused as r:
        return render(
            request,
            "actions/contract_new.html",
            r.status,
            customer=customer,
            form=form,
            error=r.message,
            **_contract_choices(ctx),
        )
    return redirect(_customer_url(customer_id))


# ---------------------------------------------------------------------------------------- balances


def _balance(ctx: Ctx, customer_id: str, balance_id: str) -> dict[str, Any]:
    """The customer's live commit or credit as the API's wire document (404 unless it is this tenant's
    customer's)."""
    now = ctx.now()
    with ctx.read() as conn:
        customer = customers.get(conn, ctx.tenant_id, customer_id)
        found = balances.live_balances(conn, ctx.tenant_id, customer_id, now, limit=1, balance_id=balance_id)
        if not found:
            raise Refused(404, f"Commit or credit {balance_id} not found")
        names = wire.names_for(conn, ctx.tenant_id, [], found[:1], now, ledgers=False)
        doc = wire.balance_wire(found[0], names, now, include_balance=True, include_ledgers=False)
    credit_type = balance_credit_type(doc)
    return {
        "customer": customer,
        "doc": doc,
        "name": doc.get("name") or doc["product"]["name"],
        "credit_type": credit_type,
        "usd": credit_type["id"] == USD_CENTS_ID,
        "segments": [
            {
                "id": item["id"],
                "label": f"{str(item['starting_at'])[:10]} \u2013 {str(item['ending_before'])[:10]}",
            }
            for item in doc["access_schedule"]["schedule_items"]
        ],
    }


def _not_found(request: Request, r: Refused) -> Response:
    return render(request, "error.html", r.status, status_code=r.status, message=r.message)


@router.get("/customers/{customer_id}/balances/{balance_id}/ledger-entry")
def ledger_entry_form(request: Request, ctx: ConsoleCtx, customer_id: str, balance_id: str) -> Response:
    try:
        b = _balance(ctx, customer_id, balance_id)
    except Refused as r:
        return _not_found(request, r)
    _admin(ctx)
    return render(request, "actions/ledger_entry.html", b=b, form={}, error=None)


@router.post("/customers/{customer_id}/balances/{balance_id}/ledger-entry")
def ledger_entry_add(
    request: Request, ctx: ConsoleCtx, form: Form, customer_id: str, balance_id: str
) -> Response:
    """A manual ledger entry on a commit or credit segment, as
    `POST /v1/contracts/addManualBalanceLedgerEntry`."""
    check_csrf(ctx, form)
    try:
        b = _balance(ctx, customer_id, balance_id)
    except Refused as r:
        return _not_found(request, r)
    _admin(ctx)
    body: dict[str, Any] = {
        "id": balance_id,
        "customer_id": customer_id,
        "segment_id": form.get("segment_id", ""),
        "amount": _amount(form.get("amount", ""), usd=b["usd"]),
        "reason": form.get("reason", ""),
    }
    contract = (b["doc"].get("contract") or {}).get("id")
    if contract:
        body["contract_id"] = contract
    try:
        req = _attempt(lambda: parse(contract_schemas.AddManualBalanceEntry, body))

        def write() -> None:
            with ctx.action("POST /v1/contracts/addManualBalanceLedgerEntry", {"id": balance_id}) as conn:
                balances.add_manual_entry(conn, ctx.tenant_id, req, ctx.now())

        _attempt(write)
    except Refused as r:
        return render(request, "actions/ledger_entry.html", r.status, b=b, form=form, error=r.message)
    return redirect(_customer_url(customer_id))
