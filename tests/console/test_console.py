"""The operator console (issue 14) over HTTP on both backends: sign-in with a token and with an operator
account, the session cookie's flags, CSRF on every POST, the Content-Security-Policy, escaping, customer
search, the invoice page's figures against the API's, void and regenerate as admin (audited as the API's
routes), a viewer refused, and the CSV download equal to `tally export invoices`."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tally.console.web import CSP
from tests.conftest import Running
from tests.console.support import csrf_of, page_csrf, sign_in
from tests.sdk.invoice_support import Scenario, build, ingest, iso

PASSWORD = "correct horse battery staple"


def _create_user(server: Running, email: str, role: str, password: str) -> subprocess.CompletedProcess[str]:
    """`tally users create`, the password on standard input, as its own process."""
    argv = ["users", "create", "--email", email, "--role", role, "--tenant", "alpha", "--password-stdin"]
    return subprocess.run(
        [sys.executable, "-m", "tally", *argv],
        input=password + "\n",
        env=server.server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _user(server: Running, role: str) -> str:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    done = _create_user(server, email, role, PASSWORD)
    assert done.returncode == 0, done.stderr
    assert email in done.stdout
    return email


@pytest.fixture(scope="module")
def scenario(clock_server: Running) -> tuple[Scenario, str]:
    uid = uuid.uuid4().hex[:8]
    client = clock_server.sdk()
    with clock_server.http() as http:
        s = build(client, http, uid)
        # 1,500 tokens in us-east (1,000 x 2 + 500 x 1 = 2,500 cents) and 3 API calls (3 x 50 x 0.8 = 120).
        ingest(
            client,
            s,
            uid,
            "c",
            (s.token_event, s.t0 + timedelta(hours=2), {"tokens": 1000, "region": "us-east"}),
            (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 500, "region": "us-east"}),
            (s.api_event, s.t0 + timedelta(hours=4), {}),
            (s.api_event, s.t0 + timedelta(hours=5), {}),
            (s.api_event, s.t0 + timedelta(hours=6), {}),
        )
    return s, uid


def _usage_draft(server: Running, s: Scenario) -> object:
    invs = server.sdk().v1.customers.invoices.list(customer_id=s.customer, status="DRAFT").data
    return next(i for i in invs if i.type == "USAGE")


def test_sign_in_sets_a_safe_cookie_and_every_page_has_the_policy(clock_server: Running) -> None:
    anonymous = httpx.get(clock_server.url + "/ui/customers", follow_redirects=False, timeout=30)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/ui/login?next=")
    form = httpx.get(clock_server.url + "/ui/login", timeout=30)
    assert form.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    with httpx.Client(base_url=clock_server.url, timeout=30) as c:
        c.get("/ui/login")
        r = c.post("/ui/login", data={"csrf": "forged", "token": clock_server.token_a})
        assert r.status_code == 403  # the login form's own CSRF token is checked too
        assert "tally_session" not in r.headers.get("set-cookie", "")
        r = c.post(
            "/ui/login", data={"csrf": c.cookies["tally_login_csrf"], "token": "tly_wrong", "next": "/ui/"}
        )
        assert r.status_code == 401
        assert "not accepted" in r.text
    c = sign_in(clock_server)
    cookie = next(h for h in c.cookies.jar if h.name == "tally_session")
    assert cookie.path == "/ui"
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert not cookie.secure  # plain HTTP on loopback; Secure is set when the request is HTTPS
    page = c.get("/ui/customers")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in page.text
    # The login page refuses to redirect off-site after sign-in.
    with httpx.Client(base_url=clock_server.url, timeout=30) as other:
        other.get("/ui/login")
        r = other.post(
            "/ui/login",
            data={
                "csrf": other.cookies["tally_login_csrf"],
                "token": clock_server.token_a,
                "next": "//evil.example/",
            },
        )
        assert r.headers["location"] == "/ui/customers"


def test_cookie_is_secure_over_https(clock_server: Running) -> None:
    # uvicorn takes the scheme from X-Forwarded-Proto sent by a proxy on loopback (its default).
    https = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=clock_server.url, headers=https, timeout=30) as c:
        form = c.get("/ui/login")
        login_cookie = form.headers["set-cookie"]
        assert "Secure" in login_cookie
        # The client holds Secure cookies back over plain HTTP: send the form's cookie by hand.
        token = login_cookie.split("tally_login_csrf=", 1)[1].split(";", 1)[0]
        r = c.post(
            "/ui/login",
            data={"csrf": token, "token": clock_server.token_a, "next": "/ui/"},
            headers={"Cookie": f"tally_login_csrf={token}"},
        )
        assert r.status_code == 303
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "tally_session=" in v)
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie


def test_console_is_not_in_the_api_document(clock_server: Running) -> None:
    doc = httpx.get(clock_server.url + "/openapi.json", timeout=60).json()
    assert not [p for p in doc["paths"] if p.startswith("/ui")]
    assert "/tally/v1/invoices/explain" in doc["paths"]


def test_search_finds_by_name_id_and_alias_and_escapes(
    clock_server: Running, scenario: tuple[Scenario, str]
) -> None:
    s, uid = scenario
    hostile = clock_server.sdk().v1.customers.create(name=f"<img src=x onerror=alert(1)> {uid}").data.id
    c = sign_in(clock_server)
    for q in (uid, s.customer, s.alias, f"INVOICE CUSTOMER {uid}"):
        r = c.get("/ui/customers", params={"q": q})
        assert r.status_code == 200
        assert f"/ui/customers/{s.customer}" in r.text, q
    r = c.get("/ui/customers", params={"q": "<img"})
    assert f"/ui/customers/{hostile}" in r.text
    assert "<img src=x" not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in r.text
    r = c.get(f"/ui/customers/{hostile}")
    assert "<img src=x" not in r.text
    # A LIKE wildcard is a literal character in a search.
    r = c.get("/ui/customers", params={"q": "%"})
    assert f"/ui/customers/{s.customer}" not in r.text


def test_pagination_pages_through_every_match(clock_server: Running) -> None:
    tag = uuid.uuid4().hex[:8]
    made = {clock_server.sdk().v1.customers.create(name=f"page {tag} {i}").data.id for i in range(53)}
    c = sign_in(clock_server)
    seen: set[str] = set()
    url: str | None = f"/ui/customers?q={tag}"
    pages = 0
    while url:
        r = c.get(url)
        pages += 1
        seen |= {cid for cid in made if f"/ui/customers/{cid}" in r.text}
        nxt = [line for line in r.text.splitlines() if 'rel="next"' in line]
        url = nxt[0].split('href="')[1].split('"')[0].replace("&amp;", "&") if nxt else None
    assert seen == made
    assert pages == 2  # 50 a page: 50 + 3


def test_invoice_page_matches_the_api(clock_server: Running, scenario: tuple[Scenario, str]) -> None:
    s, _ = scenario
    inv = _usage_draft(clock_server, s)
    c = sign_in(clock_server)
    cust = c.get(f"/ui/customers/{s.customer}")
    assert cust.status_code == 200
    assert f"/ui/customers/{s.customer}/invoices/{inv.id}" in cust.text
    assert "Prepaid commit" in cust.text
    assert "Welcome credit" in cust.text
    page = c.get(f"/ui/customers/{s.customer}/invoices/{inv.id}")
    assert page.status_code == 200
    # The API's total is in USD cents; the page shows dollars: total / 100.
    dollars = f"${inv.total / 100:,.2f}"
    assert f'id="invoice-total">{dollars}<' in page.text
    # Tiered tokens: 1,500 tokens; tier rows 1,000 x $0.02 and 500 x $0.01.
    assert "1,500" in page.text
    assert "$0.02" in page.text
    assert "$0.01" in page.text
    assert page.text.count('class="explain"') == 2  # the two usage lines
    pdf = c.get(f"/ui/customers/{s.customer}/invoices/{inv.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


def test_viewer_sees_but_cannot_act_and_admin_voids_and_regenerates(
    clock_server: Running, scenario: tuple[Scenario, str]
) -> None:
    s, _ = scenario
    inv = _usage_draft(clock_server, s)
    page = f"/ui/customers/{s.customer}/invoices/{inv.id}"
    viewer = sign_in(clock_server, email=_user(clock_server, "viewer"), password=PASSWORD)
    r = viewer.get(page)
    assert r.status_code == 200
    assert "void-form" not in r.text
    token = page_csrf(viewer, page)
    r = viewer.post(page + "/void", data={"csrf": token})
    assert r.status_code == 403
    assert (
        clock_server.sdk()
        .v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=inv.id)
        .data.status
        == "DRAFT"
    )

    admin_email = _user(clock_server, "admin")
    admin = sign_in(clock_server, email=admin_email, password=PASSWORD)
    r = admin.post(page + "/void", data={"csrf": "forged"})
    assert r.status_code == 403  # CSRF
    r = admin.post(page + "/void", data={"csrf": page_csrf(admin, page)})
    assert r.status_code == 303, r.text
    api = clock_server.sdk()
    assert api.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=inv.id).data.status == "VOID"
    r = admin.post(page + "/regenerate", data={"csrf": page_csrf(admin, page)})
    assert r.status_code == 303, r.text
    new_id = r.headers["location"].rsplit("/", 1)[1]
    assert new_id != inv.id
    again = api.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=new_id).data
    assert again.status == "DRAFT"
    assert again.total == inv.total
    logs = api.v1.audit_logs.list(resource_type="invoice", resource_id=inv.id).data
    actions = {(e.action, e.actor.name if e.actor else None) for e in logs}
    assert ("invoice.void", f"console {admin_email}") in actions
    assert ("invoice.regenerate", f"console {admin_email}") in actions


def test_csv_download_equals_the_cli_export(
    clock_server: Running, scenario: tuple[Scenario, str], tmp_path: Path
) -> None:
    s, _ = scenario
    c = sign_in(clock_server)
    lo, hi = iso(s.t0), iso(s.t1 + timedelta(days=40))
    r = c.get(
        "/ui/invoices/export.csv", params={"from": lo, "to": hi, "status": "DRAFT", "customer": s.customer}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    out = tmp_path / "cli.csv"
    clock_server.server.cli(
        "export",
        "invoices",
        "--tenant",
        "alpha",
        "--from",
        lo,
        "--to",
        hi,
        "--status",
        "DRAFT",
        "--customer",
        s.customer,
        "--out",
        str(out),
    )
    assert r.text.replace("\r\n", "\n") == out.read_text().replace("\r\n", "\n")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows
    assert {row["customer_id"] for row in rows} == {s.customer}
    bad = c.get("/ui/invoices/export.csv", params={"from": hi, "to": lo})
    assert bad.status_code == 400
    assert "to: must be after from" in bad.text


def test_users_create_refuses_bad_input_and_wrong_passwords_fail(clock_server: Running) -> None:
    email = _user(clock_server, "admin")

    def create(address: str, role: str, password: str) -> subprocess.CompletedProcess[str]:
        return _create_user(clock_server, address, role, password)

    dup = create(email.upper(), "viewer", PASSWORD)  # addresses are compared lower-cased
    assert dup.returncode == 2
    assert "already exists" in dup.stderr
    short = create(f"short-{uuid.uuid4().hex[:6]}@example.com", "admin", "too short")
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    role = create(f"role-{uuid.uuid4().hex[:6]}@example.com", "owner", PASSWORD)
    assert role.returncode != 0
    assert "--role" in role.stderr
    with httpx.Client(base_url=clock_server.url, timeout=30) as c:
        c.get("/ui/login")
        for address, password in ((email, PASSWORD + "x"), ("nobody@example.com", PASSWORD)):
            r = c.post(
                "/ui/login",
                data={"csrf": c.cookies["tally_login_csrf"], "email": address, "password": password},
            )
            assert r.status_code == 401
            assert "Those credentials were not accepted." in r.text


def test_stripe_settings_connect_show_and_disconnect(clock_server: Running) -> None:
    """Issue 16's connection, set in the console's settings: the key is never shown back, bad input is a
    400 page, a viewer cannot change it, and the API sees what the console set."""
    admin = sign_in(clock_server, clock_server.token_a)
    viewer = sign_in(clock_server, email=_user(clock_server, "viewer"), password=PASSWORD)
    try:
        page = admin.get("/ui/settings/stripe")
        assert page.status_code == 200
        assert "Not connected." in page.text
        bad = admin.post("/ui/settings/stripe", data={"csrf": csrf_of(page.text), "account_id": "acct_1"})
        assert bad.status_code == 400
        assert "secret_key" in bad.text
        secret = "sk_test_" + uuid.uuid4().hex
        fields = {"secret_key": secret, "account_id": "acct_console", "api_base": "http://127.0.0.1:9"}
        r = admin.post("/ui/settings/stripe", data={"csrf": csrf_of(page.text), **fields})
        assert r.status_code == 303
        shown = admin.get("/ui/settings/stripe").text
        assert "acct_console" in shown
        assert "http://127.0.0.1:9" in shown
        assert secret not in shown
        with clock_server.http() as api:
            got = api.post("/tally/v1/stripe/connection/get", json={})
            assert got.status_code == 200
            assert got.json()["data"]["account_id"] == "acct_console"
        vpage = viewer.get("/ui/settings/stripe")
        assert vpage.status_code == 200
        assert "acct_console" in vpage.text
        assert 'id="stripe-connect-form"' not in vpage.text
        refused = viewer.post("/ui/settings/stripe/delete", data={"csrf": csrf_of(vpage.text)})
        assert refused.status_code == 403
        gone = admin.post("/ui/settings/stripe/delete", data={"csrf": csrf_of(shown)})
        assert gone.status_code == 303
        assert "Not connected." in admin.get("/ui/settings/stripe").text
    finally:
        admin.close()
        viewer.close()
