"""The `tally` command: serve, worker, migrate, tokens."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import typer

from tally import settings as settings_mod
from tally.auth import service as auth
from tally.clock import Clock, SystemClock
from tally.db import migrate as migrations
from tally.db import uow
from tally.db.engine import make_engine

app = typer.Typer(add_completion=False, no_args_is_help=True, help="tally: usage-based billing engine")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens")
app.add_typer(tokens_app, name="tokens")


def _engine(settings: settings_mod.Settings):  # type: ignore[no-untyped-def]
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url)


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
    """Create or upgrade the database schema."""
    settings = settings_mod.load()
    engine = _engine(settings)
    migrations.upgrade(engine)
    _events_store(settings, engine)
    if settings.events_url:
        typer.echo("database and ClickHouse event store are up to date")
        return
    typer.echo("database is up to date")


@tokens_app.command("create")
def tokens_create(
    tenant: str = typer.Option("default", "--tenant", help="tenant name; created if it does not exist"),
    name: str = typer.Option("cli", "--name", help="a label for the token"),
) -> None:
    """Create an API token for a tenant. The token is printed alone on the last line."""
    settings = settings_mod.load()
    engine = _engine(settings)
    migrations.upgrade(engine)
    now = SystemClock().now()
    with uow.write(engine) as conn:
        t = auth.get_or_create_tenant(conn, tenant, now)
        token = auth.create_token(conn, t, now, name=name)
    typer.echo(f"token for tenant {t.name} ({t.id}); it will not be shown again:")
    typer.echo(token)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    test_clock: bool = typer.Option(False, "--test-clock", help="enable POST /tally/v1/test-clock"),
    log_level: str = typer.Option("warning", "--log-level"),
    workers: int = typer.Option(1, "--workers", min=1, help="worker processes (each with its own pool)"),
    billing_worker: bool | None = typer.Option(
        None,
        "--billing-worker/--no-billing-worker",
        help="run the billing worker in this process (default: on for SQLite, off for PostgreSQL)",
    ),
) -> None:
    """Run the API server (embedded SQLite unless TALLY_DATABASE_URL is set)."""
    import uvicorn

    from tally.server.app import create_app

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr)
    settings = settings_mod.load(test_clock=test_clock)
    engine = _engine(settings)
    migrations.upgrade(engine)
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
    typer.echo(f"tally listening on http://{host}:{port} ({backend})", err=True)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "http": "httptools",
        "loop": "auto",
    }
    clock = _clock(settings, engine)
    embedded = settings.is_sqlite if billing_worker is None else billing_worker
    if embedded:
        from tally.jobs.worker import Worker

        Worker(engine, clock, _worker_interval()).start()
    if workers == 1:
        uvicorn.run(create_app(settings, engine, clock), **common)
        return
    # Several processes need an import string; each worker builds its app (and pool) from the environment.
    engine.dispose()
    os.environ[_TEST_CLOCK_ENV] = "1" if test_clock else ""
    uvicorn.run("tally.cli.main:app_from_env", factory=True, workers=workers, **common)


_TEST_CLOCK_ENV = "TALLY_SERVE_TEST_CLOCK"


def app_from_env() -> Any:
    """uvicorn factory for `serve --workers N`: one app per worker process."""
    from tally.server.app import create_app

    settings = settings_mod.load(test_clock=bool(os.environ.get(_TEST_CLOCK_ENV)))
    engine = _engine(settings)
    _events_store(settings, engine)
    return create_app(settings, engine, _clock(settings, engine))


def _clock(settings: settings_mod.Settings, engine: Any) -> Clock:
    """The server clock: the persisted, settable test clock with --test-clock, else the wall clock."""
    if settings.test_clock:
        from tally.jobs.clock import PersistentClock

        return PersistentClock(engine)
    return SystemClock()


def _worker_interval() -> float:
    return float(os.environ.get("TALLY_WORKER_INTERVAL_SECONDS", "5"))


@app.command()
def worker(
    test_clock: bool = typer.Option(False, "--test-clock", help="follow the persisted test clock"),
    once: bool = typer.Option(False, "--once", help="do what is due now, then exit"),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run the billing worker: finalize invoices as they fall due. Several may run against PostgreSQL."""
    from tally.jobs.worker import Worker, run_pass

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr)
    settings = settings_mod.load(test_clock=test_clock)
    engine = _engine(settings)
    migrations.upgrade(engine)
    _events_store(settings, engine)
    clock = _clock(settings, engine)
    if once:
        result = run_pass(engine, clock)
        typer.echo(f"finalized {result.finalized} invoice(s) on {result.contracts} contract(s)")
        return
    typer.echo("tally billing worker running", err=True)
    Worker(engine, clock, _worker_interval()).run_forever()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
