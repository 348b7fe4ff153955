"""Startup: concurrent migrations, and configuration or bind errors that end in one clear line.

Every `tally serve` and `tally worker` process migrates at startup, so several starting at once on a
fresh database must all come up (issue 11 §8). A bad setting, a database that cannot be reached or a
port in use gives one line on stderr naming the problem, a non-zero exit, no traceback, and creates
nothing: no database, no tenant, no token (issue 11 §9).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tally.db import migrate
from tests.support.servers import PG_ADMIN_URL, drop_pg_database, make_server

ROUNDS = 3
PROCESSES = 4


def _tally(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tally", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_migrations_on_a_fresh_database_all_succeed(backend: str, tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        srv, pg_url = make_server(backend, tmp_path / str(round_))
        try:
            procs = [_tally(srv.env, "migrate") for _ in range(PROCESSES)]
            results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
            for code, err in results:
                assert code == 0, err[-2000:]
            engine = srv.engine()
            try:
                assert migrate.current(engine) == migrate.head()
                assert migrate.drift(engine) == []
            finally:
                engine.dispose()
        finally:
            if pg_url:
                drop_pg_database(pg_url)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


BAD_SETTINGS = [
    # (extra environment, command-line arguments, what the one line must name)
    ({"TALLY_DATABASE_URL": "postgresql://tally:pw@127.0.0.1:{closed}/tally"}, [], "TALLY_DATABASE_URL"),
    ({"TALLY_DATABASE_URL": "mysql://tally@127.0.0.1/tally"}, [], "TALLY_DATABASE_URL"),
    ({"TALLY_DATABASE_URL": "not a url"}, [], "TALLY_DATABASE_URL"),
    ({"TALLY_DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/tally_absent_db"}, [], "TALLY_DATABASE_URL"),
    ({"TALLY_WEBHOOKS_RETENTION_DAYS": "thirty"}, [], "TALLY_WEBHOOKS_RETENTION_DAYS"),
    ({"TALLY_WORKER_INTERVAL_SECONDS": "soon"}, [], "TALLY_WORKER_INTERVAL_SECONDS"),
    ({"TALLY_MAX_BODY_BYTES": "4MB"}, [], "TALLY_MAX_BODY_BYTES"),
    ({"TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS": "maybe"}, [], "TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS"),
    ({"TALLY_DATA_DIR": "{file}"}, [], "TALLY_DATA_DIR"),
    ({"TALLY_DATA_DIR": "{file}/below"}, [], "TALLY_DATA_DIR"),
    ({}, ["--log-level", "loud"], "--log-level"),
    ({"TALLY_LOG_LEVEL": "loud"}, [], "TALLY_LOG_LEVEL"),
]


def _assert_one_clear_line(proc: subprocess.CompletedProcess[str], names: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("tally: ")
    assert names in lines[0]
    assert "Traceback" not in proc.stderr
    assert "tly_" not in proc.stdout + proc.stderr  # no bootstrap token
    assert "listening" not in proc.stdout + proc.stderr


# `serve` meets every case; `worker` and `migrate` read settings the same way, so a few cases each.
CASES = [("serve", *case) for case in BAD_SETTINGS] + [
    (command, *BAD_SETTINGS[i]) for command in ("worker", "migrate") for i in (0, 4, 8)
]


@pytest.mark.parametrize(("command", "extra", "args", "names"), CASES)
def test_a_bad_setting_is_one_clear_line_and_creates_nothing(
    command: str, extra: dict[str, str], args: list[str], names: str, tmp_path: Path
) -> None:
    srv, _ = make_server("sqlite", tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    env = dict(srv.env)
    env.update({k: v.format(closed=_closed_port(), file=a_file) for k, v in extra.items()})
    cmd = {"serve": ["serve", "--port", str(_closed_port())], "worker": ["worker", "--once"]}.get(
        command, [command]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tally", *cmd, *args], env=env, capture_output=True, text=True, timeout=60
    )
    _assert_one_clear_line(proc, names)
    assert not Path(srv.env["TALLY_DATA_DIR"]).exists()  # no SQLite database was created
    if "pw@" in extra.get("TALLY_DATABASE_URL", ""):
        assert ":pw@" not in proc.stderr  # the password is never shown


def test_a_port_in_use_prints_and_creates_nothing(backend: str, tmp_path: Path) -> None:
    srv, pg_url = make_server(backend, tmp_path)
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", srv.port))
            taken.listen()
            proc = subprocess.run(
                [sys.executable, "-m", "tally", "serve", "--port", str(srv.port)],
                env=srv.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        _assert_one_clear_line(proc, f"127.0.0.1:{srv.port}")
        assert "in use" in proc.stderr
        if pg_url:
            with psycopg.connect(pg_url) as conn:
                tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
            assert tables == (0,)  # not even migrated
        else:
            assert not Path(srv.env["TALLY_DATA_DIR"]).exists()
    finally:
        if pg_url:
            drop_pg_database(pg_url)
