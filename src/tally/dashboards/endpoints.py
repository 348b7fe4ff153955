"""`POST /v1/dashboards/getEmbeddableUrl`: a signed URL to one customer's read-only dashboard."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tally.auth.dependencies import CtxDep, JsonBody
from tally.customers import service as customers
from tally.dashboards import tokens
from tally.dashboards.schemas import EmbeddableUrlDoc, GetEmbeddableUrl
from tally.db import uow
from tally.errors import BadRequest
from tally.kit.responses import Data, JSONResponse, data
from tally.settings import Settings
from tally.webhooks.keys import server_key

router = APIRouter(prefix="/v1/dashboards")

EMBED_PATH = "/embed"

# The values an option takes (Metronome's documented ones); others are refused with a 400.
OPTION_VALUES: dict[str, frozenset[str] | None] = {
    "show_zero_usage_line_items": frozenset({"true", "false"}),
    "contract_id": None,
    "invoice_type": frozenset({"USAGE", "SCHEDULED"}),
    "invoice_status_filter": frozenset({"VOID", "FINALIZED", "DRAFT", "FINALIZED_AND_DRAFT", "ALL"}),
    "hide_voided_invoices": frozenset({"true", "false"}),
    "billable_status_filter": frozenset({"billable", "unbillable"}),
    "hide_grant_name": frozenset({"true", "false"}),
    "credit_ledger_credit_type_id": None,
}


def _options(req: GetEmbeddableUrl) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, option in enumerate(req.dashboard_options or []):
        allowed = OPTION_VALUES[option.key]
        if allowed is not None and option.value not in allowed:
            raise BadRequest(f"dashboard_options[{i}].value: must be one of {', '.join(sorted(allowed))}")
        out[option.key] = option.value
    return out


@router.post("/getEmbeddableUrl", response_model=Data[EmbeddableUrlDoc])
def get_embeddable_url(ctx: CtxDep, request: Request, req: JsonBody[GetEmbeddableUrl]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        customers.get(conn, ctx.tenant_id, req.customer_id)  # 404 unless this tenant's
    groups = tuple(
        {"key": g.group_key_name, "name": g.display_name, "values": g.value_display_names or {}}
        for g in req.bm_group_key_overrides or []
    )
    claims = tokens.Claims(
        tenant_id=ctx.tenant_id,
        customer_id=req.customer_id,
        dashboard=req.dashboard,
        expires_at=ctx.now() + tokens.TTL,
        colors=tuple((c.name, c.value) for c in req.color_overrides or []),
        options=_options(req),
        group_keys=groups,
    )
    settings: Settings = request.app.state.settings
    token = tokens.issue(server_key(settings), claims)
    base = str(request.base_url).rstrip("/")
    return data({"url": f"{base}{EMBED_PATH}/{token}"})
