"""JSON responses encoded by tally's exact codec (Decimal stays a JSON number, datetimes end in Z).

Endpoints return these directly, so FastAPI's float-based jsonable_encoder never touches money.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, WithJsonSchema
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


# ---- Documented response shapes ---------------------------------------------------------------------------
# Every JSON route declares its 200 shape with `response_model=` (tally.server.openapi builds /openapi.json
# from it; the schemathesis test checks live responses against it). The handlers still return the exact
# responses above: FastAPI never re-serializes a Response, so these models describe and do not convert.

T = TypeVar("T")

# A JSON number (tally writes Decimal as a number, never as a string).
WireNum = Annotated[Decimal, WithJsonSchema({"type": "number"})]
# An RFC 3339 timestamp string, `Z` for UTC.
WireTs = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Doc(BaseModel):
    """A resource: the fields listed are always present; others may be (additionalProperties)."""

    model_config = ConfigDict(extra="allow")


class Data(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid")
    data: T


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_page` is null on the last page."""

    model_config = ConfigDict(extra="forbid")
    data: list[T]
    next_page: str | None


class CursorPage(BaseModel, Generic[T]):
    """A page of the contract lists, whose next-page token is named `cursor`."""

    model_config = ConfigDict(extra="forbid")
    data: list[T]
    cursor: str | None


class Empty(BaseModel):
    """`{}`: the call succeeded and returns nothing."""

    model_config = ConfigDict(extra="forbid")


class IdDoc(Doc):
    id: str


class Error(BaseModel):
    """Metronome's error shape: every 4xx and 5xx body."""

    model_config = ConfigDict(extra="forbid")
    message: str
