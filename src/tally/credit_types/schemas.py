from __future__ import annotations

from pydantic import Field

from tally.kit.api import NonEmptyStr, Req


class CreatePricingUnit(Req):
    name: NonEmptyStr = Field(max_length=255)


class ArchivePricingUnit(Req):
    id: NonEmptyStr
