"""The contract page (`/ui/contracts/{id}`): read exactly as `POST /v2/contracts/get` (with balances and
ledgers) and `POST /v2/contracts/getEditHistory` read it, through the contracts service and its wire
functions, and rendered from that wire JSON, so the page does not depend on how contracts/ stores terms."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tally.console import charts
from tally.console.fmt import money
from tally.console.pricing import USD_CENTS, moment, qty, rate_label, unit_price, when
from tally.console.web import PREFIX, ConsoleCtx, render
from tally.contracts import service as contracts
from tally.contracts import wire, wire_contract
from tally.contracts.edits import lifecycle
from tally.customers import service as customers
from tally.errors import NotFound
from tally.rate_cards import service as rate_cards

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Doc = dict[str, Any]
FLAGS = {"include_balance": True, "include_ledgers": True}


@router.get("/contracts/{contract_id}")
def contract_page(request: Request, ctx: ConsoleCtx, contract_id: str) -> Response:
    now = ctx.now()
    with ctx.read() as conn:
        row = contracts.row(conn, ctx.tenant_id, contract_id)
        if row is None:
            raise NotFound(f"Contract {contract_id} not found")
        # As the API's v2 get and getEditHistory: the service's contract, its names, the wire shapes.
        c = contracts.get(conn, ctx.tenant_id, row.customer_id, contract_id)
        names = wire.names_for(conn, ctx.tenant_id, [c], [], now, ledgers=True)
        doc = wire_contract.v2(c, names, now, FLAGS)
        history = lifecycle.history_wire(c, names)
        customer = customers.get(conn, ctx.tenant_id, c.customer_id)
        card = None
        if doc.get("rate_card_id"):
            card = rate_cards.get(conn, ctx.tenant_id, doc["rate_card_id"])
    return render(
        request,
        "contract.html",
        c=doc,
        customer=customer,
        rate_card_name=card.name if card else None,
        terms=_terms(doc),
        overrides=[_override(o) for o in doc.get("overrides", [])],
        override_timeline=_override_timeline(doc.get("overrides", []), now),
        balances=[_balance(b) for b in [*doc.get("commits", []), *doc.get("credits", [])]],
        charges=[_scheduled(s) for s in doc.get("scheduled_charges", [])],
        discounts=[_scheduled(s) for s in doc.get("discounts", [])],
        recurring=[_recurring(r, "Recurring commit") for r in doc.get("recurring_commits", [])]
        + [_recurring(r, "Recurring credit") for r in doc.get("recurring_credits", [])],
        subscriptions=[_subscription(s) for s in doc.get("subscriptions", [])],
        services=[_service(p) for p in doc.get("professional_services", [])],
        history=[_edit(e) for e in reversed(history)],
    )


def _terms(d: Doc) -> list[tuple[str, str]]:
    uss = d.get("usage_statement_schedule") or {}
    rows = [
        ("Starts", when(d["starting_at"])),
        ("Ends (exclusive)", when(d.get("ending_before")) or "open-ended"),
        (
            "Usage statements",
            f"{uss.get('frequency', '').lower()}, anchored {when(uss.get('billing_anchor_date'))}".strip(
                ", "
            ),
        ),
    ]
    if d.get("net_payment_terms_days") is not None:
        rows.append(("Net payment terms", f"{qty(d['net_payment_terms_days'])} days"))
    if d.get("total_contract_value") is not None:
        rows.append(("Total contract value", money(USD_CENTS, d["total_contract_value"])))
    if d.get("multiplier_override_prioritization"):
        rows.append(("Multiplier overrides", str(d["multiplier_override_prioritization"]).lower()))
    for f in d.get("usage_filter") or []:
        values = ", ".join(f.get("group_values", []))
        rows.append(("Usage filter", f"{f.get('group_key')} in [{values}] from {when(f.get('starting_at'))}"))
    for t in d.get("transitions", []):
        rows.append(
            ("Transition", f"{t['type'].lower()}: {t['from_contract_id']} \u2192 {t['to_contract_id']}")
        )
    if d.get("uniqueness_key"):
        rows.append(("Uniqueness key", d["uniqueness_key"]))
    for k, v in sorted((d.get("custom_fields") or {}).items()):
        rows.append((f"Custom field {k}", v))
    rows.append(("Created", f"{when(d['created_at'])} by {d.get('created_by', '')}"))
    if d.get("archived_at"):
        rows.append(("Archived", when(d["archived_at"])))
    return rows


def _override(o: Doc) -> Doc:
    kind = o.get("type", "")
    if kind == "MULTIPLIER" and o.get("multiplier") is not None:
        effect = f"\u00d7 {qty(o['multiplier'])}"
    elif o.get("overwrite_rate"):
        effect = f"rate \u2192 {rate_label(o['overwrite_rate'])}"
    elif o.get("override_tiers"):
        effect = "tiers \u00d7 " + ", ".join(
            qty(t["multiplier"]) for t in o["override_tiers"] if "multiplier" in t
        )
    else:
        effect = ""
    if o.get("entitled") is not None:
        effect = (effect + " · " if effect else "") + ("entitled" if o["entitled"] else "not entitled")
    applies = (o.get("product") or {}).get("name") or ""
    if o.get("applicable_product_tags"):
        applies = (applies + " · " if applies else "") + "tags " + ", ".join(o["applicable_product_tags"])
    for spec in o.get("override_specifiers") or []:
        bits = [f"{k}={v}" for k, v in sorted(spec.items()) if v and not isinstance(v, (dict, list))]
        if bits:
            applies = (applies + " · " if applies else "") + " ".join(bits)
    return {
        "id": o.get("id", ""),
        "type": kind,
        "applies": applies or "\u2014",
        "effect": effect or "\u2014",
        "target": o.get("target", ""),
        "priority": qty(o["priority"]) if o.get("priority") is not None else "",
        "starting_at": when(o.get("starting_at")),
        "ending_before": when(o.get("ending_before")) or "open-ended",
        "commit_specific": bool(o.get("is_commit_specific")),
    }


def _override_timeline(overrides: list[Doc], now: datetime) -> charts.Timeline | None:
    spans = []
    for o in overrides:
        start = moment(o.get("starting_at"))
        if start is None:
            continue
        shown = _override(o)
        spans.append(
            charts.Span(
                start,
                moment(o.get("ending_before")),
                f"{shown['applies']}: {shown['effect']}",
                "span-override",
            )
        )
    return charts.timeline(spans, now) if spans else None


def _schedule_items(schedule: Doc) -> list[Doc]:
    ct = schedule.get("credit_type") or USD_CENTS
    out = []
    for i in schedule.get("schedule_items", []):
        out.append(
            {
                "timestamp": when(i.get("timestamp")),
                "amount": money(ct, i.get("amount", Decimal(0))),
                "quantity": qty(i["quantity"]) if i.get("quantity") is not None else "",
                "unit_price": unit_price(ct, i["unit_price"]) if i.get("unit_price") is not None else "",
                "invoice_id": i.get("invoice_id", ""),
            }
        )
    return out


def _balance(b: Doc) -> Doc:
    access = b.get("access_schedule") or {}
    ct = access.get("credit_type") or USD_CENTS
    return {
        "id": b["id"],
        "kind": "Credit" if b["type"] == "CREDIT" else f"Commit ({b['type'].lower()})",
        "name": b.get("name") or (b.get("product") or {}).get("name", ""),
        "product": (b.get("product") or {}).get("name", ""),
        "priority": qty(b["priority"]) if b.get("priority") is not None else "",
        "applies": ", ".join(b.get("applicable_product_tags") or []) or "",
        "balance": money(ct, b.get("balance", Decimal(0))),
        "segments": [
            {
                "id": s.get("id", ""),
                "amount": money(ct, s.get("amount", Decimal(0))),
                "starting_at": when(s.get("starting_at")),
                "ending_before": when(s.get("ending_before")),
            }
            for s in access.get("schedule_items", [])
        ],
        "invoices": _schedule_items(b["invoice_schedule"]) if b.get("invoice_schedule") else [],
        "ledger": [
            {"type": e["type"], "timestamp": when(e["timestamp"]), "amount": money(ct, e["amount"])}
            for e in b.get("ledger", [])
        ],
        "archived": bool(b.get("archived_at")),
    }


def _scheduled(s: Doc) -> Doc:
    return {
        "id": s["id"],
        "name": s.get("name") or (s.get("product") or {}).get("name", ""),
        "product": (s.get("product") or {}).get("name", ""),
        "entries": _schedule_items(s.get("schedule") or {}),
        "archived": bool(s.get("archived_at")),
    }


def _service(p: Doc) -> Doc:
    def num(key: str, as_money: bool) -> str:
        if p.get(key) is None:
            return ""
        return unit_price(USD_CENTS, p[key]) if as_money else qty(p[key])

    return {
        "description": p.get("description") or p.get("product_id", ""),
        "quantity": num("quantity", False),
        "unit_price": num("unit_price", True),
        "max_amount": num("max_amount", True),
    }


def _amount_label(a: Doc) -> str:
    ct = a.get("credit_type") or USD_CENTS
    if a.get("unit_price") is not None and a.get("quantity") is not None:
        total = Decimal(str(a["unit_price"])) * Decimal(str(a["quantity"]))
        return f"{money(ct, total)} ({unit_price(ct, a['unit_price'])} \u00d7 {qty(a['quantity'])})"
    if a.get("amount") is not None:
        return money(ct, a["amount"])
    return "\u2014"


def _recurring(r: Doc, kind: str) -> Doc:
    duration = r.get("commit_duration") or {}
    return {
        "id": r["id"],
        "kind": kind,
        "name": r.get("name") or (r.get("product") or {}).get("name", ""),
        "product": (r.get("product") or {}).get("name", ""),
        "access": _amount_label(r.get("access_amount") or {}),
        "invoice": _amount_label(r["invoice_amount"]) if r.get("invoice_amount") else "",
        "every": (r.get("recurrence_frequency") or "").lower(),
        "duration": f"{qty(duration['value'])} {str(duration.get('unit', 'periods')).lower()}"
        if duration.get("value") is not None
        else "",
        "starting_at": when(r.get("starting_at")),
        "ending_before": when(r.get("ending_before")) or "open-ended",
        "priority": qty(r["priority"]) if r.get("priority") is not None else "",
    }


def _subscription(s: Doc) -> Doc:
    rate = s.get("subscription_rate") or {}
    periods = s.get("billing_periods") or {}
    current = periods.get("current") or {}
    return {
        "id": s.get("id", ""),
        "name": s.get("name") or (rate.get("product") or {}).get("name", ""),
        "product": (rate.get("product") or {}).get("name", ""),
        "frequency": str(rate.get("billing_frequency", "")).lower(),
        "mode": str(s.get("quantity_management_mode", "")).lower().replace("_", " "),
        "collection": str(s.get("collection_schedule", "")).lower(),
        "starting_at": when(s.get("starting_at")),
        "ending_before": when(s.get("ending_before")) or "open-ended",
        "current_period": f"{when(current.get('starting_at'))} \u2013 {when(current.get('ending_before'))}"
        if current
        else "",
        "seat_key": (s.get("seat_config") or {}).get("seat_group_key", ""),
        "quantities": [
            {
                "quantity": qty(q["quantity"]),
                "starting_at": when(q.get("starting_at")),
                "ending_before": when(q.get("ending_before")) or "open-ended",
            }
            for q in s.get("quantity_schedule", [])
        ],
    }


_HISTORY_LABELS = {
    "add_commits": "added commits",
    "add_credits": "added credits",
    "add_overrides": "added overrides",
    "add_scheduled_charges": "added scheduled charges",
    "add_discounts": "added discounts",
    "add_pro_services": "added professional services",
    "add_recurring_commits": "added recurring commits",
    "add_recurring_credits": "added recurring credits",
    "add_subscriptions": "added subscriptions",
    "archive_commits": "archived commits",
    "archive_credits": "archived credits",
    "archive_scheduled_charges": "archived scheduled charges",
    "remove_overrides": "removed overrides",
    "update_contract_end_date": "end date set to",
    "update_contract_name": "renamed to",
    "uniqueness_key": "uniqueness key",
    "update_commits": "updated commits",
    "update_credits": "updated credits",
    "update_recurring_commits": "updated recurring commits",
    "update_recurring_credits": "updated recurring credits",
    "update_subscriptions": "updated subscriptions",
}


def _named(x: Any) -> str:
    if not isinstance(x, dict):
        return str(x)
    name = x.get("name") or (x.get("product") or {}).get("name") or x.get("id", "")
    return str(name)


def _edit(e: Doc) -> Doc:
    changes = []
    for key, value in e.items():
        if key in ("id", "timestamp"):
            continue
        label = _HISTORY_LABELS.get(key, key.replace("_", " "))
        if isinstance(value, list):
            changes.append(f"{label}: " + ", ".join(_named(x) for x in value))
        elif key == "update_contract_end_date":
            changes.append(f"{label} {when(value) if value else 'open-ended'}")
        else:
            changes.append(f"{label} {value}" if not isinstance(value, dict) else label)
    return {"id": e["id"], "timestamp": when(e["timestamp"]), "changes": changes}
