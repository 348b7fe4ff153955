"""SQL billable metrics through the official SDK in strict mode, on both databases (SPEC §2.6).

One customer (alias `a`, later also alias `b`), one SQL metric summing tokens per region, priced FLAT 2 per
token with `pricing_group_key: ["region"]`:
  alias a:  us 100, eu 50, us 25, and a retry of the first id with 9,999 (a duplicate: dropped)
  alias b:  eu 10, ingested BEFORE b is attached to the customer (late binding: counted once attached)
  another customer: us 1,000 (not this customer's)
  usage: us 125, eu 60, total 185; invoice: us 125 x 2 = 250, eu 60 x 2 = 120, total 370 cents.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import metronome
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.sdk.invoice_support import clock_now, clock_server, fresh_month, iso, set_clock  # noqa: F401


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk()


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:  # noqa: F811
    with clock_server.http() as c:
        yield c


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT COUNT(*) FROM events JOIN customers ON 1 = 1", "JOIN"),
        ("SELECT COUNT(*) FROM (SELECT * FROM events)", "FROM events"),
        ("SELECT COUNT(*) FROM events HAVING COUNT(*) > 1", "HAVING"),
        ("SELECT SUM(LENGTH(properties.x)) FROM events", "LENGTH"),
        ("SELECT COUNT(*) FROM events ORDER BY 1", "ORDER BY"),
        ("SELECT properties.region FROM events", "must aggregate"),
        ("SELECT SUM(properties.tokens) FROM events", "CAST"),
        ("SELECT COUNT(*), properties.region FROM events", "GROUP BY"),
        ("DELETE FROM events", "Delete"),
        ("SELECT COUNT(*) FROM events WHERE properties.x LIKE 'a%'", "Like"),
        ("SELECT COUNT(*) FROM events; SELECT 1", "exactly one"),
    ],
)
def test_outside_the_subset_is_a_400_naming_it(client: Metronome, uid: str, sql: str, fragment: str) -> None:
    name = f"bad-sql-{uid}"
    with pytest.raises(metronome.BadRequestError) as exc:
        client.v1.billable_metrics.create(name=name, sql=sql)
    assert fragment in exc.value.body["message"]  # type: ignore[index]
    assert name not in {m.name for m in client.v1.billable_metrics.list(include_archived=True)}


def test_usage_draft_and_final_invoice(a: Metronome, h: httpx.Client) -> None:
    t0 = fresh_month(h)
    t1 = add_months(t0, 1)
    uid = "sq" + iso(clock_now(h)).replace(":", "")[-6:]
    et = f"tokens_{uid}"
    sql = (
        "SELECT SUM(CAST(properties.tokens AS INT)) AS value, properties.region FROM events "
        f"WHERE event_type = '{et}' GROUP BY properties.region"
    )
    metric = a.v1.billable_metrics.create(name=f"sql tokens {uid}", sql=sql).data.id
    got = a.v1.billable_metrics.retrieve(billable_metric_id=metric).data
    assert got.sql == sql
    assert got.aggregation_type is None
    product = a.v1.contracts.products.create(
        name=f"SQL tokens {uid}",
        type="USAGE",
        billable_metric_id=metric,
        pricing_group_key=["region"],
    ).data.id
    with pytest.raises(metronome.BadRequestError):
        a.v1.contracts.products.create(
            name=f"bad {uid}", type="USAGE", billable_metric_id=metric, pricing_group_key=["zone"]
        )
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=product, entitled=True, rate_type="FLAT", price=2, starting_at=t0
    )
    alias_a, alias_b = f"a-{uid}", f"b-{uid}"
    customer = a.v1.customers.create(name=f"SQL customer {uid}", ingest_aliases=[alias_a]).data.id
    other = a.v1.customers.create(name=f"Other {uid}", ingest_aliases=[f"o-{uid}"]).data.id
    a.v1.contracts.create(customer_id=customer, starting_at=t0, rate_card_id=card, name=f"c {uid}")
    at = t0 + timedelta(hours=2)

    def event(tid: str, who: str, region: str, tokens: str) -> dict[str, object]:
        return {
            "transaction_id": f"{tid}-{uid}",
            "customer_id": who,
            "event_type": et,
            "timestamp": iso(at),
            "properties": {"region": region, "tokens": tokens},
        }

    a.v1.usage.ingest(
        usage=[
            event("1", alias_a, "us", "100"),
            event("2", alias_a, "eu", "50"),
            event("3", alias_a, "us", "25"),
            event("4", alias_b, "eu", "10"),
            event("5", f"o-{uid}", "us", "1000"),
        ]
    )
    a.v1.usage.ingest(usage=[event("1", alias_a, "us", "9999")])  # duplicate id: dropped
    a.v1.customers.set_ingest_aliases(customer_id=customer, ingest_aliases=[alias_a, alias_b])

    usage = list(
        a.v1.usage.list(
            starting_on=t0,
            ending_before=t0 + timedelta(days=1),
            window_size="DAY",
            customer_ids=[customer, other],
            billable_metrics=[{"id": metric, "group_by": {"key": "region"}}],
        )
    )
    by_customer = {u.customer_id: u for u in usage}
    assert by_customer[customer].value == 185
    assert by_customer[customer].groups == {"eu": 60, "us": 125}
    assert by_customer[other].value == 1000
    groups = list(
        a.v1.usage.list_with_groups(
            billable_metric_id=metric,
            customer_id=customer,
            window_size="NONE",
            starting_on=t0,
            ending_before=t0 + timedelta(days=1),
            group_key=["region"],
        )
    )
    assert {(g.group_value, g.value) for g in groups} == {("eu", 60), ("us", 125)}

    draft = next(iter(a.v1.customers.invoices.list(customer_id=customer, type="USAGE")))
    lines = {
        (li.presentation_group_values or li.pricing_group_values or {}).get("region"): li
        for li in draft.line_items
    }
    assert (lines["us"].quantity, lines["us"].total) == (125, 250)
    assert (lines["eu"].quantity, lines["eu"].total) == (60, 120)
    assert draft.total == 370

    set_clock(h, t1 + timedelta(days=2))
    final = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert final.status == "FINALIZED"
    assert final.total == 370
