"""More commands from the station page: a DataTransfer to the simulator's echo extension
shows the station's answer with its data; a 2.0.1 station offers transaction status and
network profile, a 1.6 one does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def station201(server: AmpyreServer) -> Iterator[str]:
    sim = server.simulate("REMOTE201-", 1, protocol="ocpp2.0.1", sessions=False)
    server.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids[0]
    finally:
        sim.stop()


def test_data_transfer_from_the_commands_tab(
    server: AmpyreServer, station201: str, admin_page: Page
) -> None:
    page = admin_page
    page.goto(f"/#/stations/{station201}?tab=commands")
    expect(page.get_by_role("button", name="Network profile")).to_be_visible()
    page.get_by_role("button", name="Data transfer").click()
    form = page.get_by_role("dialog", name="Data transfer")
    form.get_by_label("Vendor id").fill("org.ampyre.simulator")
    form.get_by_label("Message id (optional)").fill("echo")
    form.get_by_label("Data (optional)").fill('{"hello": "<b>x</b>"}')
    form.get_by_role("button", name="Send").click()
    answer = page.get_by_role("dialog", name="Data transfer")
    expect(answer).to_contain_text("Accepted", timeout=15_000)
    expect(answer.get_by_label("Response")).to_contain_text('"hello": "<b>x</b>"')
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Transaction status").click()
    page.get_by_role("dialog", name="Transaction status").get_by_role("button", name="Ask").click()
    expect(page.get_by_role("dialog", name="Transaction status")).to_contain_text(
        "messages queued: no", timeout=15_000
    )


def test_a_1_6_station_offers_no_2x_commands(
    server: AmpyreServer, charger: str, admin_page: Page
) -> None:
    page = admin_page
    page.goto(f"/#/stations/{charger}?tab=commands")
    expect(page.get_by_role("button", name="Data transfer")).to_be_visible()
    expect(page.get_by_role("button", name="Network profile")).to_have_count(0)
    page.get_by_role("button", name="Scheduled availability").click()
    expect(page.get_by_role("dialog", name="Scheduled availability changes")).to_contain_text(
        "No change was answered Scheduled."
    )
