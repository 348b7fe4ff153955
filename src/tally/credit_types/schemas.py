from __future__ import annotations

from pydantic import Field

from tally.kit.api import NonEmptyStr, Req
from tally.kit.responses import Doc


class CreatePricingUnit(Req):
    name: NonEmptyStr = Field(max_length=255)


class ArchivePricingUnit(Req):
    id: NonEmptyStr


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class CreditTypeDoc(Doc):
    id: str
    name: str
    is_currency: bool
