"""Optional OpenTelemetry traces (issue 17): on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and the `otel` extra is installed.

OpenTelemetry's own environment variables are the interface (endpoint, headers, protocol options,
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_SDK_DISABLED`); the SDK and
the OTLP/HTTP exporter read them. `tally serve` and `tally worker` call `from_environment` once per process
(each `serve --workers N` process too); a test passes its own provider to `install`.

While tracing is off, `span` is a null context manager and nothing here imports OpenTelemetry, so tally
runs the same without the extra. Span names and attributes never carry tokens, secrets, request bodies,
query strings or SQL parameters (the SQLAlchemy spans hold the statement text with its placeholders).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, SpanKind, Tracer
    from sqlalchemy import Engine

log = logging.getLogger("tally.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
Attributes = Mapping[str, str | bool | int | float]

_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_engine_listeners: list[tuple[Engine, str, Any]] = []


def enabled() -> bool:
    return _tracer is not None


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks for traces: an OTLP endpoint is set and the SDK is not disabled."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def from_environment() -> bool:
    """Install a provider exporting over OTLP/HTTP when `wanted()`; returns whether tracing is on. Without
    the `otel` extra this logs one warning and tally runs untraced."""
    if not wanted():
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed; "
            "install tally with the `otel` extra (pip install 'tally[otel]') to export traces"
        )
        return False
    from tally import __version__

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win over these defaults.
    defaults = {"service.name": "tally", "service.version": __version__}
    env_given = Resource.create()
    resource = Resource.create(defaults).merge(env_given) if _named(env_given) else Resource.create(defaults)
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def _named(resource: Any) -> bool:
    """Whether the environment named the service (the SDK's default name is `unknown_service`)."""
    return not str(resource.attributes.get("service.name", "")).startswith("unknown_service")


def install(provider: TracerProvider) -> None:
    """Trace with `provider` from now on (the process's tracer; tests pass one with an in-memory
    exporter). It is not made OpenTelemetry's global provider, so a test can install and remove it."""
    global _provider, _tracer
    from tally import __version__

    _provider = provider
    _tracer = provider.get_tracer("tally", __version__)


def uninstall() -> None:
    """Stop tracing: export what is buffered, shut the provider down, detach the database listeners."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    from sqlalchemy import event

    while _engine_listeners:
        engine, name, listener = _engine_listeners.pop()
        event.remove(engine, name, listener)
    if provider is not None:
        provider.shutdown()


def shutdown() -> None:
    """Export what is buffered (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


_SPANS = "tally_trace_spans"  # per DBAPI connection: the statement spans in flight
_STATEMENT_CHARS = 2000


def instrument_engine(engine: Engine) -> None:
    """While tracing is on, a CLIENT span per SQL statement on `engine`, a child of whatever span is current
    (the request's unit of work, the worker's batch): named by its operation (`SELECT`, `INSERT`, ...), with
    the database system and the statement text as sent, placeholders and all, never its parameters."""
    if _tracer is None:
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode
    from sqlalchemy import event

    system = engine.dialect.name

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _tracer is None:
            return
        words = statement.split(None, 1)
        operation = words[0].upper() if words else "SQL"
        attributes = {
            "db.system.name": system,
            "db.operation.name": operation,
            "db.query.text": statement[:_STATEMENT_CHARS],
        }
        started = _tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)
        conn.info.setdefault(_SPANS, []).append(started)

    def after(conn: Any, *_: Any) -> None:
        spans = conn.info.get(_SPANS)
        if spans:
            spans.pop().end()

    def failed(ctx: Any) -> None:
        conn = ctx.connection
        spans = conn.info.get(_SPANS) if conn is not None else None
        if spans:
            ended = spans.pop()
            ended.set_status(Status(StatusCode.ERROR, type(ctx.original_exception).__name__))
            ended.end()

    for name, listener in (
        ("before_cursor_execute", before),
        ("after_cursor_execute", after),
        ("handle_error", failed),
    ):
        event.listen(engine, name, listener)
        _engine_listeners.append((engine, name, listener))


@contextmanager
def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    kind: SpanKind | None = None,
    context: Context | None = None,
) -> Iterator[Span | None]:
    """A span around the block, current inside it (children attach to it); None and no work while tracing
    is off. An exception leaving the block is recorded on the span and marks it as an error."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(
        name, context=context, kind=kind or SpanKind.INTERNAL, attributes=attributes
    ) as current:
        yield current


@contextmanager
def server_span(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Iterator[Span | None]:
    """The SERVER span of one HTTP request, continuing the caller's trace when it sends `traceparent`
    (the propagators OTEL_PROPAGATORS names; W3C trace context by default). Named by the method until
    `finish_request` knows the route template. No headers, query string or body are recorded."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
    attributes = {"http.request.method": method, "url.path": path}
    with span(method, attributes, kind=SpanKind.SERVER, context=extract(carrier)) as current:
        yield current


def finish_request(
    current: Span, method: str, route: str | None, status: int, request_id: str, tenant: str | None
) -> None:
    """Name the request's span `METHOD /route/{template}` and record its outcome: the response status
    (5xx marks the span as an error), the request id of the access log and the tenant id."""
    from opentelemetry.trace import Status, StatusCode

    if route is not None:
        current.update_name(f"{method} {route}")
        current.set_attribute("http.route", route)
    current.set_attribute("http.response.status_code", status)
    current.set_attribute("tally.request_id", request_id)
    if tenant is not None:
        current.set_attribute("tally.tenant_id", str(tenant))
    if status >= 500:
        current.set_status(Status(StatusCode.ERROR))


def client_kind() -> SpanKind | None:
    """SpanKind.CLIENT while tracing is on (for a span around an outbound call)."""
    if _tracer is None:
        return None
    from opentelemetry.trace import SpanKind

    return SpanKind.CLIENT


def finish_delivery(current: Span, status_code: int | None, delivered: bool) -> None:
    """Record a webhook attempt's outcome: the receiver's status, and an error unless it acknowledged."""
    from opentelemetry.trace import Status, StatusCode

    if status_code is not None:
        current.set_attribute("http.response.status_code", status_code)
    current.set_attribute("tally.webhook.delivered", delivered)
    if not delivered:
        current.set_status(Status(StatusCode.ERROR))


def current_context() -> Context | None:
    """The active trace context, to hand to work on another thread (thread pools do not copy it)."""
    if _tracer is None:
        return None
    from opentelemetry.context import get_current

    return get_current()


def trace_id(current: Span | None) -> str | None:
    """The span's trace id as 32 hex digits (the form trace back ends search by), for the access log."""
    if current is None:
        return None
    ctx = current.get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
