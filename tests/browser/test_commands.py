"""A station command from the station page, keyboard only: change availability asks for
the target, asks to confirm, shows the station's answer, and the connectors' new status
arrives on the page without a reload."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def idle_station(server: AmpyreServer) -> Iterator[str]:
    sim = server.simulate("CMD-", 1, sessions=False)
    server.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids[0]
    finally:
        sim.stop()


def test_change_availability_from_the_station_page(
    server: AmpyreServer, idle_station: str, admin_page: Page
) -> None:
    page = admin_page
    page.goto(f"/#/stations/{idle_station}?tab=commands")
    connectors = page.get_by_role("img", name=re.compile(r"^EVSE \d connector \d: "))
    expect(connectors).to_have_count(2)
    for badge in connectors.all():
        expect(badge).to_have_accessible_name(re.compile(r": Available$"))
    page.evaluate("window.__kept = 1")

    # Keyboard only: focus the command, Enter, choose with the keyboard, confirm.
    page.get_by_role("button", name="Change availability").focus()
    page.keyboard.press("Enter")
    form = page.get_by_role("dialog", name="Change availability")
    availability = form.get_by_label("Availability")
    expect(availability).to_be_focused()
    expect(availability).to_have_value("false")  # inoperative is what one comes here for
    for _ in range(3):  # past the target and Cancel
        page.keyboard.press("Tab")
    expect(form.get_by_role("button", name="Continue")).to_be_focused()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("dialog", name="Change availability?")
    expect(confirm).to_contain_text(f"Make whole station of {idle_station} inoperative")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()  # safe default
    page.keyboard.press("Tab")
    expect(confirm.get_by_role("button", name="Make inoperative")).to_be_focused()
    page.keyboard.press("Enter")

    answer = page.get_by_role("dialog", name="Change availability")
    expect(answer).to_contain_text("Accepted", timeout=15_000)
    page.keyboard.press("Escape")
    expect(answer).to_have_count(0)

    # The station reports its connectors Unavailable; the page follows by itself.
    for badge in connectors.all():
        expect(badge).to_have_accessible_name(re.compile(r": Unavailable$"), timeout=15_000)
    assert page.evaluate("window.__kept") == 1
    statuses = {
        c["status"]
        for e in server.station(idle_station)["evses"]
        for c in e["connectors"]
        if e["evse_id"]
    }
    assert statuses == {"Unavailable"}
