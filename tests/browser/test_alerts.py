"""The alerts page: a station's fault appears without a reload, an operator acknowledges
it with the keyboard (who is shown), the station clears it and it leaves the list of
alerts not cleared; the station page lists it under its Alerts tab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer, HostileStation
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SID = "BRW-ALERT-1"
TS = "2026-12-01T10:00:00Z"


@pytest.fixture
def station(server: AmpyreServer) -> Iterator[HostileStation]:
    st = HostileStation(server.ws_url, SID, "ocpp1.6")
    try:
        boot = st.call(
            "BootNotification", {"chargePointVendor": "Browser", "chargePointModel": "Tests"}
        )
        assert boot["status"] == "Accepted"
        yield st
    finally:
        st.close()


def status(station: HostileStation, error_code: str, state: str) -> None:
    payload = {"connectorId": 2, "errorCode": error_code, "status": state, "timestamp": TS}
    if error_code != "NoError":
        payload.update(vendorErrorCode="RCD-6", info="earth leakage")
    station.call("StatusNotification", payload)


def test_acknowledge_an_alert(
    server: AmpyreServer, station: HostileStation, admin_page: Page
) -> None:
    page = admin_page
    status(station, "NoError", "Available")
    page.goto(f"/#/alerts?station_id={SID}")
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    expect(page.get_by_text("No alerts match.")).to_be_visible()

    status(station, "GroundFailure", "Faulted")  # arrives live
    row = page.locator("tbody tr").filter(has_text="GroundFailure:RCD-6")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_contain_text("0 Danger")
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("earth leakage")

    # Keyboard: focus the row's button, Enter.
    button = row.get_by_role("button", name="Acknowledge alert")
    button.focus()
    page.keyboard.press("Enter")
    expect(row).to_contain_text("acknowledged")
    expect(row).to_contain_text("user:admin")
    expect(row.get_by_role("button")).to_have_count(0)
    [alert] = server.call("GET", "/alerts", params={"station_id": SID})["items"]
    assert (alert["state"], alert["acknowledged_by"]) == ("acknowledged", "user:admin")

    # The station's page lists it too.
    page.goto(f"/#/stations/{SID}?tab=alerts")
    tab_row = page.locator("tbody tr").filter(has_text="GroundFailure:RCD-6")
    expect(tab_row).to_contain_text("acknowledged")

    # The station clears it: gone from the alerts not cleared, without a reload.
    page.goto(f"/#/alerts?station_id={SID}")
    expect(row).to_have_count(1)
    status(station, "NoError", "Available")
    expect(row).to_have_count(0, timeout=10_000)
    page.get_by_label("State").select_option("cleared")
    expect(page.locator("tbody tr").filter(has_text="GroundFailure:RCD-6")).to_contain_text(
        "cleared"
    )
