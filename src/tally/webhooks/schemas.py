from __future__ import annotations

from typing import Any

from pydantic import Field

from tally.kit.api import Id, NonEmptyStr, Req, Str
from tally.kit.responses import Doc, WireTs


class CreateWebhook(Req):
    url: NonEmptyStr = Field(max_length=2048)
    description: Str | None = Field(default=None, max_length=1024)


class WebhookRef(Req):
    id: Id


class RotateSecret(Req):
    id: Id
    # How long the previous secret keeps signing (in the second header); 0 ends it now (a leaked secret).
    previous_secret_ttl_hours: int | None = Field(default=None, ge=0, le=168)


class DeliveryRef(Req):
    id: Id


class ListWebhooks(Req):
    include_archived: bool = False
    limit: int | None = Field(default=None, ge=1, le=100)
    next_page: str | None = None


class ListEvents(Req):
    webhook_id: Id | None = None
    event_type: NonEmptyStr | None = Field(default=None, max_length=128)
    limit: int | None = Field(default=None, ge=1, le=100)
    next_page: str | None = None


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class WebhookDoc(Doc):
    id: str
    url: str
    created_at: WireTs


class WebhookWithSecretDoc(WebhookDoc):
    secret: str


class DeliveryDoc(Doc):
    webhook_id: str
    status: str
    attempts: int


class RetriedDeliveryDoc(DeliveryDoc):
    id: str
    event_id: str


class WebhookEventDoc(Doc):
    id: str
    type: str
    properties: dict[str, Any]
    created_at: WireTs
    deliveries: list[DeliveryDoc]
