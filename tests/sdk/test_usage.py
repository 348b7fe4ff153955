"""Metering and the usage query APIs through the official SDK in strict mode, on every backend.

Events are ingested with `/v1/ingest` and read back through `/v1/usage`, `/v1/usage/groups` and
`/v1/events/search`; expected values come from the pure reference aggregator (tally.metering).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome

from tally.metering import MetricDef, reference_usage

DAY0 = datetime(2025, 3, 1, tzinfo=UTC)
DAY3 = DAY0 + timedelta(days=3)


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Ev:
    """A plain event, shaped like tally's AcceptedEvent, so the reference aggregator can read it."""

    def __init__(self, customer_id: str, event_type: str, ts: datetime, props: dict[str, Any]) -> None:
        self.transaction_id = uuid.uuid4().hex
        self.customer_id = customer_id
        self.event_type = event_type
        self.timestamp = ts
        self.properties = props

    def wire(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "customer_id": self.customer_id,
            "event_type": self.event_type,
            "timestamp": _ts(self.timestamp),
            "properties": self.properties,
        }


def _ingest(client: Metronome, events: list[Ev]) -> None:
    for i in range(0, len(events), 100):
        client.v1.usage.ingest(usage=[e.wire() for e in events[i : i + 100]])  # type: ignore[misc]


def _customer(client: Metronome, uid: str, aliases: list[str] | None = None) -> str:
    return client.v1.customers.create(name=f"cust-{uid}", ingest_aliases=aliases or []).data.id


def _metric(
    client: Metronome,
    uid: str,
    event_type: str,
    agg: str,
    key: str | None = "n",
    group_keys: list[list[str]] | None = None,
    filters: list[dict[str, Any]] | None = None,
) -> tuple[str, MetricDef]:
    props = list(filters or [])
    names = {f["name"] for f in props}
    for name in [key, *[p for g in group_keys or [] for p in g]]:
        if name and name not in names:
            props.append({"name": name})
            names.add(name)
    args: dict[str, Any] = {
        "name": f"{agg.lower()}-{uid}",
        "aggregation_type": agg,
        "event_type_filter": {"in_values": [event_type]},
        "property_filters": props,
    }
    if agg != "COUNT" and key:
        args["aggregation_key"] = key
    if group_keys:
        args["group_keys"] = group_keys
    metric_id = client.v1.billable_metrics.create(**args).data.id
    return metric_id, MetricDef.of(
        metric_id, agg, args.get("aggregation_key"), args["event_type_filter"], props, group_keys or []
    )


def _usage(client: Metronome, customer_id: str, metric_id: str, window: str = "NONE", **kw: Any) -> list[Any]:
    return list(
        client.v1.usage.list(
            starting_on=_ts(kw.pop("start", DAY0)),
            ending_before=_ts(kw.pop("end", DAY3)),
            window_size=window,  # type: ignore[arg-type]
            customer_ids=[customer_id],
            billable_metrics=[{"id": metric_id, **kw}],  # type: ignore[typeddict-item]
        )
    )


