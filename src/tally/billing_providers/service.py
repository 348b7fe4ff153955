"""Billing-provider rules (docs/stripe.md): the tenant's Stripe connection (key sealed at rest), the
marketplace delivery methods of v1.settings.billing_providers, customer billing configurations, and the
Stripe sync outbox (`enqueue_finalized`, `request_void`) that invoices write to in their own transaction.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, exists, insert, select, update

from tally.billing_providers import sealing
from tally.billing_providers.schemas import CreateBillingProvider, SetConfiguration, StripeConnection
from tally.db import uow
from tally.db.upsert import upsert_many
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.models.billing_providers import (
    billing_provider_settings as settings_t,
)
from tally.models.billing_providers import (
    customer_billing_configurations as configs_t,
)
from tally.models.billing_providers import (
    stripe_connections as connections_t,
)
from tally.models.billing_providers import (
    stripe_invoice_syncs as syncs_t,
)
from tally.models.customers import customers as customers_t

STRIPE, DIRECT = "stripe", "direct_to_billing_provider"
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
_KEY_PURPOSE, _WEBHOOK_PURPOSE = "stripe secret key", "stripe webhook secret"
_NS = uuid.UUID("0b7d1d7e-4e0e-4d55-9b7a-6c1c2f0e5a10")
# Outbox states
PENDING, DONE, ERROR = "pending", "done", "error"


def delivery_method_id(tenant_id: str, provider: str, method: str) -> str:
    """One delivery method per (provider, method) and tenant, with a stable id."""
    return str(uuid.uuid5(_NS, f"{tenant_id}/{provider}/{method}"))


# ------------------------------------------------------------------------------------ Stripe connection


@dataclass(frozen=True)
class StripeCredentials:
    secret_key: str
    webhook_secret: str | None
    account_id: str | None
    api_base: str | None


def set_connection(
    conn: Connection, tenant_id: str, req: StripeConnection, server_key: bytes, now: datetime
) -> dict[str, Any]:
    salt = secrets.token_hex(16)
    values = {
        "salt": salt,
        "secret_key_sealed": sealing.seal(server_key, salt, _KEY_PURPOSE, req.secret_key),
        "webhook_secret_sealed": (
            sealing.seal(server_key, salt, _WEBHOOK_PURPOSE, req.webhook_secret)
            if req.webhook_secret
            else None
        ),
        "account_id": req.account_id,
        "api_base": req.api_base,
        "updated_at": now,
    }
    # One statement, so two concurrent sets (or a set racing a delete) never see a missing row.
    upsert_many(conn, connections_t, [{"tenant_id": tenant_id, "created_at": now, **values}], list(values))
    info = connection_info(conn, tenant_id)
    assert info is not None
    return info


def _connection_row(conn: Connection, tenant_id: str) -> Row[Any] | None:
    return conn.execute(select(connections_t).where(connections_t.c.tenant_id == tenant_id)).first()


def connection_info(conn: Connection, tenant_id: str) -> dict[str, Any] | None:
    """What the API shows of the connection: never the key or the webhook secret."""
    row = _connection_row(conn, tenant_id)
    if row is None:
        return None
    return {
        "connected": True,
        "account_id": row.account_id,
        "api_base": row.api_base,
        "webhook_secret_configured": row.webhook_secret_sealed is not None,
        # Where Stripe's webhook endpoint must point (signed with the webhook secret).
        "webhook_path": f"/tally/v1/stripe/webhooks/{tenant_id}",
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def delete_connection(conn: Connection, tenant_id: str) -> None:
    conn.execute(connections_t.delete().where(connections_t.c.tenant_id == tenant_id))


def credentials(conn: Connection, tenant_id: str, server_key: bytes) -> StripeCredentials | None:
    """The unsealed connection, or None if the tenant has none (or the server key changed)."""
    row = _connection_row(conn, tenant_id)
    if row is None:
        return None
    key = sealing.unseal(server_key, row.salt, _KEY_PURPOSE, row.secret_key_sealed)
    if key is None:
        return None
    hook = (
        sealing.unseal(server_key, row.salt, _WEBHOOK_PURPOSE, row.webhook_secret_sealed)
        if row.webhook_secret_sealed
        else None
    )
    return StripeCredentials(key, hook, row.account_id, row.api_base)


# --------------------------------------------------------------------------- v1.settings.billing_providers


def create_setting(conn: Connection, tenant_id: str, req: CreateBillingProvider, now: datetime) -> str:
    """Store (or replace) the configuration of a marketplace delivery method; returns its id."""
    dm_id = delivery_method_id(tenant_id, req.billing_provider, req.delivery_method)
    where = and_(settings_t.c.tenant_id == tenant_id, settings_t.c.id == dm_id)
    if conn.execute(select(settings_t.c.id).where(where)).first() is None:
        conn.execute(
            insert(settings_t).values(
                id=dm_id,
                tenant_id=tenant_id,
                billing_provider=req.billing_provider,
                delivery_method=req.delivery_method,
                configuration=dict(req.configuration),
                created_at=now,
            )
        )
    else:
        conn.execute(update(settings_t).where(where).values(configuration=dict(req.configuration)))
    return dm_id


def list_settings(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(settings_t).where(settings_t.c.tenant_id == tenant_id).order_by(settings_t.c.id)
    ).all()
    out = [
        {
            "billing_provider": r.billing_provider,
            "delivery_method": r.delivery_method,
            "delivery_method_configuration": dict(r.configuration),
            "delivery_method_id": r.id,
        }
        for r in rows
    ]
    info = connection_info(conn, tenant_id)
    if info is not None:
        out.append(
            {
                "billing_provider": STRIPE,
                "delivery_method": DIRECT,
                "delivery_method_configuration": (
                    {"account_id": info["account_id"]} if info["account_id"] else {}
                ),
                "delivery_method_id": delivery_method_id(tenant_id, STRIPE, DIRECT),
            }
        )
    return out


# ------------------------------------------------------------------ customer billing configurations


def _check_stripe(configuration: dict[str, Any], where: str) -> dict[str, Any]:
    allowed = {"stripe_customer_id", "stripe_collection_method", "leave_stripe_invoices_in_draft"}
    unknown = sorted(set(configuration) - allowed)
    if unknown:
        raise BadRequest(f"{where}.configuration.{unknown[0]}: unknown field for billing_provider stripe")
    customer = configuration.get("stripe_customer_id")
    if not isinstance(customer, str) or not customer.strip() or len(customer) > 255:
        raise BadRequest(f"{where}.configuration.stripe_customer_id: required, a Stripe customer id")
    method = configuration.get("stripe_collection_method", "charge_automatically")
    if method not in COLLECTION_METHODS:
        raise BadRequest(
            f"{where}.configuration.stripe_collection_method: must be charge_automatically or send_invoice"
        )
    draft = configuration.get("leave_stripe_invoices_in_draft", False)
    if not isinstance(draft, bool):
        raise BadRequest(f"{where}.configuration.leave_stripe_invoices_in_draft: must be a boolean")
    return {**configuration, "stripe_collection_method": method}


def _resolve_method(
    conn: Connection, tenant_id: str, provider: str, method: str | None, method_id: str | None, where: str
) -> tuple[str, str]:
    if method is None and method_id is None:
        raise BadRequest(f"{where}: delivery_method or delivery_method_id is required")
    if method_id is not None:
        known = {
            delivery_method_id(tenant_id, provider, m): m
            for m in ("direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns")
        }
        found = known.get(method_id)
        if found is None or (method is not None and method != found):
            raise BadRequest(f"{where}.delivery_method_id: not a delivery method of {provider}")
        return found, method_id
    assert method is not None
    return method, delivery_method_id(tenant_id, provider, method)


def add_configuration(
    conn: Connection, tenant_id: str, item: SetConfiguration, now: datetime, where: str
) -> dict[str, Any]:
    """Validate and insert one customer billing configuration; returns its wire shape."""
    if (
        conn.execute(
            select(customers_t.c.id).where(
                customers_t.c.tenant_id == tenant_id, customers_t.c.id == item.customer_id
            )
        ).first()
        is None
    ):
        raise NotFound(f"Customer {item.customer_id} not found")
    method, method_id = _resolve_method(
        conn, tenant_id, item.billing_provider, item.delivery_method, item.delivery_method_id, where
    )
    configuration = dict(item.configuration or {})
    if item.billing_provider == STRIPE:
        if method != DIRECT:
            raise BadRequest(f"{where}.delivery_method: stripe is delivered direct_to_billing_provider")
        configuration = _check_stripe(configuration, where)
        active = _active(conn, tenant_id, item.customer_id, STRIPE)
        if active:
            raise BadRequest(
                f"{where}: customer {item.customer_id} already has a stripe configuration ({active[0].id});"
                " archive it first"
            )
    elif item.tax_provider is not None:
        raise BadRequest(f"{where}.tax_provider: only supported for stripe configurations")
    cfg_id = new_id()
    conn.execute(
        insert(configs_t).values(
            id=cfg_id,
            tenant_id=tenant_id,
            customer_id=item.customer_id,
            billing_provider=item.billing_provider,
            delivery_method=method,
            delivery_method_id=method_id,
            configuration=configuration,
            tax_provider=item.tax_provider,
            created_at=now,
            archived_at=None,
        )
    )
    out = {
        "id": cfg_id,
        "billing_provider": item.billing_provider,
        "configuration": configuration,
        "customer_id": item.customer_id,
        "delivery_method_id": method_id,
    }
    if item.tax_provider is not None:
        out["tax_provider"] = item.tax_provider
    return out


def _active(
    conn: Connection, tenant_id: str, customer_id: str, provider: str | None = None
) -> list[Row[Any]]:
    q = select(configs_t).where(
        configs_t.c.tenant_id == tenant_id,
        configs_t.c.customer_id == customer_id,
        configs_t.c.archived_at.is_(None),
    )
    if provider is not None:
        q = q.where(configs_t.c.billing_provider == provider)
    return list(conn.execute(q.order_by(configs_t.c.created_at, configs_t.c.id)).all())


def configurations(
    conn: Connection, tenant_id: str, customer_id: str, include_archived: bool
) -> list[dict[str, Any]]:
    q = select(configs_t).where(configs_t.c.tenant_id == tenant_id, configs_t.c.customer_id == customer_id)
    if not include_archived:
        q = q.where(configs_t.c.archived_at.is_(None))
    out = []
    for r in conn.execute(q.order_by(configs_t.c.created_at, configs_t.c.id)):
        item: dict[str, Any] = {
            "id": r.id,
            "billing_provider": r.billing_provider,
            "configuration": dict(r.configuration),
            "customer_id": r.customer_id,
            "delivery_method": r.delivery_method,
            "delivery_method_configuration": {},
            "delivery_method_id": r.delivery_method_id,
        }
        if r.archived_at is not None:
            item["archived_at"] = r.archived_at
        out.append(item)
    return out


def archive_configurations(
    conn: Connection, tenant_id: str, customer_id: str, ids: list[str], now: datetime
) -> list[str]:
    rows = conn.execute(
        select(configs_t.c.id).where(
            configs_t.c.tenant_id == tenant_id,
            configs_t.c.customer_id == customer_id,
            configs_t.c.id.in_(ids),
        )
    ).scalars()
    found = set(rows)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"Billing provider configuration {missing[0]} not found for customer {customer_id}")
    conn.execute(
        update(configs_t)
        .where(configs_t.c.tenant_id == tenant_id, configs_t.c.id.in_(ids), configs_t.c.archived_at.is_(None))
        .values(archived_at=now)
    )
    return list(dict.fromkeys(ids))


def check_contract_configuration(
    conn: Connection, tenant_id: str, customer_id: str, ref: dict[str, Any] | None
) -> None:
    """400 unless a contract's billing_provider_configuration names a configuration of its customer."""
    if not ref:
        return
    cfg_id = ref.get("billing_provider_configuration_id")
    if cfg_id is not None:
        if ref.get("billing_provider") is not None or ref.get("delivery_method") is not None:
            raise BadRequest(
                "billing_provider_configuration: give billing_provider_configuration_id or"
                " billing_provider and delivery_method, not both"
            )
        if not any(r.id == cfg_id for r in _active(conn, tenant_id, customer_id)):
            raise BadRequest(
                f"billing_provider_configuration.billing_provider_configuration_id: {cfg_id} is not an"
                f" active billing provider configuration of customer {customer_id}"
            )
        return
    provider, method = ref.get("billing_provider"), ref.get("delivery_method")
    if provider is None or method is None:
        raise BadRequest(
            "billing_provider_configuration: billing_provider and delivery_method are required without"
            " billing_provider_configuration_id"
        )
    if not any(r.delivery_method == method for r in _active(conn, tenant_id, customer_id, provider)):
        raise BadRequest(
            f"billing_provider_configuration: customer {customer_id} has no active {provider}"
            f" configuration delivered by {method}"
        )


