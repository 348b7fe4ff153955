"""`/openapi.json`, built from the models the routes themselves use.

- Request bodies: each route takes its body as `req: JsonBody[Model]` (a `kit.api.ParsedBody` dependency),
  so the documented body is the model the route validates with. FastAPI cannot see it on its own, because
  tally decodes bodies itself (exact decimals) instead of letting FastAPI parse them.
- 200 responses: each JSON route declares `response_model=` (the shapes in `kit.responses` and the domains'
  `schemas.py`). FastAPI would document them only for its own JSONResponse class, so they are added here.
- Errors: every failure is `{"message": ...}` (`kit.responses.Error`) from `server/app.py`.
- Routes that are not mounted (the test clock without `--test-clock`) are not in the document.

All schemas come from one pydantic pass, so names never collide and every `$ref` resolves.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from tally.kit.api import ParsedBody
from tally.kit.responses import Error

REF = "#/components/schemas/{model}"

_ERRORS = {
    400: "Bad request: the body, a query parameter or a path parameter is invalid",
    401: "Missing, malformed or unknown API token",
    404: "Not found (or owned by another tenant)",
    409: "Conflict with the current state; do not retry",
    413: "Request body too large",
    503: "Database unavailable; retry later",
}


def body_model(route: APIRoute) -> type[BaseModel] | None:
    """The model of the route's `JsonBody[...]` dependency, if it has one."""

    def walk(dep: Dependant) -> type[BaseModel] | None:
        if isinstance(dep.call, ParsedBody):
            model: type[BaseModel] = dep.call.model
            return model
        for sub in dep.dependencies:
            found = walk(sub)
            if found is not None:
                return found
        return None

    return walk(route.dependant)


def _writes(route: APIRoute) -> bool:
    """Whether the route opens a write unit of work (only those can answer 409)."""
    try:
        return "uow.write(" in inspect.getsource(route.endpoint)
    except (OSError, TypeError):
        return True


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def api_routes(app: FastAPI) -> list[tuple[RouteContext, APIRoute]]:
    """The documented API routes, each with its context (full path, methods) as the app mounts it."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            out.append((ctx, route))
    return out


def build(app: FastAPI) -> dict[str, Any]:
    mounted = api_routes(app)
    routes = [route for _, route in mounted]
    doc = get_openapi(title=app.title, version=app.version, routes=[ctx for ctx, _ in mounted])

    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for route in routes:
        req = body_model(route)
        if req is not None:
            keys.append((req, "validation"))
        if route.response_model is not None:
            keys.append((route.response_model, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(keys)), ref_template=REF)
    error = _json(refs[(Error, "serialization")])

    for ctx, route in mounted:
        item = doc["paths"][ctx.path_format]
        for method in sorted(ctx.methods or ()):
            op = item[method.lower()]
            responses: dict[str, Any] = {}
            req = body_model(route)
            if req is not None:
                op["requestBody"] = {"required": False, "content": _json(refs[(req, "validation")])}
            if route.response_model is not None:
                schema = refs[(route.response_model, "serialization")]
                responses["200"] = {"description": "Success", "content": _json(schema)}
            elif "200" in op["responses"] and 200 in route.responses:
                responses["200"] = op["responses"]["200"]  # a non-JSON answer the route documents itself
            else:
                raise RuntimeError(f"{method} {ctx.path} declares no response_model")
            codes = [400, 401, 404]
            if _writes(route):
                codes.append(409)
            if req is not None:
                codes.append(413)
            codes.append(503)
            for code in codes:
                responses[str(code)] = {"description": _ERRORS[code], "content": error}
            op["responses"] = responses
            op["security"] = [{"bearer": []}]

    components = doc.setdefault("components", {})
    components["schemas"] = defs.get("$defs", {})
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc


def install(app: FastAPI) -> None:
    """Serve the built document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
