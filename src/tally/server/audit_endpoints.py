"""`GET /v1/auditLogs`. Lives in server/ because it needs authentication (tally.auth sits above
tally.audit); the log itself is written by tally.audit.recorder, not by any endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tally.audit import service
from tally.auth.dependencies import CtxDep
from tally.db import uow
from tally.kit.responses import Doc, JSONResponse, Page, WireTs, page

router = APIRouter(prefix="/v1/auditLogs")


class AuditLogDoc(Doc):
    id: str
    timestamp: WireTs
    request: dict[str, Any]


@router.get("", response_model=Page[AuditLogDoc])
def list_audit_logs(
    ctx: CtxDep,
    limit: str | None = None,
    next_page: str | None = None,
    sort: str | None = None,
    starting_on: str | None = None,
    ending_before: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> JSONResponse:
    q = service.parse_query(
        limit=limit,
        next_page=next_page,
        sort=sort,
        starting_on=starting_on,
        ending_before=ending_before,
        resource_type=resource_type,
        resource_id=resource_id,
    )
    with uow.read(ctx.engine) as conn:
        items, nxt = service.page(conn, ctx.tenant_id, q)
    return page(items, nxt)
