"""`POST /v1/ingest`: validate a batch, store new events exactly once, feed metering (SPEC §1).

The whole batch is validated before anything is written: one bad event rejects the batch with a 400 that
names the event and the field. Storage is insert-or-ignore on (tenant_id, transaction_id) in the request's
single transaction; the metering hook runs in that same transaction, so an acknowledged event is stored
and counted, or neither. Dedup is forever: transaction ids are never recycled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.errors import BadRequest
from tally.usage import ingest_repository as repo
from tally.usage import late_gate
from tally.usage import store as events_store
from tally.usage.events import AcceptedEvent
from tally.wire import check_decimal, parse_timestamp

MAX_BATCH = 100
MAX_ID = 255  # transaction_id, customer_id and event_type columns are VARCHAR(255)
MAX_FUTURE = timedelta(hours=24)
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DEPTH = 32
_FIELDS = frozenset({"transaction_id", "customer_id", "event_type", "timestamp", "properties"})
_MAX_INT = 10**38


@dataclass(frozen=True)
class Outcome:
    transaction_id: str
    accepted: bool


def _id(event: dict[str, Any], field: str, where: str, max_len: int = MAX_ID) -> str:
    value = event.get(field)
    if value is None:
        raise BadRequest(f"{where}.{field}: required")
    if not isinstance(value, str):
        raise BadRequest(f"{where}.{field}: must be a string")
    if not value or len(value) > max_len:
        raise BadRequest(f"{where}.{field}: must be 1 to {max_len} characters")
    if "\x00" in value:
        raise BadRequest(f"{where}.{field}: must not contain NUL characters")
    return value


_FAST_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z")


def _timestamp(event: dict[str, Any], where: str, now: datetime, seen: dict[str, datetime]) -> datetime:
    value = event.get("timestamp")
    if value is None:
        raise BadRequest(f"{where}.timestamp: required")
    if not isinstance(value, str):
        raise BadRequest(f"{where}.timestamp: must be an RFC 3339 string")
    ts = seen.get(value)
    if ts is not None:
        return ts
    ts = None
    if _FAST_TS.fullmatch(value):
        # The common `...THH:MM:SS[.ffffff]Z` form; the C parser is several times faster than the
        # general RFC 3339 one, which still handles (and words the errors for) everything else.
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            ts = None
    if ts is None:
        ts = parse_timestamp(value, f"{where}.timestamp")
    if ts > now + MAX_FUTURE:
        raise BadRequest(f"{where}.timestamp: {value[:40]!r} is more than 24 hours in the future")
    if ts < MIN_TIMESTAMP:
        raise BadRequest(f"{where}.timestamp: {value[:40]!r} is before 1970-01-01")
    seen[value] = ts
    return ts


def _check_value(value: Any, where: str, depth: int = 0) -> None:
    """Property values are kept as sent; reject only what cannot be stored exactly on both databases."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest(f"{where}: must not contain NUL characters")
    elif isinstance(value, Decimal):
        check_decimal(value, where)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) >= _MAX_INT:
            raise BadRequest(f"{where}: number out of range (at most 38 integer digits)")
    elif depth >= MAX_DEPTH:
        raise BadRequest(f"{where}: nested too deeply")
    elif isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in k:
                raise BadRequest(f"{where}: property names must not contain NUL characters")
            _check_value(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_value(v, f"{where}[{i}]", depth + 1)
    else:  # pragma: no cover - the JSON decoder yields no other types
        raise BadRequest(f"{where}: unsupported value")


def _properties(event: dict[str, Any], where: str) -> dict[str, Any]:
    props = event.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise BadRequest(f"{where}.properties: must be an object")
    for key, value in props.items():
        if "\x00" in key:
            raise BadRequest(f"{where}.properties: property names must not contain NUL characters")
        # Fast path for the common flat string/int property; everything else gets the full check.
        if type(value) is str:
            if "\x00" in value:
                raise BadRequest(f"{where}.properties.{key}: must not contain NUL characters")
        else:
            _check_value(value, f"{where}.properties.{key}")
    return props


def validate(body: Any, now: datetime) -> list[AcceptedEvent]:
    if not isinstance(body, list):
        raise BadRequest("Request body must be a JSON array of 1 to 100 events")
    if not body or len(body) > MAX_BATCH:
        raise BadRequest(f"Request body must hold 1 to {MAX_BATCH} events; got {len(body)}")
    out = []
    seen: dict[str, datetime] = {}
    for i, event in enumerate(body):
        where = f"usage[{i}]"
        if not isinstance(event, dict):
            raise BadRequest(f"{where}: each event must be a JSON object")
        if not _FIELDS.issuperset(event):
            unknown = sorted(set(event) - _FIELDS)[0]
            raise BadRequest(f"{where}: unknown field {unknown[:40]!r}")
        out.append(
            AcceptedEvent(
                transaction_id=_id(event, "transaction_id", where),
                customer_id=_id(event, "customer_id", where),
                event_type=_id(event, "event_type", where),
                timestamp=_timestamp(event, where, now, seen),
                properties=_properties(event, where),
            )
        )
    return out


@dataclass(frozen=True)
class Job:
    """One request's validated batch."""

    tenant_id: str
    events: list[AcceptedEvent]
    received_at: datetime


def store(conn: Connection, jobs: list[Job]) -> list[list[Outcome]]:
    """Store the new events of several batches in the caller's transaction and meter them.

    First occurrence wins, inside a batch, across the batches (in list order) and across transactions.
    """
    fresh: dict[tuple[str, str], tuple[AcceptedEvent, datetime]] = {}
    for job in jobs:
        for e in job.events:
            fresh.setdefault((job.tenant_id, e.transaction_id), (e, job.received_at))
    if jobs:
        oldest = late_gate.oldest_by_tenant((t, e.timestamp) for (t, _), (e, _) in fresh.items())
        late_gate.hold_for_ingest(conn, oldest, max(job.received_at for job in jobs))
        events_store.current().accepting(conn)  # after the gate's locks (docs/scale-out.md)
    inserted = repo.insert_new(conn, [(t, e, at) for (t, _), (e, at) in fresh.items()])
    by_tenant: dict[str, list[AcceptedEvent]] = {}
    for (tenant_id, tid), (e, _) in fresh.items():
        if (tenant_id, tid) in inserted:
            by_tenant.setdefault(tenant_id, []).append(e)
    for tenant_id, accepted in by_tenant.items():
        events_store.current().accepted(conn, tenant_id, accepted)
    claimed: set[tuple[str, str]] = set()
    results = []
    for job in jobs:
        outcomes = []
        for e in job.events:
            key = (job.tenant_id, e.transaction_id)
            outcomes.append(Outcome(e.transaction_id, key in inserted and key not in claimed))
            claimed.add(key)
        results.append(outcomes)
    return results


def ingest(conn: Connection, tenant_id: str, events: list[AcceptedEvent], now: datetime) -> list[Outcome]:
    """Store one batch in the caller's transaction."""
    return store(conn, [Job(tenant_id, events, now)])[0]
