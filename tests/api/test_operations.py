"""The operator's view (issue 17): /metrics, /ready, request ids in the JSON access log, on both databases.

Finalization and webhook-delivery counters are checked in tests/sdk/test_webhooks.py, where a server
finalizes invoices and delivers to a receiver.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text

from tally.kit import metrics
from tests.conftest import Running, serving
from tests.support.servers import eventually


def scrape(url: str) -> dict[str, float]:
    """`/metrics` as {'name{labels}': value}."""
    r = httpx.get(url + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def _ingest(running: Running, ids: list[str]) -> list[str]:
    events = [
        {"transaction_id": i, "customer_id": "c-1", "event_type": "op", "timestamp": "2026-01-01T00:00:00Z"}
        for i in ids
    ]
    # A new connection per request, so `--workers N` spreads them over the processes.
    with running.http() as c:
        r = c.post("/v1/ingest", json=events)
    assert r.status_code == 200, r.text
    return [d["status"] for d in r.json()["data"]]


def _counted(m: dict[str, float]) -> tuple[float, float, float]:
    return (
        m.get("tally_events_received_total", 0),
        m.get('tally_events_total{result="accepted"}', 0),
        m.get('tally_events_total{result="duplicate"}', 0),
    )


def test_metrics_merge_every_server_process(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path, "--workers", "2") as running:
        before = _counted(scrape(running.url))
        new = [uuid.uuid4().hex for _ in range(30)]
        for i in range(0, 30, 3):  # 10 requests of 3 new events, then 10 of 3 duplicates
            assert _ingest(running, new[i : i + 3]) == ["accepted"] * 3
        for i in range(0, 30, 3):
            assert _ingest(running, new[i : i + 3]) == ["duplicate"] * 3
        # Whichever process answers the scrape, it reports the sum over both.
        for _ in range(6):
            with httpx.Client() as fresh:
                r = fresh.get(running.url + "/metrics")
            assert r.status_code == 200
            m = scrape(running.url)
            received, accepted, duplicate = (a - b for a, b in zip(_counted(m), before, strict=True))
            assert (received, accepted, duplicate) == (60, 30, 30)
            route = 'tally_http_requests_total{method="POST",route="/v1/ingest",status="200"}'
            assert m[route] == 20
            assert m['tally_http_request_duration_seconds_count{method="POST",route="/v1/ingest"}'] == 20
            assert m["tally_ingest_group_commit_events_sum"] >= 60  # every accepted or duplicate event
        names = {re.sub(r"(_total|_count|_sum|_bucket|_created)?(\{.*)?$", "", k) for k in m}
        # The help text of every metric is served; the worker's series appear once a pass has run.
        assert {"tally_http_requests", "tally_events_received", "tally_events"} <= names


def test_metrics_are_loopback_only_unless_a_token_is_set(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path, env={"TALLY_METRICS_TOKEN": "scrape-secret"}) as running:
        assert httpx.get(running.url + "/metrics").status_code == 401
        wrong = httpx.get(running.url + "/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.get(running.url + "/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200
        assert "tally_http_requests_total" in right.text


def test_every_documented_metric_exists() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for metric in metrics.ALL:
        name = metric._name
        shown = name + "_total" if metric._type == "counter" else name
        assert f"`{shown}`" in doc, name


def test_ready_checks_the_schema_and_the_database(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path) as running:
        r = httpx.get(running.url + "/ready")
        assert (r.status_code, r.json()["status"]) == (200, "ready")
        engine = running.server.engine()
        try:
            with engine.begin() as conn:
                head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                conn.execute(text("UPDATE alembic_version SET version_num = '0011'"))
            r = httpx.get(running.url + "/ready")
            assert r.status_code == 503
            assert "0011" in r.json()["message"]
            assert "tally migrate" in r.json()["message"]
            with engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            assert httpx.get(running.url + "/ready").status_code == 200
        finally:
            engine.dispose()
        if backend == "postgres":
            # The database goes away under the running server: /ready says so, /health stays live.
            url = running.server.env["TALLY_DATABASE_URL"]
            admin = url.rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            r = httpx.get(running.url + "/ready", timeout=30)
            assert r.status_code == 503
            assert r.json()["message"].startswith("database unavailable")
            assert httpx.get(running.url + "/health").status_code == 200


def test_request_id_round_trips_into_the_json_access_log(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path) as running:
        token = running.token_a
        mine = f"req-{uuid.uuid4().hex}"
        with running.http() as c:
            r = c.get("/v1/credit-types/list", headers={"X-Request-Id": mine})
            assert r.headers["x-request-id"] == mine
            made = c.get("/v1/credit-types/list").headers["x-request-id"]
            refused = c.get("/v1/credit-types/list", headers={"X-Request-Id": "bad id\twith spaces"})
            assert re.fullmatch(r"[0-9a-f]{32}", made)
            assert refused.headers["x-request-id"] != "bad id\twith spaces"
            assert c.get("/v1/nothing-here").headers["x-request-id"]
        log_path = running.server.log_path
        assert log_path is not None

        def access_log() -> list[dict[str, object]]:
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            return [e for e in lines if e.get("logger") == "tally.access"]

        # The line is written as the response completes: wait for the last request's.
        eventually(lambda: any(e.get("route") == "unmatched" for e in access_log()))
        access = access_log()
        (entry,) = [e for e in access if e.get("request_id") == mine]
        assert entry["method"] == "GET"
        assert entry["route"] == "/v1/credit-types/list"
        assert entry["status"] == 200
        assert entry["duration_ms"] >= 0
        assert entry["tenant"]
        assert entry["timestamp"].endswith("Z")
        assert any(e.get("request_id") == made for e in access)
        assert any(e.get("route") == "unmatched" and e.get("status") == 404 for e in access)
        assert token not in running.server.log_path.read_text()


def test_the_configuration_reference_is_generated_from_the_settings_model() -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "config_reference", root / "scripts" / "config_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (root / "docs" / "operations.md").read_text()
    assert module.render(doc) == doc, "run: python scripts/config_reference.py --write"
    from tally.settings import Settings

    for name in Settings.model_fields:
        assert f"`TALLY_{name.upper()}`" in doc
