"""Blocking an id token on the id tokens page: the list shows it blocked, and a station
asking about the token is told so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer, HostileStation
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TOKEN = "BRW-BLOCK-1"


@pytest.fixture
def station(server: AmpyreServer) -> Iterator[HostileStation]:
    st = HostileStation(server.ws_url, "BRW-AUTH-1", "ocpp1.6")
    try:
        boot = st.call(
            "BootNotification", {"chargePointVendor": "Browser", "chargePointModel": "Tests"}
        )
        assert boot["status"] == "Accepted"
        yield st
    finally:
        st.close()


def authorize(station: HostileStation) -> str:
    status: str = station.call("Authorize", {"idTag": TOKEN})["idTagInfo"]["status"]
    return status


def test_block_a_token(server: AmpyreServer, station: HostileStation, admin_page: Page) -> None:
    server.create_id_tokens(TOKEN, description="blocked by the browser test")
    assert authorize(station) == "Accepted"
    page = admin_page
    page.goto(f"/#/id-tokens?q={TOKEN}")
    expect(page.get_by_role("heading", name="Id tokens", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=TOKEN)
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text("accepted")

    row.get_by_role("button", name="Block", exact=True).click()
    expect(row.locator(".badge")).to_have_text("blocked")
    expect(row.get_by_role("button", name="Unblock")).to_be_visible()
    expect(page.get_by_role("status").get_by_text(f"{TOKEN} is blocked now")).to_be_visible()

    # Not just the page: the server has it blocked and tells stations so.
    token = server.call("GET", "/id-tokens", params={"search": TOKEN})["items"][0]
    assert token["status"] == "blocked"
    assert authorize(station) == "Blocked"

    # Still blocked after a reload (it came from the server, not from the page's memory).
    page.reload()
    expect(page.get_by_role("row").filter(has_text=TOKEN).locator(".badge")).to_have_text("blocked")
