"""Billable metrics through the official SDK in strict mode, on every backend."""

from __future__ import annotations

import metronome
import pytest
from metronome import Metronome


def _create(client: Metronome, name: str, **kw: object) -> str:
    args: dict[str, object] = {
        "name": name,
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "event_type_filter": {"in_values": ["completion"]},
        "property_filters": [{"name": "tokens", "exists": True}, {"name": "model", "exists": True}],
        "group_keys": [["model"]],
    }
    args.update(kw)
    return client.v1.billable_metrics.create(**args).data.id  # type: ignore[arg-type]


def test_create_read_back(client: Metronome, uid: str) -> None:
    metric_id = _create(client, f"tokens-{uid}")
    got = client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data
    assert got.id == metric_id
    assert got.name == f"tokens-{uid}"
    assert got.aggregation_type == "SUM"
    assert got.aggregation_key == "tokens"
    assert got.group_keys == [["model"]]
    assert got.event_type_filter is not None
    assert got.event_type_filter.in_values == ["completion"]
    assert [f.name for f in got.property_filters or []] == ["tokens", "model"]
    assert got.archived_at is None


def test_update_name_and_archive(client: Metronome, uid: str) -> None:
    metric_id = _create(client, f"m-{uid}")
    client.v1.billable_metrics.update(billable_metric_id=metric_id, name=f"renamed-{uid}")
    assert client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.name == f"renamed-{uid}"
    client.v1.billable_metrics.archive(id=metric_id)
    got = client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data
    assert got.archived_at is not None
    active = {m.id for m in client.v1.billable_metrics.list()}
    assert metric_id not in active
    everything = {m.id for m in client.v1.billable_metrics.list(include_archived=True)}
    assert metric_id in everything


def test_list_pages(client: Metronome, uid: str) -> None:
    ids = [_create(client, f"p{i}-{uid}", aggregation_type="COUNT", aggregation_key=None) for i in range(7)]
    first = client.v1.billable_metrics.list(limit=3)
    assert len(first.data) == 3
    assert first.next_page
    seen = [m.id for m in client.v1.billable_metrics.list(limit=3)]
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)


def test_custom_fields_on_metric(client: Metronome, uid: str) -> None:
    client.v1.custom_fields.add_key(entity="billable_metric", key=f"team-{uid}", enforce_uniqueness=False)
    metric_id = _create(client, f"cf-{uid}", custom_fields={f"team-{uid}": "ml"})
    got = client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data
    assert got.custom_fields == {f"team-{uid}": "ml"}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"aggregation_key": "missing"}, "aggregation key must be one of the property filter names"),
        ({"group_keys": [["region"]]}, "Group key 'region' does not match"),
        ({"aggregation_type": "MAX", "aggregation_key": None}, "aggregation_key"),
        ({"aggregation_type": "AVG"}, "aggregation_type"),
        ({"event_type_filter": {"in_values": []}}, "event_type_filter.in_values"),
        ({"name": ""}, "name"),
        ({"sql": "select 1"}, "sql"),
        ({"custom_fields": {"undeclared": "x"}}, "undeclared"),
    ],
)
def test_bad_bodies_are_400_and_store_nothing(
    client: Metronome, uid: str, overrides: dict[str, object], fragment: str
) -> None:
    name = f"bad-{uid}"
    args = {k: v for k, v in overrides.items() if v is not None}
    drop = [k for k, v in overrides.items() if v is None]
    base: dict[str, object] = {
        "name": name,
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "property_filters": [{"name": "tokens", "exists": True}, {"name": "model", "exists": True}],
    }
    base.update(args)
    for k in drop:
        base.pop(k, None)
    with pytest.raises(metronome.BadRequestError) as exc:
        client.v1.billable_metrics.create(**base)  # type: ignore[arg-type]
    assert fragment in exc.value.body["message"]  # type: ignore[index]
    names = {m.name for m in client.v1.billable_metrics.list(include_archived=True)}
    assert name not in names


def test_other_tenant_sees_nothing(client: Metronome, intruder: Metronome, uid: str) -> None:
    metric_id = _create(client, f"iso-{uid}")
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.billable_metrics.retrieve(billable_metric_id=metric_id)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.billable_metrics.archive(id=metric_id)
    assert metric_id not in {m.id for m in intruder.v1.billable_metrics.list(include_archived=True)}
