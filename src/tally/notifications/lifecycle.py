"""Contract, commit and credit lifecycle events through the webhook outbox (Metronome's system and offset
notifications).

- Write-based events (contract.create/edit/archive, commit.* and credit.* create/edit/archive) are staged in
  the transaction of the change (`contract_changed`, `balance_changed`): a rolled-back change notifies no
  one. An offset on one of them is a schedule row due at (change time + offset).
- Time-based events (contract.start/end, *.segment.start/end) and their offsets are rows of
  `lifecycle_schedule`, recomputed in the transaction of every change to the object (`reschedule_*`) and
  sent by the worker when the clock reaches `fire_at` (`fire_due`), under the test clock too.
- Only moments at or after the change are scheduled: like Metronome, nothing fires retroactively for a
  moment already in the past when the object or the offset configuration is written.
- Exactly once: every staged event carries an idempotency key (event type, object, moment, offset) that is
  unique in `webhook_events`; a schedule row is marked fired in the same transaction that stages it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, select, update

from tally.clock import Clock
from tally.custom_fields import service as custom_fields
from tally.db import uow
from tally.db.upsert import insert_ignore
from tally.ids import new_id
from tally.models.contracts import balances, contract_edits, contracts
from tally.models.notifications import lifecycle_schedule as ls
from tally.models.notifications import notification_configs as nc
from tally.models.notifications import system_notification_settings as sns
from tally.notifications import durations
from tally.notifications.events import ENVIRONMENT, TIME_BASED
from tally.webhooks import outbox
from tally.wire import format_timestamp, parse_timestamp

FIRE_BATCH = 200
# Custom-field entity of a balance kind, and its event family.
FAMILY = {"PREPAID": "commit", "POSTPAID": "commit", "CREDIT": "credit"}


@dataclass(frozen=True)
class OffsetConfig:
    id: str
    event_type: str
    offset: durations.Offset


@dataclass
class Moment:
    """One lifecycle event of one object: when it happens and what its envelope says."""

    event_type: str
    at: datetime
    entity: str  # the key part naming the object (and segment)
    payload: dict[str, Any]
    contract_id: str | None
    balance_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def moment_key(event_type: str, entity: str, at: datetime, offset_id: str | None) -> str:
    """The outbox idempotency key of one delivery: the same event of the same object at the same moment
    (for the same offset) is one event, however often it is scheduled or fired."""
    key = f"{event_type}:{entity}:{format_timestamp(at)}"
    return key if offset_id is None else f"{key}:{offset_id}"


# ------------------------------------------------------------------------------------------ settings


def offsets(conn: Connection, tenant_id: str) -> dict[str, list[OffsetConfig]]:
    """The tenant's active offset configurations by event type."""
    rows = conn.execute(
        select(nc.c.id, nc.c.event_type, nc.c.offset)
        .where(nc.c.tenant_id == tenant_id, nc.c.archived_at.is_(None))
        .order_by(nc.c.id)
    )
    out: dict[str, list[OffsetConfig]] = defaultdict(list)
    for r in rows:
        out[r.event_type].append(OffsetConfig(r.id, r.event_type, durations.parse(r.offset)))
    return out


def disabled(conn: Connection, tenant_id: str) -> set[str]:
    """System notifications the tenant switched off (all are on until switched off)."""
    q = select(sns.c.event_type).where(sns.c.tenant_id == tenant_id, sns.c.is_enabled.is_(False))
    return set(conn.execute(q).scalars())


# ----------------------------------------------------------------------------------- write events


