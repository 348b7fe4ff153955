"""Products: time-versioned catalog entries (SPEC §3).

A product has an initial state (version seq 0) and updates, each taking effect at an hour-aligned
`starting_at` that may be in the past or the future. The state in force at time t is the initial state
overlaid with the changes of every update whose starting_at <= t, applied in (starting_at, seq) order; the
initial state also governs any time before the first update. Each version row caches its full state in
`spec`, and an update recomputes every cached state it affects (a retroactive update changes later states).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Row

from tally.billable_metrics import service as metrics
from tally.custom_fields import service as custom_fields
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.metering import sql as sql_metric
from tally.products import repository as repo
from tally.products import schemas as s
from tally.wire import format_timestamp

ENTITY = "product"

# The start reported by `versions()` for the initial state: it applies to all time before any update.
FROM_THE_START = datetime.min.replace(tzinfo=UTC)

STATE_FIELDS = (
    "name",
    "billable_metric_id",
    "composite_product_ids",
    "composite_tags",
    "exclude_free_usage",
    "include_composite_spend",
    "is_refundable",
    "netsuite_internal_item_id",
    "netsuite_overage_item_id",
    "presentation_group_key",
    "pricing_group_key",
    "quantity_conversion",
    "quantity_rounding",
    "sql_breakdown_granularity",
    "tags",
)
_USAGE_ONLY = (
    "billable_metric_id",
    "pricing_group_key",
    "presentation_group_key",
    "quantity_conversion",
    "quantity_rounding",
    "sql_breakdown_granularity",
)
_COMPOSITE_ONLY = ("composite_product_ids", "composite_tags", "include_composite_spend", "exclude_free_usage")


@dataclass(frozen=True)
class ProductView:
    """A product's state in force at a given time."""

    id: str
    type: str
    archived_at: datetime | None
    name: str
    tags: list[str]
    billable_metric_id: str | None
    pricing_group_key: list[str] | None
    presentation_group_key: list[str] | None
    spec: dict[str, Any]  # the full state document

    @classmethod
    def of(cls, product: Product, spec: dict[str, Any]) -> ProductView:
        spec = _normalized(spec)
        return cls(
            id=product.id,
            type=product.type,
            archived_at=product.archived_at,
            name=spec["name"],
            tags=list(spec.get("tags") or []),
            billable_metric_id=spec.get("billable_metric_id"),
            pricing_group_key=spec.get("pricing_group_key"),
            presentation_group_key=spec.get("presentation_group_key"),
            spec=spec,
        )


@dataclass(frozen=True)
class Version:
    seq: int
    starting_at: datetime
    changes: dict[str, Any]
    spec: dict[str, Any]
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, row: Row[Any]) -> Version:
        return cls(row.seq, row.starting_at, row.changes, row.spec, row.created_at, row.created_by)


@dataclass(frozen=True)
class Product:
    id: str
    type: str
    created_at: datetime
    archived_at: datetime | None
    versions: tuple[Version, ...]  # in seq order: versions[0] is the initial state

    def timeline(self) -> list[Version]:
        return _timeline(self.versions)

    def in_force(self, at: datetime) -> Version:
        return _in_force(self.timeline(), at)


def _timeline(versions: Iterable[Version]) -> list[Version]:
    """The initial state, then updates in the order they take effect."""
    ordered = sorted(versions, key=lambda v: v.seq)
    return ordered[:1] + sorted(ordered[1:], key=lambda v: (v.starting_at, v.seq))


def _in_force(timeline: Sequence[Version], at: datetime) -> Version:
    current = timeline[0]
    for v in timeline[1:]:
        if v.starting_at > at:
            break
        current = v
    return current


def _fold(timeline: Sequence[Version]) -> dict[int, dict[str, Any]]:
    """Full state of each version: the initial state overlaid with each update's changes, in effect order."""
    state = dict(timeline[0].changes)
    out = {timeline[0].seq: dict(state)}
    for v in timeline[1:]:
        state.update(v.changes)
        state = {k: val for k, val in state.items() if val is not None}
        out[v.seq] = dict(state)
    return out


def _normalized(spec: dict[str, Any]) -> dict[str, Any]:
    """JSON gives back whole numbers as int; hand callers Decimal for the conversion factor."""
    conv = spec.get("quantity_conversion")
    if conv is not None and not isinstance(conv.get("conversion_factor"), Decimal):
        spec = {
            **spec,
            "quantity_conversion": {**conv, "conversion_factor": Decimal(conv["conversion_factor"])},
        }
    return spec


# ------------------------------------------------------------------------------------------ validation


def _doc(value: Any) -> Any:
    if isinstance(value, s.QuantityRounding):
        return {"decimal_places": int(value.decimal_places), "rounding_method": value.rounding_method}
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    if isinstance(value, list):
        return list(value)
    return value


def _changes(req: BaseModel) -> dict[str, Any]:
    """The state fields the request set, as document values (an explicit null means "clear")."""
    return {f: _doc(getattr(req, f)) for f in STATE_FIELDS if f in req.model_fields_set}


