"""The admin pages in a browser: id tokens with every field, API tokens (secret shown once,
revoking works), users (the last admin stays, with the server's reason shown), webhooks
with their delivery history and retry, the audit trail with secrets masked, a reservation
whose station's answer is shown, the cluster's nodes, what a viewer is not offered, and a
phone's width."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("browser_harness")  # the harness comes with the browser tests

import httpx
import sqlalchemy as sa
from browser_harness import ADMIN_PASSWORD, AmpyreServer, HostileStation
from browser_ui import PHONE, PageWatch, new_context, sign_in
from playwright.sync_api import Browser, Page, expect

from ampyre.adapters.db import tables

pytestmark = pytest.mark.browser

VIEWER = "brw-admin-viewer"
VIEWER_PASSWORD = "viewer-password-abcdefgh"


def dialog(page: Page) -> Any:
    return page.locator("dialog[open]")


def row(page: Page, text: str) -> Any:
    return page.get_by_role("row").filter(has_text=text)


def test_id_token_with_every_field_edit_and_delete(server: AmpyreServer, admin_page: Page) -> None:
    page = admin_page
    value = "<img src=x id=brw-xss>"
    page.goto("/#/id-tokens")
    page.get_by_role("button", name="Add id token").click()
    d = dialog(page)
    d.get_by_label("Token value").fill(value)
    d.get_by_label("Type").select_option("KeyCode")
    d.get_by_label("Status").select_option("invalid")
    d.get_by_label("Expires (your time zone)").fill("2031-01-31T12:30")
    d.get_by_label("Group id").fill("BRW-GROUP")
    d.get_by_label("Description").fill("<b>not bold</b>")
    d.get_by_role("button", name="Add a station").click()
    d.get_by_label("Station id").fill("BRW-ST-1")
    d.get_by_label("EVSE (empty = any)").fill("2")
    d.get_by_role("button", name="Add", exact=True).click()
    expect(d).to_have_count(0)

    # The ?q= hash query fills the search box and filters on the server.
    page.goto("/#/id-tokens?q=brw-xss")
    expect(page.get_by_role("searchbox")).to_have_value("brw-xss")
    line = row(page, value)
    expect(line).to_have_count(1)
    expect(line).to_contain_text("<b>not bold</b>")  # markup shown as text
    expect(line).to_contain_text("BRW-ST-1 EVSE 2")
    expect(page.locator("#brw-xss")).to_have_count(0)
    token = server.call("GET", "/id-tokens", params={"search": "brw-xss"})["items"][0]
    assert token["type"] == "KeyCode" and token["status"] == "invalid"
    assert token["group_id"] == "BRW-GROUP"
    assert token["restrictions"] == [{"station_id": "BRW-ST-1", "evse_id": 2}]
    expires = datetime.fromisoformat(token["expires_at"])
    assert expires.astimezone(UTC).year == 2031

    # Edit: clearing the group id clears it on the server (null, not "").
    line.get_by_role("button", name="Edit").click()
    expect(d.get_by_label("Group id")).to_have_value("BRW-GROUP")
    d.get_by_label("Group id").fill("")
    d.get_by_role("button", name="Save").click()
    expect(d).to_have_count(0)
    assert server.call("GET", f"/id-tokens/{token['id']}")["group_id"] is None

    # Delete asks first; cancelling keeps it.
    line.get_by_role("button", name="Delete").click()
    expect(d).to_contain_text("Delete")
    d.get_by_role("button", name="Cancel").click()
    server.call("GET", f"/id-tokens/{token['id']}")
    line.get_by_role("button", name="Delete").click()
    d.get_by_role("button", name="Delete").click()
    expect(row(page, value)).to_have_count(0)
    server.call("GET", f"/id-tokens/{token['id']}", expect=404)


def test_duplicate_id_token_shows_the_servers_reason(
    server: AmpyreServer, admin_page: Page
) -> None:
    server.create_id_tokens("BRW-DUP-1")
    page = admin_page
    page.goto("/#/id-tokens")
    page.get_by_role("button", name="Add id token").click()
    d = dialog(page)
    d.get_by_label("Token value").fill("brw-dup-1")
    d.get_by_role("button", name="Add", exact=True).click()
    expect(d.get_by_role("alert")).to_contain_text("exists")
    expect(d).to_be_visible()  # the dialog stays open to fix the input


def test_api_token_secret_is_shown_once_and_revoking_works(
    server: AmpyreServer, admin_page: Page
) -> None:
    page = admin_page
    page.goto("/#/api-tokens")
    page.get_by_role("button", name="Create token").click()
    d = dialog(page)
    d.get_by_label("Name").fill("brw-script")
    d.get_by_label("Role").select_option("viewer")
    d.get_by_role("button", name="Create", exact=True).click()
    expect(d).to_contain_text("shown only this once")
    secret = d.locator("input.secret").input_value()
    assert len(secret) >= 20
    api = f"{server.url}/api/v1/id-tokens"
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(api, headers=bearer, timeout=10).status_code == 200
    d.get_by_role("button", name="Close").click()
    expect(page.locator("input.secret")).to_have_count(0)
    assert secret not in page.content()  # not kept anywhere on the page

    line = row(page, "brw-script")
    expect(line.locator(".badge")).to_have_text("active")
    line.get_by_role("button", name="Revoke").click()
    expect(d).to_contain_text("cannot be undone")
    d.get_by_role("button", name="Revoke").click()
    expect(line.locator(".badge")).to_have_text("revoked")
    assert httpx.get(api, headers=bearer, timeout=10).status_code == 401


def test_users_create_change_role_and_the_last_admin_stays(
    server: AmpyreServer, admin_page: Page
) -> None:
    users = server.call("GET", "/users")["items"]
    admins = [u for u in users if u["role"] == "admin" and not u["disabled"]]
    assert [u["name"] for u in admins] == ["admin"], "this test needs a single admin"
    page = admin_page
    page.goto("/#/users")
    page.get_by_role("button", name="Add user").click()
    d = dialog(page)
    d.get_by_label("User name").fill("brw-olga")
    d.get_by_label("Role").select_option("operator")
    d.get_by_label("Password", exact=True).fill("olga-password-1")
    d.get_by_label("Repeat it").fill("olga-password-2")
    d.get_by_role("button", name="Add", exact=True).click()
    expect(d.get_by_role("alert")).to_contain_text("differ")
    d.get_by_label("Repeat it").fill("olga-password-1")
    d.get_by_role("button", name="Add", exact=True).click()
    expect(d).to_have_count(0)
    olga = row(page, "brw-olga")
    expect(olga).to_contain_text("operator")

    olga.get_by_role("button", name="Role").click()
    d.get_by_label("Role").select_option("viewer")
    d.get_by_role("button", name="Save").click()
    expect(olga).to_contain_text("viewer")
    users = {u["name"]: u for u in server.call("GET", "/users")["items"]}
    assert users["brw-olga"]["role"] == "viewer"

    # Deleting the only admin: confirmed, then refused with the server's reason.
    row(page, "(you)").get_by_role("button", name="Delete").click()
    d.get_by_role("button", name="Delete").click()
    expect(d.get_by_role("alert")).to_contain_text("last enabled admin")
    d.get_by_role("button", name="Close").click()
    assert any(u["name"] == "admin" for u in server.call("GET", "/users")["items"])

    olga.get_by_role("button", name="Delete").click()
    d.get_by_role("button", name="Delete").click()
    expect(row(page, "brw-olga")).to_have_count(0)


class _Receiver:
    """A webhook receiver on 127.0.0.1 answering `status` to every POST."""

    def __init__(self) -> None:
        self.status = 500
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    try:
        yield r
    finally:
        r.close()


def test_webhook_delivery_history_and_retry(
    server: AmpyreServer, admin_page: Page, receiver: _Receiver
) -> None:
    page = admin_page
    page.goto("/#/webhooks")
    page.get_by_role("button", name="Add webhook").click()
    d = dialog(page)
    d.get_by_label("URL").fill(receiver.url)
    d.get_by_label("station.connected").check()
    d.get_by_label("Description").fill("brw receiver")
    d.get_by_role("button", name="Add", exact=True).click()
    expect(d).to_contain_text("not shown again")
    assert d.locator("input.secret").input_value()
    d.get_by_role("button", name="Close").click()
    hook = next(
        h for h in server.call("GET", "/webhooks")["items"] if h["description"] == "brw receiver"
    )
    assert hook["event_types"] == ["station.connected"] and hook["has_secret"]

    row(page, receiver.url).get_by_role("link", name="Deliveries").click()
    expect(page.get_by_role("heading", name=f"Webhook #{hook['id']}")).to_be_visible()
    page.get_by_role("button", name="Ping").click()
    ping = row(page, "webhook.ping")
    for _ in range(20):  # the first attempt fails with the receiver's 500
        page.get_by_role("button", name="Refresh").click()
        if ping.count() and "500" in ping.inner_text():
            break
        page.wait_for_timeout(500)
    expect(ping).to_contain_text("500")

    # Give up on it now instead of after every backoff, as the sender would in the end
    # (again if an attempt under way wrote its outcome over ours).
    deliveries = tables.webhook_deliveries
    engine = sa.create_engine(f"sqlite:///{server.database_path}")
    try:
        for _ in range(10):
            with engine.begin() as conn:
                conn.execute(
                    sa.update(deliveries)
                    .where(deliveries.c.webhook_id == hook["id"])
                    .values(status="failed", next_attempt_at=None, claimed_by=None)
                )
            time.sleep(0.5)
            listed = server.call("GET", f"/webhooks/{hook['id']}/deliveries")["items"]
            if all(item["status"] == "failed" for item in listed):
                break
    finally:
        engine.dispose()
    receiver.status = 200
    page.get_by_role("button", name="Refresh").click()
    expect(ping.locator(".badge")).to_have_text("failed")
    ping.get_by_role("button", name="Show").click()
    expect(dialog(page).locator("pre")).to_contain_text('"type": "webhook.ping"')
    dialog(page).get_by_role("button", name="Close").click()

    ping.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("queued again")
    for _ in range(20):
        page.get_by_role("button", name="Refresh").click()
        if ping.locator(".badge").inner_text() == "delivered":
            break
        page.wait_for_timeout(500)
    expect(ping.locator(".badge")).to_have_text("delivered")

    page.get_by_role("button", name="Delete").click()
    dialog(page).get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    server.call("GET", f"/webhooks/{hook['id']}", expect=404)


def test_audit_trail_masks_secrets(server: AmpyreServer, admin_page: Page) -> None:
    password = "audited-password-0123"
    server.create_user("brw-audited", "viewer", password)
    page = admin_page
    page.goto("/#/audit?who=bootstrap")
    expect(page.get_by_label("Who (exact)")).to_have_value("bootstrap")
    entry = page.get_by_role("row").filter(has_text="/api/v1/users").first
    expect(entry).to_contain_text("201")
    entry.get_by_role("button", name="Details").click()
    body = dialog(page).locator("pre")
    expect(body).to_contain_text("brw-audited")
    expect(body).to_contain_text("***")
    assert password not in body.inner_text()


def test_nodes_page_lists_this_node_as_the_leader(admin_page: Page) -> None:
    page = admin_page
    page.goto("/#/nodes")
    expect(page.get_by_role("heading", name="Nodes", level=1)).to_be_visible()
    node = page.get_by_role("row").filter(has_text="(this one)")
    expect(node).to_have_count(1)
    expect(node).to_contain_text("leader")
    expect(node).to_contain_text("127.0.0.1:")
    expect(page.locator("main")).to_contain_text("in-process bus")


def test_reservation_shows_the_delivery_outcome(server: AmpyreServer, admin_page: Page) -> None:
    station = HostileStation(server.ws_url, "BRW-RES-1", "ocpp1.6")
    try:
        station.call("BootNotification", {"chargePointVendor": "B", "chargePointModel": "T"})
    finally:
        station.close()  # registered, now offline: the reservation cannot be delivered
    page = admin_page
    page.goto("/#/reservations?station_id=BRW-RES-1")
    page.get_by_role("button", name="Reserve").click()
    d = dialog(page)
    expect(d.get_by_label("Station id")).to_have_value("BRW-RES-1")
    d.get_by_label("EVSE").fill("1")
    d.get_by_label("Id token").fill("BRW-RES-TOKEN")
    d.get_by_role("button", name="Reserve").click()
    expect(d).to_contain_text("Not reserved")
    expect(d).to_contain_text("not_connected")
    d.get_by_role("button", name="Close").click()
    expect(row(page, "BRW-RES-TOKEN").locator(".badge")).to_have_text("failed")


@pytest.fixture
def viewer_page(browser: Browser, server: AmpyreServer) -> Iterator[Page]:
    server.create_user(VIEWER, "viewer", VIEWER_PASSWORD)
    context = new_context(browser, server)
    watch = PageWatch()
    try:
        page = context.new_page()
        watch.attach(page)
        sign_in(page, VIEWER, VIEWER_PASSWORD)
        yield page
        assert watch.problems == [], watch.problems
    finally:
        context.close()
        user = next(u for u in server.call("GET", "/users")["items"] if u["name"] == VIEWER)
        server.call("DELETE", f"/users/{user['id']}", expect=204)


def test_viewer_is_not_offered_admin_pages_or_writes(viewer_page: Page) -> None:
    page = viewer_page
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Id tokens")).to_be_visible()
    for name in ("Webhooks", "API tokens", "Audit", "Users"):
        expect(nav.get_by_role("link", name=name)).to_have_count(0)
    page.goto("/#/users")
    expect(page.get_by_role("alert")).to_contain_text("needs the admin role")
    page.goto("/#/id-tokens")
    expect(page.get_by_role("heading", name="Id tokens", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Add id token")).to_have_count(0)
    page.goto("/#/reservations")
    expect(page.get_by_role("heading", name="Reservations", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Reserve")).to_have_count(0)
    page.goto("/#/local-lists")
    expect(page.get_by_role("heading", name="Local lists", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Push")).to_have_count(0)


def test_change_my_password_from_the_top_bar(browser: Browser, server: AmpyreServer) -> None:
    name, old, new = "brw-self", "self-password-0123", "self-password-4567"
    server.create_user(name, "viewer", old)
    context = new_context(browser, server)
    try:
        page = context.new_page()
        sign_in(page, name, old)
        page.get_by_role("button", name="change my password").click()
        d = dialog(page)
        d.get_by_label("Current password").fill("not-the-password")
        d.get_by_label("New password").fill(new)
        d.get_by_label("Repeat it").fill(new)
        d.get_by_role("button", name="Change password").click()
        expect(d.get_by_role("alert")).to_contain_text("current password is wrong")
        d.get_by_label("Current password").fill(old)
        d.get_by_role("button", name="Change password").click()
        expect(d).to_have_count(0)
        expect(page.get_by_role("status")).to_contain_text("Password changed")
    finally:
        context.close()
    answer = httpx.post(
        f"{server.url}/api/v1/session", json={"username": name, "password": new}, timeout=10
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/id-tokens",
        "/local-lists",
        "/reservations",
        "/webhooks",
        "/api-tokens",
        "/audit",
        "/users",
        "/nodes",
        "/alerts",
        "/alerts?state=",  # every alert, with rows once a browser test raised one
    ],
)
def test_admin_pages_fit_a_phone(browser: Browser, server: AmpyreServer, path: str) -> None:
    context = new_context(browser, server, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, "admin", ADMIN_PASSWORD)
        page.goto(f"/#{path}")
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide"
    finally:
        context.close()


def test_keyboard_only_add_and_block_a_token(server: AmpyreServer, admin_page: Page) -> None:
    page = admin_page
    page.goto("/#/id-tokens?q=BRW-KEYS")
    expect(page.get_by_role("heading", name="Id tokens", level=1)).to_be_visible()
    page.get_by_role("button", name="Add id token").focus()
    page.keyboard.press("Enter")
    d = dialog(page)
    expect(d.get_by_label("Token value")).to_be_focused()  # the dialog takes the focus
    page.keyboard.type("BRW-KEYS-1")
    page.keyboard.press("Enter")  # submits the form
    expect(d).to_have_count(0)
    line = row(page, "BRW-KEYS-1")
    expect(line).to_have_count(1)
    line.get_by_role("button", name="Block").focus()
    page.keyboard.press("Enter")
    expect(line.locator(".badge")).to_have_text("blocked")
    # Escape leaves a dialog without doing anything.
    line.get_by_role("button", name="Delete").focus()
    page.keyboard.press("Enter")
    expect(d).to_be_visible()
    page.keyboard.press("Escape")
    expect(d).to_have_count(0)
    assert server.call("GET", "/id-tokens", params={"search": "BRW-KEYS-1"})["total"] == 1
