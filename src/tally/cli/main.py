"""The `tally` command: serve, worker, migrate, tokens, export.

Startup problems a user can fix (a bad setting, a database that cannot be reached, a port in use) end in
one line on stderr and exit code 2 (settings) or 1 (the rest), never a traceback; nothing is created
before the listening socket is bound.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tally import __version__
from tally import settings as settings_mod
from tally.auth import service as auth
from tally.clock import Clock, SystemClock
from tally.db import migrate as migrations
from tally.db import uow
from tally.db.engine import make_engine
from tally.errors import TallyError
from tally.models.tenants import tenants

app = typer.Typer(add_completion=False, no_args_is_help=True, help="tally: usage-based billing engine")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens: create, list, revoke")
app.add_typer(tokens_app, name="tokens")
export_app = typer.Typer(no_args_is_help=True, help="export data as CSV")
app.add_typer(export_app, name="export")
users_app = typer.Typer(no_args_is_help=True, help="operator accounts of the console (/ui/)")
app.add_typer(users_app, name="users")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tally {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """tally: usage-based billing engine. Configure with TALLY_* variables (docs/operations.md)."""


class StartupError(Exception):
    """A startup problem the user can fix; `str()` is the one line to print."""


_LOG_LEVEL_HELP = "log level: critical, error, warning, info or debug (default: TALLY_LOG_LEVEL, else info)"


def _settings(**overrides: Any) -> settings_mod.Settings:
    return settings_mod.load(**overrides)


def _engine(settings: settings_mod.Settings) -> Engine:
    if settings.is_sqlite:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = f"TALLY_DATA_DIR={settings.data_dir}"
            raise StartupError(
                f"cannot create {where}: {exc.strerror} (expected a writable directory)"
            ) from None
    return make_engine(settings.database_url)


def _migrated_engine(settings: settings_mod.Settings) -> Engine:
    """The engine, with the schema brought to head; a database that cannot be reached is a StartupError."""
    engine = _engine(settings)
    try:
        migrations.upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        raise StartupError(_database_problem(settings, exc)) from None
    return engine


def _database_problem(settings: settings_mod.Settings, exc: OperationalError) -> str:
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    reason = (str(exc.orig) if exc.orig is not None else str(exc)).strip().splitlines()[0]
    name = "TALLY_DATA_DIR" if settings.is_sqlite else "TALLY_DATABASE_URL"
    expected = (
        "a writable directory"
        if settings.is_sqlite
        else "a reachable PostgreSQL database, postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME"
    )
    return f"cannot open the database {shown} ({name}; expected {expected}): {reason}"


def _logging(level: str) -> None:
    from tally.kit import logs

    logs.configure(level)


def _tracing() -> None:
    """OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set (tally.tracing); before any engine
    is made, so its statements are traced."""
    from tally import tracing

    if tracing.from_environment():
        logging.getLogger("tally").info("exporting OpenTelemetry traces over OTLP/HTTP")


def _tracing_done() -> None:
    from tally import tracing

    tracing.shutdown()  # export the spans still buffered


def _metrics_dir() -> str | None:
    """Multiprocess metrics for `serve` (kit.metrics): before prometheus_client is imported, point
    PROMETHEUS_MULTIPROC_DIR at the operator's directory (emptied of old samples) or a fresh private one.
    Returns the directory to delete at exit, if we made it."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for entry in os.listdir(given):
            if entry.endswith(".db"):
                os.unlink(os.path.join(given, entry))
        return None
    made = tempfile.mkdtemp(prefix="tally-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return made


def _events_store(settings: settings_mod.Settings, engine: Any) -> None:
    """Install the metering store TALLY_EVENTS_URL names (default: the SQL database); a ClickHouse store's
    tables are created here (IF NOT EXISTS), so `tally migrate`, `serve` and `worker` all leave them ready."""
    from tally.usage import store

    chosen = store.from_url(settings.events_url, engine)
    create = getattr(chosen, "create_schema", None)
    if create is not None:
        create()
    store.use(chosen)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema, and the ClickHouse event store's tables when
    TALLY_EVENTS_URL names one (safe to run from several processes at once)."""
    settings = _settings()
    engine = _migrated_engine(settings)
    _events_store(settings, engine)
    engine.dispose()
    if settings.events_url:
        typer.echo("database and ClickHouse event store are up to date")
    typer.echo("database is up to date")


def _sqlite_path(settings: settings_mod.Settings, command: str) -> Path:
    if not settings.is_sqlite:
        raise StartupError(
            f"tally {command} copies the embedded SQLite database; with TALLY_DATABASE_URL set use "
            "pg_dump / pg_restore (docs/operations.md, Backups)"
        )
    database = make_url(settings.database_url).database
    assert database is not None
    return Path(database)


def _copy_sqlite(source: Path, target: Path, label: str) -> None:
    """Copy with SQLite's online backup API in one step: one read transaction, so the copy is consistent
    as of one instant while other connections go on writing (WAL readers do not block writers), and it
    includes what sits in the -wal file. On a terminal, rich shows the progress."""
    import sqlite3

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        size = source.stat().st_size + (
            source.with_name(source.name + "-wal").stat().st_size
            if source.with_name(source.name + "-wal").exists()
            else 0
        )
        with Progress(
            TextColumn(label),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            disable=not sys.stderr.isatty(),
            console=None,
            transient=False,
        ) as progress:
            task = progress.add_task(label, total=size)

            def step(_status: int, remaining: int, total: int) -> None:
                progress.update(task, completed=(total - remaining) * (size // max(total, 1)))

            src.backup(dst, pages=-1, progress=step)
            progress.update(task, completed=size)
    finally:
        src.close()
        dst.close()


@app.command()
def backup(
    out: Path = typer.Option(..., "--out", help="file to write the backup to (must not exist)"),
) -> None:
    """Copy the SQLite database consistently while tally serves and ingests (SQLite backup API)."""
    settings = _settings()
    source = _sqlite_path(settings, "backup")
    if not source.exists():
        raise StartupError(f"no database at {source} (TALLY_DATA_DIR={settings.data_dir})")
    if out.exists():
        raise StartupError(f"{out} already exists (--out must name a new file)")
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    _copy_sqlite(source, partial, "backing up")
    os.replace(partial, out)
    typer.echo(f"backed up {source} to {out} ({out.stat().st_size} bytes)")


@app.command()
def restore(
    file: Path = typer.Argument(..., help="a backup made by tally backup"),
) -> None:
    """Replace the SQLite database with a backup (stop the server first). The current database is kept
    as tally.db.before-restore-<time>; the restored one is then migrated to this version."""
    import sqlite3

    settings = _settings()
    target = _sqlite_path(settings, "restore")
    try:
        with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as probe:
            ok = probe.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            ok = ok and probe.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    except sqlite3.Error:
        ok = False
    if not ok:
        raise StartupError(f"{file} is not a tally SQLite backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        keep = target.with_name(f"{target.name}.before-restore-{SystemClock().now():%Y%m%dT%H%M%SZ}")
        _copy_sqlite(target, keep, "saving the current database")
        typer.echo(f"kept the current database as {keep}")
    _copy_sqlite(file, target, "restoring")
    _migrated_engine(settings).dispose()
    typer.echo(f"restored {file} into {target}")


@tokens_app.command("create")
def tokens_create(
    tenant: str = typer.Option("default", "--tenant", help="tenant name; created if it does not exist"),
    name: str = typer.Option("cli", "--name", help="a label for the token"),
) -> None:
    """Create an API token for a tenant. The token is printed alone on the last line."""
    engine = _migrated_engine(_settings())
    now = SystemClock().now()
    with uow.write(engine) as conn:
        t = auth.get_or_create_tenant(conn, tenant, now)
        token = auth.create_token(conn, t, now, name=name)
    typer.echo(f"token for tenant {t.name} ({t.id}); it will not be shown again:")
    typer.echo(token)


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., "--email", help="the operator's e-mail address (their sign-in name)"),
    role: str = typer.Option(..., "--role", help="admin (may act) or viewer (read only)"),
    tenant: str = typer.Option("default", "--tenant", help="tenant name; created if it does not exist"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from standard input instead of prompting"
    ),
) -> None:
    """Create a console operator account; the password is hashed with argon2id, never stored."""
    from tally.console import accounts

    if role not in accounts.ROLES:
        raise typer.BadParameter(f"--role: must be one of {', '.join(accounts.ROLES)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = _migrated_engine(_settings())
    now = SystemClock().now()
    try:
        with uow.write(engine) as conn:
            t = auth.get_or_create_tenant(conn, tenant, now)
            user_id = accounts.create_user(conn, t, email, password, role, now)
    except TallyError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"console user {email.strip().lower()} ({role}) of tenant {t.name}: {user_id}")


@app.command()
def demo(
    tenant: str = typer.Option("demo", "--tenant", help="name of the demo tenant to create"),
    email: str = typer.Option("demo@example.com", "--email", help="the demo operator's sign-in e-mail"),
    password: str | None = typer.Option(
        None, "--password", help="the demo operator's password (default: a random one, printed)"
    ),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="when the demo tenant already exists, say so and exit 0"
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="the host `tally serve` listens on (for the URL)"),
    port: int = typer.Option(8080, "--port", help="the port `tally serve` listens on (for the URL)"),
) -> None:
    """Seed a demo tenant: a catalog with tiered and composite pricing, 36 customers on contracts with
    commits and credits, two months of usage with the earlier month finalized (docs/console.md)."""
    from tally.cli import demo as demo_mod

    settings = _settings()
    engine = _migrated_engine(settings)
    _events_store(settings, engine)
    url = f"http://{_show_host(host)}:{port}/ui/"
    try:
        if demo_mod.exists(engine, tenant):
            raise demo_mod.DemoExists(f"the demo tenant {tenant!r} already exists in this database")
        if password is not None and len(password) < 12:
            raise typer.BadParameter("--password: must be at least 12 characters")
        typer.echo(f"seeding the demo tenant {tenant!r} ...", err=True)
        seeded = demo_mod.seed(engine, SystemClock().now(), tenant=tenant, email=email, password=password)
    except demo_mod.DemoExists as exc:
        engine.dispose()
        if if_missing:
            typer.echo(f"{exc}; not seeding it again. Console: {url}")
            return
        raise StartupError(f"{exc} (tally demo seeds a fresh database; --if-missing skips it)") from None
    engine.dispose()
    typer.echo(
        f"demo tenant {tenant!r}: {seeded.customers} customers, {seeded.events} usage events, "
        f"{seeded.finalized} invoices finalized ({seeded.earlier:%B %Y} closed, {seeded.later:%B %Y} open)"
    )
    typer.echo(f"console: {url} (after `tally serve`)")
    typer.echo(f"sign in as {seeded.email} with the password {seeded.password}")
    typer.echo("or with this API token (also for the SDK; shown once):")
    typer.echo(seeded.token)


@tokens_app.command("list")
def tokens_list(
    tenant: str | None = typer.Option(None, "--tenant", help="only this tenant's tokens"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line instead of a table"),
) -> None:
    """List API tokens (id, tenant, label, created, revoked); the tokens themselves are never stored."""
    import json

    from rich.console import Console
    from rich.table import Table

    engine = _migrated_engine(_settings())
    with uow.read(engine) as conn:
        tokens = auth.list_tokens(conn, tenant)
    if as_json:
        for t in tokens:
            row = {
                "id": t.id,
                "tenant": t.tenant,
                "name": t.name,
                "created_at": t.created_at.isoformat(),
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            typer.echo(json.dumps(row))
        return
    table = Table("id", "tenant", "name", "created", "status")
    for t in tokens:
        status = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        table.add_row(t.id, t.tenant, t.name, f"{t.created_at:%Y-%m-%d %H:%M}", status)
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ref: str = typer.Argument(..., help="token id, an unambiguous id prefix (6+ characters), or the token"),
) -> None:
    """Revoke an API token. Running servers refuse it within their token cache window (5 seconds)."""
    from tally.auth.dependencies import TOKEN_CACHE_SECONDS

    engine = _migrated_engine(_settings())
    with uow.write(engine) as conn:
        try:
            token = auth.find_token(conn, ref)
        except auth.TokenMatchError as exc:
            raise StartupError(str(exc)) from None
        fresh = auth.revoke_token(conn, token.id, SystemClock().now())
    if fresh:
        typer.echo(
            f"revoked token {token.id} ({token.name}) of tenant {token.tenant}; "
            f"servers refuse it within {TOKEN_CACHE_SECONDS:g} seconds"
        )
    else:
        typer.echo(f"token {token.id} ({token.name}) of tenant {token.tenant} was already revoked")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0 or :: for all)"),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="TCP port to listen on"),
    test_clock: bool = typer.Option(False, "--test-clock", help="enable POST /tally/v1/test-clock"),
    log_level: str | None = typer.Option(None, "--log-level", help=_LOG_LEVEL_HELP),
    workers: int = typer.Option(1, "--workers", min=1, help="worker processes (each with its own pool)"),
    billing_worker: bool | None = typer.Option(
        None,
        "--billing-worker/--no-billing-worker",
        help="run the billing worker in this process (default: on for SQLite, off for PostgreSQL)",
    ),
) -> None:
    """Run the API server (embedded SQLite unless TALLY_DATABASE_URL is set)."""
    settings = _settings(test_clock=test_clock or None, log_level=log_level)
    # Bind before anything else: a port in use must not leave a new database or token behind.
    sock = _bind(host, port)
    made = _metrics_dir()
    try:
        _serve(settings, sock, host, port, workers, billing_worker)
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _serve(
    settings: settings_mod.Settings,
    sock: socket.socket,
    host: str,
    port: int,
    workers: int,
    billing_worker: bool | None,
) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from tally.server.app import create_app

    _logging(settings.log_level)
    _tracing()
    engine = _migrated_engine(settings)
    _events_store(settings, engine)
    now = SystemClock().now()
    with uow.write(engine) as conn:
        first = not auth.any_tenant_exists(conn)
        if first:
            tenant = auth.get_or_create_tenant(conn, "default", now)
            token = auth.create_token(conn, tenant, now, name="bootstrap")
    if first:
        typer.echo("Created tenant 'default'. Its API token (shown once, store it now):")
        typer.echo(token)
    backend = "sqlite" if settings.is_sqlite else "postgresql"
    typer.echo(f"tally listening on http://{_show_host(host)}:{sock.getsockname()[1]} ({backend})", err=True)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": False,  # tally.server.ops writes the access log
        "log_config": None,  # keep kit.logs' configuration
        "http": "httptools",
        "loop": "auto",
    }
    clock = _clock(settings, engine)
    embedded = settings.is_sqlite if billing_worker is None else billing_worker
    from tally.jobs.worker import Worker

    worker = Worker(engine, clock, settings.worker_interval_seconds, settings) if embedded else None
    # uvicorn handles SIGTERM/SIGINT gracefully, then raises the signal again for the handler that was
    # installed before it ran: make that a no-op, so the cleanup below runs and the exit code is 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    if worker is not None:
        worker.start()
    try:
        if workers == 1:
            app = create_app(settings, engine, clock)
            from tally.cli.drain import DrainingServer

            DrainingServer(uvicorn.Config(app, **common), sock).run(sockets=[sock])
        else:
            # Several processes need an import string; each builds its app (and pool) from the environment.
            os.environ["TALLY_LOG_LEVEL"] = settings.log_level
            if settings.test_clock:
                os.environ["TALLY_TEST_CLOCK"] = "1"
            config = uvicorn.Config("tally.cli.main:app_from_env", factory=True, workers=workers, **common)
            Multiprocess(config, sockets=[sock]).run()
    finally:
        # SIGTERM: uvicorn has stopped accepting and drained in-flight requests (an ingest request returns
        # only after its group commit). Let the billing worker finish its current batch, then fold the
        # WAL into the database file.
        if worker is not None:
            worker.stop()
        _checkpoint(engine)
        engine.dispose()
        _tracing_done()


def _checkpoint(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    try:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    except Exception:
        logging.getLogger("tally").exception("WAL checkpoint at shutdown failed")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen on {_show_host(host)}:{port} (--host/--port): {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


def _show_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def app_from_env() -> Any:
    """uvicorn factory for `serve --workers N`: one app per worker process."""
    from tally.server.app import create_app

    settings = _settings()
    _logging(settings.log_level)
    _tracing()  # in this process: the exporter's thread must not be shared across processes
    engine = _engine(settings)
    _events_store(settings, engine)
    return create_app(settings, engine, _clock(settings, engine))


def _clock(settings: settings_mod.Settings, engine: Any) -> Clock:
    """The server clock: the persisted, settable test clock with --test-clock, else the wall clock."""
    if settings.test_clock:
        from tally.jobs.clock import PersistentClock

        return PersistentClock(engine)
    return SystemClock()


@app.command()
def worker(
    test_clock: bool = typer.Option(False, "--test-clock", help="follow the persisted test clock"),
    once: bool = typer.Option(False, "--once", help="do what is due now, then exit"),
    log_level: str | None = typer.Option(None, "--log-level", help=_LOG_LEVEL_HELP),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        min=1,
        max=65535,
        help="serve Prometheus metrics on this port (see --metrics-host)",
    ),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="address for --metrics-port"),
) -> None:
    """Run the billing worker: finalize invoices as they fall due. Several may run against PostgreSQL."""
    settings = _settings(test_clock=test_clock or None, log_level=log_level)
    metrics_sock = _bind(metrics_host, metrics_port) if metrics_port else None
    from tally.jobs.worker import Worker, run_pass

    _logging(settings.log_level)
    _tracing()
    engine = _migrated_engine(settings)
    _events_store(settings, engine)
    if metrics_sock is not None:
        _serve_worker_metrics(metrics_sock, engine)
    clock = _clock(settings, engine)
    if once:
        result = run_pass(engine, clock, settings=settings)
        _tracing_done()
        typer.echo(f"finalized {result.finalized} invoice(s) on {result.contracts} contract(s)")
        return
    typer.echo("tally billing worker running", err=True)
    loop = Worker(engine, clock, settings.worker_interval_seconds, settings)
    # SIGTERM/SIGINT: finish the batch in hand (its transaction commits), then exit.
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    signal.signal(signal.SIGINT, lambda *_: loop.stop())
    loop.run_forever()
    _tracing_done()


def _serve_worker_metrics(sock: socket.socket, engine: Engine) -> None:
    """The worker's own /metrics (single process, default registry), on a daemon thread."""
    from prometheus_client import start_http_server

    from tally.server.ops import count_database_errors

    count_database_errors(engine)
    host, port = sock.getsockname()[:2]
    sock.close()  # bound above to fail early, before any work; prometheus_client binds it again
    start_http_server(port, addr=host)


@export_app.command("invoices")
def export_invoices(
    start: str = typer.Option(..., "--from", help="service periods ending at or after (RFC 3339)"),
    end: str = typer.Option(..., "--to", help="service periods ending before (RFC 3339)"),
    out: Path = typer.Option(..., "--out", help="the CSV file to write"),
    status: list[str] = typer.Option(
        [], "--status", help="FINALIZED (default), VOID or DRAFT; repeat for several"
    ),
    customer: str | None = typer.Option(None, "--customer", help="one customer's id"),
    tenant: str = typer.Option("default", "--tenant", help="tenant name"),
) -> None:
    """One CSV row per invoice line, with a progress bar on a terminal; memory stays bounded."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tally.invoices import export
    from tally.models.invoices import InvoiceStatus
    from tally.wire import parse_timestamp

    try:
        lo, hi = parse_timestamp(start, "--from"), parse_timestamp(end, "--to")
    except TallyError as exc:
        raise typer.BadParameter(str(exc)) from None
    if hi <= lo:
        raise typer.BadParameter("--to must be after --from")
    try:
        wanted = export.statuses(status, "--status")
    except TallyError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = settings_mod.load()
    engine = _engine(settings)
    with uow.read(engine) as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar()
        if tenant_id is None:
            raise typer.BadParameter(f"--tenant: no tenant named {tenant!r}")
        q = export.Query(str(tenant_id), lo, hi, wanted, customer)
        total = export.count_issued(conn, q) if wanted != (InvoiceStatus.DRAFT,) else None
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("exporting invoices"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress, out.open("w", newline="", encoding="utf-8") as f:
        task = progress.add_task("invoices", total=None if InvoiceStatus.DRAFT in wanted else total)
        n = export.write_csv(engine, q, f, SystemClock().now(), lambda: progress.advance(task))
    typer.echo(f"wrote {n} line(s) to {out}", err=True)


def main() -> None:
    try:
        app()
    except settings_mod.SettingsError as exc:
        _fail(str(exc), 2)
    except StartupError as exc:
        _fail(str(exc), 1)


def _fail(message: str, code: int) -> NoReturn:
    print(f"tally: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
