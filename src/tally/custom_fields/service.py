"""Custom fields: allow-listed keys per entity type, values ≤ 200 characters, optional uniqueness.

Other domains call `set_values` / `values_for` through this service; they never touch the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Table, and_, delete, exists, insert, select

from tally.errors import BadRequest, Conflict, NotFound
from tally.models import catalog as m

ENTITIES = (
    "alert",
    "billable_metric",
    "charge",
    "commit",
    "contract_credit",
    "contract_product",
    "contract",
    "credit_grant",
    "customer_plan",
    "customer",
    "discount",
    "invoice",
    "plan",
    "professional_service",
    "product",
    "rate_card",
    "scheduled_charge",
    "subscription",
    "package_commit",
    "package_credit",
    "package_subscription",
    "package_scheduled_charge",
)
MAX_VALUE_LENGTH = 200

# Entities whose ids tally can check directly; the rest are checked by the domain that owns them.
_OWNER_TABLES: dict[str, Table] = {
    "billable_metric": m.billable_metrics,
    "product": m.products,
    "rate_card": m.rate_cards,
}


def register_entity_table(entity: str, table: Table) -> None:
    """Domains added later (customers, contracts, ...) register their table so ids can be checked."""
    _OWNER_TABLES[entity] = table


def _check_entity(entity: str) -> None:
    if entity not in ENTITIES:
        raise BadRequest(f"entity: unknown entity {entity!r}")


def add_key(
    conn: Connection, tenant_id: str, entity: str, key: str, enforce_uniqueness: bool, now: datetime
) -> None:
    _check_entity(entity)
    if not key or len(key) > 255:
        raise BadRequest("key: must be 1 to 255 characters")
    k = m.custom_field_keys.c
    existing = conn.execute(
        select(k.enforce_uniqueness).where(k.tenant_id == tenant_id, k.entity == entity, k.key == key)
    ).first()
    if existing is not None:
        if bool(existing.enforce_uniqueness) != enforce_uniqueness:
            raise Conflict(f"Custom field key {key!r} already exists on {entity} with different uniqueness")
        return  # idempotent
    conn.execute(
        insert(m.custom_field_keys).values(
            tenant_id=tenant_id, entity=entity, key=key, enforce_uniqueness=enforce_uniqueness, created_at=now
        )
    )


def remove_key(conn: Connection, tenant_id: str, entity: str, key: str) -> None:
    _check_entity(entity)
    k = m.custom_field_keys.c
    found = conn.execute(
        delete(m.custom_field_keys).where(k.tenant_id == tenant_id, k.entity == entity, k.key == key)
    )
    if found.rowcount == 0:
        raise NotFound(f"Custom field key {key!r} not found on {entity}")
    v = m.custom_field_values.c
    conn.execute(
        delete(m.custom_field_values).where(v.tenant_id == tenant_id, v.entity == entity, v.key == key)
    )


def list_keys(
    conn: Connection, tenant_id: str, entities: list[str] | None, after: tuple[str, str] | None, limit: int
) -> list[dict[str, object]]:
    k = m.custom_field_keys.c
    q = select(k.entity, k.key, k.enforce_uniqueness).where(k.tenant_id == tenant_id)
    if entities:
        for e in entities:
            _check_entity(e)
        q = q.where(k.entity.in_(entities))
    if after:
        q = q.where((k.entity > after[0]) | and_(k.entity == after[0], k.key > after[1]))
    rows = conn.execute(q.order_by(k.entity, k.key).limit(limit + 1)).all()
    return [
        {"entity": r.entity, "key": r.key, "enforce_uniqueness": bool(r.enforce_uniqueness)} for r in rows
    ]


def ensure_entity_exists(conn: Connection, tenant_id: str, entity: str, entity_id: str) -> None:
    table = _OWNER_TABLES.get(entity)
    if table is None:
        return
    if not conn.execute(
        select(exists().where(table.c.id == entity_id, table.c.tenant_id == tenant_id))
    ).scalar():
        raise NotFound(f"{entity} {entity_id} not found")


def set_values(
    conn: Connection, tenant_id: str, entity: str, entity_id: str, values: Mapping[str, str]
) -> None:
    """Overwrite the given keys on one object. Every key must be allow-listed; all or nothing."""
    _check_entity(entity)
    if not values:
        return
    k = m.custom_field_keys.c
    allowed = {
        r.key: bool(r.enforce_uniqueness)
        for r in conn.execute(
            select(k.key, k.enforce_uniqueness).where(
                k.tenant_id == tenant_id, k.entity == entity, k.key.in_(list(values))
            )
        )
    }
    v = m.custom_field_values.c
    for key, value in values.items():
        if key not in allowed:
            raise BadRequest(
                f"custom_fields: key {key!r} is not defined for {entity}; add it with customFields/addKey"
            )
        if not isinstance(value, str):
            raise BadRequest(f"custom_fields.{key}: must be a string")
        if len(value) > MAX_VALUE_LENGTH:
            raise BadRequest(f"custom_fields.{key}: must be at most {MAX_VALUE_LENGTH} characters")
        if "\x00" in value:
            raise BadRequest(f"custom_fields.{key}: must not contain NUL characters")
        if allowed[key]:
            clash = conn.execute(
                select(v.entity_id).where(
                    v.tenant_id == tenant_id,
                    v.entity == entity,
                    v.key == key,
                    v.value == value,
                    v.entity_id != entity_id,
                )
            ).first()
            if clash:
                raise Conflict(f"custom_fields.{key}: value {value!r} is already used by another {entity}")
    conn.execute(
        delete(m.custom_field_values).where(
            v.tenant_id == tenant_id, v.entity == entity, v.entity_id == entity_id, v.key.in_(list(values))
        )
    )
    conn.execute(
        insert(m.custom_field_values),
        [
            {"tenant_id": tenant_id, "entity": entity, "entity_id": entity_id, "key": key, "value": value}
            for key, value in values.items()
        ],
    )


def delete_values(conn: Connection, tenant_id: str, entity: str, entity_id: str, keys: Iterable[str]) -> None:
    _check_entity(entity)
    v = m.custom_field_values.c
    conn.execute(
        delete(m.custom_field_values).where(
            v.tenant_id == tenant_id, v.entity == entity, v.entity_id == entity_id, v.key.in_(list(keys))
        )
    )


def values_for(
    conn: Connection, tenant_id: str, entity: str, entity_ids: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Custom field values of many objects at once (one query per list page, not per row)."""
    ids = list(entity_ids)
    out: dict[str, dict[str, str]] = {i: {} for i in ids}
    if not ids:
        return out
    v = m.custom_field_values.c
    rows = conn.execute(
        select(v.entity_id, v.key, v.value).where(
            v.tenant_id == tenant_id, v.entity == entity, v.entity_id.in_(ids)
        )
    )
    for r in rows:
        out[r.entity_id][r.key] = r.value
    return out
