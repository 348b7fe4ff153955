"""`v1.packages.*` (thin: parse, one unit of work; the rules are in tally.contracts.packages.service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from tally.auth.dependencies import CtxDep, json_body
from tally.contracts.packages import service as packages
from tally.db import uow
from tally.errors import BadRequest
from tally.kit.api import RawBody
from tally.kit.pagination import check_limit
from tally.kit.responses import Data, Doc, IdDoc, JSONResponse, Page, data, page
from tally.wire import parse_timestamp

router = APIRouter(prefix="/v1/packages")


# Request shapes for /openapi.json. The routes check the raw body by hand (packages.service), so these
# only document it (RawBody).
class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreatePackage(BaseModel):
    """A package: a contract template (name, rate card, terms); see Metronome's v1.packages.create."""

    model_config = ConfigDict(extra="allow")
    name: str


class PackageRef(_Doc):
    package_id: str


class ListPackages(_Doc):
    limit: int | None = None
    next_page: str | None = None
    archive_filter: str | None = None


class ListContractsOnPackage(_Doc):
    package_id: str
    limit: int | None = None
    next_page: str | None = None
    covering_date: str | None = None
    include_archived: bool | None = None
    starting_at: str | None = None


CreateBody = Annotated[Any, Depends(RawBody(CreatePackage, json_body))]
RefBody = Annotated[Any, Depends(RawBody(PackageRef, json_body))]
ListBody = Annotated[Any, Depends(RawBody(ListPackages, json_body))]
ContractsBody = Annotated[Any, Depends(RawBody(ListContractsOnPackage, json_body))]


def _obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object")
    return body


def _id(body: dict[str, Any], key: str = "package_id") -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key}: required")
    if "\x00" in value:
        raise BadRequest(f"{key}: must not contain NUL characters")
    return value


def _only(body: Any, allowed: tuple[str, ...]) -> None:
    _obj(body)
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise BadRequest(f"{extra[0]}: unknown field")


@router.post("/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, body: CreateBody) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        package_id = packages.create(conn, ctx.tenant_id, _obj(body), ctx.now(), ctx.tenant.name)
    return data({"id": package_id})


@router.post("/get", response_model=Data[Doc])
def retrieve(ctx: CtxDep, body: RefBody) -> JSONResponse:
    _only(body, ("package_id",))
    with uow.read(ctx.engine) as conn:
        row = packages.get_row(conn, ctx.tenant_id, _id(body))
        (item,) = packages.wire_many(conn, ctx.tenant_id, [row], ctx.now())
    return data(item)


@router.post("/list", response_model=Page[Doc])
def list_(
    ctx: CtxDep, body: ListBody, limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    # The SDK pages with `limit` and `next_page` in the query string; a body may carry them too.
    _only(body, ("limit", "next_page", "archive_filter"))
    n = check_limit(limit if limit is not None else body.get("limit"))
    cursor = next_page if next_page is not None else body.get("next_page")
    with uow.read(ctx.engine) as conn:
        rows, nxt = packages.list_rows(conn, ctx.tenant_id, body.get("archive_filter"), n, cursor)
        items = packages.wire_many(conn, ctx.tenant_id, rows, ctx.now())
    return page(items, nxt)


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, body: RefBody) -> JSONResponse:
    _only(body, ("package_id",))
    with uow.write(ctx.engine) as conn:
        package_id = packages.archive(conn, ctx.tenant_id, _id(body), ctx.now())
    return data({"id": package_id})


@router.post("/listContractsOnPackage", response_model=Page[Doc])
def contracts_on_package(
    ctx: CtxDep, body: ContractsBody, limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    _only(body, ("package_id", "limit", "next_page", "covering_date", "include_archived", "starting_at"))
    n = check_limit(limit if limit is not None else body.get("limit"))
    cursor = next_page if next_page is not None else body.get("next_page")
    covering = body.get("covering_date")
    starting = body.get("starting_at")
    with uow.read(ctx.engine) as conn:
        items, nxt = packages.contracts_on_package(
            conn,
            ctx.tenant_id,
            _id(body),
            covering_date=parse_timestamp(covering, "covering_date") if covering else None,
            starting_at=parse_timestamp(starting, "starting_at") if starting else None,
            include_archived=bool(body.get("include_archived")),
            limit=n,
            cursor=cursor,
        )
    return page(items, nxt)
