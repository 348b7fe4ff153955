"""Customers and their ingest aliases (SPEC §1.4, §9).

An alias (and the deprecated `external_id`, which is stored as an alias too) names at most one customer of
a tenant. Events keep the customer string they carried; `resolve_keys` maps those strings to customers
when usage is read, so adding or moving an alias re-attributes usage (late binding).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from tally.billable_metrics import service as metrics
from tally.billing_providers import service as billing_providers
from tally.billing_providers.schemas import SetConfiguration
from tally.custom_fields import service as custom_fields
from tally.customers import repository as repo
from tally.customers.schemas import BillingConfig, CreateCustomer, Filter, UpdateConfig
from tally.errors import BadRequest, Conflict, NotFound
from tally.ids import new_id
from tally.models.customers import customers as customers_table
from tally.wire import format_timestamp

ENTITY = "customer"
MAX_NAME = 160  # Metronome truncates longer names (SPEC §9)

custom_fields.register_entity_table(ENTITY, customers_table)


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    external_id: str | None
    ingest_aliases: tuple[str, ...]
    customer_config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any], aliases: list[str]) -> Customer:
        return cls(
            id=row.id,
            name=row.name,
            external_id=row.external_id,
            ingest_aliases=tuple(aliases),
            customer_config=dict(row.customer_config or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
            archived_at=row.archived_at,
        )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _check_free(conn: Connection, tenant_id: str, aliases: list[str], owner: str | None) -> None:
    """409 if any alias already names another customer (as alias, external_id or customer id)."""
    if not aliases:
        return
    taken = {k: v for k, v in repo.alias_owners(conn, tenant_id, aliases).items() if v != owner}
    taken.update({k: v for k, v in repo.external_id_owners(conn, tenant_id, aliases).items() if v != owner})
    taken.update({k: k for k in repo.existing_ids(conn, tenant_id, aliases) if k != owner})
    if taken:
        alias = sorted(taken)[0]
        raise Conflict(f"ingest alias {alias!r} is already in use by another customer")


def _add_aliases(conn: Connection, tenant_id: str, customer_id: str, aliases: list[str]) -> None:
    try:
        repo.add_aliases(conn, tenant_id, customer_id, aliases)
    except IntegrityError:
        # A concurrent request took one of the aliases between our check and this insert.
        raise Conflict("an ingest alias is already in use by another customer") from None


def create(conn: Connection, tenant_id: str, req: CreateCustomer, now: datetime) -> Customer:
    aliases = _unique([*(req.ingest_aliases or []), *([req.external_id] if req.external_id else [])])
    _check_free(conn, tenant_id, aliases, owner=None)
    config: dict[str, Any] = {}
    if req.customer_config and req.customer_config.salesforce_account_id is not None:
        config["salesforce_account_id"] = req.customer_config.salesforce_account_id
    if req.customer_revenue_system_configurations:
        config["revenue_system_configurations"] = [
            c.model_dump(exclude_none=True) for c in req.customer_revenue_system_configurations
        ]
    customer_id = new_id()
    repo.insert_customer(
        conn,
        {
            "id": customer_id,
            "tenant_id": tenant_id,
            "name": req.name[:MAX_NAME],
            "external_id": req.external_id,
            "customer_config": config,
            "created_at": now,
            "updated_at": now,
        },
    )
    _add_aliases(conn, tenant_id, customer_id, aliases)
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, ENTITY, customer_id, req.custom_fields)
    if req.billing_config:
        billing_providers.add_configuration(
            conn, tenant_id, _from_billing_config(customer_id, req.billing_config), now, "billing_config"
        )
    for i, c in enumerate(req.customer_billing_provider_configurations or []):
        item = SetConfiguration(customer_id=customer_id, **c.model_dump(exclude_none=True))
        billing_providers.add_configuration(
            conn, tenant_id, item, now, f"customer_billing_provider_configurations[{i}]"
        )
    return get(conn, tenant_id, customer_id)


def _from_billing_config(customer_id: str, bc: BillingConfig) -> SetConfiguration:
    """The older `billing_config` of customers.create, as the customer billing-provider configuration it
    stands for: a Stripe one drives collection (docs/stripe.md); others are stored and listed like any
    configuration of theirs (`getCustomerBillingProviderConfigurations`)."""
    fields = bc.model_dump(exclude_none=True)
    provider = fields.pop("billing_provider_type")
    external = fields.pop("billing_provider_customer_id")
    if provider == "stripe":
        configuration = {"stripe_customer_id": external, **fields}
    else:
        configuration = {"customer_id": external, **fields}
    return SetConfiguration(
        customer_id=customer_id,
        billing_provider=provider,
        delivery_method="direct_to_billing_provider",
        configuration=configuration,
    )


def get(conn: Connection, tenant_id: str, customer_id: str) -> Customer:
    row = repo.get(conn, tenant_id, customer_id)
    if row is None:
        raise NotFound(f"Customer {customer_id} not found")
    return Customer.of(row, repo.aliases_of(conn, tenant_id, [row.id])[row.id])


def page(conn: Connection, tenant_id: str, f: Filter, *, after: str | None, limit: int) -> list[Customer]:
    rows = repo.page(conn, tenant_id, f, after=after, limit=limit)
    aliases = repo.aliases_of(conn, tenant_id, [r.id for r in rows])
    return [Customer.of(r, aliases[r.id]) for r in rows]


def search(conn: Connection, tenant_id: str, text: str, *, after: str | None, limit: int) -> list[Customer]:
    """The console's customer search (`repository.search`): up to limit + 1 customers."""
    rows = repo.search(conn, tenant_id, text, after=after, limit=limit)
    aliases = repo.aliases_of(conn, tenant_id, [r.id for r in rows])
    return [Customer.of(r, aliases[r.id]) for r in rows]


