"""Request validation shared by every endpoint: pydantic models over exactly-decoded JSON.

Bodies are decoded by tally.wire (numbers arrive as Decimal), then validated here. Any validation error
becomes a 400 whose message names the field, in Metronome's `{"message": ...}` shape.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

import anyio
from fastapi import Depends, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tally.errors import BadRequest, PayloadTooLarge
from tally.wire import check_decimal, decode_json, parse_decimal_string, parse_timestamp


async def read_json(request: Request, limit: int, decompressed_limit: int) -> Any:
    """The request body decoded exactly (tally.wire), refused past `limit` bytes as sent and, when
    gzip-encoded, past `decompressed_limit` bytes inflated. A zero-length body is `{}` (the SDK sends none
    for some POSTs)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        raw = _gunzip(raw, decompressed_limit)
    if not raw.strip():
        return {}
    return decode_json(raw)


def _gunzip(raw: bytes, limit: int) -> bytes:
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(raw, limit)
        if d.unconsumed_tail:
            raise PayloadTooLarge(f"Decompressed body exceeds {limit} bytes")
        return out
    except (zlib.error, gzip.BadGzipFile):
        raise BadRequest("Body is not valid gzip") from None


class Req(BaseModel):
    """Base of every request body: unknown fields are rejected, so typos and mass assignment fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, int):
        return check_decimal(Decimal(value), "number")
    if isinstance(value, Decimal):
        return check_decimal(value, "number")
    if isinstance(value, str):
        return parse_decimal_string(value, "number")
    raise ValueError("must be a number")


def _as_value_error(parser: Any) -> Any:
    """Run a wire parser inside a pydantic validator: its BadRequest becomes a ValueError, so the 400
    names the field (`rates[0].price: ...`) rather than the parser's generic label."""

    def run(value: Any) -> Any:
        try:
            return parser(value)
        except BadRequest as exc:
            raise ValueError(exc.message.split(": ", 1)[-1]) from None

    return run


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    return parse_timestamp(value, "timestamp")


def _text(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Num = Annotated[Decimal, BeforeValidator(_as_value_error(_number))]
NonNegNum = Annotated[Decimal, BeforeValidator(_as_value_error(_number)), Field(ge=0)]
# Days until an invoice is due: a due date must stay a real date.
PaymentTermsDays = Annotated[Decimal, BeforeValidator(_as_value_error(_number)), Field(ge=0, le=3650)]
Ts = Annotated[datetime, BeforeValidator(_as_value_error(_timestamp))]
Str = Annotated[str, BeforeValidator(_text), Field(max_length=4096)]
NonEmptyStr = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=4096)]
Id = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=255)]

# Metronome's billing providers (customer billing configurations, contracts, settings).
BillingProviderName = Literal[
    "aws_marketplace",
    "stripe",
    "netsuite",
    "custom",
    "azure_marketplace",
    "quickbooks_online",
    "workday",
    "gcp_marketplace",
    "metronome",
]

M = TypeVar("M", bound=BaseModel)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        parts.append(f"{_loc(tuple(err.get('loc', ())))}: {msg}")
    return "; ".join(parts)


def parse(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc)) from None


def hour_aligned(value: datetime, field: str) -> datetime:
    if value.minute or value.second or value.microsecond:
        raise BadRequest(f"{field}: must be on an hour boundary (e.g. 01:00, not 01:30)")
    return value


Reader = Callable[[Request], Awaitable[Any]]


class ParsedBody(Generic[M]):
    """A FastAPI dependency: the body read by `reader` (exact JSON, size-limited), validated by `model`.

    The model is kept on the dependency, and `/openapi.json` documents a route's request body from it
    (tally.server.openapi), so the document is built from the very model the route parses with.
    """

    def __init__(self, model: type[M], reader: Reader) -> None:
        self.model = model
        self.reader = reader

    async def __call__(self, request: Request) -> M:
        raw = await self.reader(request)
        return await anyio.to_thread.run_sync(parse, self.model, raw)


class RawBody(ParsedBody[M]):
    """The body read by `reader`, unvalidated, for a route that checks it by hand (POST /v1/ingest);
    `model` only documents it."""

    async def __call__(self, request: Request) -> Any:
        return await self.reader(request)


def body_type(reader: Reader) -> Any:
    """`X = body_type(reader)`; then a route parameter `req: X[Model]` receives the parsed body."""

    class _Body:
        def __class_getitem__(cls, model: type[BaseModel]) -> Any:
            return Annotated[model, Depends(ParsedBody(model, reader))]

    return _Body
