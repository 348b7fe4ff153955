"""Tenant isolation on every route (SEC-2): tenant B, holding A's ids, gets 404s, never sees A's objects in
any answer, and changes nothing of A's. Every route in the application's route table must have a probe
here, so a new route cannot be left out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.test_auth import ROUTES
from tests.conftest import Running

Ids = dict[str, str]


@dataclass(frozen=True)
class Probe:
    """What tenant B sends (built from A's ids) and whether it must be a 404."""

    body: Callable[[Ids], Any] | None = None
    path: Callable[[Ids], str] | None = None
    query: Callable[[Ids], dict[str, str]] | None = None
    must_404: bool = True
    # A create that merely references A's object: it must fail as for an id that does not exist (400 or 404).
    reference: bool = False
    # Extra assertion on B's answer (e.g. a search that must come back empty).
    check: Callable[[httpx.Response], None] | None = None


AT = "2030-01-01T00:00:00Z"
# Contracts in the seed start at the beginning of the current month: their draft invoice exists, but no
# period has ended, so the background worker finalizes nothing while the probes run (a finalization
# would legitimately change A's balances between the two snapshots).
START = (
    datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
)

PROBES: dict[tuple[str, str], Probe] = {
    # billable metrics
    ("POST", "/v1/billable-metrics/create"): Probe(
        lambda a: {"name": "b-metric", "aggregation_type": "COUNT"}, must_404=False
    ),
    ("GET", "/v1/billable-metrics"): Probe(query=lambda a: {"include_archived": "true"}, must_404=False),
    ("GET", "/v1/billable-metrics/{billable_metric_id}"): Probe(
        path=lambda a: f"/v1/billable-metrics/{a['metric']}"
    ),
    ("PUT", "/v1/billable-metrics/{billable_metric_id}"): Probe(
        lambda a: {"name": "stolen"}, path=lambda a: f"/v1/billable-metrics/{a['metric']}"
    ),
    ("POST", "/v1/billable-metrics/archive"): Probe(lambda a: {"id": a["metric"]}),
    # pricing units
    ("POST", "/v1/credit-types/create"): Probe(lambda a: {"name": "b-unit"}, must_404=False),
    ("GET", "/v1/credit-types/list"): Probe(query=lambda a: {"limit": "100"}, must_404=False),
    ("POST", "/v1/credit-types/archive"): Probe(lambda a: {"id": a["unit"]}),
    # custom fields
    ("POST", "/v1/customFields/addKey"): Probe(
        lambda a: {"entity": "product", "key": "b-key", "enforce_uniqueness": False}, must_404=False
    ),
    ("POST", "/v1/customFields/listKeys"): Probe(lambda a: {}, must_404=False),
    ("POST", "/v1/customFields/removeKey"): Probe(
        lambda a: {"entity": "billable_metric", "key": a["cf_key"]}
    ),
    ("POST", "/v1/customFields/setValues"): Probe(
        lambda a: {"entity": "billable_metric", "entity_id": a["metric"], "custom_fields": {"x": "y"}}
    ),
    ("POST", "/v1/customFields/deleteValues"): Probe(
        lambda a: {"entity": "billable_metric", "entity_id": a["metric"], "keys": [a["cf_key"]]}
    ),
    # products
    ("POST", "/v1/contract-pricing/products/create"): Probe(
        lambda a: {"name": "b-product", "type": "USAGE", "billable_metric_id": a["metric"]}, reference=True
    ),
    ("POST", "/v1/contract-pricing/products/get"): Probe(lambda a: {"id": a["product"]}),
    ("POST", "/v1/contract-pricing/products/list"): Probe(
        lambda a: {"archive_filter": "ALL"}, must_404=False
    ),
    ("POST", "/v1/contract-pricing/products/update"): Probe(
        lambda a: {"product_id": a["product"], "starting_at": AT, "name": "stolen"}
    ),
    ("POST", "/v1/contract-pricing/products/archive"): Probe(lambda a: {"product_id": a["product"]}),
    # rate cards
    ("POST", "/v1/contract-pricing/rate-cards/create"): Probe(lambda a: {"name": "b-card"}, must_404=False),
    ("POST", "/v1/contract-pricing/rate-cards/get"): Probe(lambda a: {"id": a["card"]}),
    ("POST", "/v1/contract-pricing/rate-cards/list"): Probe(lambda a: {}, must_404=False),
    ("POST", "/v1/contract-pricing/rate-cards/update"): Probe(
        lambda a: {"rate_card_id": a["card"], "name": "x"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/archive"): Probe(lambda a: {"id": a["card"]}),
    ("POST", "/v1/contract-pricing/rate-cards/addRate"): Probe(
        lambda a: {
            "rate_card_id": a["card"],
            "product_id": a["product"],
            "entitled": True,
            "rate_type": "FLAT",
            "price": 1,
            "starting_at": AT,
        }
    ),
    ("POST", "/v1/contract-pricing/rate-cards/addRates"): Probe(
        lambda a: {
            "rate_card_id": a["card"],
            "rates": [
                {
                    "product_id": a["product"],
                    "entitled": True,
                    "rate_type": "FLAT",
                    "price": 1,
                    "starting_at": AT,
                }
            ],
        }
    ),
    ("POST", "/v1/contract-pricing/rate-cards/getRates"): Probe(
        lambda a: {"rate_card_id": a["card"], "at": AT}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/getRateSchedule"): Probe(
        lambda a: {"rate_card_id": a["card"], "starting_at": "2024-01-01T00:00:00Z"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/getNamedSchedule"): Probe(
        lambda a: {"rate_card_id": a["card"], "schedule_name": "tier"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/updateNamedSchedule"): Probe(
        lambda a: {"rate_card_id": a["card"], "schedule_name": "tier", "starting_at": AT, "value": "gold"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/setRateCardProductsOrder"): Probe(
        lambda a: {"rate_card_id": a["card"], "product_order": [a["product"]]}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/moveRateCardProducts"): Probe(
        lambda a: {"rate_card_id": a["card"], "product_moves": [{"product_id": a["product"], "position": 0}]}
    ),
    # customers
    ("POST", "/v1/customers"): Probe(
        lambda a: {"name": "b-customer", "ingest_aliases": [a["alias"]]}, must_404=False
    ),
    ("GET", "/v1/customers"): Probe(query=lambda a: {"customer_ids": a["customer"]}, must_404=False),
    ("POST", "/v1/customers/archive"): Probe(lambda a: {"id": a["customer"]}),
    # billing providers and the Stripe connection (docs/stripe.md)
    ("POST", "/tally/v1/stripe/connection"): Probe(
        lambda a: {"secret_key": "sk_test_b", "api_base": "http://127.0.0.1:9"}, must_404=False
    ),
    ("POST", "/tally/v1/stripe/connection/get"): Probe(lambda a: {}, must_404=False),
    ("POST", "/tally/v1/stripe/connection/delete"): Probe(lambda a: {}, must_404=False),
    ("POST", "/tally/v1/stripe/syncs/retry"): Probe(lambda a: {"invoice_id": a["invoice"]}),
    ("POST", "/v1/setUpBillingProvider"): Probe(
        lambda a: {
            "billing_provider": "aws_marketplace",
            "configuration": {"aws_external_id": "b"},
            "delivery_method": "direct_to_billing_provider",
        },
        must_404=False,
    ),
    ("POST", "/v1/listConfiguredBillingProviders"): Probe(lambda a: {}, must_404=False),
    ("POST", "/v1/setCustomerBillingProviderConfigurations"): Probe(
        lambda a: {
            "data": [
                {
                    "billing_provider": "stripe",
                    "customer_id": a["customer"],
                    "delivery_method": "direct_to_billing_provider",
                    "configuration": {"stripe_customer_id": "cus_b"},
                }
            ]
        }
    ),
    ("POST", "/v1/getCustomerBillingProviderConfigurations"): Probe(lambda a: {"customer_id": a["customer"]}),
    ("POST", "/v1/archiveCustomerBillingProviderConfigurations"): Probe(
        lambda a: {"customer_id": a["customer"], "customer_billing_provider_configuration_ids": []}
    ),
    ("GET", "/v1/customers/{customer_id}"): Probe(path=lambda a: f"/v1/customers/{a['customer']}"),
    ("POST", "/v1/customers/{customer_id}/setName"): Probe(
        lambda a: {"name": "stolen"}, path=lambda a: f"/v1/customers/{a['customer']}/setName"
    ),
    ("POST", "/v1/customers/{customer_id}/setIngestAliases"): Probe(
        lambda a: {"ingest_aliases": ["stolen"]},
        path=lambda a: f"/v1/customers/{a['customer']}/setIngestAliases",
    ),
    # embeddable dashboards: no URL for another tenant's customer
    ("POST", "/v1/dashboards/getEmbeddableUrl"): Probe(
        lambda a: {"customer_id": a["customer"], "dashboard": "invoices"}
    ),
    ("POST", "/v1/customers/{customer_id}/updateConfig"): Probe(
        lambda a: {"leave_stripe_invoices_in_draft": True},
        path=lambda a: f"/v1/customers/{a['customer']}/updateConfig",
    ),
    ("GET", "/v1/customers/{customer_id}/billable-metrics"): Probe(
        path=lambda a: f"/v1/customers/{a['customer']}/billable-metrics"
    ),
    ("POST", "/v1/customers/getNamedSchedule"): Probe(
        lambda a: {"customer_id": a["customer"], "schedule_name": "tier"}
    ),
    ("POST", "/v1/customers/updateNamedSchedule"): Probe(
        lambda a: {"customer_id": a["customer"], "schedule_name": "tier", "starting_at": AT, "value": "x"}
    ),
    # usage: B's events addressed to A's customer id or alias never reach A (the snapshot includes A's usage)
    ("POST", "/v1/ingest"): Probe(
        lambda a: [
            {
                "transaction_id": f"b-{a['customer']}",
                "customer_id": a["customer"],
                "event_type": "e",
                "timestamp": "2024-01-01T12:00:00Z",
                "properties": {"n": "1000"},
            },
            {
                "transaction_id": a["txn"],
                "customer_id": a["alias"],
                "event_type": "e",
                "timestamp": "2024-01-01T12:00:00Z",
                "properties": {"n": "1000"},
            },
        ],
        must_404=False,
    ),
    ("POST", "/v1/usage"): Probe(
        lambda a: {
            "starting_on": "2024-01-01T00:00:00Z",
            "ending_before": "2024-01-02T00:00:00Z",
            "window_size": "DAY",
            "customer_ids": [a["customer"]],
            "billable_metrics": [{"id": a["metric"]}],
        },
        must_404=False,
        check=lambda r: _no_data(r),
    ),
    ("POST", "/v1/usage/groups"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "billable_metric_id": a["metric"],
            "window_size": "DAY",
            "starting_on": "2024-01-01T00:00:00Z",
            "ending_before": "2024-01-02T00:00:00Z",
        }
    ),
    ("POST", "/v1/events/search"): Probe(
        lambda a: {"transactionIds": [a["txn"]]}, must_404=False, check=lambda r: _assert_eq(r.json(), [])
    ),
    # contracts
    ("POST", "/v1/contracts/create"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "rate_card_id": a["card"],
            "starting_at": "2024-01-01T00:00:00Z",
        },
        reference=True,
    ),
    ("POST", "/v1/contracts/get"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"]}
    ),
    ("POST", "/v2/contracts/get"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"]}
    ),
    ("POST", "/v1/contracts/list"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v2/contracts/list"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v1/contracts/amend"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"], "starting_at": AT}
    ),
    ("POST", "/v2/contracts/edit"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "update_contract_name": "stolen",
        }
    ),
    ("POST", "/v2/contracts/commits/edit"): Probe(
        lambda a: {"customer_id": a["customer"], "commit_id": a["commit"], "priority": 5}
    ),
    ("POST", "/v2/contracts/credits/edit"): Probe(
        lambda a: {"customer_id": a["customer"], "credit_id": a["credit"], "priority": 5}
    ),
    ("POST", "/v2/contracts/getEditHistory"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"]}
    ),
    ("POST", "/v1/contracts/updateEndDate"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"], "ending_before": AT}
    ),
    ("POST", "/v1/contracts/archive"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"], "void_invoices": False}
    ),
    ("POST", "/v1/contracts/setUsageFilter"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "group_key": "n",
            "group_values": ["x"],
            "starting_at": AT,
        }
    ),
    ("POST", "/v1/contracts/getContractRateSchedule"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"]}
    ),
    # packages
    ("POST", "/v1/packages/create"): Probe(
        lambda a: {"name": "b-pkg", "rate_card_id": a["card"]}, reference=True
    ),
    ("POST", "/v1/packages/get"): Probe(lambda a: {"package_id": a["package"]}),
    ("POST", "/v1/packages/list"): Probe(
        lambda a: {"archive_filter": "ALL"}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v1/packages/archive"): Probe(lambda a: {"package_id": a["package"]}),
    ("POST", "/v1/packages/listContractsOnPackage"): Probe(lambda a: {"package_id": a["package"]}),
    # lifecycle notifications
    ("POST", "/v2/notifications/create"): Probe(
        lambda a: {"name": "b-offset", "policy": {"type": "contract.end", "offset": "-P2D"}}, must_404=False
    ),
    ("POST", "/v2/notifications/get"): Probe(lambda a: {"id": a["notification"]}),
    ("POST", "/v2/notifications/edit"): Probe(
        lambda a: {"id": a["notification"], "policy": {"type": "contract.end", "offset": "-P2D"}}
    ),
    ("POST", "/v2/notifications/archive"): Probe(lambda a: {"id": a["notification"]}),
    ("POST", "/v2/notifications/offset/list"): Probe(lambda a: {"archive_filter": "ALL"}, must_404=False),
    ("POST", "/v2/notifications/system/list"): Probe(must_404=False),
    ("POST", "/v1/contracts/getSubscriptionSeatsHistory"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "subscription_id": a["contract"],
        }
    ),
    ("POST", "/v1/contracts/getSubscriptionQuantityHistory"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "subscription_id": a["contract"],
        }
    ),
    ("POST", "/v1/contracts/seatBalances/list"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"]}
    ),
    ("POST", "/v1/contracts/getNamedSchedule"): Probe(
        lambda a: {"customer_id": a["customer"], "contract_id": a["contract"], "schedule_name": "tier"}
    ),
    ("POST", "/v1/contracts/updateNamedSchedule"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "schedule_name": "tier",
            "starting_at": AT,
            "value": "x",
        }
    ),
    ("POST", "/v1/contracts/listNamedSchedules"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v1/contracts/customerCommits/create"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "type": "PREPAID",
            "product_id": a["fixed"],
            "priority": 1,
            "access_schedule": {
                "schedule_items": [
                    {"amount": 100, "starting_at": "2024-01-01T00:00:00Z", "ending_before": AT}
                ]
            },
        },
        reference=True,
    ),
    ("POST", "/v1/contracts/customerCredits/create"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "product_id": a["fixed"],
            "priority": 1,
            "access_schedule": {
                "schedule_items": [
                    {"amount": 100, "starting_at": "2024-01-01T00:00:00Z", "ending_before": AT}
                ]
            },
        },
        reference=True,
    ),
    ("POST", "/v1/contracts/customerCommits/list"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v1/contracts/customerCredits/list"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v1/contracts/customerBalances/list"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _no_data(r)
    ),
    ("POST", "/v1/contracts/customerCommits/updateEndDate"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "commit_id": a["customer_commit"],
            "access_ending_before": AT,
        }
    ),
    ("POST", "/v1/contracts/customerCredits/updateEndDate"): Probe(
        lambda a: {"customer_id": a["customer"], "credit_id": a["credit"], "access_ending_before": AT}
    ),
    ("POST", "/v1/contracts/addManualBalanceLedgerEntry"): Probe(
        lambda a: {
            "id": a["commit"],
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "segment_id": a["segment"],
            "amount": -5,
            "reason": "stolen",
        }
    ),
    ("POST", "/v1/contracts/customerBalances/getNetBalance"): Probe(
        lambda a: {"customer_id": a["customer"]}, must_404=False, check=lambda r: _zero_balance(r)
    ),
    ("POST", "/v1/contracts/scheduleProServicesInvoice"): Probe(
        lambda a: {
            "customer_id": a["customer"],
            "contract_id": a["contract"],
            "issued_at": START,
            "line_items": [{"professional_service_id": a["commit"], "amount": 5}],
        }
    ),
    ("POST", "/v1/contracts/createHistoricalInvoices"): Probe(
        lambda a: {
            "invoices": [
                {
                    "customer_id": a["customer"],
                    "contract_id": a["contract"],
                    "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
                    "inclusive_start_date": START,
                    "exclusive_end_date": AT,
                    "issue_date": AT,
                    "usage_line_items": [
                        {
                            "product_id": a["product"],
                            "inclusive_start_date": START,
                            "exclusive_end_date": AT,
                            "quantity": 5,
                        }
                    ],
                }
            ],
            "preview": False,
        }
    ),
    # invoices (issue 5)
    ("GET", "/v1/customers/{customer_id}/invoices"): Probe(
        path=lambda a: f"/v1/customers/{a['customer']}/invoices"
    ),
    ("GET", "/v1/customers/{customer_id}/invoices/breakdowns"): Probe(
        path=lambda a: f"/v1/customers/{a['customer']}/invoices/breakdowns",
        query=lambda a: {"starting_on": "2024-01-01T00:00:00Z", "ending_before": "2024-01-02T00:00:00Z"},
    ),
    ("GET", "/v1/customers/{customer_id}/invoices/{invoice_id}"): Probe(
        path=lambda a: f"/v1/customers/{a['customer']}/invoices/{a['invoice']}"
    ),
    ("GET", "/v1/customers/{customer_id}/invoices/{invoice_id}/pdf"): Probe(
        path=lambda a: f"/v1/customers/{a['customer']}/invoices/{a['invoice']}/pdf"
    ),
    ("POST", "/v1/invoices/void"): Probe(lambda a: {"id": a["invoice"]}),
    ("POST", "/v1/invoices/regenerate"): Probe(lambda a: {"id": a["invoice"]}),
    ("POST", "/v1/customers/{customer_id}/previewEvents"): Probe(
        lambda a: {"events": [{"event_type": "x"}]},
        path=lambda a: f"/v1/customers/{a['customer']}/previewEvents",
    ),
    ("POST", "/tally/v1/late-events/list"): Probe(lambda a: {"customer_id": a["customer"]}),
    ("POST", "/tally/v1/invoices/explain"): Probe(
        lambda a: {"customer_id": a["customer"], "invoice_id": a["invoice"], "line_index": 0}
    ),
    ("POST", "/tally/v1/invoice-settings/get"): Probe(lambda a: {}, must_404=False),
    ("POST", "/tally/v1/invoice-settings"): Probe(lambda a: {"grace_period_hours": 24}, must_404=False),
    ("GET", "/tally/v1/customers/{customer_id}/invoices/{invoice_id}/html"): Probe(
        path=lambda a: f"/tally/v1/customers/{a['customer']}/invoices/{a['invoice']}/html"
    ),
    ("POST", "/tally/v1/customers/billing-details/get"): Probe(lambda a: {"customer_id": a["customer"]}),
    ("POST", "/tally/v1/customers/billing-details"): Probe(
        lambda a: {"customer_id": a["customer"], "legal_name": "stolen"}
    ),
    # only with `serve --test-clock`: absent (404) on this server
    ("POST", "/tally/v1/test-clock/get"): Probe(lambda a: {}),
    ("POST", "/tally/v1/test-clock"): Probe(lambda a: {"now": AT}),
    # alerts
    ("POST", "/v1/alerts/create"): Probe(
        lambda a: {
            "alert_type": "spend_threshold_reached",
            "name": "b-alert",
            "threshold": 1,
            "customer_id": a["customer"],
        },
        reference=True,
    ),
    ("POST", "/v1/alerts/archive"): Probe(lambda a: {"id": a["alert"], "release_uniqueness_key": True}),
    ("POST", "/v1/customer-alerts/list"): Probe(lambda a: {"customer_id": a["customer"]}),
    ("POST", "/v1/customer-alerts/get"): Probe(
        lambda a: {"alert_id": a["alert"], "customer_id": a["customer"]}
    ),
    ("POST", "/v1/customer-alerts/reset"): Probe(
        lambda a: {"alert_id": a["alert"], "customer_id": a["customer"]}
    ),
    # webhooks (tally's own configuration API)
    ("POST", "/tally/v1/webhooks/create"): Probe(
        lambda a: {"url": "https://93.184.215.14/b-hooks"}, must_404=False
    ),
    ("POST", "/tally/v1/webhooks/list"): Probe(lambda a: {"include_archived": True}, must_404=False),
    ("POST", "/tally/v1/webhooks/archive"): Probe(lambda a: {"id": a["webhook"]}),
    ("POST", "/tally/v1/webhooks/rotateSecret"): Probe(lambda a: {"id": a["webhook"]}),
    ("POST", "/tally/v1/webhooks/events/list"): Probe(lambda a: {"webhook_id": a["webhook"]}),
    # A's ids are no delivery of B's (the seed has no failed delivery; see tests/console/test_ops_pages.py)
    ("POST", "/tally/v1/webhooks/deliveries/retry"): Probe(lambda a: {"id": a["webhook"]}),
    # audit log: A's rows about A's customer are not B's to read
    ("GET", "/v1/auditLogs"): Probe(
        query=lambda a: {"resource_type": "customer", "resource_id": a["customer"], "limit": "100"},
        must_404=False,
        check=lambda r: _no_data(r),
    ),
}


