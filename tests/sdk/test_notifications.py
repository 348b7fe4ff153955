"""Lifecycle notifications (issue 12 §6; Metronome's `v2.notifications.*` and the system notifications of
docs.metronome.com "System notifications" / "Offset notifications"), through the official SDK on both
backends.

- Offset notification configurations: create, get, edit, archive, list (body cursor paging), the system
  notification list and its switches, and the 400/404/409 answers to bad input.
- Lifecycle events reach a loopback receiver with valid signatures exactly once: write-based ones
  (contract.create, commit.create, contract.edit) when the change commits, time-based ones
  (contract.start/end, commit.segment.start/end) and an offset delivery (1 day before contract.end) when
  the test clock passes their moment. Re-firing a moment (a replayed worker pass) sends nothing more.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import metronome
import pytest
from metronome import Metronome
from sqlalchemy import Engine, update

from tally.clock import FixedClock
from tally.db import uow
from tally.models.notifications import lifecycle_schedule
from tally.notifications.lifecycle import fire_due
from tally.webhooks.signing import verify
from tests.conftest import Running
from tests.sdk import test_webhooks as hooks
from tests.sdk.invoice_support import clock_now, iso, set_clock
from tests.sdk.test_webhooks import Receiver, Tenant, _register

# test_webhooks' fixtures: a --test-clock server that may deliver to loopback, its database, a fresh tenant
# per test and a loopback receiver.
hook_server, db, hooks_tenant, receiver = hooks.hook_server, hooks.db, hooks.tenant, hooks.receiver


@pytest.fixture
def tenant(hooks_tenant: Tenant) -> Tenant:
    """test_webhooks' tenant with its system notifications switched back on (Metronome's default)."""
    for system in hooks_tenant.sdk.v2.notifications.system.list().data:
        hooks_tenant.sdk.v2.notifications.offset.edit(policy={"type": system.policy.type}, is_enabled=True)
    return hooks_tenant


LIFECYCLE = ("contract.", "commit.", "credit.")


# ----------------------------------------------------------------------------------- configurations


def test_offset_notification_crud(client: Metronome, uid: str) -> None:
    n = client.v2.notifications
    made = n.offset.create(
        name=f"week before end {uid}",
        policy={"type": "contract.end", "offset": "-P7D"},
        uniqueness_key=f"nk-{uid}",
    ).data
    assert (made.name, made.type, made.policy.type, made.policy.offset) == (
        f"week before end {uid}",
        "OFFSET_LIFECYCLE_EVENT",
        "contract.end",
        "-P7D",
    )
    assert (made.environment_type, made.archived_at) == ("PRODUCTION", None)
    got = n.offset.retrieve(id=made.id).data
    assert got == made

    edited = n.offset.edit(id=made.id, policy={"type": "contract.end", "offset": "-PT12H"}).data
    assert edited.policy.offset == "-PT12H"  # type: ignore[union-attr]
    assert n.offset.retrieve(id=made.id).data.policy.offset == "-PT12H"

    # Paging: the SDK follows the body `cursor` until it is null.
    more = [
        n.offset.create(
            name=f"p{i} {uid}", policy={"type": "commit.segment.start", "offset": f"P{i}D"}
        ).data.id
        for i in range(3)
    ]
    first = n.offset.list(limit=2)
    assert len(first.data) == 2
    assert first.cursor is not None
    listed = [c.id for c in n.offset.list(limit=2)]
    assert {*more, made.id} <= set(listed)
    assert len(listed) == len(set(listed))

    archived = n.offset.archive(id=made.id).data
    assert archived.archived_at is not None
    assert n.offset.archive(id=made.id).data.archived_at == archived.archived_at  # idempotent
    assert made.id not in [c.id for c in n.offset.list()]
    assert made.id in [c.id for c in n.offset.list(archive_filter="ARCHIVED")]
    assert made.id in [c.id for c in n.offset.list(archive_filter="ALL")]

    with pytest.raises(metronome.ConflictError):  # a used uniqueness_key, not retried by the SDK
        n.offset.create(
            name="again", policy={"type": "contract.end", "offset": "-P7D"}, uniqueness_key=f"nk-{uid}"
        )
    with pytest.raises(metronome.NotFoundError):
        n.offset.retrieve(id="00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"name": "x", "policy": {"type": "contract.end", "offset": "7 days"}}, "policy.offset"),
        ({"name": "x", "policy": {"type": "contract.end", "offset": "P"}}, "policy.offset"),
        ({"name": "x", "policy": {"type": "contract.end", "offset": "PT"}}, "policy.offset"),
        ({"name": "x", "policy": {"type": "contract.end", "offset": "P999Y"}}, "policy.offset"),
        ({"name": "x", "policy": {"type": "invoice.finalized", "offset": "P1D"}}, "policy.type"),
        ({"name": "x", "policy": {"type": "contract.create", "offset": "-P1D"}}, "policy.offset"),
        ({"name": "", "policy": {"type": "contract.end", "offset": "P1D"}}, "name"),
    ],
)
def test_offset_create_bad_input(client: Metronome, call: dict[str, Any], message: str) -> None:
    before = [c.id for c in client.v2.notifications.offset.list(archive_filter="ALL")]
    with pytest.raises(metronome.BadRequestError) as e:
        client.v2.notifications.offset.create(**call)
    assert isinstance(e.value.body, dict)
    assert message in e.value.body["message"]
    assert [
        c.id for c in client.v2.notifications.offset.list(archive_filter="ALL")
    ] == before  # nothing written


def test_offset_edit_bad_input(client: Metronome, uid: str) -> None:
    n = client.v2.notifications
    made = n.offset.create(name=f"e {uid}", policy={"type": "contract.start", "offset": "P1D"}).data
    for kwargs, message in [
        ({"id": made.id, "policy": {"type": "contract.end", "offset": "P1D"}}, "policy.type"),
        ({"id": made.id, "policy": {"type": "contract.start", "offset": "soon"}}, "policy.offset"),
        (
            {"id": made.id, "policy": {"type": "contract.start", "offset": "P1D"}, "is_enabled": False},
            "is_enabled",
        ),
        ({"policy": {"type": "contract.start", "offset": "P1D"}}, "id"),
        ({"policy": {"type": "contract.nope"}}, "policy.type"),
    ]:
        with pytest.raises(metronome.BadRequestError) as e:
            n.offset.edit(**kwargs)
        assert isinstance(e.value.body, dict)
        assert message in e.value.body["message"], kwargs
    assert n.offset.retrieve(id=made.id).data.policy.offset == "P1D"
    n.offset.archive(id=made.id)
    with pytest.raises(metronome.BadRequestError):  # an archived configuration is frozen
        n.offset.edit(id=made.id, policy={"type": "contract.start", "offset": "P2D"})


def test_system_notifications(client: Metronome, server: Running, uid: str) -> None:
    # A fresh tenant: switches are per tenant, and every system notification starts on.
    sdk = server.sdk(server.server.token(f"notif-system-{uid}"))
    listed = sdk.v2.notifications.system.list().data
    types = [c.policy.type for c in listed]
    assert len(types) == 15
    assert {"contract.create", "commit.segment.end", "credit.archive"} <= set(types)
    assert all(c.type == "SYSTEM_LIFECYCLE_EVENT" and c.is_enabled for c in listed)
    off = sdk.v2.notifications.offset.edit(policy={"type": "contract.edit"}, is_enabled=False).data
    assert (off.type, off.policy.type, off.is_enabled) == ("SYSTEM_LIFECYCLE_EVENT", "contract.edit", False)  # type: ignore[union-attr]
    after = {c.policy.type: c.is_enabled for c in sdk.v2.notifications.system.list().data}
    assert after["contract.edit"] is False
    assert after["contract.create"] is True
    # Another tenant's switches are its own.
    assert all(c.is_enabled for c in client.v2.notifications.system.list().data)
    sdk.v2.notifications.offset.edit(policy={"type": "contract.edit"}, is_enabled=True)
    assert all(c.is_enabled for c in sdk.v2.notifications.system.list().data)


# ------------------------------------------------------------------------------------------ delivery


def _lifecycle_hits(receiver: Receiver, secret: str, seen: set[str]) -> list[dict[str, Any]]:
    """Every lifecycle envelope received so far, each verified (signature, date) and new (id)."""
    out = []
    for hit in receiver.hits:
        env = hit.envelope
        if not env["type"].startswith(LIFECYCLE) or env["id"] in seen:
            continue
        out.append(verify([secret], hit.headers, hit.body, hit.date, seen))
    return out


def _types(envs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["type"] for e in envs)


def test_lifecycle_events_delivered_once(
    hook_server: Running, tenant: Tenant, receiver: Receiver, db: Engine, uid: str
) -> None:
    http = hook_server.http()
    _webhook_id, secret = _register(tenant, receiver.url)
    sdk = tenant.sdk
    t = clock_now(http).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    day = timedelta(days=1)
    start, mid, end = t + day, t + 2 * day, t + 3 * day
    offset = sdk.v2.notifications.offset.create(
        name=f"day before end {uid}", policy={"type": "contract.end", "offset": "-P1D"}
    ).data

    fixed = sdk.v1.contracts.products.create(name=f"Fixed {uid}", type="FIXED").data.id
    card = sdk.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    customer = sdk.v1.customers.create(name=f"Notified {uid}").data.id
    contract = sdk.v1.contracts.create(
        customer_id=customer,
        starting_at=start,
        ending_before=end,
        rate_card_id=card,
        commits=[
            {
                "type": "PREPAID",
                "product_id": fixed,
                "name": "two segments",
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 100, "starting_at": iso(start), "ending_before": iso(mid)},
                        {"amount": 100, "starting_at": iso(mid), "ending_before": iso(end)},
                    ]
                },
            }
        ],
    ).data.id
    commit = sdk.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data.commits[0]
    segs = [s.id for s in commit.access_schedule.schedule_items]  # type: ignore[union-attr]
    seen: set[str] = set()

    # Write-based events go out on the next pass, before any lifecycle moment has come.
    set_clock(http, t)
    got = _lifecycle_hits(receiver, secret, seen)
    assert _types(got) == Counter({"contract.create": 1, "commit.create": 1})
    created = next(e for e in got if e["type"] == "contract.create")
    assert set(created) == {
        "id", "type", "timestamp", "environment_type", "contract_id", "contract_custom_fields",
        "customer_id", "customer_custom_fields",
    }  # fmt: skip
    assert (created["contract_id"], created["customer_id"], created["environment_type"]) == (
        contract,
        customer,
        "PRODUCTION",
    )
    assert "properties" not in created  # Metronome's lifecycle payloads are flat
    assert next(e for e in got if e["type"] == "commit.create")["commit_id"] == commit.id

    # Start: contract.start and the first segment's start, stamped with their own moment.
    set_clock(http, start)
    got = _lifecycle_hits(receiver, secret, seen)
    assert _types(got) == Counter({"contract.start": 1, "commit.segment.start": 1})
    seg1 = next(e for e in got if e["type"] == "commit.segment.start")
    assert (seg1["segment_id"], seg1["segment_number"], seg1["total_segments"]) == (segs[0], 1, 2)
    assert all(e["timestamp"] == iso(start) for e in got)

    # mid = end - 1 day: segment 1 ends, segment 2 starts, and the offset fires for contract.end. Its
    # timestamp is the source event's (end), not the firing time (Metronome's offset payload).
    set_clock(http, mid)
    got = _lifecycle_hits(receiver, secret, seen)
    assert _types(got) == Counter({"commit.segment.end": 1, "commit.segment.start": 1, "contract.end": 1})
    fired = next(e for e in got if e["type"] == "contract.end")
    assert (fired["offset_id"], fired["offset_duration"], fired["timestamp"]) == (offset.id, "-P1D", iso(end))
    seg2 = next(e for e in got if e["type"] == "commit.segment.start")
    assert (seg2["segment_id"], seg2["segment_number"]) == (segs[1], 2)

    set_clock(http, end)
    got = _lifecycle_hits(receiver, secret, seen)
    assert _types(got) == Counter({"commit.segment.end": 1, "contract.end": 1})
    assert all("offset_id" not in e for e in got)

    # A replayed firing (a worker that crashed after staging, a second worker) sends nothing more: the
    # outbox refuses a second event with the same idempotency key.
    with uow.write(db) as conn:
        conn.execute(
            update(lifecycle_schedule)
            .where(lifecycle_schedule.c.contract_id == contract)
            .values(fired_at=None)
        )
    assert fire_due(db, FixedClock(end)) == 0
    set_clock(http, end + day)
    assert _lifecycle_hits(receiver, secret, seen) == []
    total = Counter(h.envelope["type"] for h in receiver.hits if h.envelope["type"].startswith(LIFECYCLE))
    # 2 + 2 + 3 + 2 lifecycle envelopes in all, each once (all 200s, so no retries).
    assert sum(total.values()) == 9
    assert len({h.envelope["id"] for h in receiver.hits}) == len(receiver.hits)


def test_edit_and_switches(hook_server: Running, tenant: Tenant, receiver: Receiver, uid: str) -> None:
    """An end-date edit moves contract.end (the old moment never fires); a switched-off system
    notification is not sent, while an offset on it still is."""
    http = hook_server.http()
    _webhook_id, secret = _register(tenant, receiver.url)
    sdk = tenant.sdk
    t = clock_now(http).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    day = timedelta(days=1)
    sdk.v2.notifications.offset.edit(policy={"type": "contract.start"}, is_enabled=False)
    after_start = sdk.v2.notifications.offset.create(
        name=f"after start {uid}", policy={"type": "contract.start", "offset": "PT1H"}
    ).data
    card = sdk.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    customer = sdk.v1.customers.create(name=f"Edited {uid}").data.id
    contract = sdk.v1.contracts.create(
        customer_id=customer, starting_at=t + day, ending_before=t + 2 * day, rate_card_id=card
    ).data.id
    sdk.v1.contracts.update_end_date(customer_id=customer, contract_id=contract, ending_before=t + 3 * day)
    seen: set[str] = set()
    set_clock(http, t)
    assert _types(_lifecycle_hits(receiver, secret, seen)) == Counter(
        {"contract.create": 1, "contract.edit": 1}
    )
    set_clock(http, t + day + timedelta(hours=1))
    got = _lifecycle_hits(receiver, secret, seen)
    assert _types(got) == Counter({"contract.start": 1})  # only the offset delivery: the system one is off
    assert got[0]["offset_id"] == after_start.id
    assert got[0]["timestamp"] == iso(t + day)
    set_clock(http, t + 2 * day)
    assert _lifecycle_hits(receiver, secret, seen) == []  # the old end moved away
    set_clock(http, t + 3 * day)
    got = _lifecycle_hits(receiver, secret, seen)
    assert _types(got) == Counter({"contract.end": 1})
    assert got[0]["timestamp"] == iso(t + 3 * day)
    sdk.v2.notifications.offset.edit(policy={"type": "contract.start"}, is_enabled=True)
