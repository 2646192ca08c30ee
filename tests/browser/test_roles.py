"""A viewer sees no command buttons, and a write forged from the viewer's own signed-in
browser (cookie, and even the session's CSRF token) is refused by the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser_harness import AmpyreServer
from browser_ui import PageWatch, new_context, sign_in
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

VIEWER = "viewer1"
VIEWER_PASSWORD = "viewer-password-0123456789"

# Buttons that change something; none may be offered to a viewer.
COMMAND_BUTTONS = (
    "Stop",
    "Close…",
    "Remote start",
    "Remote stop",
    "Reset",
    "Change availability",
    "Unlock connector",
    "Trigger message",
    "Clear cache",
    "Push local list",
    "Reserve",
    "Send…",
    "Validate",
    "Block",
    "Edit",
    "Delete",
    "Add id token",
    "Add station",
)
# Tabs of the station page that hold commands.
COMMAND_TABS = ("Commands", "Settings")

FORGE = """async ([method, path, body, withCsrf]) => {
  const session = await (await fetch("/api/v1/session")).json();
  const headers = {"Content-Type": "application/json"};
  if (withCsrf) headers["X-CSRF-Token"] = session.csrf_token;
  const r = await fetch("/api/v1" + path, {method, headers, body: JSON.stringify(body)});
  return [r.status, session.user.role];
}"""


@pytest.fixture(scope="module")
def viewer(server: AmpyreServer) -> str:
    server.create_user(VIEWER, "viewer", VIEWER_PASSWORD)
    return VIEWER


@pytest.fixture
def viewer_page(browser: Browser, server: AmpyreServer, viewer: str) -> Iterator[Page]:
    context = new_context(browser, server)
    watch = PageWatch()
    try:
        page = context.new_page()
        watch.attach(page)
        sign_in(page, viewer, VIEWER_PASSWORD)
        expect(page.get_by_role("banner")).to_contain_text("(viewer)")
        yield page
        assert watch.problems == [], watch.problems
    finally:
        context.close()


def no_command_buttons(page: Page) -> None:
    for name in COMMAND_BUTTONS:
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)


def test_viewer_sees_no_command_buttons(
    server: AmpyreServer, charger: str, viewer_page: Page, admin_page: Page
) -> None:
    tx = server.active_transaction(charger)
    server.create_id_tokens("BRW-VIEW-1")
    checks = {
        # page: what the admin is offered there (so that the viewer's check can fail)
        f"/#/stations/{charger}?tab=commands": ("tab", "Commands"),
        f"/#/transactions/{tx['id']}": ("button", "Stop"),
        "/#/id-tokens?q=BRW-VIEW": ("button", "Block"),
        "/#/stations": ("button", "Add station"),
    }
    for path, (role, name) in checks.items():
        admin_page.goto(path)
        expect(admin_page.get_by_role(role, name=name, exact=True)).to_be_visible()
        viewer_page.goto(path)
        main = viewer_page.locator("main")
        expect(main.locator("h1")).to_be_visible()
        expect(main).not_to_have_attribute("aria-busy", "true")
        expect(main).not_to_contain_text("needs the")  # the page itself is open to viewers
        for button in COMMAND_BUTTONS:
            expect(viewer_page.get_by_role("button", name=button, exact=True)).to_have_count(0)
        for tab in COMMAND_TABS:
            expect(viewer_page.get_by_role("tab", name=tab, exact=True)).to_have_count(0)

    # What the viewer does see on the station page: its connectors and the read-only tabs.
    viewer_page.goto(f"/#/stations/{charger}")
    expect(viewer_page.get_by_role("tab", name="Message log")).to_be_visible()
    charging = viewer_page.get_by_role("img", name=re.compile(r"connector \d: Charging"))
    expect(charging.first).to_be_visible()


def test_forged_writes_from_the_viewers_browser_are_refused(
    server: AmpyreServer, charger: str, viewer_page: Page
) -> None:
    tx = server.active_transaction(charger)
    token = server.create_id_tokens("BRW-FORGE-1")[0]
    page = viewer_page
    page.goto("/#/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    forged: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/stations/{charger}/reset", {"kind": "hard"}),
        ("POST", f"/transactions/{tx['id']}/stop", {}),
        ("POST", f"/stations/{charger}/remote-start", {"id_token": "BRW-FORGE-1"}),
        ("PATCH", f"/id-tokens/{token['id']}", {"status": "blocked"}),
        ("POST", "/users", {"name": "mallory", "role": "admin", "password": "x" * 16}),
    ]
    for method, path, body in forged:
        for with_csrf in (True, False):
            status, role = page.evaluate(FORGE, [method, path, body, with_csrf])
            assert role == "viewer"
            assert status == 403, f"{method} {path} (csrf={with_csrf}) answered {status}"

    # Nothing happened.
    assert server.call("GET", f"/transactions/{tx['id']}")["status"] == "active"
    assert server.call("GET", f"/id-tokens/{token['id']}")["status"] == "accepted"
    assert server.station(charger)["connected"]
    names = [u["name"] for u in server.call("GET", "/users")["items"]]
    assert "mallory" not in names


def test_writes_with_the_cookie_but_without_the_csrf_token_are_refused(
    server: AmpyreServer, admin_page: Page
) -> None:
    token = server.create_id_tokens("BRW-CSRF-1")[0]
    path = f"/id-tokens/{token['id']}"
    status, role = admin_page.evaluate(FORGE, ["PATCH", path, {"status": "blocked"}, False])
    assert (status, role) == (403, "admin")
    assert server.call("GET", path)["status"] == "accepted"
    # The same write with the token goes through: the refusal was the missing token.
    status, _ = admin_page.evaluate(FORGE, ["PATCH", path, {"status": "blocked"}, True])
    assert status == 200
    assert server.call("GET", path)["status"] == "blocked"