def _as_float(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


AGGS = ["COUNT", "SUM", "MAX", "UNIQUE", "LATEST"]


@pytest.mark.parametrize("window", ["NONE", "DAY", "HOUR"])
def test_every_aggregation_matches_reference(client: Metronome, uid: str, window: str) -> None:
    et = f"api-{uid}"
    cust = _customer(client, uid)
    metrics = {agg: _metric(client, f"{uid}-{agg}", et, agg, key="n") for agg in AGGS}
    rng = random.Random(uid)
    values = ["1", "2.5", "0.1", 7, "-3", Decimal("12.75"), "not-a-number", None, True]
    events = []
    for _ in range(250):
        ts = DAY0 + timedelta(seconds=rng.randrange(3 * 86400))
        props: dict[str, Any] = {}
        v = rng.choice(values)
        if v is not None:
            props["n"] = str(v) if isinstance(v, Decimal) else v
        events.append(Ev(cust, rng.choice([et, et, et, "other"]), ts, props))
    _ingest(client, events)
    for agg, (metric_id, definition) in metrics.items():
        got = _usage(client, cust, metric_id, window)
        want = reference_usage(definition, events, DAY0, DAY3, window)
        assert [(g.start_timestamp, g.end_timestamp) for g in got] == [(w.start, w.end) for w in want], agg
        assert [g.value for g in got] == [_as_float(w.value) for w in want], agg
        assert all(
            g.customer_id == cust and g.billable_metric_name == f"{agg.lower()}-{uid}-{agg}" for g in got
        )


def test_group_keys_in_usage_and_usage_groups(client: Metronome, uid: str) -> None:
    et = f"grp-{uid}"
    cust = _customer(client, uid)
    metric_id, definition = _metric(
        client, uid, et, "SUM", key="bytes", group_keys=[["region"], ["region", "tier"]]
    )
    events = [
        Ev(cust, et, DAY0 + timedelta(hours=1), {"bytes": "648", "region": "US-East", "tier": "a"}),
        Ev(cust, et, DAY0 + timedelta(hours=2), {"bytes": "1000", "region": "EU", "tier": "b"}),
        Ev(cust, et, DAY0 + timedelta(days=1), {"bytes": "352", "region": "US-East", "tier": "b"}),
        Ev(cust, et, DAY0 + timedelta(days=1), {"bytes": "5"}),  # no region: null group
    ]
    _ingest(client, events)
    rows = _usage(client, cust, metric_id, "DAY", group_by={"key": "region"})
    assert [r.value for r in rows] == [1648, 357, 0]
    assert rows[0].groups == {"EU": 1000, "US-East": 648}
    assert rows[1].groups == {"EU": None, "US-East": 352}
    chosen = _usage(client, cust, metric_id, "NONE", group_by={"key": "region", "values": ["EU", "APAC"]})
    assert chosen[0].groups == {"EU": 1000, "APAC": None}

    groups = list(
        client.v1.usage.list_with_groups(
            billable_metric_id=metric_id,
            customer_id=cust,
            window_size="NONE",
            starting_on=_ts(DAY0),
            ending_before=_ts(DAY3),
            group_key=["region"],
        )
    )
    assert [(g.group_value, g.value) for g in groups] == [(None, 5), ("EU", 1000), ("US-East", 1000)]
    assert groups[1].group == {"region": "EU"}
    assert groups[1].group_key == "region"
    want = reference_usage(definition, events, DAY0, DAY3, "NONE", group_key=["region"])
    assert [(g.group_value, g.value) for g in groups] == [(w.group[0], float(w.value)) for w in want]  # type: ignore[arg-type,index]

    compound = list(
        client.v1.usage.list_with_groups(
            billable_metric_id=metric_id,
            customer_id=cust,
            window_size="DAY",
            starting_on=_ts(DAY0),
            ending_before=_ts(DAY3),
            group_key=["region", "tier"],
            group_filters={"region": ["US-East"]},
            limit=2,
        )
    )
    # Two groups (US-East/a, US-East/b) x three days, fetched two per page.
    assert [(g.starting_on.day, g.group, g.value) for g in compound] == [
        (1, {"region": "US-East", "tier": "a"}, 648),
        (1, {"region": "US-East", "tier": "b"}, 0),
        (2, {"region": "US-East", "tier": "a"}, 0),
        (2, {"region": "US-East", "tier": "b"}, 352),
        (3, {"region": "US-East", "tier": "a"}, 0),
        (3, {"region": "US-East", "tier": "b"}, 0),
    ]
    first = client.v1.usage.list_with_groups(
        billable_metric_id=metric_id,
        customer_id=cust,
        window_size="DAY",
        starting_on=_ts(DAY0),
        ending_before=_ts(DAY3),
        group_key=["region", "tier"],
        limit=2,
    )
    assert len(first.data) == 2
    assert first.next_page


def test_unique_grouped(client: Metronome, uid: str) -> None:
    et = f"uniq-{uid}"
    cust = _customer(client, uid)
    metric_id, _ = _metric(client, uid, et, "UNIQUE", key="user", group_keys=[["team"]])
    users = [("u1", "a"), ("u2", "a"), ("u1", "b"), ("u1", "a"), ("u3", "b")]
    _ingest(
        client,
        [
            Ev(cust, et, DAY0 + timedelta(hours=i * 13), {"user": u, "team": t})
            for i, (u, t) in enumerate(users)
        ],
    )
    total = _usage(client, cust, metric_id, "NONE", group_by={"key": "team"})
    assert total[0].value == 3  # distinct over the whole range, not a sum of per-group counts
    assert total[0].groups == {"a": 2, "b": 2}
    days = _usage(client, cust, metric_id, "DAY")
    assert [d.value for d in days] == [2, 1, 1]  # hours 0,13 | 26,39 (u1 twice) | 52


def test_usage_list_pagination(client: Metronome, uid: str) -> None:
    et = f"page-{uid}"
    custs = [_customer(client, f"{uid}-{i}") for i in range(3)]
    metric_id, _ = _metric(client, uid, et, "COUNT", key=None)
    _ingest(client, [Ev(c, et, DAY0 + timedelta(days=i), {}) for i, c in enumerate(custs)])
    start, end = DAY0, DAY0 + timedelta(days=400)
    # 400 daily windows per series: two series fit on a page of ~1,000 windows.
    first = client.v1.usage.list(
        starting_on=_ts(start),
        ending_before=_ts(end),
        window_size="DAY",
        customer_ids=custs,
        billable_metrics=[{"id": metric_id}],
    )
    assert first.next_page
    assert len(first.data) == 800
    every = list(
        client.v1.usage.list(
            starting_on=_ts(start),
            ending_before=_ts(end),
            window_size="DAY",
            customer_ids=custs,
            billable_metrics=[{"id": metric_id}],
        )
    )
    assert len(every) == 1200
    assert [r.customer_id for r in every[::400]] == sorted(custs)
    assert sum(r.value or 0 for r in every) == 3
    # Without a customer filter: the customers with usage in the range, paged the same way.
    listed = {
        r.customer_id
        for r in client.v1.usage.list(
            starting_on=_ts(start),
            ending_before=_ts(end),
            window_size="NONE",
            billable_metrics=[{"id": metric_id}],
        )
    }
    assert listed == set(custs)


def test_alias_added_or_moved_later_reattributes_usage(client: Metronome, uid: str) -> None:
    et = f"alias-{uid}"
    alias = f"acct-{uid}"
    first = _customer(client, f"{uid}-a")
    second = _customer(client, f"{uid}-b")
    metric_id, _ = _metric(client, uid, et, "SUM", key="n")
    _ingest(client, [Ev(alias, et, DAY0 + timedelta(hours=i), {"n": "2"}) for i in range(5)])
    _ingest(client, [Ev(first, et, DAY0, {"n": "1"})])
    assert _usage(client, first, metric_id)[0].value == 1
    client.v1.customers.set_ingest_aliases(customer_id=first, ingest_aliases=[alias])
    assert _usage(client, first, metric_id)[0].value == 11
    client.v1.customers.set_ingest_aliases(customer_id=first, ingest_aliases=[])
    client.v1.customers.set_ingest_aliases(customer_id=second, ingest_aliases=[alias])
    assert _usage(client, first, metric_id)[0].value == 1
    assert _usage(client, second, metric_id)[0].value == 10


def test_streaming_metrics_are_not_retroactive(client: Metronome, uid: str) -> None:
    et = f"retro-{uid}"
    cust = _customer(client, uid)
    _ingest(client, [Ev(cust, et, DAY0, {"n": "5"})])
    metric_id, _ = _metric(client, uid, et, "SUM", key="n")
    assert _usage(client, cust, metric_id)[0].value == 0
    _ingest(client, [Ev(cust, et, DAY0, {"n": "7"})])
    assert _usage(client, cust, metric_id)[0].value == 7


def test_archived_metric_keeps_metering(client: Metronome, uid: str) -> None:
    et = f"arch-{uid}"
    cust = _customer(client, uid)
    metric_id, _ = _metric(client, uid, et, "COUNT", key=None)
    client.v1.billable_metrics.archive(id=metric_id)
    _ingest(client, [Ev(cust, et, DAY0, {})])
    assert _usage(client, cust, metric_id)[0].value == 1
    # ...but only explicitly: the default metric list holds non-archived metrics.
    everything = client.v1.usage.list(
        starting_on=_ts(DAY0), ending_before=_ts(DAY3), window_size="NONE", customer_ids=[cust]
    )
    assert metric_id not in {r.billable_metric_id for r in everything}


def test_events_search_reports_first_payload_and_matches(client: Metronome, uid: str) -> None:
    et = f"search-{uid}"
    alias = f"srch-{uid}"
    cust = _customer(client, uid, [alias])
    metric_id, _ = _metric(client, uid, et, "SUM", key="n")
    other_id, _ = _metric(client, f"{uid}-o", f"nope-{uid}", "COUNT", key=None)
    first = Ev(alias, et, DAY0, {"n": "3"})
    dup = Ev(alias, et, DAY0 + timedelta(hours=5), {"n": "999"})
    dup.transaction_id = first.transaction_id
    stray = Ev(f"unknown-{uid}", et, DAY0, {"n": "1"})
    _ingest(client, [first])
    _ingest(client, [dup, stray])
    found = client.v1.usage.search(
        transaction_ids=[first.transaction_id, stray.transaction_id, f"missing-{uid}"]
    )
    assert [f.transaction_id for f in found] == [first.transaction_id, stray.transaction_id]
    hit = found[0]
    assert hit.is_duplicate is False
    assert hit.properties == {"n": "3"}
    assert hit.customer_id == alias
    assert hit.timestamp == DAY0
    assert hit.matched_customer is not None
    assert hit.matched_customer.id == cust
    assert hit.matched_customer.name == f"cust-{uid}"
    matched = {m.id: m for m in hit.matched_billable_metrics or []}
    # Other tests share this tenant; metrics without an event-type filter match every event, so only
    # this test's two metrics are asserted on.
    assert metric_id in matched
    assert other_id not in matched
    assert matched[metric_id].aggregation_type == "SUM"
    assert matched[metric_id].aggregation_key == "n"
    assert found[1].matched_customer is None
    assert _usage(client, cust, metric_id)[0].value == 3


def test_exact_decimal_sums_over_http(client: Metronome, http: httpx.Client, uid: str) -> None:
    et = f"exact-{uid}"
    cust = _customer(client, uid)
    metric_id, _ = _metric(client, uid, et, "SUM", key="n")
    events = [Ev(cust, et, DAY0 + timedelta(minutes=i), {"n": "0.1"}) for i in range(1000)]
    _ingest(client, events)
    # JSON numbers are exact too: 0.1 as a number, not a float.
    raw = (
        '[{"transaction_id":"%s","customer_id":"%s","event_type":"%s","timestamp":"%s",'
        '"properties":{"n":0.1}}]'
    )
    r = http.post(
        "/v1/ingest",
        content=raw % (f"num-{uid}", cust, et, _ts(DAY0)),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200
    resp = http.post(
        "/v1/usage",
        json={
            "starting_on": _ts(DAY0),
            "ending_before": _ts(DAY3),
            "window_size": "none",
            "customer_ids": [cust],
            "billable_metrics": [{"id": metric_id}],
        },
    )
    assert resp.status_code == 200
    body = resp.json(parse_float=Decimal)
    assert body["data"][0]["value"] == Decimal("100.1")
    assert '"value":100.1' in resp.text.replace(" ", "")
    assert body["next_page"] is None


def _bad_usage_cases(cust: str, metric_id: str) -> list[tuple[dict[str, Any], str]]:
    base = {"starting_on": _ts(DAY0), "ending_before": _ts(DAY3), "window_size": "DAY"}
    return [
        ({**base, "window_size": "WEEK"}, "window_size"),
        ({**base, "starting_on": "2025-03-01T01:00:00Z"}, "starting_on"),
        ({**base, "ending_before": "2025-03-02T00:30:00Z"}, "ending_before"),
        ({**base, "ending_before": _ts(DAY0)}, "ending_before"),
        ({**base, "starting_on": "yesterday"}, "starting_on"),
        ({k: v for k, v in base.items() if k != "window_size"}, "window_size"),
        ({**base, "billable_metrics": [{"id": metric_id, "group_by": {"key": "nope"}}]}, "group_by.key"),
        ({**base, "billable_metrics": [{"id": metric_id}, {"id": metric_id}]}, "billable_metrics[1].id"),
        ({**base, "customer_ids": "abc"}, "customer_ids"),
        ({**base, "window_size": "HOUR", "ending_before": "2027-03-01T00:00:00Z"}, "window_size"),
        ({**base, "surprise": 1}, "surprise"),
    ]


def test_bad_usage_requests_are_400(client: Metronome, http: httpx.Client, uid: str) -> None:
    cust = _customer(client, uid)
    metric_id, _ = _metric(client, uid, f"bad-{uid}", "SUM", key="n", group_keys=[["region"]])
    for body, fragment in _bad_usage_cases(cust, metric_id):
        r = http.post("/v1/usage", json=body)
        assert r.status_code == 400, (body, r.text)
        assert fragment in r.json()["message"], (body, r.text)
    r = http.post(
        "/v1/usage?next_page=%%%", json=_bad_usage_cases(cust, metric_id)[0][0] | {"window_size": "DAY"}
    )
    assert r.status_code == 400
    assert "next_page" in r.json()["message"]
    groups_base = {
        "billable_metric_id": metric_id,
        "customer_id": cust,
        "window_size": "DAY",
        "starting_on": _ts(DAY0),
        "ending_before": _ts(DAY3),
    }
    bad_groups: list[tuple[dict[str, Any], str]] = [
        ({**groups_base, "group_key": ["tier"]}, "group_key"),
        ({**groups_base, "group_key": ["region"], "group_by": {"key": "region"}}, "group_by"),
        ({**groups_base, "group_key": ["region"], "group_filters": {"tier": ["x"]}}, "group_filters"),
        (
            {
                **groups_base,
                "group_key": ["region"],
                "group_filters": {"region": [str(i) for i in range(201)]},
            },
            "group_filters",
        ),
        ({k: v for k, v in groups_base.items() if k != "starting_on"}, "starting_on"),
        ({**groups_base, "current_period": True}, "current_period"),
        ({**groups_base, "window_size": "minute"}, "window_size"),
        ({**groups_base, "group_key": []}, "group_key"),
    ]
    for body, fragment in bad_groups:
        r = http.post("/v1/usage/groups", json=body)
        assert r.status_code == 400, (body, r.text)
        assert fragment in r.json()["message"], (body, r.text)
    r = http.post("/v1/usage/groups?limit=101", json=groups_base)
    assert r.status_code == 400
    assert "limit" in r.json()["message"]
    search_cases: list[tuple[dict[str, Any], str]] = [
        ({}, "transactionIds"),
        ({"transactionIds": []}, "transactionIds"),
        ({"transactionIds": [f"t{i}" for i in range(101)]}, "transactionIds"),
        ({"transactionIds": ["a\x00b"]}, "transactionIds"),
        ({"transaction_ids": ["a"]}, "transaction"),
    ]
    for body, fragment in search_cases:
        r = http.post("/v1/events/search", json=body)
        assert r.status_code == 400, (body, r.text)
        assert fragment in r.json()["message"], (body, r.text)


def test_unknown_and_foreign_ids_are_404(client: Metronome, intruder: Metronome, uid: str) -> None:
    et = f"iso-{uid}"
    cust = _customer(client, uid)
    metric_id, _ = _metric(client, uid, et, "COUNT", key=None)
    event = Ev(cust, et, DAY0, {})
    _ingest(client, [event])
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.usage.list(
            starting_on=_ts(DAY0), ending_before=_ts(DAY3), window_size="NONE", customer_ids=[cust]
        )
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.usage.list(
            starting_on=_ts(DAY0),
            ending_before=_ts(DAY3),
            window_size="NONE",
            billable_metrics=[{"id": metric_id}],
        )
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.usage.list_with_groups(
            billable_metric_id=metric_id,
            customer_id=cust,
            window_size="NONE",
            starting_on=_ts(DAY0),
            ending_before=_ts(DAY3),
        )
    assert intruder.v1.usage.search(transaction_ids=[event.transaction_id]) == []
    assert cust not in {
        r.customer_id
        for r in intruder.v1.usage.list(starting_on=_ts(DAY0), ending_before=_ts(DAY3), window_size="NONE")
    }
