"""Offset notification configurations and system notification switches (Metronome's
`v2.notifications.*`). Every change that alters what will fire reschedules in the same transaction
(tally.notifications.lifecycle)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from tally.db.upsert import upsert_many
from tally.errors import BadRequest, Conflict, NotFound
from tally.ids import new_id
from tally.kit.pagination import check_limit, cut, decode_cursor
from tally.models.notifications import notification_configs as nc
from tally.models.notifications import system_notification_settings as sns
from tally.notifications import durations, lifecycle
from tally.notifications import schemas as s
from tally.notifications.events import ALL, ENVIRONMENT, WRITE_BASED

MAX_LIMIT = 400  # Metronome: "Returns a maximum of 400 results per request"


def _event_type(value: str, field: str = "policy.type") -> str:
    if value not in ALL:
        raise BadRequest(f"{field}: unknown lifecycle event type {value!r}; one of {', '.join(ALL)}")
    return value


def _offset(event_type: str, text: str) -> durations.Offset:
    off = durations.parse(text)
    if off.negative and event_type in WRITE_BASED:
        raise BadRequest(
            f"policy.offset: {event_type} happens when the object is written, so an offset before it "
            "can never fire; use a zero or positive offset"
        )
    return off


def wire(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "type": s.OFFSET_TYPE,
        "policy": {"type": row.event_type, "offset": row.offset},
        "environment_type": ENVIRONMENT,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "archived_at": row.archived_at,
    }


def get_row(conn: Connection, tenant_id: str, config_id: str) -> Row[Any]:
    row = conn.execute(select(nc).where(nc.c.tenant_id == tenant_id, nc.c.id == config_id)).first()
    if row is None:
        raise NotFound(f"Notification configuration {config_id} not found")
    return row


def create(
    conn: Connection, tenant_id: str, req: s.CreateOffset, now: datetime, created_by: str
) -> dict[str, Any]:
    event_type = _event_type(req.policy.type)
    _offset(event_type, req.policy.offset)
    config_id = new_id()
    values = {
        "id": config_id,
        "tenant_id": tenant_id,
        "name": req.name,
        "event_type": event_type,
        "offset": req.policy.offset,
        "uniqueness_key": req.uniqueness_key,
        "created_by": created_by,
        "created_at": now,
        "archived_at": None,
    }
    if req.uniqueness_key is not None:
        taken = conn.execute(
            select(nc.c.id).where(nc.c.tenant_id == tenant_id, nc.c.uniqueness_key == req.uniqueness_key)
        ).first()
        if taken is not None:
            raise Conflict("This uniqueness key has already been used")
    try:
        with conn.begin_nested():
            conn.execute(insert(nc).values(**values))
    except IntegrityError:
        raise Conflict("This uniqueness key has already been used") from None
    if event_type not in WRITE_BASED:
        lifecycle.reschedule_tenant(conn, tenant_id, now)
    return wire(get_row(conn, tenant_id, config_id))


def edit_offset(conn: Connection, tenant_id: str, req: s.EditNotification, now: datetime) -> dict[str, Any]:
    assert req.id is not None
    if req.is_enabled is not None:
        raise BadRequest("is_enabled: only supported for system notifications (edit them without id)")
    if req.policy.offset is None:
        raise BadRequest("policy.offset: required when editing an offset notification (id given)")
    row = get_row(conn, tenant_id, req.id)
    if row.archived_at is not None:
        raise BadRequest(f"Notification configuration {row.id} is archived")
    if req.policy.type != row.event_type:
        raise BadRequest(
            f"policy.type: must stay {row.event_type!r}, the configuration's lifecycle event type"
        )
    _offset(row.event_type, req.policy.offset)
    conn.execute(update(nc).where(nc.c.id == row.id).values(offset=req.policy.offset))
    lifecycle.drop_offset(conn, tenant_id, row.id)
    if row.event_type not in WRITE_BASED:
        lifecycle.reschedule_tenant(conn, tenant_id, now)
    return wire(get_row(conn, tenant_id, row.id))


def archive(conn: Connection, tenant_id: str, config_id: str, now: datetime) -> dict[str, Any]:
    """Idempotent: archiving an archived configuration returns it unchanged."""
    row = get_row(conn, tenant_id, config_id)
    if row.archived_at is None:
        conn.execute(update(nc).where(nc.c.id == row.id).values(archived_at=now))
        lifecycle.drop_offset(conn, tenant_id, row.id)
    return wire(get_row(conn, tenant_id, config_id))


def list_offsets(
    conn: Connection, tenant_id: str, archive_filter: str | None, limit: Any, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    n = check_limit(limit, default=100, maximum=MAX_LIMIT)
    after = decode_cursor(cursor)
    if after is not None and not isinstance(after, str):
        raise BadRequest("cursor: invalid cursor")
    q = select(nc).where(nc.c.tenant_id == tenant_id)
    if archive_filter in (None, "NOT_ARCHIVED"):
        q = q.where(nc.c.archived_at.is_(None))
    elif archive_filter == "ARCHIVED":
        q = q.where(nc.c.archived_at.is_not(None))
    if after is not None:
        q = q.where(nc.c.id > after)
    rows = conn.execute(q.order_by(nc.c.id).limit(n + 1)).all()
    page, nxt = cut(rows, n, lambda r: r.id)
    return [wire(r) for r in page], nxt


def system_list(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    off = lifecycle.disabled(conn, tenant_id)
    return [_system(t, t not in off) for t in ALL]


def _system(event_type: str, enabled: bool) -> dict[str, Any]:
    return {"type": s.SYSTEM_TYPE, "policy": {"type": event_type}, "is_enabled": enabled}


def edit_system(conn: Connection, tenant_id: str, req: s.EditNotification, now: datetime) -> dict[str, Any]:
    if req.policy.offset is not None:
        raise BadRequest("id: required to edit an offset notification (policy.offset given)")
    event_type = _event_type(req.policy.type)
    if req.is_enabled is not None:
        upsert_many(
            conn,
            sns,
            [
                {
                    "tenant_id": tenant_id,
                    "event_type": event_type,
                    "is_enabled": req.is_enabled,
                    "updated_at": now,
                }
            ],
            update=("is_enabled", "updated_at"),
        )
    return _system(event_type, event_type not in lifecycle.disabled(conn, tenant_id))
