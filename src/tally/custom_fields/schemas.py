from __future__ import annotations

from typing import Literal

from tally.custom_fields.service import ENTITIES
from tally.kit.api import NonEmptyStr, Req, Str
from tally.kit.responses import Doc

Entity = Literal[ENTITIES]  # type: ignore[valid-type]


class AddKey(Req):
    entity: Entity
    key: NonEmptyStr
    enforce_uniqueness: bool


class RemoveKey(Req):
    entity: Entity
    key: NonEmptyStr


class ListKeys(Req):
    entities: list[Entity] | None = None


class SetValues(Req):
    entity: Entity
    entity_id: NonEmptyStr
    custom_fields: dict[NonEmptyStr, Str]


class DeleteValues(Req):
    entity: Entity
    entity_id: NonEmptyStr
    keys: list[NonEmptyStr]


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class CustomFieldKeyDoc(Doc):
    entity: str
    key: str
    enforce_uniqueness: bool