def _present(spec: dict[str, Any]) -> set[str]:
    # Empty lists and false flags are the defaults, so they are allowed on any type.
    return {k for k, v in spec.items() if v is not None and v != [] and v is not False}


def _check_state(conn: Connection, tenant_id: str, ptype: str, spec: dict[str, Any]) -> None:
    present = _present(spec)
    if ptype != "USAGE":
        bad = [f for f in _USAGE_ONLY if f in present]
        if bad:
            raise BadRequest(f"{bad[0]}: only valid for USAGE products, not {ptype}")
    if ptype != "COMPOSITE":
        bad = [f for f in _COMPOSITE_ONLY if f in present]
        if bad:
            raise BadRequest(f"{bad[0]}: only valid for COMPOSITE products, not {ptype}")
    if ptype == "COMPOSITE" and not ({"composite_product_ids", "composite_tags"} & present):
        raise BadRequest(
            "composite_product_ids: a COMPOSITE product needs composite_product_ids or composite_tags"
        )
    if ptype == "USAGE":
        metric_id = spec.get("billable_metric_id")
        if metric_id is None:
            raise BadRequest("billable_metric_id: required for USAGE products")
        check_group_keys(
            conn, tenant_id, metric_id, spec.get("pricing_group_key"), spec.get("presentation_group_key")
        )


def check_group_keys(
    conn: Connection,
    tenant_id: str,
    metric_id: str,
    pricing: Sequence[str] | None,
    presentation: Sequence[str] | None,
) -> None:
    """Pricing plus presentation keys must together equal one compound group key of the metric (SPEC §3.4)."""
    for field, keys in (("pricing_group_key", pricing), ("presentation_group_key", presentation)):
        if keys and len(set(keys)) != len(keys):
            raise BadRequest(f"{field}: lists a key more than once")
    union = set(pricing or ()) | set(presentation or ())
    if not union:
        return
    metric = _metric(conn, tenant_id, metric_id)
    if metric.sql is not None:
        # SQL metrics: any of the query's group columns, alone or together (SPEC §2.6).
        columns = set(sql_metric.parse(metric.sql).group_names)
        if not union <= columns:
            raise BadRequest(
                f"pricing_group_key: together with presentation_group_key, {sorted(union)} must be columns "
                f"returned by SQL billable metric {metric_id} ({sorted(columns)})"
            )
        return
    if not any(set(group) == union for group in metric.group_keys):
        raise BadRequest(
            f"pricing_group_key: together with presentation_group_key, {sorted(union)} must equal one of the "
            f"group keys of billable metric {metric_id} ({metric.group_keys})"
        )


def _metric(conn: Connection, tenant_id: str, metric_id: str) -> metrics.Metric:
    try:
        return metrics.get(conn, tenant_id, metric_id)
    except NotFound:
        raise BadRequest(f"billable_metric_id: billable metric {metric_id} not found") from None


def _check_refs(conn: Connection, tenant_id: str, changes: dict[str, Any], self_id: str | None) -> None:
    """Objects this request newly points at must exist in the tenant and not be archived."""
    metric_id = changes.get("billable_metric_id")
    if metric_id is not None and _metric(conn, tenant_id, metric_id).archived_at is not None:
        raise BadRequest(f"billable_metric_id: billable metric {metric_id} is archived")
    ids = changes.get("composite_product_ids") or []
    if self_id is not None and self_id in ids:
        raise BadRequest("composite_product_ids: a composite product cannot include itself")
    if len(set(ids)) != len(ids):
        raise BadRequest("composite_product_ids: lists a product more than once")
    found = {r.id: r for r in repo.get_many(conn, tenant_id, ids)}
    for pid in ids:
        if pid not in found:
            raise BadRequest(f"composite_product_ids: product {pid} not found")
        if found[pid].archived_at is not None:
            raise BadRequest(f"composite_product_ids: product {pid} is archived")


# ---------------------------------------------------------------------------------------- use cases


def create(conn: Connection, tenant_id: str, req: s.CreateProduct, now: datetime, created_by: str) -> str:
    ptype = "PRO_SERVICE" if req.type == "PROFESSIONAL_SERVICE" else req.type
    spec = {k: v for k, v in _changes(req).items() if v is not None}
    _check_refs(conn, tenant_id, spec, None)
    _check_state(conn, tenant_id, ptype, spec)
    product_id = new_id()
    repo.insert_product(
        conn,
        {"id": product_id, "tenant_id": tenant_id, "type": ptype, "created_at": now, "archived_at": None},
    )
    repo.insert_version(
        conn,
        {
            "product_id": product_id,
            "seq": 0,
            "tenant_id": tenant_id,
            "starting_at": now,
            "spec": spec,
            "changes": spec,
            "created_at": now,
            "created_by": created_by,
        },
    )
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, ENTITY, product_id, req.custom_fields)
    return product_id


