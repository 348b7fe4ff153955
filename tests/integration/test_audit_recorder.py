"""The audit row and the unit of work, on both databases: the row commits or rolls back with the change, a
request gets at most one row however many write transactions it opens, and a failed transaction that the
caller retries still gets its row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, update

from tally.audit import recorder
from tally.auth.service import create_token, get_or_create_tenant, hash_token
from tally.clock import FixedClock
from tally.db import migrate, uow
from tally.db.engine import make_engine
from tally.models.audit import audit_logs
from tally.models.tenants import api_tokens
from tests.support.servers import create_pg_database, drop_pg_database

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "audit.db"
        eng = make_engine(f"sqlite:///{path}")
        migrate.upgrade(eng)
        recorder.install(eng)
        yield eng
        eng.dispose()
    else:
        url = create_pg_database()
        eng = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        migrate.upgrade(eng)
        recorder.install(eng)
        yield eng
        eng.dispose()
        drop_pg_database(url)


@pytest.fixture
def tenant(engine: Engine) -> Iterator[tuple[str, str]]:
    """A fresh tenant and its token's hash; the request scope is cleared afterwards."""
    with uow.write(engine) as conn:
        t = get_or_create_tenant(conn, f"audit-{datetime.now(UTC).timestamp()}", NOW)
        token = create_token(conn, t, NOW, name="ci")
    yield t.id, hash_token(token)
    recorder.begin(**_request(t.id, "", template=None))


def _request(
    tenant_id: str, token_hash: str, template: str | None = "/v1/customers/{customer_id}/setName"
) -> dict[str, Any]:
    return {
        "method": "POST",
        "template": template,
        "path": "/v1/customers/c-1/setName",
        "path_params": {"customer_id": "c-1"},
        "tenant_id": tenant_id,
        "token_hash": token_hash,
        "ip": "10.0.0.1",
        "user_agent": "ua",
        "clock": FixedClock(NOW),
    }


def _rows(engine: Engine, tenant_id: str) -> int:
    with uow.read(engine) as conn:
        n = conn.execute(select(func.count()).where(audit_logs.c.tenant_id == tenant_id)).scalar_one()
    return int(n)


def _touch(conn: Connection, tenant_id: str) -> None:
    # Any write of the request's own: rename the token (a row every tenant has).
    conn.execute(update(api_tokens).where(api_tokens.c.tenant_id == tenant_id).values(name="ci"))


def _failing_write(engine: Engine, tenant_id: str) -> None:
    with uow.write(engine) as conn:
        _touch(conn, tenant_id)
        raise RuntimeError("the service failed after writing")


def test_committed_change_has_exactly_one_row(engine: Engine, tenant: tuple[str, str]) -> None:
    tenant_id, digest = tenant
    recorder.begin(**_request(tenant_id, digest))
    with uow.write(engine) as conn:
        _touch(conn, tenant_id)
    with uow.write(engine) as conn:  # a second transaction in the same request adds nothing
        _touch(conn, tenant_id)
    with uow.read(engine) as conn:
        rows = conn.execute(select(audit_logs).where(audit_logs.c.tenant_id == tenant_id)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.resource_type, row.resource_id) == ("customer.set_name", "customer", "c-1")
    assert (row.actor_name, row.ip, row.user_agent, row.created_at) == ("ci", "10.0.0.1", "ua", NOW)
    assert row.description == "POST /v1/customers/c-1/setName"


def test_rolled_back_change_leaves_no_row(engine: Engine, tenant: tuple[str, str]) -> None:
    tenant_id, digest = tenant
    recorder.begin(**_request(tenant_id, digest))
    with pytest.raises(RuntimeError):
        _failing_write(engine, tenant_id)
    assert _rows(engine, tenant_id) == 0
    # The retry that commits is the request's one audited write.
    with uow.write(engine) as conn:
        _touch(conn, tenant_id)
    assert _rows(engine, tenant_id) == 1


def test_no_scope_no_row(engine: Engine, tenant: tuple[str, str]) -> None:
    tenant_id, digest = tenant
    recorder.begin(**{**_request(tenant_id, digest), "template": "/v1/ingest", "path": "/v1/ingest"})
    with uow.write(engine) as conn:
        _touch(conn, tenant_id)
    assert _rows(engine, tenant_id) == 0
