"""Real tally servers for tests: a subprocess on a loopback port, over a real SQLite file or a fresh
PostgreSQL database. Nothing is mocked: tests talk HTTP to the same code `tally serve` runs."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import Engine

from tally.auth import service as auth
from tally.clock import SystemClock
from tally.db import uow
from tally.db.engine import make_engine
from tally.settings import sqlite_url

PG_ADMIN_URL = os.environ.get("TALLY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_pg_database(template: str | None = None) -> str:
    name = f"tally_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    backend: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the server's own database."""
        pg = self.env.get("TALLY_DATABASE_URL", "")
        if pg:
            return "postgresql+psycopg://" + pg.split("://", 1)[1]
        return sqlite_url(Path(self.env["TALLY_DATA_DIR"]))

    def engine(self, pool_size: int = 2) -> Engine:
        """An engine on the server's database, for what a test must stage or read beneath the API."""
        return make_engine(self.database_url, pool_size=pool_size)

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "tally", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return out.stdout

    def token(self, tenant: str) -> str:
        """A new API token for `tenant` (created if missing), written straight into the server's database
        by the same service `tally tokens create` calls (tests/api/test_tokens_cli.py drives the command)."""
        engine = self.engine(pool_size=1)
        try:
            now = SystemClock().now()
            with uow.write(engine) as conn:
                return auth.create_token(conn, auth.get_or_create_tenant(conn, tenant, now), now, name="cli")
        finally:
            engine.dispose()

    def start(self) -> None:
        assert self.log_path is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tally", "serve", "--port", str(self.port), *self.extra_args],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited early; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy in 60 s")

    def stop(self, sig_kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if sig_kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Templates:
    """One migrated database per backend per test process, copied for every server that asks for a
    migrated database: `tally migrate` runs once instead of once per server. SQLite: the migrated file;
    PostgreSQL: a template database (`CREATE DATABASE ... TEMPLATE`), dropped when the process ends."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._sqlite: Path | None = None
        self._pg: str | None = None

    def sqlite_file(self) -> Path:
        if self._sqlite is None:
            self._dir = Path(tempfile.mkdtemp(prefix="tally-template-"))
            srv, _ = make_server("sqlite", self._dir)
            srv.cli("migrate")
            self._sqlite = self._dir / "data" / "tally.db"
        return self._sqlite

    def pg_name(self) -> str:
        if self._pg is None:
            url = create_pg_database()
            srv, _ = make_server("postgres", Path(tempfile.mkdtemp(prefix="tally-template-")))
            srv.env["TALLY_DATABASE_URL"] = url
            srv.cli("migrate")
            self._pg = url.rsplit("/", 1)[1]
            atexit.register(drop_pg_database, url)
        return self._pg


_TEMPLATES = _Templates()


def make_server(
    backend: str, workdir: Path, *extra_args: str, migrated: bool = False
) -> tuple[Server, str | None]:
    """A server ready to start, plus the PostgreSQL database url to drop afterwards (if any). With
    `migrated`, its database starts as a copy of a migrated one (what `tally migrate` leaves)."""
    # OTEL_*: a server traces only when its test asks (tests/api/test_tracing.py).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "METRONOME_", "OTEL_"))}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    # Every server the suite starts confines its own outbound connections to loopback (issue 11).
    env["TALLY_OUTBOUND_LOOPBACK_ONLY"] = "1"
    pg_url = None
    if backend == "sqlite":
        env["TALLY_DATA_DIR"] = str(workdir / "data")
        if migrated:
            (workdir / "data").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_TEMPLATES.sqlite_file(), workdir / "data" / "tally.db")
    elif backend == "postgres":
        pg_url = create_pg_database(_TEMPLATES.pg_name() if migrated else None)
        env["TALLY_DATABASE_URL"] = pg_url
        env["TALLY_DATA_DIR"] = str(workdir / "data")  # holds secret.key (webhook signing secrets)
    else:
        raise ValueError(backend)
    server = Server(backend=backend, env=env, log_path=workdir / "server.log", extra_args=extra_args)
    return server, pg_url


def eventually(check: Callable[[], bool], seconds: float = 10, interval: float = 0.1) -> None:
    """Poll `check` until it holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)