def update(conn: Connection, tenant_id: str, req: s.UpdateProduct, now: datetime, created_by: str) -> None:
    if "type" in req.model_fields_set:
        raise BadRequest("type: a product's type cannot change; create a new product and archive this one")
    starting_at = hour_aligned(req.starting_at, "starting_at")
    row = repo.get(conn, tenant_id, req.product_id, lock=True)
    if row is None:
        raise NotFound(f"Product {req.product_id} not found")
    if row.archived_at is not None:
        raise BadRequest(f"product_id: product {req.product_id} is archived and cannot be updated")
    changes = _changes(req)
    if "name" in changes and changes["name"] is None:
        raise BadRequest("name: cannot be null")
    if not changes:
        raise BadRequest("body: an update must set at least one field besides product_id and starting_at")
    _check_refs(conn, tenant_id, changes, row.id)
    product = _assemble([row], repo.versions(conn, tenant_id, [row.id]))[row.id]
    new = Version(max(v.seq for v in product.versions) + 1, starting_at, changes, {}, now, created_by)
    timeline = _timeline([*product.versions, new])
    specs = _fold(timeline)
    for v in timeline:
        if specs[v.seq] != v.spec:
            try:
                _check_state(conn, tenant_id, product.type, specs[v.seq])
            except BadRequest as exc:
                if v is new:
                    raise
                when = format_timestamp(v.starting_at)
                raise BadRequest(f"{exc.message} (in the product's state from {when})") from None
    for v in product.versions:
        if specs[v.seq] != v.spec:
            repo.set_spec(conn, tenant_id, row.id, v.seq, specs[v.seq])
    repo.insert_version(
        conn,
        {
            "product_id": row.id,
            "seq": new.seq,
            "tenant_id": tenant_id,
            "starting_at": starting_at,
            "spec": specs[new.seq],
            "changes": changes,
            "created_at": now,
            "created_by": created_by,
        },
    )


def archive(conn: Connection, tenant_id: str, product_id: str, now: datetime) -> None:
    """Archiving is final and idempotent; existing rate cards keep their rates (SPEC §3.6)."""
    if repo.get(conn, tenant_id, product_id) is None:
        raise NotFound(f"Product {product_id} not found")
    repo.archive(conn, tenant_id, product_id, now)


# -------------------------------------------------------------------------------------------- reads


def _assemble(rows: Sequence[Row[Any]], version_rows: Sequence[Row[Any]]) -> dict[str, Product]:
    by_product: dict[str, list[Version]] = {}
    for vr in version_rows:
        by_product.setdefault(vr.product_id, []).append(Version.of(vr))
    return {
        r.id: Product(
            r.id, r.type, r.created_at, r.archived_at, tuple(sorted(by_product[r.id], key=lambda v: v.seq))
        )
        for r in rows
    }


def _load(conn: Connection, tenant_id: str, rows: Sequence[Row[Any]]) -> list[Product]:
    products = _assemble(rows, repo.versions(conn, tenant_id, [r.id for r in rows]))
    return [products[r.id] for r in rows]


def get(conn: Connection, tenant_id: str, product_id: str) -> Product:
    row = repo.get(conn, tenant_id, product_id)
    if row is None:
        raise NotFound(f"Product {product_id} not found")
    return _load(conn, tenant_id, [row])[0]


def page(
    conn: Connection, tenant_id: str, after: str | None, limit: int, archive_filter: str
) -> list[Product]:
    return _load(conn, tenant_id, repo.page(conn, tenant_id, after, limit, archive_filter))


def get_many(conn: Connection, tenant_id: str, ids: list[str], at: datetime) -> dict[str, ProductView]:
    """The state in force at `at` of each product that exists in the tenant; missing ids are omitted."""
    products = _load(conn, tenant_id, repo.get_many(conn, tenant_id, ids))
    return {p.id: ProductView.of(p, p.in_force(at).spec) for p in products}


def versions(conn: Connection, tenant_id: str, product_id: str) -> list[tuple[datetime, ProductView]]:
    """Every state of the product with the time it takes effect, in time order (for rating).

    The state at t is the last entry whose start is <= t; the first entry starts at FROM_THE_START.
    """
    product = get(conn, tenant_id, product_id)
    out: list[tuple[datetime, ProductView]] = []
    for i, v in enumerate(product.timeline()):
        start = FROM_THE_START if i == 0 else v.starting_at
        if out and out[-1][0] == start:
            out.pop()  # a later update at the same instant supersedes the earlier one
        out.append((start, ProductView.of(product, v.spec)))
    return out


# --------------------------------------------------------------------------------------------- wire


def _state_wire(v: Version, fields: dict[str, Any], with_start: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"created_at": format_timestamp(v.created_at), "created_by": v.created_by}
    if with_start:
        out["starting_at"] = format_timestamp(v.starting_at)
    out.update(fields)
    return out


def to_wire(product: Product, custom: dict[str, str], now: datetime) -> dict[str, Any]:
    initial = product.versions[0]
    current = product.in_force(now)
    out: dict[str, Any] = {
        "id": product.id,
        "type": product.type,
        "initial": _state_wire(initial, initial.spec, with_start=False),
        "current": _state_wire(current, current.spec, with_start=current.seq != 0),
        "updates": [_state_wire(v, v.changes, with_start=True) for v in product.versions[1:]],
        "custom_fields": custom,
    }
    if product.archived_at is not None:
        out["archived_at"] = format_timestamp(product.archived_at)
    return out