def stripe_configuration_for(
    conn: Connection, tenant_id: str, customer_id: str, contract_ref: dict[str, Any] | None
) -> Row[Any] | None:
    """The customer's Stripe configuration an invoice of this contract is collected through, if any:
    the one the contract names, else (no billing_provider_configuration on the contract) the customer's
    active Stripe configuration."""
    if not _tenant_uses_stripe(conn, tenant_id):
        return None
    active = _active(conn, tenant_id, customer_id, STRIPE)
    if contract_ref:
        cfg_id = contract_ref.get("billing_provider_configuration_id")
        if cfg_id is not None:
            return next((r for r in active if r.id == cfg_id), None)
        if contract_ref.get("billing_provider") != STRIPE:
            return None  # another provider collects this contract's invoices
    return active[-1] if active else None


def _tenant_uses_stripe(conn: Connection, tenant_id: str) -> bool:
    """Read once per transaction: a worker pass finalizing thousands of invoices asks for each."""
    q = select(
        exists().where(
            configs_t.c.tenant_id == tenant_id,
            configs_t.c.billing_provider == STRIPE,
            configs_t.c.archived_at.is_(None),
        )
    )
    return bool(uow.per_transaction(conn, "stripe_configured", tenant_id, lambda: conn.execute(q).scalar()))


