"""Balance endpoints: customer-level commits/credits, manual ledger entries, balance list, net balance."""

from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.contracts import schemas as s
from tally.contracts import wire
from tally.contracts.balances import service as balances
from tally.contracts.schemas_create import CreateCustomerCommit, CreateCustomerCredit
from tally.db import uow
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import Data, Empty, IdDoc, JSONResponse, Page, data, empty, page
from tally.rating.inputs import CommitType

router = APIRouter(prefix="/v1/contracts")


@router.post("/customerCommits/create", response_model=Data[IdDoc])
def create_commit(ctx: CtxDep, req: JsonBody[CreateCustomerCommit]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        commit_id = balances.create_customer_balance(conn, ctx.tenant_id, req, "commit", ctx.now())
    return data({"id": commit_id})


@router.post("/customerCredits/create", response_model=Data[IdDoc])
def create_credit(ctx: CtxDep, req: JsonBody[CreateCustomerCredit]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        credit_id = balances.create_customer_balance(conn, ctx.tenant_id, req, "credit", ctx.now())
    return data({"id": credit_id})


@router.post("/customerCommits/list", response_model=Page[s.BalanceDoc])
def list_commits(ctx: CtxDep, req: JsonBody[s.ListCustomerCommits]) -> JSONResponse:
    return _list(
        ctx,
        req,
        (CommitType.PREPAID, CommitType.POSTPAID),
        bool(req.include_contract_commits),
        req.commit_id,
        req.access_type,
    )


@router.post("/customerCredits/list", response_model=Page[s.BalanceDoc])
def list_credits(ctx: CtxDep, req: JsonBody[s.ListCustomerCredits]) -> JSONResponse:
    return _list(ctx, req, (CommitType.CREDIT,), bool(req.include_contract_credits), req.credit_id, None)


@router.post("/customerBalances/list", response_model=Page[s.BalanceDoc])
def list_balances(ctx: CtxDep, req: JsonBody[s.ListBalances]) -> JSONResponse:
    return _list(
        ctx,
        req,
        (CommitType.PREPAID, CommitType.POSTPAID, CommitType.CREDIT),
        # A customer's balances include its contracts' unless asked not to (docs/decisions.md, Contracts).
        req.include_contract_balances is not False,
        req.id,
        req.access_type,
        exclude_zero=bool(req.exclude_zero_balances),
    )


def _list(
    ctx: CtxDep,
    req: s.ListCustomerCommits | s.ListCustomerCredits | s.ListBalances,
    kinds: tuple[str, ...],
    include_contract: bool,
    balance_id: str | None,
    access_type: str | None,
    *,
    exclude_zero: bool = False,
) -> JSONResponse:
    n = check_limit(req.limit)
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        found = balances.list_balances(
            conn,
            ctx.tenant_id,
            req.customer_id,
            kinds=kinds,
            include_contract=include_contract,
            include_archived=bool(req.include_archived),
            balance_id=balance_id,
            covering=req.covering_date,
            starting_at=req.starting_at,
            effective_before=req.effective_before,
            after=after_id(req.next_page),
            limit=n,
            now=now,
            exclude_zero=exclude_zero,
            access_type=access_type,
        )
        items, nxt = cut(found, n, lambda b: b.id)
        names = wire.names_for(conn, ctx.tenant_id, [], items, now, ledgers=bool(req.include_ledgers))
    out = [
        wire.balance_wire(
            b,
            names,
            now,
            include_balance=bool(req.include_balance),
            include_ledgers=bool(req.include_ledgers),
        )
        for b in items
    ]
    return page(out, nxt)


@router.post("/customerCommits/updateEndDate", response_model=Data[IdDoc])
def commit_end_date(ctx: CtxDep, req: JsonBody[s.UpdateCommitEndDate]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        balances.update_end_date(conn, ctx.tenant_id, req, "commit", ctx.now())
    return data({"id": req.commit_id})


@router.post("/customerCredits/updateEndDate", response_model=Data[IdDoc])
def credit_end_date(ctx: CtxDep, req: JsonBody[s.UpdateCreditEndDate]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        balances.update_end_date(conn, ctx.tenant_id, req, "credit", ctx.now())
    return data({"id": req.credit_id})


@router.post("/addManualBalanceLedgerEntry", response_model=Empty)
def add_manual_entry(ctx: CtxDep, req: JsonBody[s.AddManualBalanceEntry]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        balances.add_manual_entry(conn, ctx.tenant_id, req, ctx.now())
    return empty()


@router.post("/customerBalances/getNetBalance", response_model=Data[s.NetBalanceDoc])
def net_balance(ctx: CtxDep, req: JsonBody[s.GetNetBalance]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        total, credit_type = balances.net_balance(conn, ctx.tenant_id, req, ctx.now())
    return data({"balance": total, "credit_type_id": credit_type or ""})
