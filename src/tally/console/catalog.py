"""The catalog pages (`/ui/catalog/...`): billable metrics, products and rate cards, each list paginated as
the API's list routes are (50 to a page, the API's opaque `next_page` cursor), each object read through the
service and wire function its API route uses. A rate card's page draws every product's rates on a
timeline (server-rendered SVG, console/charts.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tally.billable_metrics import service as metrics
from tally.console import charts
from tally.console.pricing import moment, qty, rate_label, unit_price, when
from tally.console.web import PREFIX, ConsoleCtx, render
from tally.custom_fields import service as custom_fields
from tally.kit.pagination import after_id, cut
from tally.products import service as products
from tally.rate_cards import rates as card_rates
from tally.rate_cards import schemas as card_schemas
from tally.rate_cards import service as rate_cards

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = 50
RATES_PAGE = 100  # rates drawn on one rate card page (getRateSchedule's maximum page)
INDEX = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CATALOG = f"{PREFIX}/catalog"

Doc = dict[str, Any]


def _next(path: str, cursor: str | None) -> str | None:
    return f"{path}?next_page={quote(cursor, safe='')}" if cursor else None


def _metric_rows(conn: Any, tenant_id: str, cursor: str | None, n: int) -> tuple[list[Doc], str | None]:
    """As `GET /v1/billable-metrics`."""
    items, nxt = cut(metrics.page(conn, tenant_id, after_id(cursor), n, False), n, lambda m: m.id)
    custom = custom_fields.values_for(conn, tenant_id, metrics.ENTITY, [m.id for m in items])
    return [metrics.to_wire(m, custom[m.id]) for m in items], nxt


def _product_rows(
    conn: Any, tenant_id: str, cursor: str | None, n: int, now: datetime
) -> tuple[list[Doc], str | None]:
    """As `POST /v1/contract-pricing/products/list` (not archived)."""
    items, nxt = cut(products.page(conn, tenant_id, after_id(cursor), n, "NOT_ARCHIVED"), n, lambda p: p.id)
    custom = custom_fields.values_for(conn, tenant_id, products.ENTITY, [p.id for p in items])
    return [products.to_wire(p, custom[p.id], now) for p in items], nxt


def _card_rows(conn: Any, tenant_id: str, cursor: str | None, n: int) -> tuple[list[Doc], str | None]:
    """As `POST /v1/contract-pricing/rate-cards/list`."""
    items, nxt = cut(rate_cards.page(conn, tenant_id, after_id(cursor), n), n, lambda c: c.id)
    return rate_cards.to_wire(conn, tenant_id, items), nxt


@router.get("/catalog")
def catalog_index(request: Request, ctx: ConsoleCtx) -> Response:
    with ctx.read() as conn:
        ms, more_m = _metric_rows(conn, ctx.tenant_id, None, INDEX)
        ps, more_p = _product_rows(conn, ctx.tenant_id, None, INDEX, ctx.now())
        cs, more_c = _card_rows(conn, ctx.tenant_id, None, INDEX)
    return render(
        request,
        "catalog_index.html",
        metrics=[_metric_summary(m) for m in ms],
        products=[_product_summary(p) for p in ps],
        cards=cs,
        more={"metrics": bool(more_m), "products": bool(more_p), "cards": bool(more_c)},
    )


# ------------------------------------------------------------------------------------------ metrics


def _filters(m: Doc) -> list[str]:
    out = []
    etf = m.get("event_type_filter") or {}
    if etf.get("in_values"):
        out.append("event type in " + ", ".join(etf["in_values"]))
    if etf.get("not_in_values"):
        out.append("event type not in " + ", ".join(etf["not_in_values"]))
    for f in m.get("property_filters") or []:
        bits = []
        if f.get("exists") is True:
            bits.append("exists")
        elif f.get("exists") is False:
            bits.append("is missing")
        if f.get("in_values"):
            bits.append("in " + ", ".join(f["in_values"]))
        if f.get("not_in_values"):
            bits.append("not in " + ", ".join(f["not_in_values"]))
        out.append(f"{f['name']} " + (" and ".join(bits) or "(any)"))
    return out


def _metric_summary(m: Doc) -> Doc:
    if m.get("sql"):
        aggregation = "SQL"
    else:
        key = m.get("aggregation_key")
        aggregation = f"{m.get('aggregation_type', '')}({key})" if key else str(m.get("aggregation_type", ""))
    return {
        "id": m["id"],
        "name": m["name"],
        "aggregation": aggregation,
        "filters": _filters(m),
        "group_keys": [" + ".join(k) for k in m.get("group_keys") or []],
        "sql": m.get("sql"),
        "archived_at": when(m.get("archived_at")),
        "custom_fields": sorted((m.get("custom_fields") or {}).items()),
    }


@router.get("/catalog/metrics")
def metric_list(request: Request, ctx: ConsoleCtx, next_page: str | None = None) -> Response:
    with ctx.read() as conn:
        ms, nxt = _metric_rows(conn, ctx.tenant_id, next_page, PAGE)
    return render(
        request,
        "catalog_metrics.html",
        metrics=[_metric_summary(m) for m in ms],
        next_url=_next(f"{CATALOG}/metrics", nxt),
    )


@router.get("/catalog/metrics/{metric_id}")
def metric_page(request: Request, ctx: ConsoleCtx, metric_id: str) -> Response:
    with ctx.read() as conn:  # as GET /v1/billable-metrics/{id}
        m = metrics.get(conn, ctx.tenant_id, metric_id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, metrics.ENTITY, [m.id])
    return render(request, "catalog_metric.html", m=_metric_summary(metrics.to_wire(m, custom[m.id])))


# ----------------------------------------------------------------------------------------- products


def _product_summary(p: Doc, names: dict[str, str] | None = None) -> Doc:
    cur = p["current"]
    names = names or {}
    rows: list[tuple[str, str]] = []
    if cur.get("pricing_group_key"):
        rows.append(("Pricing group key", ", ".join(cur["pricing_group_key"])))
    if cur.get("presentation_group_key"):
        rows.append(("Presentation group key", ", ".join(cur["presentation_group_key"])))
    if cur.get("composite_tags"):
        rows.append(("Composite tags", ", ".join(cur["composite_tags"])))
    if cur.get("composite_product_ids"):
        rows.append(("Composite of", ", ".join(names.get(i, i) for i in cur["composite_product_ids"])))
    for key, label in (
        ("include_composite_spend", "Includes composite spend"),
        ("exclude_free_usage", "Excludes free usage"),
        ("is_refundable", "Refundable"),
    ):
        if cur.get(key) is not None:
            rows.append((label, "yes" if cur[key] else "no"))
    conv = cur.get("quantity_conversion")
    if conv:
        op = "\u00d7" if conv.get("operation") == "MULTIPLY" else "\u00f7"
        rows.append(
            ("Quantity conversion", f"{op} {qty(conv['conversion_factor'])} {conv.get('name') or ''}".strip())
        )
    rounding = cur.get("quantity_rounding")
    if rounding:
        rows.append(
            (
                "Quantity rounding",
                f"{qty(rounding['decimal_places'])} decimal places, {rounding['rounding_method'].lower()}",
            )
        )
    if cur.get("sql_breakdown_granularity"):
        rows.append(("SQL breakdown", cur["sql_breakdown_granularity"].lower()))
    for key in ("netsuite_internal_item_id", "netsuite_overage_item_id"):
        if cur.get(key):
            rows.append((key.replace("_", " ").capitalize(), cur[key]))
    for k, v in sorted((p.get("custom_fields") or {}).items()):
        rows.append((f"Custom field {k}", v))
    return {
        "id": p["id"],
        "name": cur.get("name", ""),
        "type": p["type"],
        "metric_id": cur.get("billable_metric_id"),
        "tags": cur.get("tags") or [],
        "facts": rows,
        "archived_at": when(p.get("archived_at")),
        "updates": [
            {
                "starting_at": when(u.get("starting_at")),
                "changes": ", ".join(
                    f"{k}" for k in u if k not in ("created_at", "created_by", "starting_at")
                ),
                "by": u.get("created_by", ""),
            }
            for u in p.get("updates", [])
        ],
    }


@router.get("/catalog/products")
def product_list(request: Request, ctx: ConsoleCtx, next_page: str | None = None) -> Response:
    with ctx.read() as conn:
        ps, nxt = _product_rows(conn, ctx.tenant_id, next_page, PAGE, ctx.now())
        metric_ids = sorted(
            {p["current"]["billable_metric_id"] for p in ps if p["current"].get("billable_metric_id")}
        )
        found = metrics.get_many(conn, ctx.tenant_id, metric_ids)
    return render(
        request,
        "catalog_products.html",
        products=[_product_summary(p) for p in ps],
        metric_names={i: m.name for i, m in found.items()},
        next_url=_next(f"{CATALOG}/products", nxt),
    )


@router.get("/catalog/products/{product_id}")
def product_page(request: Request, ctx: ConsoleCtx, product_id: str) -> Response:
    now = ctx.now()
    with ctx.read() as conn:  # as POST /v1/contract-pricing/products/get
        product = products.get(conn, ctx.tenant_id, product_id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, products.ENTITY, [product.id])
        p = products.to_wire(product, custom[product.id], now)
        cur = p["current"]
        composite = products.get_many(conn, ctx.tenant_id, list(cur.get("composite_product_ids") or []), now)
        metric = None
        if cur.get("billable_metric_id"):
            found = metrics.get_many(conn, ctx.tenant_id, [cur["billable_metric_id"]])
            metric = found.get(cur["billable_metric_id"])
    return render(
        request,
        "catalog_product.html",
        p=_product_summary(p, {i: v.name for i, v in composite.items()}),
        metric_name=metric.name if metric else None,
    )


# --------------------------------------------------------------------------------------- rate cards


@router.get("/catalog/rate-cards")
def card_list(request: Request, ctx: ConsoleCtx, next_page: str | None = None) -> Response:
    with ctx.read() as conn:
        cs, nxt = _card_rows(conn, ctx.tenant_id, next_page, PAGE)
    return render(request, "catalog_rate_cards.html", cards=cs, next_url=_next(f"{CATALOG}/rate-cards", nxt))


def _rate_row(item: Doc) -> Doc:
    rate = item["rate"]
    label = rate_label(rate)
    groups = item.get("pricing_group_values") or {}
    if groups:
        label = " ".join(f"{k}={v}" for k, v in sorted(groups.items())) + ": " + label
    extra = []
    if item.get("billing_frequency"):
        extra.append(str(item["billing_frequency"]).lower())
    if not item.get("entitled", True):
        extra.append("not entitled")
    cr = item.get("commit_rate")
    if cr:
        extra.append("commit rate " + rate_label({**cr, "credit_type": rate.get("credit_type")}))
    return {
        "label": label,
        "rate_type": rate.get("rate_type", ""),
        "starting_at": when(item["starting_at"]),
        "ending_before": when(item.get("ending_before")) or "open-ended",
        "start": moment(item["starting_at"]),
        "end": moment(item.get("ending_before")),
        "extra": ", ".join(extra),
        "credit_type": (rate.get("credit_type") or {}).get("name", ""),
    }


def _by_product(items: list[Doc], now: datetime) -> list[Doc]:
    """The page's rates (in the card's product order, as getRateSchedule returns them) grouped by
    product, each product with its timeline."""
    out: list[Doc] = []
    for item in items:
        if not out or out[-1]["id"] != item["product_id"]:
            out.append({"id": item["product_id"], "name": item.get("product_name", ""), "rates": []})
        out[-1]["rates"].append(_rate_row(item))
    for product in out:
        spans = [
            charts.Span(
                r["start"],
                r["end"],
                r["label"],
                "span-rate" if "not entitled" not in r["extra"] else "span-off",
            )
            for r in product["rates"]
        ]
        product["timeline"] = charts.timeline(spans, now)
    return out


@router.get("/catalog/rate-cards/{card_id}")
def card_page(request: Request, ctx: ConsoleCtx, card_id: str, next_page: str | None = None) -> Response:
    now = ctx.now()
    with ctx.read() as conn:
        card = rate_cards.get(conn, ctx.tenant_id, card_id)  # as POST .../rate-cards/get
        doc = rate_cards.to_wire(conn, ctx.tenant_id, [card])[0]
        # As POST .../rate-cards/getRateSchedule from the beginning of time: every rate, any period.
        req = card_schemas.GetRateSchedule(rate_card_id=card.id, starting_at=EPOCH)
        items, nxt = card_rates.get_rate_schedule(conn, ctx.tenant_id, req, next_page, RATES_PAGE)
    base = f"{CATALOG}/rate-cards/{quote(card.id, safe='')}"
    return render(
        request,
        "catalog_rate_card.html",
        card=doc,
        products=_by_product(items, now),
        next_url=_next(base, nxt),
        first_page=next_page is None,
        base_url=base,
        conversions=[_conversion(doc, c) for c in doc.get("credit_type_conversions", [])],
    )


def _conversion(card: Doc, c: Doc) -> str:
    worth = unit_price(card["fiat_credit_type"], c["fiat_per_custom_credit"])
    return f"1 {c['custom_credit_type']['name']} = {worth}"
