"""Request model of `POST /v1/dashboards/getEmbeddableUrl` (the SDK's DashboardGetEmbeddableURLParams)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from tally.kit.api import Id, NonEmptyStr, Req, Str
from tally.kit.responses import Doc

Dashboard = Literal["invoices", "usage", "credits", "commits_and_credits"]

ColorName = Literal[
    "Gray_dark",
    "Gray_medium",
    "Gray_light",
    "Gray_extralight",
    "White",
    "Primary_medium",
    "Primary_light",
    "UsageLine_0",
    "UsageLine_1",
    "UsageLine_2",
    "UsageLine_3",
    "UsageLine_4",
    "UsageLine_5",
    "UsageLine_6",
    "UsageLine_7",
    "UsageLine_8",
    "UsageLine_9",
    "Primary_green",
    "Primary_red",
    "Progress_bar",
    "Progress_bar_background",
    "Action",
    "Action_hover",
]

OptionKey = Literal[
    "show_zero_usage_line_items",
    "contract_id",
    "invoice_type",
    "invoice_status_filter",
    "hide_voided_invoices",
    "billable_status_filter",
    "hide_grant_name",
    "credit_ledger_credit_type_id",
]

_HEX = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def hex_color(value: str) -> str:
    """`#RGB`, `#RRGGBB` or `#RRGGBBAA` (the `#` optional), lower-cased with its `#`; anything else is
    refused, so a colour can never carry CSS of its own into the generated stylesheet."""
    if not _HEX.fullmatch(value):
        raise ValueError("must be a hex colour such as #1a2b3c")
    return "#" + value.lstrip("#").lower()


HexColor = Annotated[str, Field(max_length=9), AfterValidator(hex_color)]


class ColorOverride(Req):
    name: ColorName
    value: HexColor


class DashboardOption(Req):
    key: OptionKey
    value: Str


class BmGroupKeyOverride(Req):
    group_key_name: NonEmptyStr
    display_name: Str | None = None
    value_display_names: dict[Str, Any] | None = None


class GetEmbeddableUrl(Req):
    customer_id: Id
    dashboard: Dashboard
    bm_group_key_overrides: list[BmGroupKeyOverride] | None = Field(default=None, max_length=100)
    color_overrides: list[ColorOverride] | None = Field(default=None, max_length=50)
    dashboard_options: list[DashboardOption] | None = Field(default=None, max_length=20)


class EmbeddableUrlDoc(Doc):
    url: str