def contract_changed(conn: Connection, tenant_id: str, contract_id: str, kind: str, now: datetime) -> None:
    """Called right after a `contract_edits` row is written: stage contract.create / edit / archive and the
    commit/credit create / edit / archive its snapshot shows against the previous one, then reschedule
    the contract's time-based moments."""
    snaps = conn.execute(
        select(contract_edits.c.id, contract_edits.c.snapshot)
        .where(contract_edits.c.tenant_id == tenant_id, contract_edits.c.contract_id == contract_id)
        .order_by(contract_edits.c.seq.desc())
        .limit(2)
    ).all()
    contract_row = conn.execute(
        select(contracts).where(contracts.c.tenant_id == tenant_id, contracts.c.id == contract_id)
    ).one()
    edit_id = snaps[0].id
    current = snaps[0].snapshot
    previous = snaps[1].snapshot if len(snaps) > 1 else None
    base = {"contract_id": contract_id, "customer_id": contract_row.customer_id}
    event = {"CREATE": "contract.create", "ARCHIVE": "contract.archive"}.get(kind, "contract.edit")
    staged = _Staging(conn, tenant_id, now)
    staged.write_event(event, f"contract/{contract_id}/{edit_id}", base, contract_id, None)
    before = {b["id"]: b for b in (previous or {}).get("balances", [])}
    for b in current.get("balances", []):
        fam = FAMILY[b["kind"]]
        old = before.get(b["id"])
        if old is None:
            action = "create"
        elif b.get("archived_at") and not old.get("archived_at"):
            action = "archive"
        elif b["doc"] != old["doc"]:
            action = "edit"
        else:
            continue
        payload = {**base, f"{fam}_id": b["id"]}
        staged.write_event(f"{fam}.{action}", f"{fam}/{b['id']}/{edit_id}", payload, contract_id, b["id"])
    reschedule_contract(conn, tenant_id, contract_row, now, staged.offsets)


def balance_changed(conn: Connection, tenant_id: str, balance_id: str, action: str, now: datetime) -> None:
    """A customer-level commit or credit was created, edited or archived (contract-level ones go through
    `contract_changed`)."""
    row = conn.execute(
        select(balances).where(balances.c.tenant_id == tenant_id, balances.c.id == balance_id)
    ).one()
    fam = FAMILY[row.kind]
    staged = _Staging(conn, tenant_id, now)
    payload = {"customer_id": row.customer_id, f"{fam}_id": row.id}
    staged.write_event(f"{fam}.{action}", f"{fam}/{row.id}/{new_id()}", payload, None, row.id)
    reschedule_balance(conn, tenant_id, row, now, staged.offsets)


class _Staging:
    def __init__(self, conn: Connection, tenant_id: str, now: datetime) -> None:
        self.conn, self.tenant_id, self.now = conn, tenant_id, now
        self.offsets = offsets(conn, tenant_id)
        self.disabled = disabled(conn, tenant_id)

    def write_event(
        self,
        event_type: str,
        entity: str,
        payload: dict[str, Any],
        contract_id: str | None,
        balance_id: str | None,
    ) -> None:
        m = Moment(event_type, self.now, entity, payload, contract_id, balance_id)
        if event_type not in self.disabled:
            body = envelope(self.conn, self.tenant_id, m.event_type, m.at, m.payload, None)
            outbox.enqueue_once(
                self.conn,
                self.tenant_id,
                event_type,
                body,
                self.now,
                moment_key(event_type, entity, m.at, None),
            )
        for cfg in self.offsets.get(event_type, []):
            _schedule(self.conn, self.tenant_id, m, cfg, self.now)


# --------------------------------------------------------------------------------- time-based moments


def _segments(fam: str, row: Any, base: dict[str, Any]) -> list[Moment]:
    items = sorted(
        row.doc.get("access_schedule", {}).get("schedule_items", []),
        key=lambda s: (s["starting_at"], s["id"]),
    )
    out = []
    for n, s in enumerate(items, start=1):
        payload = {
            **base,
            f"{fam}_id": row.id,
            "segment_id": s["id"],
            "segment_number": n,
            "total_segments": len(items),
        }
        entity = f"{fam}/{row.id}/{s['id']}"
        for edge, at in (("start", s["starting_at"]), ("end", s["ending_before"])):
            moment = parse_timestamp(at, "segment")
            out.append(
                Moment(f"{fam}.segment.{edge}", moment, entity, payload, base.get("contract_id"), row.id)
            )
    return out


