"""The `tally` command: serve, worker, migrate, tokens, export."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from tally import settings as settings_mod
from tally.auth import service as auth
from tally.clock import Clock, SystemClock
from tally.db import migrate as migrations
from tally.db import uow
from tally.db.engine import make_engine
from tally.errors import TallyError
from tally.models.tenants import tenants

app = typer.Typer(add_completion=False, no_args_is_help=True, help="tally: usage-based billing engine")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens")
app.add_typer(tokens_app, name="tokens")
export_app = typer.Typer(no_args_is_help=True, help="export data as CSV")
app.add_typer(export_app, name="export")


def _engine(settings: settings_mod.Settings):  # type: ignore[no-untyped-def]
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = settings_mod.load()
    migrations.upgrade(_engine(settings))
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
    clock = _clock(settings, engine)
    if once:
        result = run_pass(engine, clock)
        typer.echo(f"finalized {result.finalized} invoice(s) on {result.contracts} contract(s)")
        return
    typer.echo("tally billing worker running", err=True)
    Worker(engine, clock, _worker_interval()).run_forever()


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
    from tally.wire import parse_timestamp

    try:
        lo, hi = parse_timestamp(start, "--from"), parse_timestamp(end, "--to")
    except TallyError as exc:
        raise typer.BadParameter(str(exc)) from None
    if hi <= lo:
        raise typer.BadParameter("--to must be after --from")
    wanted = tuple(dict.fromkeys(s.upper() for s in status)) or ("FINALIZED",)
    bad = [s for s in wanted if s not in export.STATUSES]
    if bad:
        raise typer.BadParameter(f"--status: {', '.join(bad)} is not one of {', '.join(export.STATUSES)}")
    settings = settings_mod.load()
    engine = _engine(settings)
    with uow.read(engine) as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar()
        if tenant_id is None:
            raise typer.BadParameter(f"--tenant: no tenant named {tenant!r}")
        q = export.Query(str(tenant_id), lo, hi, wanted, customer)
        total = export.count_issued(conn, q) if wanted != ("DRAFT",) else None
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
        task = progress.add_task("invoices", total=None if "DRAFT" in wanted else total)
        n = export.write_csv(engine, q, f, SystemClock().now(), lambda: progress.advance(task))
    typer.echo(f"wrote {n} line(s) to {out}", err=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
