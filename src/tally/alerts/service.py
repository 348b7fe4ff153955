"""Alerts (threshold notifications, SPEC §8.1): create, archive, and the per-customer status reads/reset.

What each type measures is in tally.alerts.figures; when it is evaluated, in tally.alerts.evaluate.
Types tally cannot evaluate faithfully are refused at creation with a 400 that says why, rather than
accepted as alerts that would silently never fire: the legacy Plans types (no Plans in tally) and seat
balances (not tracked).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tally.alerts import evaluate
from tally.alerts import repository as repo
from tally.alerts.figures import group_key
from tally.alerts.kinds import (
    COMBINED,
    ENTITY_KINDS,
    INVOICE_TYPES,
    KINDS,
    PLANS_ONLY,
    SEAT_BALANCE,
    Family,
    Kind,
)
from tally.alerts.repository import ARCHIVED, ENABLED, Alert, State
from tally.alerts.schemas import CreateAlert, CustomFieldFilter, GetCustomerAlert, SpecifierFilter
from tally.billable_metrics import service as metrics
from tally.credit_types import service as credit_types
from tally.credit_types.builtin import USD_CENTS_ID
from tally.custom_fields import service as custom_fields
from tally.customers import service as customers
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.pagination import cut
from tally.models.alerts import alerts as alerts_table
from tally.wire import format_timestamp

ENTITY = "alert"
PAGE_SIZE = 100
MAX_DAYS = 36_500
_STATUSES = {"ENABLED": ENABLED, "ARCHIVED": ARCHIVED}  # tally never disables an alert

custom_fields.register_entity_table(ENTITY, alerts_table)


# ------------------------------------------------------------------------------------------ create


def _check_filters(
    kind: Kind,
    alert_type: str,
    filters: Sequence[CustomFieldFilter | SpecifierFilter],
    field: str,
) -> None:
    for i, f in enumerate(filters):
        where = f"{field}[{i}].entity"
        if not kind.on_balances:
            if f.entity != "Contract":
                raise BadRequest(f"{where}: {alert_type} can only be filtered on Contract custom fields")
        elif not set(ENTITY_KINDS[f.entity]) & set(kind.balance_kinds):
            raise BadRequest(f"{where}: {f.entity} never matches the balances {alert_type} watches")


def _check_threshold(kind: Kind, req: CreateAlert) -> None:
    if req.threshold < 0:
        raise BadRequest("threshold: must be zero or more")
    if kind.family is Family.PERCENT and req.threshold > 100:
        raise BadRequest("threshold: a percentage, at most 100")
    if kind.family is Family.DAYS and req.threshold > MAX_DAYS:
        raise BadRequest(f"threshold: a number of days, at most {MAX_DAYS}")


def _check_scope(kind: Kind, req: CreateAlert) -> None:
    """Fields that only some types take: a field a type would ignore is a 400, not a silent no-op."""
    t = req.alert_type
    if req.plan_id is not None:
        raise BadRequest("plan_id: tally has no Plans; use customer_id to scope an alert to one customer")
    if req.credit_grant_type_filters:
        raise BadRequest(
            "credit_grant_type_filters: only for Plans credit-grant alerts, which tally does not have"
        )
    if req.seat_filter is not None:
        raise BadRequest(f"seat_filter: only for {SEAT_BALANCE}")
    if kind.family is Family.USAGE:
        if req.billable_metric_id is None:
            raise BadRequest("billable_metric_id: required for usage_threshold_reached")
        if req.credit_type_id is not None:
            raise BadRequest("credit_type_id: usage_threshold_reached compares metric quantities, not money")
    elif req.billable_metric_id is not None:
        raise BadRequest("billable_metric_id: only for usage_threshold_reached")
    if req.group_values and kind.family is not Family.SPEND:
        raise BadRequest("group_values: only for spend_threshold_reached")
    if req.group_values:
        keys = [g.key for g in req.group_values]
        if len(set(keys)) != len(keys):
            raise BadRequest("group_values: each key at most once")
    if req.invoice_types_filter and kind.family is not Family.INVOICE:
        raise BadRequest("invoice_types_filter: only for invoice_total_reached")
    for i, it in enumerate(req.invoice_types_filter or []):
        if it not in INVOICE_TYPES:
            raise BadRequest(
                f"invoice_types_filter[{i}]: tally issues only {' and '.join(INVOICE_TYPES)} invoices"
            )
    if req.access_type is not None and not kind.on_balances:
        raise BadRequest(f"access_type: not used by {t}")
    if req.access_type == "QUANTITY" and req.credit_type_id is not None:
        raise BadRequest("credit_type_id: not allowed with access_type QUANTITY")
    if req.alert_specifiers and t not in COMBINED:
        raise BadRequest(f"alert_specifiers: only for {' and '.join(sorted(COMBINED))}")
    if req.custom_field_filters and kind.family is Family.USAGE:
        raise BadRequest("custom_field_filters: not used by usage_threshold_reached")
    _check_filters(kind, t, req.custom_field_filters or [], "custom_field_filters")
    for i, spec in enumerate(req.alert_specifiers or []):
        _check_filters(
            kind, t, spec.custom_field_filters or [], f"alert_specifiers[{i}].custom_field_filters"
        )
        for j, ex in enumerate(spec.exclude or []):
            field = f"alert_specifiers[{i}].exclude[{j}].custom_field_filters"
            _check_filters(kind, t, ex.custom_field_filters or [], field)


def _credit_type(conn: Connection, tenant_id: str, kind: Kind, req: CreateAlert) -> str | None:
    if req.credit_type_id is not None:
        try:
            credit_types.get(conn, tenant_id, req.credit_type_id)
        except NotFound:
            raise BadRequest(f"credit_type_id: credit type {req.credit_type_id} not found") from None
        return req.credit_type_id
    if kind.family in (Family.USAGE, Family.DAYS) or req.access_type == "QUANTITY":
        return None  # quantities and days have no currency; days alerts then watch every currency
    return USD_CENTS_ID


def _check_references(conn: Connection, tenant_id: str, req: CreateAlert) -> None:
    if req.customer_id is not None:
        customer = customers.get(conn, tenant_id, req.customer_id)
        if customer.archived_at is not None:
            raise BadRequest(f"customer_id: customer {req.customer_id} is archived; its alerts do not run")
    if req.billable_metric_id is not None:
        metric = metrics.get(conn, tenant_id, req.billable_metric_id)
        if metric.archived_at is not None:
            raise BadRequest(f"billable_metric_id: billable metric {metric.id} is archived")


def create(conn: Connection, tenant_id: str, req: CreateAlert, now: datetime) -> str:
    t = req.alert_type
    if t in PLANS_ONLY:
        raise BadRequest(
            f"alert_type: {t} watches Plans credit grants; tally bills contracts and has no Plans "
            f"(use {PLANS_ONLY[t]})"
        )
    if t == SEAT_BALANCE:
        if req.seat_filter is None:
            raise BadRequest(f"seat_filter: required for {SEAT_BALANCE}")
        raise BadRequest(f"alert_type: {SEAT_BALANCE} is not supported: tally does not track seat balances")
    kind = KINDS[t]
    _check_threshold(kind, req)
    _check_scope(kind, req)
    _check_references(conn, tenant_id, req)
    filters: dict[str, Any] = {}
    for name in ("group_values", "custom_field_filters", "alert_specifiers"):
        items = getattr(req, name)
        if items:
            filters[name] = [x.model_dump(exclude_none=True) for x in items]
    if req.invoice_types_filter:
        filters["invoice_types_filter"] = list(dict.fromkeys(req.invoice_types_filter))
    if kind.on_balances:
        filters["access_type"] = req.access_type or "SPEND"
    if not repo.enabled_alerts(conn, tenant_id):
        # Changes before the first alert concern no alert: the worker's change feed starts here.
        repo.set_watermark(conn, tenant_id, now)
    alert_id = new_id()
    repo.insert_alert(
        conn,
        {
            "id": alert_id,
            "tenant_id": tenant_id,
            "name": req.name,
            "alert_type": t,
            "threshold": req.threshold,
            "credit_type_id": _credit_type(conn, tenant_id, kind, req),
            "customer_id": req.customer_id,
            "billable_metric_id": req.billable_metric_id,
            "filters": filters,
            "evaluate_on_create": req.evaluate_on_create is not False,
            "uniqueness_key": req.uniqueness_key,
            "status": ENABLED,
            # All-customer alerts are swept by the worker, never rated for every customer in the request.
            "sweep_pending": req.customer_id is None,
            "sweep_after": None,
            "created_at": now,
            "archived_at": None,
        },
    )
    if req.customer_id is not None:
        alert = repo.get_alert(conn, tenant_id, alert_id)
        assert alert is not None
        evaluate.evaluate_customer(conn, [alert], tenant_id, req.customer_id, evaluate.CREATED, now)
    return alert_id


# ----------------------------------------------------------------------------------------- archive


def archive(conn: Connection, tenant_id: str, alert_id: str, release_key: bool, now: datetime) -> None:
    """Irreversible and idempotent; `release_key` frees the uniqueness_key for a new alert."""
    alert = repo.get_alert(conn, tenant_id, alert_id, lock=True)
    if alert is None:
        raise NotFound(f"Alert {alert_id} not found")
    values: dict[str, Any] = {}
    if alert.status != ARCHIVED:
        values.update(status=ARCHIVED, archived_at=now, sweep_pending=False)
    if release_key and alert.uniqueness_key is not None:
        values["uniqueness_key"] = None
    if values:
        repo.update_alert(conn, tenant_id, alert_id, values)


# ------------------------------------------------------------------------------------ tenant reads


def tenant_page(
    conn: Connection, tenant_id: str, *, archived: bool, after: str | None, limit: int
) -> list[Alert]:
    """The tenant's alerts (enabled, or archived), in id order, up to limit + 1 (the console's list)."""
    return repo.alerts_page(conn, tenant_id, ARCHIVED if archived else ENABLED, after, limit)


# ------------------------------------------------------------------------------------ customer reads


def _pair(conn: Connection, tenant_id: str, alert_id: str, customer_id: str) -> Alert:
    alert = repo.get_alert(conn, tenant_id, alert_id)
    if alert is None:
        raise NotFound(f"Alert {alert_id} not found")
    customers.get(conn, tenant_id, customer_id)
    if not alert.applies_to(customer_id):
        raise NotFound(f"Alert {alert_id} not found for customer {customer_id}")
    return alert


def _credit_type_name(conn: Connection, tenant_id: str, credit_type_id: str, names: dict[str, str]) -> str:
    if credit_type_id not in names:
        try:
            names[credit_type_id] = credit_types.get(conn, tenant_id, credit_type_id).name
        except NotFound:
            names[credit_type_id] = credit_type_id
    return names[credit_type_id]


def to_wire(
    conn: Connection,
    tenant_id: str,
    alert: Alert,
    state: State | None,
    names: dict[str, str],
    part: str | None = None,
) -> dict[str, Any]:
    kind = KINDS.get(alert.type)
    updated = alert.archived_at if alert.status == ARCHIVED else None
    body: dict[str, Any] = {
        "id": alert.id,
        "name": alert.name,
        "status": alert.status,
        "threshold": alert.threshold,
        "type": alert.type,
        "updated_at": format_timestamp(updated or (state.updated_at if state else alert.created_at)),
    }
    if alert.credit_type_id is not None:
        name = _credit_type_name(conn, tenant_id, alert.credit_type_id, names)
        body["credit_type"] = {"id": alert.credit_type_id, "name": name}
    if kind is not None and kind.on_balances:
        body["access_type"] = alert.filters.get("access_type") or "SPEND"
    for name in ("alert_specifiers", "custom_field_filters", "group_values", "invoice_types_filter"):
        if alert.filters.get(name):
            body[name] = alert.filters[name]
    if alert.uniqueness_key is not None:
        body["uniqueness_key"] = alert.uniqueness_key
    if alert.status == ARCHIVED:
        status, triggered = None, None  # SDK: null once the alert is archived
    elif state is None:
        status, triggered = "evaluating", None  # the sweep of a new all-customer alert has not got here
    elif part is not None:
        alarmed = part in state.alarmed
        status, triggered = ("in_alarm", state.triggered_by) if alarmed else ("ok", None)
    else:
        status, triggered = state.status, state.triggered_by
    return {"alert": body, "customer_status": status, "triggered_by": triggered}


def list_for_customer(
    conn: Connection, tenant_id: str, customer_id: str, statuses: Sequence[str] | None, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    customers.get(conn, tenant_id, customer_id)
    wanted = sorted({_STATUSES[s] for s in (statuses or ["ENABLED"]) if s in _STATUSES})
    if not wanted:
        return [], None
    rows = repo.alerts_of_customer(conn, tenant_id, customer_id, wanted, after, PAGE_SIZE)
    items, nxt = cut(rows, PAGE_SIZE, lambda a: a.id)
    states = repo.states_of(conn, tenant_id, customer_id, [a.id for a in items])
    names: dict[str, str] = {}
    return [to_wire(conn, tenant_id, a, states.get(a.id), names) for a in items], nxt


def get_for_customer(conn: Connection, tenant_id: str, req: GetCustomerAlert) -> dict[str, Any]:
    alert = _pair(conn, tenant_id, req.alert_id, req.customer_id)
    if req.plans_or_contracts == "PLANS":
        raise BadRequest("plans_or_contracts: tally has no Plans alerts")
    if req.seat_filter is not None:
        raise BadRequest(f"seat_filter: only for {SEAT_BALANCE} alerts, which tally does not support")
    if req.alert_specifiers and alert.type not in COMBINED:
        raise BadRequest(f"alert_specifiers: only for {' and '.join(sorted(COMBINED))} alerts")
    part = None
    if req.group_values:
        scope = alert.filters.get("group_values") or []
        if not scope:
            raise BadRequest("group_values: this alert is not scoped by group_values")
        asked = {g.key: g.value for g in req.group_values}
        if set(asked) != {g["key"] for g in scope}:
            keys = ", ".join(sorted(g["key"] for g in scope))
            raise BadRequest(f"group_values: give a value for each of the alert's group keys ({keys})")
        for g in scope:
            if g.get("value") is not None and asked[g["key"]] != g["value"]:
                raise BadRequest(f"group_values: the alert watches {g['key']} = {g['value']!r} only")
        part = group_key(dict(asked))
    state = repo.states_of(conn, tenant_id, req.customer_id, [alert.id]).get(alert.id)
    return to_wire(conn, tenant_id, alert, state, {}, part)


def reset(conn: Connection, tenant_id: str, alert_id: str, customer_id: str, now: datetime) -> None:
    """Forget the customer's status and evaluate afresh: if it is past the threshold, that is a new
    transition and notifies again."""
    alert = _pair(conn, tenant_id, alert_id, customer_id)
    repo.delete_state(conn, tenant_id, alert_id, customer_id)
    if alert.status == ENABLED:
        evaluate.evaluate_customer(
            conn, [alert], tenant_id, customer_id, evaluate.RESET, now, force_notify=True
        )
