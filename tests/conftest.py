"""Shared fixtures: one real server per backend per session, driven over loopback HTTP.

`--backend sqlite,postgres` (default both) chooses the databases; every test that uses `server` runs on
each of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from metronome import Metronome

from tests.support.servers import Server, drop_pg_database, make_server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", default="sqlite,postgres", help="comma-separated: sqlite,postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("backend").split(",") if b.strip()]
        metafunc.parametrize("backend", backends, scope="session")


class Running:
    """A started server with two tenants: `a` (the one under test) and `b` (the intruder)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url
        self.backend = server.backend
        self.token_a = server.token("alpha")
        self.token_b = server.token("bravo")

    def sdk(self, token: str | None = None, **kw: object) -> Metronome:
        options: dict[str, object] = {"max_retries": 0, **kw}
        return Metronome(
            base_url=self.url,
            bearer_token=token or self.token_a,
            _strict_response_validation=True,
            **options,  # type: ignore[arg-type]
        )

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token_a}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def serving(backend: str, workdir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    """A migrated, started server (`tally serve *args`, extra environment `env`) on its own database,
    stopped and dropped afterwards."""
    srv, pg_url = make_server(backend, workdir, *args)
    srv.env.update(env or {})
    try:
        srv.cli("migrate")
        running = Running(srv)
        srv.start()
        yield running
    finally:
        srv.stop()
        if pg_url:
            drop_pg_database(pg_url)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(backend, tmp_path_factory.mktemp(f"srv-{backend}")) as running:
        yield running


@pytest.fixture
def client(server: Running) -> Metronome:
    return server.sdk()


@pytest.fixture
def intruder(server: Running) -> Metronome:
    return server.sdk(server.token_b)


@pytest.fixture
def http(server: Running) -> Iterator[httpx.Client]:
    with server.http() as c:
        yield c


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]
