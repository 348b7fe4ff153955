"""Which calls the audit log records, and as what: derived from the route template (tally.audit.actions)."""

from __future__ import annotations

import pytest

from tally.audit.actions import Action, action_for


@pytest.mark.parametrize(
    ("method", "template", "want"),
    [
        ("POST", "/v1/customers", Action("customer.create", "customer", created_in="customers")),
        (
            "POST",
            "/v1/customers/{customer_id}/setName",
            Action("customer.set_name", "customer", ("customer_id", "id")),
        ),
        ("POST", "/v1/contracts/create", Action("contract.create", "contract", created_in="contracts")),
        ("POST", "/v2/contracts/edit", Action("contract.edit", "contract", ("contract_id", "id"))),
        ("POST", "/v2/contracts/commits/edit", Action("commit.edit", "commit", ("commit_id", "id"))),
        (
            "PUT",
            "/v1/billable-metrics/{billable_metric_id}",
            Action("billable_metric.update", "billable_metric", ("billable_metric_id", "id")),
        ),
        (
            "POST",
            "/v1/contract-pricing/rate-cards/addRate",
            Action("rate_card.add_rate", "rate_card", ("rate_card_id", "id")),
        ),
        (
            "POST",
            "/v1/contracts/customerCommits/create",
            Action("commit.create", "commit", created_in="balances"),
        ),
    ],
)
def test_derived_actions(method: str, template: str, want: Action) -> None:
    assert action_for(method, template) == want


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/v1/customers"),
        ("POST", "/v1/ingest"),  # the hot path: not audited
        ("POST", "/tally/v1/test-clock"),
        ("POST", "/v1/contracts/list"),
        ("POST", "/v2/contracts/get"),
        ("POST", "/v2/contracts/getEditHistory"),
        ("POST", "/v1/customers/{customer_id}/previewEvents"),
        ("POST", "/v1/events/search"),
        ("POST", "/v1/usage"),
        ("POST", "/v1/usage/groups"),
        ("POST", "/v1/contracts/seatBalances/list"),
    ],
)
def test_reads_and_ingest_are_not_audited(method: str, template: str) -> None:
    assert action_for(method, template) is None