def contract_moments(contract_row: Any, rows: Iterable[Any]) -> list[Moment]:
    base = {"contract_id": contract_row.id, "customer_id": contract_row.customer_id}
    out = [
        Moment(
            "contract.start", contract_row.starting_at, f"contract/{contract_row.id}", base, contract_row.id
        )
    ]
    if contract_row.ending_before is not None:
        out.append(
            Moment(
                "contract.end",
                contract_row.ending_before,
                f"contract/{contract_row.id}",
                base,
                contract_row.id,
            )
        )
    for b in rows:
        if b.archived_at is None:
            out.extend(_segments(FAMILY[b.kind], b, base))
    return out


def reschedule_contract(
    conn: Connection,
    tenant_id: str,
    contract_row: Any,
    now: datetime,
    configs: dict[str, list[OffsetConfig]] | None = None,
) -> None:
    """Replace the contract's unfired time-based schedule by what its current state implies."""
    scope = (ls.c.tenant_id == tenant_id) & (ls.c.contract_id == contract_row.id)
    conn.execute(delete(ls).where(scope, ls.c.fired_at.is_(None), ls.c.event_type.in_(TIME_BASED)))
    if contract_row.archived_at is not None:
        return
    rows = conn.execute(
        select(balances).where(balances.c.tenant_id == tenant_id, balances.c.contract_id == contract_row.id)
    ).all()
    configs = offsets(conn, tenant_id) if configs is None else configs
    for m in contract_moments(contract_row, rows):
        _schedule_all(conn, tenant_id, m, configs, now)


def reschedule_balance(
    conn: Connection,
    tenant_id: str,
    row: Any,
    now: datetime,
    configs: dict[str, list[OffsetConfig]] | None = None,
) -> None:
    """The same for a customer-level commit or credit."""
    scope = (ls.c.tenant_id == tenant_id) & (ls.c.balance_id == row.id) & ls.c.contract_id.is_(None)
    conn.execute(delete(ls).where(scope, ls.c.fired_at.is_(None), ls.c.event_type.in_(TIME_BASED)))
    if row.archived_at is not None:
        return
    configs = offsets(conn, tenant_id) if configs is None else configs
    for m in _segments(FAMILY[row.kind], row, {"customer_id": row.customer_id}):
        _schedule_all(conn, tenant_id, m, configs, now)


def reschedule_tenant(conn: Connection, tenant_id: str, now: datetime) -> None:
    """After an offset configuration is created or edited: every live object's moments, so the new offset
    fires for moments still ahead (never for ones already past)."""
    configs = offsets(conn, tenant_id)
    live = conn.execute(
        select(contracts).where(contracts.c.tenant_id == tenant_id, contracts.c.archived_at.is_(None))
    ).all()
    for contract_row in live:
        reschedule_contract(conn, tenant_id, contract_row, now, configs)
    loose = conn.execute(
        select(balances).where(
            balances.c.tenant_id == tenant_id,
            balances.c.contract_id.is_(None),
            balances.c.archived_at.is_(None),
        )
    ).all()
    for row in loose:
        reschedule_balance(conn, tenant_id, row, now, configs)


def _schedule_all(
    conn: Connection, tenant_id: str, m: Moment, configs: dict[str, list[OffsetConfig]], now: datetime
) -> None:
    _schedule(conn, tenant_id, m, None, now)
    for cfg in configs.get(m.event_type, []):
        _schedule(conn, tenant_id, m, cfg, now)