def _assert_eq(got: Any, want: Any) -> None:
    assert got == want


def _no_data(r: httpx.Response) -> None:
    if r.status_code == 200:
        assert r.json()["data"] == [], r.text[:300]
    else:
        assert r.status_code == 404, r.text


def _zero_balance(r: httpx.Response) -> None:
    if r.status_code == 200:
        assert r.json()["data"]["balance"] == 0, r.text
    else:
        assert r.status_code == 404, r.text


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def _seed(c: httpx.Client, tag: str) -> Ids:
    ids: Ids = {}
    ids["cf_key"] = f"iso_{tag}"
    _ok(
        c.post(
            "/v1/customFields/addKey",
            json={"entity": "billable_metric", "key": ids["cf_key"], "enforce_uniqueness": False},
        )
    )
    ids["metric"] = _ok(
        c.post(
            "/v1/billable-metrics/create",
            json={
                "name": f"iso-{tag}",
                "aggregation_type": "SUM",
                "aggregation_key": "n",
                "property_filters": [{"name": "n", "exists": True}],
                "custom_fields": {ids["cf_key"]: "secret"},
            },
        )
    )["data"]["id"]
    ids["unit"] = _ok(c.post("/v1/credit-types/create", json={"name": f"iso-unit-{tag}"}))["data"]["id"]
    ids["product"] = _ok(
        c.post(
            "/v1/contract-pricing/products/create",
            json={"name": f"iso-p-{tag}", "type": "USAGE", "billable_metric_id": ids["metric"]},
        )
    )["data"]["id"]
    ids["card"] = _ok(c.post("/v1/contract-pricing/rate-cards/create", json={"name": f"iso-card-{tag}"}))[
        "data"
    ]["id"]
    _ok(
        c.post(
            "/v1/contract-pricing/rate-cards/addRate",
            json={
                "rate_card_id": ids["card"],
                "product_id": ids["product"],
                "entitled": True,
                "rate_type": "FLAT",
                "price": 3,
                "starting_at": "2024-01-01T00:00:00Z",
            },
        )
    )
    _ok(
        c.post(
            "/v1/contract-pricing/rate-cards/updateNamedSchedule",
            json={
                "rate_card_id": ids["card"],
                "schedule_name": "tier",
                "starting_at": "2024-01-01T00:00:00Z",
                "value": "a",
            },
        )
    )
    ids["fixed"] = _ok(
        c.post("/v1/contract-pricing/products/create", json={"name": f"iso-fixed-{tag}", "type": "FIXED"})
    )["data"]["id"]
    ids["alias"] = f"iso-alias-{tag}"
    ids["customer"] = _ok(
        c.post("/v1/customers", json={"name": f"iso-c-{tag}", "ingest_aliases": [ids["alias"]]})
    )["data"]["id"]
    ids["txn"] = f"iso-txn-{tag}"
    event = {
        "transaction_id": ids["txn"],
        "customer_id": ids["alias"],
        "event_type": "e",
        "timestamp": "2024-01-01T10:00:00Z",
        "properties": {"n": "7"},
    }
    assert c.post("/v1/ingest", json=[event]).status_code == 200
    window = {"starting_at": START, "ending_before": "2031-01-01T00:00:00Z"}
    ids["contract"] = _ok(
        c.post(
            "/v1/contracts/create",
            json={
                "customer_id": ids["customer"],
                "rate_card_id": ids["card"],
                "starting_at": START,
                "commits": [
                    {
                        "type": "PREPAID",
                        "product_id": ids["fixed"],
                        "priority": 1,
                        "access_schedule": {"schedule_items": [{"amount": 1000, **window}]},
                    }
                ],
                "credits": [
                    {
                        "product_id": ids["fixed"],
                        "priority": 1,
                        "access_schedule": {"schedule_items": [{"amount": 500, **window}]},
                    }
                ],
            },
        )
    )["data"]["id"]
    contract = _ok(
        c.post("/v2/contracts/get", json={"customer_id": ids["customer"], "contract_id": ids["contract"]})
    )
    ids["commit"] = contract["data"]["commits"][0]["id"]
    ids["segment"] = contract["data"]["commits"][0]["access_schedule"]["schedule_items"][0]["id"]
    ids["credit"] = contract["data"]["credits"][0]["id"]
    ids["customer_commit"] = _ok(
        c.post(
            "/v1/contracts/customerCommits/create",
            json={
                "customer_id": ids["customer"],
                "type": "PREPAID",
                "product_id": ids["fixed"],
                "priority": 2,
                "access_schedule": {"schedule_items": [{"amount": 300, **window}]},
            },
        )
    )["data"]["id"]
    invoices = _ok(c.get(f"/v1/customers/{ids['customer']}/invoices", params={"type": "USAGE", "limit": "1"}))
    ids["invoice"] = invoices["data"][0]["id"]
    ids["alert"] = _ok(
        c.post(
            "/v1/alerts/create",
            json={
                "alert_type": "usage_threshold_reached",
                "name": f"iso-alert-{tag}",
                "threshold": 1000000,
                "billable_metric_id": ids["metric"],
                "customer_id": ids["customer"],
                "uniqueness_key": f"iso-alert-{tag}",
            },
        )
    )["data"]["id"]
    ids["webhook"] = _webhook(c)
    ids["package"] = _ok(
        c.post("/v1/packages/create", json={"name": f"iso-pkg-{tag}", "rate_card_id": ids["card"]})
    )["data"]["id"]
    ids["notification"] = _ok(
        c.post(
            "/v2/notifications/create",
            json={"name": f"iso-offset-{tag}", "policy": {"type": "contract.end", "offset": "-P7D"}},
        )
    )["data"]["id"]
    return ids


