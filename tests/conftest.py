"""Shared fixtures: one real server per backend per session, driven over loopback HTTP.

`--backend sqlite,postgres` (default both) chooses the databases; every test that uses `server` runs on
each of them.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from metronome import Metronome

from tests.support.servers import Server, drop_pg_database, make_server

pytest.register_assert_rewrite("tests.support.lines")  # assert_lines failures show the differing fields

# The egress guard (tests/support/egress/sitecustomize.py): every Python process the suite starts, and this
# one, refuses and records any connection past loopback. The suite fails if anything was recorded.
EGRESS_DIR = Path(__file__).resolve().parent / "support" / "egress"
if "EGRESS_GUARD_LOG" not in os.environ:
    _fd, _log = tempfile.mkstemp(prefix="tally-egress-", suffix=".log")
    os.close(_fd)
    os.environ["EGRESS_GUARD_LOG"] = _log
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(EGRESS_DIR), os.environ.get("PYTHONPATH")) if p)
EGRESS_LOG = Path(os.environ["EGRESS_GUARD_LOG"])


def _install_guard_here() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tally_tests_egress_guard", EGRESS_DIR / "sitecustomize.py")
    assert spec is not None
    assert spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


_install_guard_here()

# One hypothesis profile for every run (`TALLY_HYPOTHESIS_PROFILE=dev` for the library's defaults): no
# deadlines, since a property test's examples share two cores with servers and browsers and a slow example
# is not a failure; `too_slow` is not a failure either; a failure prints the blob that reproduces it.
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True, derandomize=False
)
settings.register_profile("dev")
settings.load_profile(os.environ.get("TALLY_HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    recorded = EGRESS_LOG.read_text() if EGRESS_LOG.exists() else ""
    if recorded.strip():
        print(f"\nEGRESS GUARD: connections past loopback were attempted (and refused):\n{recorded[-4000:]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
    srv, pg_url = make_server(backend, workdir, *args, migrated=True)
    srv.env.update(env or {})
    try:
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
