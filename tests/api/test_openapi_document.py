"""/openapi.json tells the truth about the API (issue 11, point 10): request bodies for the routes that
take one, typed 200 responses, the errors in Metronome's `{"message"}` shape, and no test-clock route
unless the server runs with --test-clock. The document is read from a live server on both databases."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from tally.server.app import create_app
from tally.server.openapi import api_routes, body_model
from tally.settings import load
from tests.conftest import Running

TEST_CLOCK_PATHS = {"/tally/v1/test-clock", "/tally/v1/test-clock/get"}


@pytest.fixture
def doc(server: Running) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/openapi.json", timeout=30)
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def test_every_body_taking_route_documents_its_request_model(doc: dict[str, Any]) -> None:
    # The routes that take a body, from the application's own route table, with the model each parses with.
    app = create_app(load(), create_engine("sqlite://"))
    takes_body = {(m, ctx.path): body_model(r) for ctx, r in api_routes(app) for m in (ctx.methods or ())}
    takes_body = {k: v for k, v in takes_body.items() if v is not None}
    assert len(takes_body) >= 80
    for (method, path), model in takes_body.items():
        op = doc["paths"][path][method.lower()]
        schema = _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
        assert model is not None
        # The documented body is the model's own schema: same properties, same required fields.
        expected = model.model_json_schema()
        assert set(schema.get("properties", {})) == set(expected.get("properties", {})), path
        assert set(schema.get("required", [])) == set(expected.get("required", [])), path
    create = _resolve(
        doc, doc["paths"]["/v1/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert create["required"] == ["name"]
    assert create["additionalProperties"] is False  # unknown fields are a 400, and the document says so


def test_no_200_is_a_bare_string_and_json_200s_are_objects(doc: dict[str, Any]) -> None:
    for method, path, op in _operations(doc):
        content = op["responses"]["200"]["content"]
        if path.endswith("/pdf"):
            assert set(content) == {"application/pdf"}
            continue
        if path.endswith("/html"):
            assert set(content) == {"text/html"}
            continue
        schema = _resolve(doc, content["application/json"]["schema"])
        assert schema.get("type") in ("object", "array"), (method, path, schema)
        assert schema != {"type": "string"}
    customer = _resolve(
        doc,
        doc["paths"]["/v1/customers/{customer_id}"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ],
    )
    item = _resolve(doc, customer["properties"]["data"])
    assert {"id", "name", "external_id", "ingest_aliases", "created_at"} <= set(item["required"])
    page = _resolve(
        doc, doc["paths"]["/v1/customers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert set(page["required"]) == {"data", "next_page"}


def test_errors_are_documented_in_metronomes_shape(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["message"]
    for method, path, op in _operations(doc):
        for code in ("400", "401", "404"):
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert _resolve(doc, schema) == error, (method, path, code)
        assert "422" not in op["responses"]  # FastAPI's own validation shape is never sent
    # 409 on the calls that write (a duplicate name or a finalized invoice), not on reads.
    assert "409" in doc["paths"]["/v1/customers"]["post"]["responses"]
    assert "409" in doc["paths"]["/v1/invoices/void"]["post"]["responses"]
    assert "409" not in doc["paths"]["/v1/customers"]["get"]["responses"]


def test_test_clock_routes_only_with_the_flag(doc: dict[str, Any], server: Running) -> None:
    assert not TEST_CLOCK_PATHS & set(doc["paths"])
    with server.http() as c:
        assert c.post("/tally/v1/test-clock/get", json={}).status_code == 404
    flagged = create_app(load(test_clock=True), create_engine("sqlite://")).openapi()
    assert set(flagged["paths"]) >= TEST_CLOCK_PATHS
    assert "requestBody" in flagged["paths"]["/tally/v1/test-clock"]["post"]


def test_every_operation_is_authenticated_and_every_ref_resolves(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    text = str(doc)
    for name in set(re.findall(r"#/components/schemas/([^'\"]+)", text)):
        assert name in doc["components"]["schemas"], name
    for _, _, op in _operations(doc):
        assert op["security"] == [{"bearer": []}]