_WEBHOOKS: dict[str, str] = {}


def _webhook(c: httpx.Client) -> str:
    """A's webhook endpoint: one per server (not per seed), so A's events fan out to one endpoint only."""
    key = str(c.base_url)
    if key not in _WEBHOOKS:
        created = c.post("/tally/v1/webhooks/create", json={"url": "https://93.184.215.14/a-hooks"})
        _WEBHOOKS[key] = _ok(created)["data"]["id"]
    return _WEBHOOKS[key]


def _webhook_row(c: httpx.Client, webhook_id: str) -> list[Any]:
    listed = _ok(c.post("/tally/v1/webhooks/list", json={"include_archived": True, "limit": 100}))["data"]
    return [w for w in listed if w["id"] == webhook_id]


def _snapshot(c: httpx.Client, ids: Ids) -> str:
    parts = [
        _ok(c.get(f"/v1/billable-metrics/{ids['metric']}")),
        _ok(c.post("/v1/contract-pricing/products/get", json={"id": ids["product"]})),
        _ok(c.post("/v1/contract-pricing/rate-cards/get", json={"id": ids["card"]})),
        _ok(c.post("/v1/contract-pricing/rate-cards/getRates", json={"rate_card_id": ids["card"], "at": AT})),
        _ok(
            c.post(
                "/v1/contract-pricing/rate-cards/getNamedSchedule",
                json={"rate_card_id": ids["card"], "schedule_name": "tier"},
            )
        ),
        [
            u
            for u in _ok(c.get("/v1/credit-types/list", params={"limit": 100}))["data"]
            if u["id"] == ids["unit"]
        ],
        [k for k in _ok(c.post("/v1/customFields/listKeys", json={}))["data"] if k["key"] == ids["cf_key"]],
        _ok(c.get(f"/v1/customers/{ids['customer']}")),
        _ok(
            c.post("/v2/contracts/get", json={"customer_id": ids["customer"], "contract_id": ids["contract"]})
        ),
        _ok(
            c.post(
                "/v1/contracts/customerBalances/list",
                json={"customer_id": ids["customer"], "include_balance": True},
            )
        ),
        _ok(
            c.post(
                "/v1/usage",
                json={
                    "starting_on": "2024-01-01T00:00:00Z",
                    "ending_before": "2024-01-02T00:00:00Z",
                    "window_size": "DAY",
                    "customer_ids": [ids["customer"]],
                },
            )
        ),
        _ok(c.post("/v1/events/search", json={"transactionIds": [ids["txn"]]})),
        _ok(
            c.post("/v1/customer-alerts/get", json={"alert_id": ids["alert"], "customer_id": ids["customer"]})
        ),
        _webhook_row(c, ids["webhook"]),
        _ok(c.post("/v1/packages/get", json={"package_id": ids["package"]})),
        _ok(c.post("/v2/notifications/get", json={"id": ids["notification"]})),
        _ok(c.post("/v2/notifications/system/list")),
    ]
    return json.dumps(parts, sort_keys=True)


def test_every_route_has_an_isolation_probe() -> None:
    missing = [r for r in ROUTES if r not in PROBES]
    assert not missing, f"add tenant-isolation probes for: {missing}"


@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
def test_other_tenant_cannot_reach(server: Running, uid: str, route: tuple[str, str]) -> None:
    method, path = route
    probe = PROBES[route]
    with server.http() as a, server.http(server.token_b) as b:
        ids = _seed(a, uid)
        before = _snapshot(a, ids)
        url = probe.path(ids) if probe.path else path
        body = probe.body(ids) if probe.body else None
        sent = url + json.dumps(body)
        r = b.request(method, url, json=body, params=probe.query(ids) if probe.query else None)
        if probe.reference:
            assert r.status_code in (400, 404), (route, r.status_code, r.text)
        elif probe.must_404:
            assert r.status_code == 404, (route, r.status_code, r.text)
        else:
            assert r.status_code < 500, (route, r.status_code, r.text)
        if probe.check:
            probe.check(r)
        # Echoing back an id B itself sent is no leak; any other id of A's in the answer is.
        leaked = [name for name, value in ids.items() if value in r.text and value not in sent]
        assert not leaked, (route, leaked, r.text[:300])
        assert _snapshot(a, ids) == before