def _schedule(conn: Connection, tenant_id: str, m: Moment, cfg: OffsetConfig | None, now: datetime) -> None:
    fire_at = m.at if cfg is None else cfg.offset.apply(m.at)
    if fire_at < now:
        return  # never retroactive
    payload = dict(m.payload)
    if cfg is not None:
        payload |= {"offset_id": cfg.id, "offset_duration": cfg.offset.text}
    insert_ignore(
        conn,
        ls,
        {
            "id": new_id(),
            "tenant_id": tenant_id,
            "contract_id": m.contract_id,
            "balance_id": m.balance_id,
            "key": moment_key(m.event_type, m.entity, m.at, None if cfg is None else cfg.id),
            "event_type": m.event_type,
            "offset_id": None if cfg is None else cfg.id,
            "moment": m.at,
            "fire_at": fire_at,
            "payload": payload,
            "fired_at": None,
        },
    )


def drop_offset(conn: Connection, tenant_id: str, offset_id: str) -> None:
    """An archived or edited offset configuration sends nothing more on its old policy."""
    conn.execute(
        delete(ls).where(ls.c.tenant_id == tenant_id, ls.c.offset_id == offset_id, ls.c.fired_at.is_(None))
    )


# ---------------------------------------------------------------------------------------- envelope


def envelope(
    conn: Connection,
    tenant_id: str,
    event_type: str,
    at: datetime,
    payload: dict[str, Any],
    fields: dict[str, dict[str, dict[str, str]]] | None,
) -> dict[str, Any]:
    """The event's top-level fields (the outbox adds `id` and `type`): Metronome's order, with the
    contract's and customer's custom fields as they are when it is sent."""
    fields = fields if fields is not None else _custom_fields(conn, tenant_id, [payload])
    body: dict[str, Any] = {"timestamp": at, "environment_type": ENVIRONMENT}
    if "contract_id" in payload:
        body["contract_id"] = payload["contract_id"]
        body["contract_custom_fields"] = fields["contract"].get(payload["contract_id"], {})
    body["customer_id"] = payload["customer_id"]
    body["customer_custom_fields"] = fields["customer"].get(payload["customer_id"], {})
    for k, v in payload.items():
        body.setdefault(k, v)
    return body


def _custom_fields(
    conn: Connection, tenant_id: str, payloads: list[dict[str, Any]]
) -> dict[str, dict[str, dict[str, str]]]:
    contract_ids = {p["contract_id"] for p in payloads if "contract_id" in p}
    customer_ids = {p["customer_id"] for p in payloads}
    return {
        "contract": custom_fields.values_for(conn, tenant_id, "contract", sorted(contract_ids)),
        "customer": custom_fields.values_for(conn, tenant_id, "customer", sorted(customer_ids)),
    }


# ------------------------------------------------------------------------------------------ worker


def fire_due(engine: Engine, clock: Clock, batch: int = FIRE_BATCH) -> int:
    """Send every scheduled moment whose time has come, `batch` per transaction; returns how many were
    staged. A row is marked fired in the transaction that stages its event, and the event's idempotency
    key is unique, so a crash, a restart or two workers never send one twice."""
    staged = 0
    while True:
        with uow.write(engine) as conn:
            now = clock.now()
            rows = conn.execute(
                select(ls)
                .where(ls.c.fired_at.is_(None), ls.c.fire_at <= now)
                .order_by(ls.c.fire_at, ls.c.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            staged += _fire(conn, rows, now)
        if len(rows) < batch:
            return staged


def _fire(conn: Connection, rows: Sequence[Row[Any]], now: datetime) -> int:
    by_tenant: dict[str, list[Row[Any]]] = defaultdict(list)
    for r in rows:
        by_tenant[r.tenant_id].append(r)
    staged = 0
    for tenant_id, mine in sorted(by_tenant.items()):
        off = disabled(conn, tenant_id)
        fields = _custom_fields(conn, tenant_id, [r.payload for r in mine])
        for r in mine:
            if r.offset_id is not None or r.event_type not in off:
                body = envelope(conn, tenant_id, r.event_type, r.moment, r.payload, fields)
                if outbox.enqueue_once(conn, tenant_id, r.event_type, body, now, r.key) is not None:
                    staged += 1
        conn.execute(update(ls).where(ls.c.id.in_([r.id for r in mine])).values(fired_at=now))
    return staged
