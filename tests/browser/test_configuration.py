"""Configuration in the dashboard: one value changed on a mixed fleet (a 1.6 and a
2.0.1 station) from the Configuration page, each station's outcome shown, the new values
listed; then a 2.0.1 station's full device-model report requested from its page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def fleet(server: AmpyreServer) -> Iterator[tuple[str, str]]:
    old = server.simulate("CFGB16-", 1, sessions=False)
    new = server.simulate("CFGB201-", 1, protocol="ocpp2.0.1", sessions=False)
    server.wait_connected([*old.station_ids, *new.station_ids])
    try:
        yield old.station_ids[0], new.station_ids[0]
    finally:
        old.stop()
        new.stop()


def test_bulk_change_and_device_model(
    server: AmpyreServer, fleet: tuple[str, str], admin_page: Page
) -> None:
    v16, v201 = fleet
    page = admin_page
    page.goto("/#/configuration")
    form = page.get_by_role("form", name="Change many stations")
    form.get_by_label("Stations").fill(f"{v16}\n{v201}, CFGB-NOPE")
    form.get_by_label("1.6 key").fill("HeartbeatInterval")
    form.get_by_label("2.x component").fill("OCPPCommCtrlr")
    form.get_by_label("2.x variable").fill("HeartbeatInterval")
    form.get_by_label("Value").fill("45")
    form.get_by_role("button", name="Apply to stations").click()
    confirm = page.get_by_role("dialog", name="Change the configuration?")
    expect(confirm).to_contain_text("on 3 station(s)")
    confirm.get_by_role("button", name="Apply").click()

    expect(form.get_by_role("status")).to_have_text(
        "3 station(s): 2 accepted, 1 not_found.", timeout=15_000
    )
    for sid, outcome in ((v16, "accepted"), (v201, "accepted"), ("CFGB-NOPE", "not_found")):
        row = form.locator(f'tr[data-station="{sid}"]')
        expect(row).to_contain_text(outcome)
    # The stored values list follows (searched for this fleet's value).
    stored = page.get_by_role("table", name="Stored configuration of all stations")
    page.get_by_placeholder("Search component, variable or value").fill("45")
    expect(stored.get_by_role("row").filter(has_text=v16)).to_contain_text("45")
    expect(stored.get_by_role("row").filter(has_text=v201)).to_contain_text("OCPPCommCtrlr")

    # The 2.0.1 station's page: a full report arrives in parts and is listed.
    page.goto(f"/#/stations/{v201}?tab=configuration")
    page.get_by_role("button", name="Request full report").click()
    answer = page.get_by_role("dialog", name="Full report")
    expect(answer).to_contain_text("Report ", timeout=15_000)
    page.keyboard.press("Escape")
    expect(page.get_by_text("Last report: FullInventory, complete")).to_be_visible(timeout=15_000)
    model = page.get_by_role("table", name="Configuration")
    expect(model.get_by_role("row").filter(has_text="Identity")).to_contain_text(v201)
    stored_model = server.call(
        "GET", f"/stations/{v201}/configuration", params={"variable": "Model"}
    )
    assert stored_model["total"] == 1
