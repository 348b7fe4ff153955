"""The seat and subscription-quantity read requests (SPEC §5.8)."""

from __future__ import annotations

from tally.kit.api import Id, Num, Req, Str, Ts


class GetSeatsHistory(Req):
    contract_id: Id
    customer_id: Id
    subscription_id: Id
    covering_date: Ts | None = None
    cursor: Str | None = None
    ending_before: Ts | None = None
    limit: Num | None = None
    starting_at: Ts | None = None


class ListSeatBalances(Req):
    contract_id: Id
    customer_id: Id
    covering_date: Ts | None = None
    cursor: Str | None = None
    effective_before: Ts | None = None
    include_credits_and_commits: bool | None = None
    include_ledgers: bool | None = None
    limit: Num | None = None
    seat_ids: list[Id] | None = None
    skip_missing_seat_ids: bool | None = None
    starting_at: Ts | None = None
    subscription_ids: list[Id] | None = None


class GetQuantityHistory(Req):
    contract_id: Id
    customer_id: Id
    subscription_id: Id
