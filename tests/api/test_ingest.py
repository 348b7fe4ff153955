"""POST /v1/ingest over HTTP and through the SDK, on every backend: validation, exact dedup, concurrency."""

from __future__ import annotations

import gzip
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from metronome import Metronome

from tests.conftest import Running


def _ts(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(tid: str, **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "transaction_id": tid,
        "customer_id": "cust-1",
        "event_type": "api_call",
        "timestamp": _ts(-timedelta(hours=1)),
        "properties": {"tokens": "12", "region": "eu"},
    }
    e.update(kw)
    return e


def _statuses(r: httpx.Response) -> list[tuple[str, str]]:
    assert r.status_code == 200, r.text
    return [(d["transaction_id"], d["status"]) for d in r.json()["data"]]


def test_sdk_ingest_and_dedup(client: Metronome, http: httpx.Client, uid: str) -> None:
    events = [_event(f"sdk-{uid}-{i}", properties={"n": i, "f": "0.1"}) for i in range(3)]
    assert client.v1.usage.ingest(usage=events) is None  # type: ignore[arg-type,func-returns-value]
    client.v1.usage.ingest(usage=events)  # type: ignore[arg-type]  # a retry is harmless
    again = _statuses(http.post("/v1/ingest", json=events))
    assert again == [(e["transaction_id"], "duplicate") for e in events]


def test_per_event_statuses(http: httpx.Client, uid: str) -> None:
    first = _statuses(http.post("/v1/ingest", json=[_event(f"s-{uid}-a"), _event(f"s-{uid}-b")]))
    assert first == [(f"s-{uid}-a", "accepted"), (f"s-{uid}-b", "accepted")]
    # Later payload differs: first accepted wins. Repeats inside one batch: the first occurrence wins.
    batch = [
        _event(f"s-{uid}-a", properties={"tokens": "999"}),
        _event(f"s-{uid}-c"),
        _event(f"s-{uid}-c", properties={"tokens": "1"}),
        _event(f"s-{uid}-d"),
    ]
    assert _statuses(http.post("/v1/ingest", json=batch)) == [
        (f"s-{uid}-a", "duplicate"),
        (f"s-{uid}-c", "accepted"),
        (f"s-{uid}-c", "duplicate"),
        (f"s-{uid}-d", "accepted"),
    ]


def test_transaction_ids_are_per_tenant(server: Running, http: httpx.Client, uid: str) -> None:
    assert _statuses(http.post("/v1/ingest", json=[_event(f"t-{uid}")]))[0][1] == "accepted"
    with server.http(server.token_b) as other:
        assert _statuses(other.post("/v1/ingest", json=[_event(f"t-{uid}")]))[0][1] == "accepted"


def test_accepted_values(http: httpx.Client, uid: str) -> None:
    props = {
        "s": "1_000",  # a numeric-looking string is kept as a string (metering decides)
        "d": 0.1,
        "big": 12345678901234567890,
        "neg": -3.25e-5,
        "b": True,
        "none": None,
        "nested": {"a": [1, "x", {"b": 2.5}]},
        "unicode": "héllo ✓ 𝄞",
    }
    batch = [
        _event(f"ok-{uid}-1", properties=props),
        _event(f"ok-{uid}-2", properties={}),
        {k: v for k, v in _event(f"ok-{uid}-3").items() if k != "properties"},
        _event(f"ok-{uid}-4", properties=None),
        _event(f"ok-{uid}-5", timestamp=_ts(timedelta(hours=23))),
        _event(f"ok-{uid}-6", timestamp="2024-02-29T12:00:00.123456+05:30"),
        _event(f"ok-{uid}-7", timestamp="2024-01-01T00:00:00.000"),  # naive: UTC
        _event(f"ok-{uid}-8", transaction_id="x" * 255),
    ]
    batch[7]["transaction_id"] = f"{uid}".ljust(255, "x")
    statuses = _statuses(http.post("/v1/ingest", json=batch))
    assert [s for _, s in statuses] == ["accepted"] * 8


def test_gzip_body(http: httpx.Client, uid: str) -> None:
    raw = json.dumps([_event(f"gz-{uid}-{i}") for i in range(100)]).encode()
    r = http.post("/v1/ingest", content=gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    assert [s for _, s in _statuses(r)] == ["accepted"] * 100


def _canary(uid: str, case: str) -> dict[str, Any]:
    return _event(f"canary-{uid}-{case}")


def _bad_cases(uid: str) -> list[tuple[str, bytes | Any, str]]:
    """(case, body, message fragment). Bodies are JSON values, or raw bytes where JSON can't say it."""

    def raw_batch(case: str, bad_event_json: str) -> bytes:
        return b"[" + json.dumps(_canary(uid, case)).encode() + b"," + bad_event_json.encode() + b"]"

    ok = _event("x")
    base = json.dumps({k: v for k, v in ok.items() if k != "properties"})[:-1]

    def with_(case: str, **kw: Any) -> list[dict[str, Any]]:
        return [_canary(uid, case), _event(f"bad-{uid}-{case}", **kw)]

    def without(case: str, field: str) -> list[dict[str, Any]]:
        bad = _event(f"bad-{uid}-{case}")
        bad.pop(field)
        return [_canary(uid, case), bad]

    return [
        ("nan", raw_batch("nan", base + ', "properties": {"v": NaN}}'), "JSON"),
        ("inf", raw_batch("inf", base + ', "properties": {"v": Infinity}}'), "JSON"),
        ("neginf", raw_batch("neginf", base + ', "properties": {"v": -Infinity}}'), "JSON"),
        ("1e309", raw_batch("1e309", base + ', "properties": {"v": 1e309}}'), "usage[1].properties.v"),
        ("tiny", raw_batch("tiny", base + ', "properties": {"v": 1e-400}}'), "usage[1].properties.v"),
        ("hugeint", raw_batch("hugeint", base + ', "properties": {"v": ' + "9" * 60 + "}}"), "usage[1]"),
        ("ts_underscore", with_("ts_underscore", timestamp="1_000"), "usage[1].timestamp"),
        ("ts_feb30", with_("ts_feb30", timestamp="2024-02-30T00:00:00Z"), "usage[1].timestamp"),
        ("ts_24h", with_("ts_24h", timestamp="2024-01-01T24:00:00Z"), "usage[1].timestamp"),
        ("ts_year10000", with_("ts_year10000", timestamp="10000-01-01T00:00:00Z"), "usage[1].timestamp"),
        ("ts_2digit", with_("ts_2digit", timestamp="24-01-01T00:00:00Z"), "usage[1].timestamp"),
        ("ts_date_only", with_("ts_date_only", timestamp="2024-01-01"), "usage[1].timestamp"),
        ("ts_future", with_("ts_future", timestamp=_ts(timedelta(hours=24, minutes=5))), "24 hours"),
        ("ts_number", with_("ts_number", timestamp=1700000000), "usage[1].timestamp"),
        ("ts_offset", with_("ts_offset", timestamp="2024-01-01T00:00:00+25:00"), "usage[1].timestamp"),
        ("ts_ancient", with_("ts_ancient", timestamp="0001-01-01T00:00:00Z"), "usage[1].timestamp"),
        ("nul_tid", with_("nul_tid", transaction_id=f"a\x00{uid}"), "usage[1].transaction_id"),
        ("nul_cust", with_("nul_cust", customer_id="c\x00"), "usage[1].customer_id"),
        ("nul_type", with_("nul_type", event_type="t\x00"), "usage[1].event_type"),
        ("nul_value", with_("nul_value", properties={"k": "v\x00"}), "usage[1].properties.k"),
        ("nul_key", with_("nul_key", properties={"k\x00": "v"}), "usage[1].properties"),
        ("nul_nested", with_("nul_nested", properties={"k": ["a", "\x00"]}), "usage[1].properties.k[1]"),
        ("no_tid", without("no_tid", "transaction_id"), "usage[1].transaction_id"),
        ("no_cust", without("no_cust", "customer_id"), "usage[1].customer_id"),
        ("no_type", without("no_type", "event_type"), "usage[1].event_type"),
        ("no_ts", without("no_ts", "timestamp"), "usage[1].timestamp"),
        ("tid_type", with_("tid_type", transaction_id=5), "usage[1].transaction_id"),
        ("tid_empty", with_("tid_empty", transaction_id=""), "usage[1].transaction_id"),
        ("tid_long", with_("tid_long", transaction_id="t" * 256), "usage[1].transaction_id"),
        ("cust_empty", with_("cust_empty", customer_id=""), "usage[1].customer_id"),
        ("type_long", with_("type_long", event_type="e" * 256), "usage[1].event_type"),
        ("props_list", with_("props_list", properties=[1, 2]), "usage[1].properties"),
        ("props_str", with_("props_str", properties="a=b"), "usage[1].properties"),
        ("unknown_field", with_("unknown_field", colour="red"), "colour"),
        ("not_object", [_canary(uid, "not_object"), 7], "usage[1]"),
        ("too_many", [_canary(uid, "too_many")] + [_event(f"m-{uid}-{i}") for i in range(100)], "100"),
        ("wrapped", {"usage": [_canary(uid, "wrapped")]}, "array"),
        ("scalar", "hello", "array"),
        ("empty_batch", [], "1 to 100"),
        ("bad_json", b"[" + json.dumps(_canary(uid, "bad_json")).encode() + b",", "JSON"),
    ]


def _case_ids() -> list[str]:
    return [c for c, _, _ in _bad_cases("u")]


@pytest.mark.parametrize("case", _case_ids())
def test_bad_input_is_4xx_and_stores_nothing(http: httpx.Client, uid: str, case: str) -> None:
    body, fragment = next((b, f) for c, b, f in _bad_cases(uid) if c == case)
    if isinstance(body, bytes):
        r = http.post("/v1/ingest", content=body, headers={"Content-Type": "application/json"})
    else:
        r = http.post("/v1/ingest", json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["message"], r.json()
    # The valid first event of the rejected batch was not stored: it is accepted now.
    assert _statuses(http.post("/v1/ingest", json=[_canary(uid, case)]))[0][1] == "accepted"


def test_zero_length_body_is_400(http: httpx.Client) -> None:
    r = http.post("/v1/ingest", content=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"]


def test_ten_megabyte_body_is_rejected(http: httpx.Client, uid: str) -> None:
    canary = _canary(uid, "10mb")
    big = [canary, _event(f"big-{uid}", properties={"blob": "x" * (10 * 1024 * 1024)})]
    r = http.post("/v1/ingest", json=big)
    assert r.status_code in (400, 413), r.text
    assert r.json()["message"]
    assert _statuses(http.post("/v1/ingest", json=[canary]))[0][1] == "accepted"


def test_gzip_bomb_is_rejected(http: httpx.Client, uid: str) -> None:
    canary = _canary(uid, "bomb")
    raw = json.dumps([canary, _event(f"bomb-{uid}", properties={"p": "a" * (40 * 1024 * 1024)})]).encode()
    r = http.post("/v1/ingest", content=gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    assert r.status_code in (400, 413), r.text
    assert _statuses(http.post("/v1/ingest", json=[canary]))[0][1] == "accepted"


def test_unauthenticated_ingest_is_401(server: Running, uid: str) -> None:
    r = httpx.post(server.url + "/v1/ingest", json=[_event(f"anon-{uid}")])
    assert r.status_code == 401


def test_duplicate_storm(server: Running, uid: str) -> None:
    """32 concurrent clients send the same 1,000 ids (10 batches, each client in its own order, events
    shuffled): each id is reported accepted exactly once across all responses and stored once."""
    ids = [f"storm-{uid}-{i:04d}" for i in range(1000)]
    batches = [ids[i : i + 100] for i in range(0, 1000, 100)]
    accepted: dict[str, int] = dict.fromkeys(ids, 0)
    duplicate: dict[str, int] = dict.fromkeys(ids, 0)
    lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(32)

    def worker(n: int) -> None:
        rng = random.Random(n)
        order = list(range(len(batches)))
        rng.shuffle(order)
        with server.http() as c:
            start.wait()
            for b in order:
                events = [_event(t, properties={"client": str(n)}) for t in batches[b]]
                rng.shuffle(events)
                r = c.post("/v1/ingest", json=events)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                with lock:
                    for item in r.json()["data"]:
                        target = accepted if item["status"] == "accepted" else duplicate
                        target[item["transaction_id"]] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {t for t, n in accepted.items() if n != 1} == set()
    assert all(duplicate[t] == 31 for t in ids)
    with server.http() as c:
        for chunk in batches:
            r = c.post("/v1/ingest", json=[_event(t) for t in chunk])
            assert {s for _, s in _statuses(r)} == {"duplicate"}
