"""JSON responses encoded by tally's exact codec (Decimal stays a JSON number, datetimes end in Z).

Endpoints return these directly, so FastAPI's float-based jsonable_encoder never touches money.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tally.wire import encode_json


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode_json(content)


def ok(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


def data(obj: Any) -> JSONResponse:
    return JSONResponse({"data": obj})


def page(items: list[Any], next_page: str | None) -> JSONResponse:
    return JSONResponse({"data": items, "next_page": next_page})


def empty() -> JSONResponse:
    return JSONResponse({})
