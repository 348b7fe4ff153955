"""Reading the audit log: `GET /v1/auditLogs` filters, keyset pagination on (timestamp, id), wire shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select

from tally.errors import BadRequest
from tally.kit.pagination import check_limit, cut, decode_key
from tally.models.audit import audit_logs as t
from tally.wire import format_timestamp, parse_timestamp

SORTS = {"date_asc": "asc", "date_desc": "desc"}
MAX_FILTER = 255


@dataclass(frozen=True)
class Query:
    limit: int
    descending: bool
    starting_on: datetime | None
    ending_before: datetime | None
    resource_type: str | None
    resource_id: str | None
    after: tuple[datetime, str] | None
    # The console's filters (not in Metronome's API): exact actor name, exact action.
    actor_name: str | None = None
    action: str | None = None


def _text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_FILTER or "\x00" in value:
        raise BadRequest(f"{field}: must be 1 to {MAX_FILTER} characters without NUL")
    return value


def parse_query(
    *,
    actor_name: str | None = None,
    action: str | None = None,
    limit: str | None,
    next_page: str | None,
    sort: str | None,
    starting_on: str | None,
    ending_before: str | None,
    resource_type: str | None,
    resource_id: str | None,
) -> Query:
    n = check_limit(limit)
    direction = SORTS.get(sort or "date_asc")
    if direction is None:
        raise BadRequest("sort: must be date_asc or date_desc")
    rtype = _text(resource_type, "resource_type")
    rid = _text(resource_id, "resource_id")
    if (rtype is None) != (rid is None):
        raise BadRequest("resource_id and resource_type must be given together")
    after = None
    key = decode_key(next_page, str, str, str)
    if key is not None:
        ts_text, last_id, made_for = key
        if made_for != direction:
            raise BadRequest(f"next_page: this cursor was made for sort=date_{made_for}")
        try:
            after = (datetime.fromisoformat(ts_text), last_id)
        except ValueError:
            raise BadRequest("next_page: invalid cursor") from None
        if after[0].tzinfo is None:
            raise BadRequest("next_page: invalid cursor")
    return Query(
        limit=n,
        descending=direction == "desc",
        starting_on=parse_timestamp(starting_on, "starting_on") if starting_on is not None else None,
        ending_before=parse_timestamp(ending_before, "ending_before") if ending_before is not None else None,
        resource_type=rtype,
        resource_id=rid,
        after=after,
        actor_name=_text(actor_name, "actor"),
        action=_text(action, "action"),
    )


def page(conn: Connection, tenant_id: str, q: Query) -> tuple[list[dict[str, Any]], str | None]:
    """One page, oldest first (or newest first), and the cursor of the next (None on the last page).

    Filters may accompany next_page: the SDK's auto-pagination resends every parameter with the cursor."""
    stmt = select(t).where(t.c.tenant_id == tenant_id)
    if q.starting_on is not None:
        stmt = stmt.where(t.c.created_at >= q.starting_on)
    if q.ending_before is not None:
        stmt = stmt.where(t.c.created_at < q.ending_before)
    if q.resource_type is not None:
        stmt = stmt.where(t.c.resource_type == q.resource_type, t.c.resource_id == q.resource_id)
    if q.actor_name is not None:
        stmt = stmt.where(t.c.actor_name == q.actor_name)
    if q.action is not None:
        stmt = stmt.where(t.c.action == q.action)
    if q.after is not None:
        ts, last_id = q.after
        if q.descending:
            stmt = stmt.where(or_(t.c.created_at < ts, and_(t.c.created_at == ts, t.c.id < last_id)))
        else:
            stmt = stmt.where(or_(t.c.created_at > ts, and_(t.c.created_at == ts, t.c.id > last_id)))
    order = (t.c.created_at.desc(), t.c.id.desc()) if q.descending else (t.c.created_at, t.c.id)
    rows = list(conn.execute(stmt.order_by(*order).limit(q.limit + 1)).all())
    direction = "desc" if q.descending else "asc"
    items, nxt = cut(rows, q.limit, lambda r: [r.created_at.isoformat(), r.id, direction])
    return [to_wire(r) for r in items], nxt


def to_wire(row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "timestamp": format_timestamp(row.created_at),
        "action": row.action,
        "actor": {"id": row.actor_id, "name": row.actor_name},
        "description": row.description,
        "request": {"id": row.request_id},
        # Only successful calls are recorded: a failed one rolls its row back with its change.
        "status": "success",
    }
    if row.ip is not None:
        out["request"]["ip"] = row.ip
    if row.user_agent is not None:
        out["request"]["user_agent"] = row.user_agent
    if row.resource_type is not None:
        out["resource_type"] = row.resource_type
    if row.resource_id is not None:
        out["resource_id"] = row.resource_id
    return out
