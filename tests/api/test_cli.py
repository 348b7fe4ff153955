"""The CLI contract: `tokens create` prints the token alone on the last line; the first `serve` on an
empty database creates a tenant and prints a token once."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.servers import make_server


def test_tokens_create_prints_token_on_last_line(tmp_path: Path) -> None:
    srv, _ = make_server("sqlite", tmp_path)
    out = srv.cli("tokens", "create", "--tenant", "acme")
    token = out.strip().splitlines()[-1]
    assert token.startswith("tly_")
    assert " " not in token


def test_first_serve_bootstraps_a_tenant_and_token_once(tmp_path: Path) -> None:
    srv, _ = make_server("sqlite", tmp_path)
    srv.start()
    try:
        assert srv.log_path is not None
        lines = srv.log_path.read_text().splitlines()
        token = next(line for line in lines if line.startswith("tly_"))
        r = httpx.get(srv.url + "/v1/credit-types/list", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert any(ct["name"] == "USD (cents)" for ct in r.json()["data"])
    finally:
        srv.stop()
    srv.start()  # second start: no new token printed
    try:
        assert srv.log_path.read_text().count("tly_") == 1
    finally:
        srv.stop()
