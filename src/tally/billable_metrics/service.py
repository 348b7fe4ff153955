"""Billable metrics: what a metric means is declared here and validated per SPEC §2.

Definitions are immutable after creation except `name` (SPEC §2.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from tally.billable_metrics import repository as repo
from tally.billable_metrics.schemas import CreateMetric
from tally.custom_fields import service as custom_fields
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.metering import sql as sql_metric
from tally.wire import format_timestamp

ENTITY = "billable_metric"


@dataclass(frozen=True)
class Metric:
    id: str
    name: str
    aggregation_type: str | None
    aggregation_key: str | None
    event_type_filter: dict[str, Any] | None
    property_filters: list[dict[str, Any]]
    group_keys: list[list[str]]
    sql: str | None
    archived_at: datetime | None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> Metric:
        return cls(
            id=row.id,
            name=row.name,
            aggregation_type=row.aggregation_type,
            aggregation_key=row.aggregation_key,
            event_type_filter=row.event_type_filter,
            property_filters=row.property_filters,
            group_keys=row.group_keys,
            sql=row.sql,
            archived_at=row.archived_at,
            created_at=getattr(row, "created_at", None),
        )


def validate(req: CreateMetric) -> None:
    if req.sql is not None:
        clash = [
            f
            for f in (
                "aggregation_type",
                "aggregation_key",
                "event_type_filter",
                "property_filters",
                "group_keys",
            )
            if getattr(req, f) is not None
        ]
        if clash:
            raise BadRequest(f"sql cannot be combined with {', '.join(clash)}")
        try:
            sql_metric.parse(req.sql)
        except sql_metric.SqlMetricError as e:
            raise BadRequest(str(e)) from None
        return
    if req.aggregation_type is None:
        raise BadRequest("aggregation_type: required for a streaming billable metric")
    names = [f.name for f in req.property_filters or []]
    if len(set(names)) != len(names):
        raise BadRequest("property_filters: each property may be filtered only once")
    for f in req.property_filters or []:
        if f.exists is False and (f.in_values or f.not_in_values):
            raise BadRequest(f"property_filters: {f.name!r} cannot require absence and match values")
    if req.aggregation_type == "COUNT":
        if req.aggregation_key is not None and req.aggregation_key not in names:
            raise BadRequest("The specified aggregation key must be one of the property filter names")
    else:
        if req.aggregation_key is None:
            raise BadRequest(f"aggregation_key: required for {req.aggregation_type} aggregation")
        if req.aggregation_key not in names:
            raise BadRequest("The specified aggregation key must be one of the property filter names")
    for group in req.group_keys or []:
        if not group:
            raise BadRequest("group_keys: a group key must name at least one property")
        if len(set(group)) != len(group):
            raise BadRequest("group_keys: a compound group key repeats a property")
        for key in group:
            if key not in names:
                raise BadRequest(f"Group key '{key}' does not match one of the property filter names.")


def create(conn: Connection, tenant_id: str, req: CreateMetric, now: datetime) -> str:
    validate(req)
    metric_id = new_id()
    repo.insert_metric(
        conn,
        {
            "id": metric_id,
            "tenant_id": tenant_id,
            "name": req.name,
            "aggregation_type": req.aggregation_type,
            "aggregation_key": req.aggregation_key,
            "event_type_filter": req.event_type_filter.model_dump(exclude_none=True)
            if req.event_type_filter
            else None,
            "property_filters": [f.model_dump(exclude_none=True) for f in req.property_filters or []],
            "group_keys": [list(g) for g in req.group_keys or []],
            "sql": req.sql,
            "created_at": now,
        },
    )
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, ENTITY, metric_id, req.custom_fields)
    return metric_id


def get(conn: Connection, tenant_id: str, metric_id: str) -> Metric:
    row = repo.get(conn, tenant_id, metric_id)
    if row is None:
        raise NotFound(f"Billable metric {metric_id} not found")
    return Metric.of(row)


def get_many(conn: Connection, tenant_id: str, ids: list[str]) -> dict[str, Metric]:
    return {r.id: Metric.of(r) for r in repo.get_many(conn, tenant_id, ids)}


def page(
    conn: Connection, tenant_id: str, after: str | None, limit: int, include_archived: bool
) -> list[Metric]:
    return [Metric.of(r) for r in repo.page(conn, tenant_id, after, limit, include_archived)]


def rename(conn: Connection, tenant_id: str, metric_id: str, name: str) -> None:
    if repo.set_name(conn, tenant_id, metric_id, name) == 0:
        raise NotFound(f"Billable metric {metric_id} not found")


def archive(conn: Connection, tenant_id: str, metric_id: str, now: datetime) -> None:
    get(conn, tenant_id, metric_id)
    repo.archive(conn, tenant_id, metric_id, now)


def to_wire(metric: Metric, custom: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": metric.id,
        "name": metric.name,
        "aggregation_type": metric.aggregation_type,
        "aggregation_key": metric.aggregation_key,
        "event_type_filter": metric.event_type_filter,
        "property_filters": metric.property_filters,
        "group_keys": metric.group_keys,
        "custom_fields": custom,
    }
    if metric.sql is not None:
        out["sql"] = metric.sql
    if metric.archived_at is not None:
        out["archived_at"] = format_timestamp(metric.archived_at)
    return {k: v for k, v in out.items() if v is not None}
