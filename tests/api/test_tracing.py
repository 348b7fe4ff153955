"""OpenTelemetry traces (issue 17), on SQLite and PostgreSQL.

In process: the real application on a loopback port (uvicorn in a thread) over a real database, traced by
a provider with the SDK's in-memory exporter; real HTTP requests and a real worker pass that delivers a
webhook to a loopback receiver. Out of process: `tally serve` with OTEL_EXPORTER_OTLP_ENDPOINT pointed at
a loopback OTLP/HTTP receiver. Untraced: no endpoint, no tracer.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tally import tracing
from tally.auth import service as auth
from tally.clock import SystemClock
from tally.db import migrate, uow
from tally.db.engine import make_engine
from tally.jobs.worker import run_pass
from tally.server.app import create_app
from tally.settings import Settings, load
from tally.webhooks.outbox import enqueue
from tests.conftest import serving
from tests.support.servers import create_pg_database, drop_pg_database, eventually, free_port


class Receiver:
    """A loopback HTTP server that answers 200 and keeps every POST (path, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                posts.append((self.path, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Traced:
    url: str
    token: str
    tenant_id: str
    engine: Any
    settings: Settings
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def traced(backend: str, tmp_path: Path) -> Iterator[Traced]:
    """The app, traced into memory, on a loopback port over a fresh database of `backend`."""
    pg_url = create_pg_database() if backend == "postgres" else ""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        webhooks_allow_private_urls=True,  # the webhook receiver is on 127.0.0.1
        outbound_loopback_only=True,
    )
    settings.data_dir.mkdir()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    engine = make_engine(settings.database_url)  # made while tracing is on: its statements are traced
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        migrate.upgrade(engine)
        now = SystemClock().now()
        with uow.write(engine) as conn:
            tenant = auth.get_or_create_tenant(conn, "traced", now)
            token = auth.create_token(conn, tenant, now, name="tracing-test")
        port = free_port()
        config = uvicorn.Config(
            create_app(settings, engine), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: server is not None and server.started, seconds=30)
        exporter.clear()  # setup's own spans
        yield Traced(url, token, str(tenant.id), engine, settings, exporter)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=30)
        tracing.uninstall()
        engine.dispose()
        if pg_url:
            drop_pg_database(pg_url)


def _attribute_values(spans: list[ReadableSpan]) -> list[str]:
    return [str(v) for s in spans for v in (s.attributes or {}).values()] + [s.name for s in spans]


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _server_span(spans: list[ReadableSpan], request_id: str) -> ReadableSpan:
    (found,) = [
        s
        for s in spans
        if s.kind == SpanKind.SERVER and (s.attributes or {}).get("tally.request_id") == request_id
    ]
    return found


def test_requests_are_server_spans_with_database_children(traced: Traced) -> None:
    auth_header = {"Authorization": f"Bearer {traced.token}"}
    parent_trace, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with httpx.Client(base_url=traced.url, timeout=30) as c:
        created = c.post(
            "/v1/customers",
            json={"name": "Traced Co", "ingest_aliases": ["traced-co"]},
            headers={**auth_header, "X-Request-Id": "req-create-1"},
        )
        assert created.status_code == 200, created.text
        assert created.headers["x-request-id"] == "req-create-1"
        customer_id = created.json()["data"]["id"]
        got = c.get(
            f"/v1/customers/{customer_id}",
            headers={
                **auth_header,
                "X-Request-Id": "req-get-1",
                "traceparent": f"00-{parent_trace}-{parent_span}-01",
            },
        )
        assert got.status_code == 200, got.text
        denied = c.get("/v1/customers", headers={"Authorization": "Bearer tly_not_a_token_at_all"})
        assert denied.status_code == 401
        missing = c.get("/no/such/route", headers={"X-Request-Id": "req-missing-1"})
        assert missing.status_code == 404
    # A request's span ends just after its response is sent: wait for all four.
    eventually(lambda: len([s for s in traced.spans() if s.kind == SpanKind.SERVER]) == 4)
    spans = traced.spans()

    create = _server_span(spans, "req-create-1")
    assert create.name == "POST /v1/customers"
    assert create.parent is None  # no traceparent sent: a new trace
    attrs = dict(create.attributes or {})
    assert attrs["http.request.method"] == "POST"
    assert attrs["http.route"] == "/v1/customers"
    assert attrs["http.response.status_code"] == 200
    assert attrs["tally.tenant_id"] == traced.tenant_id
    assert create.status.status_code != StatusCode.ERROR
    # The request's unit of work is its child, and the INSERT of the customer is the unit of work's.
    (write,) = [s for s in _children(spans, create) if s.name == "uow.write"]
    statements = _children(spans, write)
    assert any(
        s.name == "INSERT" and "customers" in str((s.attributes or {}).get("db.query.text"))
        for s in statements
    )
    assert all(s.kind == SpanKind.CLIENT for s in statements)
    system = "sqlite" if traced.settings.is_sqlite else "postgresql"
    assert {(s.attributes or {}).get("db.system.name") for s in statements} == {system}
    assert all(s.context.trace_id == create.context.trace_id for s in statements)

    # Named by the route template, not the path; the caller's W3C trace context is continued.
    get = _server_span(spans, "req-get-1")
    assert get.name == "GET /v1/customers/{customer_id}"
    assert (get.attributes or {})["url.path"] == f"/v1/customers/{customer_id}"
    assert format(get.context.trace_id, "032x") == parent_trace
    assert get.parent is not None
    assert format(get.parent.span_id, "016x") == parent_span
    assert any(s.name == "uow.read" for s in _children(spans, get))

    # A refused token: 401 and no tenant; an unknown path: the method alone names it.
    (refused,) = [
        s
        for s in spans
        if s.kind == SpanKind.SERVER and (s.attributes or {}).get("http.response.status_code") == 401
    ]
    assert refused.name == "GET /v1/customers"
    assert "tally.tenant_id" not in (refused.attributes or {})
    unmatched = _server_span(spans, "req-missing-1")
    assert unmatched.name == "GET"
    assert (unmatched.attributes or {})["http.response.status_code"] == 404

    # No token, good or bad, appears in any span's name or attributes.
    values = _attribute_values(spans)
    assert not [v for v in values if traced.token in v or "tly_not_a_token" in v or "Bearer" in v]


def test_worker_pass_and_webhook_delivery_spans(
    traced: Traced, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    # The worker reads its settings from the environment once per process, as `tally worker` does.
    monkeypatch.setenv("TALLY_DATA_DIR", str(traced.settings.data_dir))
    monkeypatch.setenv("TALLY_DATABASE_URL", traced.settings.database_url)
    monkeypatch.setenv("TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("TALLY_OUTBOUND_LOOPBACK_ONLY", "1")
    with httpx.Client(base_url=traced.url, timeout=30) as c:
        r = c.post(
            "/tally/v1/webhooks/create",
            json={"url": receiver.url + "/hook", "description": "traced"},
            headers={"Authorization": f"Bearer {traced.token}"},
        )
    assert r.status_code == 200, r.text
    webhook_id, secret = r.json()["data"]["id"], r.json()["data"]["secret"]
    eventually(lambda: any(s.kind == SpanKind.SERVER for s in traced.spans()))
    with uow.write(traced.engine) as conn:
        event_id = enqueue(conn, traced.tenant_id, "test.traced", {"n": "1"}, datetime.now(UTC))
    traced.exporter.clear()

    run_pass(traced.engine, SystemClock(), settings=load())

    assert [path for path, _ in receiver.posts] == ["/hook"]
    assert json.loads(receiver.posts[0][1])["id"] == event_id
    spans = traced.spans()
    (worker_pass,) = [s for s in spans if s.name == "worker.pass"]
    assert worker_pass.parent is None
    (delivery,) = [s for s in spans if s.name == "webhook.deliver"]
    assert delivery.kind == SpanKind.CLIENT
    # Sent from a pool thread, yet a child of the pass.
    assert delivery.parent is not None
    assert delivery.parent.span_id == worker_pass.context.span_id
    attrs = dict(delivery.attributes or {})
    assert attrs["tally.webhook.event_id"] == event_id
    assert attrs["tally.webhook.endpoint_id"] == webhook_id
    assert attrs["tally.webhook.event_type"] == "test.traced"
    assert attrs["tally.webhook.attempt"] == 1
    assert attrs["http.response.status_code"] == 200
    assert attrs["tally.webhook.delivered"] is True
    # The pass's transactions are its children, each with its statements.
    writes = [s for s in _children(spans, worker_pass) if s.name == "uow.write"]
    assert writes
    assert any(_children(spans, w) for w in writes)
    # Neither the signing secret nor the receiver's URL is recorded.
    values = _attribute_values(spans)
    assert not [v for v in values if secret in v or receiver.url in v]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_no_tracer_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*tracing.ENDPOINT_VARIABLES, "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.from_environment() is False
    assert not tracing.enabled()
    with tracing.span("anything") as span:
        assert span is None
    assert tracing.current_context() is None
    # An endpoint with the SDK disabled is still off.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.from_environment() is False
    assert not tracing.enabled()


def test_untraced_server_logs_no_trace_id(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path) as running, running.http() as c:
        assert c.get("/v1/customers", headers={"X-Request-Id": "req-untraced-1"}).status_code == 200
    lines = _access_lines(running.server.log_path, "req-untraced-1")
    assert len(lines) == 1
    assert "trace_id" not in lines[0]


def _access_lines(log_path: Path | None, request_id: str) -> list[dict[str, Any]]:
    assert log_path is not None
    out = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "tally.access" and entry.get("request_id") == request_id:
                out.append(entry)
    return out


def _exported(receiver: Receiver) -> list[tuple[dict[str, Any], Any]]:
    """Every span the receiver got, as (resource attributes, span)."""
    out = []
    for path, body in list(receiver.posts):
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
            out += [(resource, s) for ss in rs.scope_spans for s in ss.spans]
    return out


def test_tally_serve_exports_over_otlp_http(backend: str, tmp_path: Path, receiver: Receiver) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,  # the exporter posts to <endpoint>/v1/traces
        "OTEL_SERVICE_NAME": "tally-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds between exports
    }
    with serving(backend, tmp_path, env=env) as running, running.http() as c:
        r = c.post("/v1/customers", json={"name": "Exported"}, headers={"X-Request-Id": "req-otlp-1"})
        assert r.status_code == 200, r.text

        def exported() -> bool:
            return any(
                a.key == "tally.request_id" and a.value.string_value == "req-otlp-1"
                for _, s in _exported(receiver)
                for a in s.attributes
            )

        eventually(exported, seconds=30)
    spans = _exported(receiver)
    (request,) = [
        (res, s)
        for res, s in spans
        if any(a.key == "tally.request_id" and a.value.string_value == "req-otlp-1" for a in s.attributes)
    ]
    resource, span = request
    assert resource["service.name"] == "tally-under-test"
    assert span.name == "POST /v1/customers"
    status = next(a.value.int_value for a in span.attributes if a.key == "http.response.status_code")
    assert status == 200
    # The access log line of that request names the same trace.
    (line,) = _access_lines(running.server.log_path, "req-otlp-1")
    assert line["trace_id"] == span.trace_id.hex()
    # Its database work arrived in the same trace.
    same_trace = [s.name for _, s in spans if s.trace_id == span.trace_id]
    assert "uow.write" in same_trace
    assert "INSERT" in same_trace
    # The bootstrap token the server printed is in no exported attribute.
    assert running.token_a not in b"".join(body for _, body in receiver.posts).decode("latin-1")


def test_serves_without_the_otel_extra(backend: str, tmp_path: Path, receiver: Receiver) -> None:
    """With the endpoint set but the extra's packages (SDK, OTLP exporter) not importable, tally warns once
    and serves untraced. (opentelemetry-api itself is a FastAPI dependency, so it is always there.)"""
    blocker = tmp_path / "no-otel"
    blocker.mkdir()
    block = 'import sys\nsys.modules["opentelemetry.sdk"] = sys.modules["opentelemetry.exporter"] = None\n'
    (blocker / "sitecustomize.py").write_text(block)
    src = Path(__file__).resolve().parents[2] / "src"
    env = {"PYTHONPATH": f"{blocker}{os.pathsep}{src}", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    with serving(backend, tmp_path, env=env) as running, running.http() as c:
        r = c.post("/v1/customers", json={"name": "Untraced"}, headers={"X-Request-Id": "req-no-otel-1"})
        assert r.status_code == 200, r.text
    (line,) = _access_lines(running.server.log_path, "req-no-otel-1")
    assert "trace_id" not in line
    assert running.server.log_path is not None
    assert "install tally with the `otel` extra" in running.server.log_path.read_text()
    assert receiver.posts == []