def ingest_keys(conn: Connection, tenant_id: str, customer_id: str) -> list[str]:
    """Every string an event may carry to name this customer: its id and all its current aliases."""
    customer = get(conn, tenant_id, customer_id)
    return [customer.id, *customer.ingest_aliases]


def ingest_keys_many(conn: Connection, tenant_id: str, customer_ids: list[str]) -> dict[str, list[str]]:
    """`ingest_keys` of many customers in two queries; NotFound names the first unknown id."""
    wanted = _unique(customer_ids)
    found = set(repo.existing_ids(conn, tenant_id, wanted))
    for cid in wanted:
        if cid not in found:
            raise NotFound(f"Customer {cid} not found")
    aliases = repo.aliases_of(conn, tenant_id, wanted)
    return {cid: [cid, *aliases.get(cid, [])] for cid in wanted}


def resolve_keys(conn: Connection, tenant_id: str, keys: list[str]) -> dict[str, str]:
    """Map event customer strings to customer ids; an id wins over an alias. Unknown keys are absent."""
    wanted = _unique(keys)
    out = {k: k for k in repo.existing_ids(conn, tenant_id, wanted)}
    rest = [k for k in wanted if k not in out]
    out.update(repo.alias_owners(conn, tenant_id, rest))
    return out


def set_name(conn: Connection, tenant_id: str, customer_id: str, name: str, now: datetime) -> Customer:
    get(conn, tenant_id, customer_id)
    repo.set_fields(conn, tenant_id, customer_id, name=name[:MAX_NAME], updated_at=now)
    return get(conn, tenant_id, customer_id)


def set_ingest_aliases(
    conn: Connection, tenant_id: str, customer_id: str, aliases: list[str], now: datetime
) -> None:
    """Replace the whole alias set. An archived customer's aliases stay reserved and cannot change."""
    customer = get(conn, tenant_id, customer_id)
    if customer.archived_at is not None:
        raise BadRequest(f"Customer {customer_id} is archived; its ingest aliases cannot change")
    wanted = _unique(aliases)
    current = set(customer.ingest_aliases)
    added = [x for x in wanted if x not in current]
    _check_free(conn, tenant_id, added, owner=customer_id)
    repo.remove_aliases(conn, tenant_id, customer_id, current - set(wanted))
    _add_aliases(conn, tenant_id, customer_id, added)
    repo.set_fields(conn, tenant_id, customer_id, updated_at=now)


def update_config(
    conn: Connection, tenant_id: str, customer_id: str, req: UpdateConfig, now: datetime
) -> None:
    """Fields sent are set (null clears); fields left out keep their value."""
    config = dict(get(conn, tenant_id, customer_id).customer_config)
    for field in ("salesforce_account_id", "leave_stripe_invoices_in_draft"):
        if field in req.model_fields_set:
            value = getattr(req, field)
            if value is None:
                config.pop(field, None)
            else:
                config[field] = value
    repo.set_fields(conn, tenant_id, customer_id, customer_config=config, updated_at=now)


def archive(conn: Connection, tenant_id: str, customer_id: str, now: datetime) -> None:
    """Irreversible; archiving twice is a no-op. Aliases stay reserved (SPEC §1.4)."""
    get(conn, tenant_id, customer_id)
    repo.archive(conn, tenant_id, customer_id, now)


def external_id(customer: Customer) -> str:
    # Deprecated field, required in responses: the external_id given at creation, else the customer id.
    return customer.external_id or customer.id


def summary(customer: Customer, custom: dict[str, str]) -> dict[str, Any]:
    """The shape create and setName answer with."""
    return {
        "id": customer.id,
        "external_id": external_id(customer),
        "ingest_aliases": list(customer.ingest_aliases),
        "name": customer.name,
        "custom_fields": custom,
    }


def to_wire(customer: Customer, custom: dict[str, str]) -> dict[str, Any]:
    """CustomerDetail. current_billable_status is omitted until contracts exist (it is optional)."""
    config = {
        k: customer.customer_config[k]
        for k in ("salesforce_account_id", "leave_stripe_invoices_in_draft")
        if k in customer.customer_config
    }
    out: dict[str, Any] = {
        **summary(customer, custom),
        "created_at": format_timestamp(customer.created_at),
        "updated_at": format_timestamp(customer.updated_at),
        "customer_config": config,
    }
    if customer.archived_at is not None:
        out["archived_at"] = format_timestamp(customer.archived_at)
    return out


def billable_metrics(
    conn: Connection, tenant_id: str, customer_id: str, after: str | None, limit: int, include_archived: bool
) -> list[metrics.Metric]:
    """The metrics a customer can be billed on. Until contracts exist that is every metric of the tenant
    (archived ones only when asked); `on_current_plan` therefore does not narrow the list."""
    get(conn, tenant_id, customer_id)
    return metrics.page(conn, tenant_id, after, limit, include_archived)
