"""Which API calls are audited, and under what action and resource each is recorded.

Derived from the route's path template, so a new route is audited without being listed anywhere:
`POST /v1/customers/{customer_id}/setName` is `customer.set_name` on the customer named by the path;
`POST /v1/contracts/archive` is `contract.archive` on the body's `contract_id` (or `id`);
`POST /v1/contracts/create` is `contract.create` on the id of the first row inserted into `contracts`.
A few routes whose path does not name their resource are listed in OVERRIDES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Never audited. Ingest is the hot path (thousands of events a second, its own group-commit writer) and
# its record is the event store itself; the test clock is a test harness whose request runs the billing
# worker's system work for every tenant.
UNAUDITED_PREFIXES = ("/v1/ingest", "/tally/v1/test-clock")

# POST routes named like these only read (Metronome puts many reads behind POST), plus the usage queries.
_READ_VERBS = ("get", "list", "search", "preview")
_READ_ROUTES = frozenset({("POST", "/v1/usage"), ("POST", "/v1/usage/groups")})
_NOISE = frozenset({"", "v1", "v2", "tally", "contract-pricing"})
_METHOD_VERB = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


@dataclass(frozen=True)
class Action:
    name: str
    resource_type: str | None
    # Path parameters, then top-level body fields, that may hold the resource id, in order of preference.
    id_keys: tuple[str, ...] = ()
    # Creates: the table whose first INSERT in the transaction is the new resource.
    created_in: str | None = None
    # A body field holding the resource type (custom field values name their entity).
    type_key: str | None = None

    def body_keys(self) -> tuple[str, ...]:
        return (*self.id_keys, self.type_key) if self.type_key else self.id_keys


OVERRIDES: dict[tuple[str, str], Action] = {
    ("POST", "/tally/v1/invoice-settings"): Action("invoice_settings.update", "invoice_settings"),
    ("POST", "/v1/contracts/customerCommits/create"): Action(
        "commit.create", "commit", created_in="balances"
    ),
    ("POST", "/v1/contracts/customerCredits/create"): Action(
        "credit.create", "credit", created_in="balances"
    ),
    ("POST", "/v1/contracts/customerCommits/updateEndDate"): Action(
        "commit.update_end_date", "commit", ("commit_id",)
    ),
    ("POST", "/v1/contracts/customerCredits/updateEndDate"): Action(
        "credit.update_end_date", "credit", ("credit_id",)
    ),
    ("POST", "/v1/contracts/addManualBalanceLedgerEntry"): Action(
        "balance.add_manual_ledger_entry", "balance", ("id",)
    ),
    ("POST", "/tally/v1/webhooks/create"): Action(
        "webhook.create", "webhook", created_in="webhook_endpoints"
    ),
    # Resets one alert's status for one customer: recorded against the alert.
    ("POST", "/v1/customer-alerts/reset"): Action("alert.reset", "alert", ("alert_id",)),
    ("POST", "/v1/customFields/addKey"): Action("custom_field_key.add", "custom_field_key", ("key",)),
    ("POST", "/v1/customFields/removeKey"): Action("custom_field_key.remove", "custom_field_key", ("key",)),
    ("POST", "/v1/customFields/setValues"): Action(
        "custom_field.set_values", None, ("entity_id",), type_key="entity"
    ),
    ("POST", "/v1/customFields/deleteValues"): Action(
        "custom_field.delete_values", None, ("entity_id",), type_key="entity"
    ),
}


def snake(word: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", word).replace("-", "_").lower()


def singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


@lru_cache(maxsize=512)
def action_for(method: str, template: str) -> Action | None:
    """The action a successful call to this route records, or None when the route is not audited."""
    if (
        method not in MUTATING_METHODS
        or template.startswith(UNAUDITED_PREFIXES)
        or (method, template) in _READ_ROUTES
    ):
        return None
    override = OVERRIDES.get((method, template))
    if override is not None:
        return override
    parts = [p for p in template.split("/") if p not in _NOISE]
    params = tuple(p[1:-1] for p in parts if p.startswith("{"))
    literals = [p for p in parts if not p.startswith("{")]
    if not literals:
        return None
    if len(literals) >= 2 and not parts[-1].startswith("{"):
        noun, verb = literals[-2], snake(literals[-1])
    else:
        noun, verb = literals[-1], _METHOD_VERB[method]
    if verb.startswith(_READ_VERBS):
        return None
    resource = singular(snake(noun))
    if verb == "create":
        # Path parameters of a create name its parent, not the new resource.
        return Action(f"{resource}.create", resource, created_in=f"{resource}s")
    return Action(f"{resource}.{verb}", resource, tuple(dict.fromkeys((*params, f"{resource}_id", "id"))))
