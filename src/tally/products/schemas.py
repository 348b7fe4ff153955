from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, ValidatorFunctionWrapHandler, WrapValidator, field_validator

from tally.errors import BadRequest
from tally.kit import api
from tally.kit.api import Id, NonEmptyStr, Req, Str
from tally.kit.responses import Doc


def _named(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # kit's number/timestamp parsers raise BadRequest, which pydantic does not catch, so the 400 would
    # not name the field; a ValueError lets validation_message prefix the field's path.
    try:
        return handler(value)
    except BadRequest as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from None


Num = Annotated[api.Num, WrapValidator(_named)]
Ts = Annotated[api.Ts, WrapValidator(_named)]

ProductType = Literal["USAGE", "SUBSCRIPTION", "COMPOSITE", "FIXED", "PRO_SERVICE", "PROFESSIONAL_SERVICE"]
ArchiveFilter = Literal["ARCHIVED", "NOT_ARCHIVED", "ALL"]
# Finer than tally's stored scale (20 places) would round nothing.
MAX_DECIMAL_PLACES = 20


class QuantityConversion(Req):
    conversion_factor: Annotated[Num, Field(gt=0)]
    operation: Literal["MULTIPLY", "DIVIDE"]
    name: Str | None = None


class QuantityRounding(Req):
    decimal_places: Num
    rounding_method: Literal["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"]

    @field_validator("decimal_places")
    @classmethod
    def _whole(cls, value: Decimal) -> Decimal:
        if value != value.to_integral_value() or not 0 <= value <= MAX_DECIMAL_PLACES:
            raise ValueError(f"must be a whole number from 0 to {MAX_DECIMAL_PLACES}")
        return value


class _State(Req):
    """Fields a product state carries; shared by create and update."""

    billable_metric_id: Id | None = None
    composite_product_ids: list[Id] | None = None
    composite_tags: list[NonEmptyStr] | None = None
    exclude_free_usage: StrictBool | None = None
    include_composite_spend: StrictBool | None = None
    is_refundable: StrictBool | None = None
    netsuite_internal_item_id: Str | None = None
    netsuite_overage_item_id: Str | None = None
    presentation_group_key: list[NonEmptyStr] | None = None
    pricing_group_key: list[NonEmptyStr] | None = None
    quantity_conversion: QuantityConversion | None = None
    quantity_rounding: QuantityRounding | None = None
    sql_breakdown_granularity: Literal["HOUR", "SERVICE_PERIOD"] | None = None
    tags: list[NonEmptyStr] | None = None


class CreateProduct(_State):
    name: NonEmptyStr
    type: ProductType
    custom_fields: dict[NonEmptyStr, Str] | None = None


class UpdateProduct(_State):
    product_id: Id
    starting_at: Ts
    name: NonEmptyStr | None = None
    # Accepted only to answer with a clear message: a product's type is immutable (SPEC §3.1).
    type: Str | None = None


class GetProduct(Req):
    id: Id


class ListProducts(Req):
    archive_filter: ArchiveFilter | None = None


class ArchiveProduct(Req):
    product_id: Id


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class ProductDoc(Doc):
    id: str
    type: str
    current: dict[str, Any]
    initial: dict[str, Any]
    updates: list[Any]
