"""The catalog pages (issue 14 §3) over HTTP on both backends: billable metrics (aggregation, key, filters,
group keys, SQL), products (type, metric, group keys, composite tags), rate cards with each product's rates
drawn on a server-rendered timeline, 50 to a list page with the API's cursor. Figures by hand."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Running
from tests.console.support import sign_in

JAN = "2031-01-01T00:00:00Z"
FEB = "2031-02-01T00:00:00Z"
MAR = "2031-03-01T00:00:00Z"


@dataclass
class Cat:
    uid: str
    metric: str
    sql_metric: str
    product: str
    composite: str
    regional: str
    card: str


def _ok(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["id"])


@pytest.fixture(scope="module")
def cat(clock_server: Running) -> Cat:
    uid = uuid.uuid4().hex[:8]
    with clock_server.http() as c:
        metric = _ok(
            c.post(
                "/v1/billable-metrics/create",
                json={
                    "name": f"GPU seconds {uid}",
                    "aggregation_type": "SUM",
                    "aggregation_key": "seconds",
                    "event_type_filter": {"in_values": [f"gpu_{uid}"]},
                    "property_filters": [
                        {"name": "seconds", "exists": True},
                        {"name": "region", "in_values": ["us", "eu"]},
                        {"name": "model", "exists": True},
                    ],
                    "group_keys": [["region"], ["region", "model"]],
                },
            )
        )
        sql_metric = _ok(
            c.post(
                "/v1/billable-metrics/create",
                json={
                    "name": f"SQL rows {uid}",
                    "sql": "SELECT count(*) AS value FROM events WHERE event_type = 'rows'",
                },
            )
        )
        product = _ok(
            c.post(
                "/v1/contract-pricing/products/create",
                json={
                    "name": f"GPU {uid}",
                    "type": "USAGE",
                    "billable_metric_id": metric,
                    "pricing_group_key": ["region"],
                    "presentation_group_key": ["model"],
                    "tags": ["compute"],
                },
            )
        )
        composite = _ok(
            c.post(
                "/v1/contract-pricing/products/create",
                json={"name": f"Platform fee {uid}", "type": "COMPOSITE", "composite_tags": ["compute"]},
            )
        )
        regional = _ok(
            c.post(
                "/v1/contract-pricing/products/create",
                json={
                    "name": f"Regional {uid}",
                    "type": "USAGE",
                    "billable_metric_id": metric,
                    "pricing_group_key": ["region"],
                },
            )
        )
        card = _ok(c.post("/v1/contract-pricing/rate-cards/create", json={"name": f"Card {uid}"}))
        rates = [
            # GPU: 50 cents a second in January, then tiered from February on (open-ended).
            {
                "product_id": product,
                "rate_type": "FLAT",
                "price": 50,
                "starting_at": JAN,
                "ending_before": FEB,
            },
            {
                "product_id": product,
                "rate_type": "TIERED",
                "tiers": [{"size": 1000, "price": 2}, {"price": 1}],
                "starting_at": FEB,
            },
            # Regional: 7 cents a unit in region us, January and February only.
            {
                "product_id": regional,
                "rate_type": "FLAT",
                "price": 7,
                "pricing_group_values": {"region": "us"},
                "starting_at": JAN,
                "ending_before": MAR,
            },
        ]
        for rate in rates:
            r = c.post(
                "/v1/contract-pricing/rate-cards/addRate",
                json={"rate_card_id": card, "entitled": True, **rate},
            )
            assert r.status_code == 200, r.text
    return Cat(uid, metric, sql_metric, product, composite, regional, card)


def test_metric_pages(clock_server: Running, cat: Cat) -> None:
    c = sign_in(clock_server)
    html = c.get(f"/ui/catalog/metrics/{cat.metric}").text
    assert f'<h1 id="metric-name">GPU seconds {cat.uid}' in html
    assert '<dd class="mono" id="aggregation">SUM(seconds)</dd>' in html
    assert f"<div>event type in gpu_{cat.uid}</div>" in html
    assert "<div>seconds exists</div>" in html
    assert "<div>region in us, eu</div>" in html
    assert "<div>model exists</div>" in html
    assert "<div>region</div><div>region + model</div>" in html
    sql = c.get(f"/ui/catalog/metrics/{cat.sql_metric}").text
    assert '<dd class="mono" id="aggregation">SQL</dd>' in sql
    assert "SELECT count(*) AS value FROM events WHERE event_type = &#39;rows&#39;" in sql
    assert c.get("/ui/catalog/metrics").status_code == 200


def test_product_pages(clock_server: Running, cat: Cat) -> None:
    c = sign_in(clock_server)
    html = c.get(f"/ui/catalog/products/{cat.product}").text
    assert f'<h1 id="product-name">GPU {cat.uid}' in html
    assert '<dd id="product-type">USAGE</dd>' in html
    assert f'id="metric-link" href="/ui/catalog/metrics/{cat.metric}">GPU seconds {cat.uid}</a>' in html
    assert "<dt>Tags</dt><dd>compute</dd>" in html
    assert "<dt>Pricing group key</dt><dd>region</dd>" in html
    assert "<dt>Presentation group key</dt><dd>model</dd>" in html
    comp = c.get(f"/ui/catalog/products/{cat.composite}").text
    assert '<dd id="product-type">COMPOSITE</dd>' in comp
    assert "<dt>Composite tags</dt><dd>compute</dd>" in comp


def test_rate_card_draws_each_products_rates_on_a_timeline(clock_server: Running, cat: Cat) -> None:
    c = sign_in(clock_server)
    html = c.get(f"/ui/catalog/rate-cards/{cat.card}").text
    assert f'<h1 id="rate-card-name">Card {cat.uid}</h1>' in html
    gpu = re.search(rf'<section class="product-rates" id="product-{cat.product}">(.*?)</section>', html, re.S)
    assert gpu
    body = gpu.group(1)
    # 50 cents = $0.50 a unit; tiers of 2 and 1 cents: first 1,000 units at $0.02, the rest at $0.01.
    assert (
        '<td class="rate-label">$0.50 / unit</td><td>FLAT</td><td>2031-01-01</td><td>2031-02-01</td>' in body
    )
    tiers = "0\u20131,000 @ $0.02 \u00b7 1,000+ @ $0.01"
    assert f'<td class="rate-label">{tiers}</td><td>TIERED</td><td>2031-02-01</td><td>open-ended</td>' in body
    # The axis runs from 2031-01-01 to 2031-02-01 plus the open-ended margin of max(15% of 31 days, 7 days)
    # = 7 days: 38 days over 1,000 px. January is 31/38 x 1000 = 815.8 px; February runs on to the edge.
    rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', body)
    assert rects == [("0.0", "815.8"), ("815.8", "184.2")]
    assert body.count("<polygon") == 1  # the open-ended rate's arrow
    assert '<text class="inside"' in body
    assert "$0.50 / unit</text>" in body
    regional = re.search(rf'id="product-{cat.regional}">(.*?)</section>', html, re.S)
    assert regional
    # Pricing group values lead the label; 7 cents = $0.07.
    assert '<td class="rate-label">region=us: $0.07 / unit</td>' in regional.group(1)
    assert " style=" not in html
    assert "<script" not in html


def test_lists_page_by_fifty_with_the_api_cursor(clock_server: Running) -> None:
    tag = uuid.uuid4().hex[:8]
    with clock_server.http() as http:
        made = {
            _ok(http.post("/v1/contract-pricing/rate-cards/create", json={"name": f"bulk {tag} {i}"}))
            for i in range(51)
        }
    c = sign_in(clock_server)
    seen: set[str] = set()
    url: str | None = "/ui/catalog/rate-cards"
    pages = 0
    while url:
        r = c.get(url)
        assert r.status_code == 200
        pages += 1
        assert r.text.count('<tr>\n      <td><a href="/ui/catalog/rate-cards/') <= 50
        seen |= {i for i in made if f"/ui/catalog/rate-cards/{i}" in r.text}
        nxt = re.search(r'<a rel="next" href="([^"]+)"', r.text)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert seen == made
    assert pages >= 2  # at least 51 cards: 50 on the first page
    assert c.get("/ui/catalog/rate-cards?next_page=%%%").status_code == 400


def test_unknown_or_foreign_catalog_objects_are_404(clock_server: Running, cat: Cat) -> None:
    b = sign_in(clock_server, clock_server.token_b)
    for path in (
        f"/ui/catalog/metrics/{cat.metric}",
        f"/ui/catalog/products/{cat.product}",
        f"/ui/catalog/rate-cards/{cat.card}",
    ):
        r = b.get(path)
        assert r.status_code == 404, path
        assert cat.uid not in r.text
    for path in ("/ui/catalog", "/ui/catalog/metrics", "/ui/catalog/products", "/ui/catalog/rate-cards"):
        r = b.get(path)
        assert r.status_code == 200
        assert cat.uid not in r.text
