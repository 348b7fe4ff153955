"""Accepted request fields that used to be silently ignored now act, or are refused with a 400 that names
them (issue 12 rule 7; the walk over every field is tests/unit/test_request_fields.py)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import metronome
import pytest
from metronome import Metronome

from tests.conftest import Running
from tests.sdk.invoice_support import Scenario, build, clock_server, set_clock  # noqa: F401  (fixture)


def _sdk(running: Running) -> Metronome:
    return Metronome(bearer_token=running.token_a, base_url=running.url, _strict_response_validation=True)


def test_billing_config_becomes_the_customers_billing_provider_configuration(
    client: Metronome, uid: str
) -> None:
    stripe = client.v1.customers.create(
        name=f"bc stripe {uid}",
        billing_config={
            "billing_provider_type": "stripe",
            "billing_provider_customer_id": f"cus_{uid}",
            "stripe_collection_method": "send_invoice",
        },
    ).data.id
    (cfg,) = client.v1.customers.retrieve_billing_configurations(customer_id=stripe).data
    assert cfg.billing_provider == "stripe"
    assert cfg.delivery_method == "direct_to_billing_provider"
    assert cfg.configuration == {
        "stripe_customer_id": f"cus_{uid}",
        "stripe_collection_method": "send_invoice",
    }

    aws = client.v1.customers.create(
        name=f"bc aws {uid}",
        billing_config={
            "billing_provider_type": "aws_marketplace",
            "billing_provider_customer_id": f"aws-{uid}",
            "aws_product_code": "prod-1",
            "aws_region": "us-east-1",
        },
    ).data.id
    (cfg,) = client.v1.customers.retrieve_billing_configurations(customer_id=aws).data
    assert cfg.billing_provider == "aws_marketplace"
    assert cfg.configuration == {
        "customer_id": f"aws-{uid}",
        "aws_product_code": "prod-1",
        "aws_region": "us-east-1",
    }


def test_billing_config_and_an_explicit_stripe_configuration_conflict(http: httpx.Client, uid: str) -> None:
    body = {
        "name": f"bc both {uid}",
        "billing_config": {"billing_provider_type": "stripe", "billing_provider_customer_id": "cus_a"},
        "customer_billing_provider_configurations": [
            {
                "billing_provider": "stripe",
                "delivery_method": "direct_to_billing_provider",
                "configuration": {"stripe_customer_id": "cus_b"},
            }
        ],
    }
    r = http.post("/v1/customers", json=body)
    assert r.status_code == 400, r.text
    assert "already has a stripe configuration" in r.json()["message"]
    # Nothing half-written: the customer was not created.
    names = [c["name"] for c in http.get("/v1/customers", params={"limit": 100}).json()["data"]]
    assert f"bc both {uid}" not in names


def test_net_balance_with_drafts_is_refused_by_name(client: Metronome, http: httpx.Client, uid: str) -> None:
    customer = client.v1.customers.create(name=f"nb {uid}").data.id
    r = http.post(
        "/v1/contracts/customerBalances/getNetBalance",
        json={"customer_id": customer, "invoice_inclusion_mode": "FINALIZED_AND_DRAFT"},
    )
    assert r.status_code == 400
    assert r.json()["message"].startswith("invoice_inclusion_mode:")
    ok = client.v1.contracts.get_net_balance(customer_id=customer, invoice_inclusion_mode="FINALIZED")
    assert ok.data.balance == 0


@pytest.fixture(scope="module")
def ended(clock_server: Running) -> tuple[Metronome, httpx.Client, Scenario]:  # noqa: F811
    """The invoice scenario with its first month finalized."""
    sdk = _sdk(clock_server)
    h = clock_server.http()
    s = build(sdk, h, "endf")
    set_clock(h, s.t1 + timedelta(hours=24, minutes=1))
    return sdk, h, s


def test_ending_before_a_finalized_invoice_needs_the_flag(
    ended: tuple[Metronome, httpx.Client, Scenario],
) -> None:
    sdk, _, s = ended
    early = s.t0 + timedelta(days=10)  # inside the finalized first month
    with pytest.raises(metronome.BadRequestError) as err:
        sdk.v1.contracts.update_end_date(
            customer_id=s.customer,
            contract_id=s.contract,
            ending_before=early,
        )
    assert "allow_ending_before_finalized_invoice" in str(err.value)
    with pytest.raises(metronome.BadRequestError) as err:
        sdk.v2.contracts.edit(
            customer_id=s.customer,
            contract_id=s.contract,
            update_contract_end_date=early,
        )
    assert "allow_contract_ending_before_finalized_invoice" in str(err.value)
    got = sdk.v2.contracts.retrieve(customer_id=s.customer, contract_id=s.contract).data
    assert got.ending_before is None  # the refused edits changed nothing

    sdk.v2.contracts.edit(
        customer_id=s.customer,
        contract_id=s.contract,
        update_contract_end_date=early,
        allow_contract_ending_before_finalized_invoice=True,
    )
    got = sdk.v2.contracts.retrieve(customer_id=s.customer, contract_id=s.contract).data
    assert got.ending_before == early
    later = s.t0 + timedelta(days=400)  # after every finalized invoice: no flag needed
    sdk.v1.contracts.update_end_date(customer_id=s.customer, contract_id=s.contract, ending_before=later)
    sdk.v1.contracts.update_end_date(
        customer_id=s.customer,
        contract_id=s.contract,
        ending_before=early,
        allow_ending_before_finalized_invoice=True,
    )
    got = sdk.v2.contracts.retrieve(customer_id=s.customer, contract_id=s.contract).data
    assert got.ending_before == early
