"""Request and response models for `/v2/notifications/*` (field names as metronome-sdk 4.12.0 sends them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tally.kit.api import Id, NonEmptyStr, Req
from tally.kit.responses import Doc, WireTs

OFFSET_TYPE = "OFFSET_LIFECYCLE_EVENT"
SYSTEM_TYPE = "SYSTEM_LIFECYCLE_EVENT"


class OffsetPolicy(Req):
    offset: NonEmptyStr = Field(max_length=64)
    type: NonEmptyStr = Field(max_length=64)


class CreateOffset(Req):
    name: NonEmptyStr = Field(max_length=255)
    policy: OffsetPolicy
    uniqueness_key: str | None = Field(default=None, min_length=1, max_length=128)


class OffsetRef(Req):
    id: Id


class EditPolicy(Req):
    """Either an offset policy ({offset, type}, with `id`) or a system policy ({type}, without `id`)."""

    type: NonEmptyStr = Field(max_length=64)
    offset: NonEmptyStr | None = Field(default=None, max_length=64)


class EditNotification(Req):
    policy: EditPolicy
    id: Id | None = None
    is_enabled: bool | None = None


class ListOffsets(Req):
    archive_filter: Literal["ARCHIVED", "NOT_ARCHIVED", "ALL"] | None = None
    cursor: str | None = None
    limit: int | None = None


class PolicyDoc(Doc):
    type: str
    offset: str


class OffsetConfigDoc(Doc):
    """Metronome's LifecycleEventOffsetNotificationConfig."""

    id: str
    name: str
    type: str
    policy: PolicyDoc
    environment_type: str
    created_at: WireTs
    created_by: str
    archived_at: WireTs | None


class SystemPolicyDoc(Doc):
    type: str


class SystemConfigDoc(Doc):
    """Metronome's LifecycleEventSystemNotificationConfig."""

    type: str
    policy: SystemPolicyDoc
    is_enabled: bool


class EditedDoc(Doc):
    """An offset configuration (edited by id) or a system notification (edited by policy.type)."""

    type: str
    policy: SystemPolicyDoc


class NoFields(Req):
    """`system.list` takes no parameters (the SDK sends no body at all)."""