# ------------------------------------------------------------------------------- the Stripe sync outbox


def enqueue_finalized(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contract_ref: dict[str, Any] | None,
    invoice_id: str,
    now: datetime,
) -> bool:
    """In the finalizing transaction: stage the invoice for Stripe if its customer is linked. The row's
    primary key is the invoice id, so an invoice is staged (and sent) at most once."""
    cfg = stripe_configuration_for(conn, tenant_id, customer_id, contract_ref)
    if cfg is None:
        return False
    conn.execute(
        insert(syncs_t).values(
            invoice_id=invoice_id,
            tenant_id=tenant_id,
            customer_id=customer_id,
            configuration_id=cfg.id,
            state=PENDING,
            void_requested=False,
            attempts=0,
            generation=0,
            next_attempt_at=now,
            lease=None,
            external_status="QUEUED",
            created_at=now,
            updated_at=now,
        )
    )
    return True


def request_void(conn: Connection, tenant_id: str, invoice_id: str, now: datetime) -> None:
    """In the voiding transaction: the Stripe invoice (if any) is voided by the worker."""
    conn.execute(
        update(syncs_t)
        .where(syncs_t.c.tenant_id == tenant_id, syncs_t.c.invoice_id == invoice_id)
        .values(void_requested=True, state=PENDING, next_attempt_at=now, updated_at=now)
    )


