from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from tally.kit.api import Id, NonEmptyStr, Num, Req, Str, Ts
from tally.kit.responses import Doc, WireTs

RateType = Literal["FLAT", "PERCENTAGE", "SUBSCRIPTION", "TIERED", "TIERED_PERCENTAGE", "CUSTOM"]
BillingFrequency = Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY"]
PosNum = Annotated[Num, Field(gt=0)]
GroupValues = dict[NonEmptyStr, Str]

MAX_RATES_PER_REQUEST = 1000


class Alias(Req):
    name: NonEmptyStr
    starting_at: Ts | None = None
    ending_before: Ts | None = None


class CreditTypeConversion(Req):
    custom_credit_type_id: Id
    fiat_per_custom_credit: PosNum


class CreateRateCard(Req):
    name: NonEmptyStr
    description: Str | None = None
    fiat_credit_type_id: Id | None = None
    credit_type_conversions: list[CreditTypeConversion] | None = None
    aliases: list[Alias] | None = None
    custom_fields: dict[NonEmptyStr, Str] | None = None


class ById(Req):
    id: Id


class UpdateRateCard(Req):
    rate_card_id: Id
    name: NonEmptyStr | None = None
    description: Str | None = None
    aliases: list[Alias] | None = None
    add_credit_type_conversions: list[CreditTypeConversion] | None = None


class ListRateCards(Req):
    """The SDK sends no body by default; tally takes no filters."""


class Tier(Req):
    price: Num
    size: PosNum | None = None


class CommitRate(Req):
    rate_type: RateType
    price: Num | None = None
    tiers: list[Tier] | None = None


class RateIn(Req):
    product_id: Id
    entitled: bool
    rate_type: RateType
    starting_at: Ts
    ending_before: Ts | None = None
    price: Num | None = None
    tiers: list[Tier] | None = None
    quantity: Num | None = None
    is_prorated: bool | None = None
    billing_frequency: BillingFrequency | None = None
    pricing_group_values: GroupValues | None = None
    credit_type_id: Id | None = None
    commit_rate: CommitRate | None = None
    custom_rate: dict[str, Any] | None = None


class AddRate(RateIn):
    rate_card_id: Id


class AddRates(Req):
    rate_card_id: Id
    rates: list[RateIn] = Field(min_length=1, max_length=MAX_RATES_PER_REQUEST)


class Selector(Req):
    product_id: Id | None = None
    product_tags: list[NonEmptyStr] | None = None
    pricing_group_values: GroupValues | None = None
    partial_pricing_group_values: GroupValues | None = None
    billing_frequency: BillingFrequency | None = None


class GetRates(Req):
    rate_card_id: Id
    at: Ts
    selectors: list[Selector] | None = None


class GetRateSchedule(Req):
    rate_card_id: Id
    starting_at: Ts
    ending_before: Ts | None = None
    selectors: list[Selector] | None = None


class GetNamedSchedule(Req):
    rate_card_id: Id
    schedule_name: NonEmptyStr
    covering_date: Ts | None = None


class UpdateNamedSchedule(Req):
    rate_card_id: Id
    schedule_name: NonEmptyStr
    starting_at: Ts
    ending_before: Ts | None = None
    value: Any = Field(...)


class SetProductOrder(Req):
    rate_card_id: Id
    product_order: list[Id] = Field(max_length=MAX_RATES_PER_REQUEST)


class ProductMove(Req):
    product_id: Id
    position: Num


class MoveProducts(Req):
    rate_card_id: Id
    product_moves: list[ProductMove] = Field(min_length=1, max_length=MAX_RATES_PER_REQUEST)


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class RateCardDoc(Doc):
    id: str
    name: str
    created_at: WireTs
    created_by: str


class RateDoc(Doc):
    product_id: str
    product_name: str
    product_tags: list[str]
    product_custom_fields: dict[str, str]
    entitled: bool
    rate: dict[str, Any]
    starting_at: WireTs


class AddedRateDoc(Doc):
    rate_type: str


class ScheduleSegmentDoc(Doc):
    """One segment of a named schedule: its value from `starting_at` (to `ending_before`, if any)."""

    starting_at: WireTs
    value: Any