def sync_row(conn: Connection, tenant_id: str, invoice_id: str) -> Row[Any] | None:
    return conn.execute(
        select(syncs_t).where(syncs_t.c.tenant_id == tenant_id, syncs_t.c.invoice_id == invoice_id)
    ).first()


def external_invoice(conn: Connection, tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
    """Metronome's `external_invoice` for a tally invoice collected through Stripe."""
    row = sync_row(conn, tenant_id, invoice_id)
    if row is None:
        return None
    out: dict[str, Any] = {"billing_provider_type": STRIPE, "external_status": row.external_status}
    if row.stripe_invoice_id:
        out["invoice_id"] = row.stripe_invoice_id
    if row.error:
        out["billing_provider_error"] = row.error
    if row.external_payment_id:
        out["external_payment_id"] = row.external_payment_id
    if row.invoiced_total is not None:
        out["invoiced_total"] = row.invoiced_total
        out["invoiced_sub_total"] = row.invoiced_total
    if row.issued_at is not None:
        out["issued_at_timestamp"] = row.issued_at
    if row.pdf_url:
        out["pdf_url"] = row.pdf_url
    return out


def retryable(row: Row[Any]) -> bool:
    """Whether an operator may retry this sync (only one that Stripe refused)."""
    return bool(row.state == ERROR)


def retry(conn: Connection, tenant_id: str, invoice_id: str, now: datetime) -> dict[str, Any]:
    """The operator's retry of a sync that Stripe refused (after fixing the cause)."""
    row = sync_row(conn, tenant_id, invoice_id)
    if row is None:
        raise NotFound(f"Invoice {invoice_id} has no Stripe sync")
    if not retryable(row):
        raise BadRequest(f"Invoice {invoice_id}'s Stripe sync is {row.state}; only failed syncs are retried")
    # The fix may be a new link (the old configuration archived): collect through the current one.
    active = _active(conn, tenant_id, row.customer_id, STRIPE)
    cfg_id = active[-1].id if active else row.configuration_id
    conn.execute(
        update(syncs_t)
        .where(syncs_t.c.tenant_id == tenant_id, syncs_t.c.invoice_id == invoice_id)
        .values(
            state=PENDING,
            next_attempt_at=now,
            attempts=0,
            generation=row.generation + 1,
            configuration_id=cfg_id,
            updated_at=now,
        )
    )
    out = external_invoice(conn, tenant_id, invoice_id)
    assert out is not None
    return out
