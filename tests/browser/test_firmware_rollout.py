"""A firmware rollout in the dashboard: upload a file, start a rollout over two simulated
2.0.1 stations and one that is offline, and watch each station's progress change on the
rollout's page without reloading it, until the stations run the new version."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer
from browser_ui import PHONE, new_context, sign_in
from playwright.sync_api import Browser, Page, expect
from test_accessibility import DUPLICATE_IDS, LOW_CONTRAST, UNNAMED

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 30_000


@pytest.fixture
def fleet(server: AmpyreServer) -> Iterator[list[str]]:
    sim = server.simulate("FWB-", 2, protocol="ocpp2.0.1", sessions=False)
    server.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids
    finally:
        sim.stop()


def test_rollout_followed_live(
    server: AmpyreServer, fleet: list[str], admin_page: Page, browser: Browser
) -> None:
    page = admin_page
    offline = "FWB-OFFLINE"
    server.call("POST", "/stations", 201, json={"id": offline})
    page.goto("/#/firmware")
    upload = page.get_by_role("form", name="Upload firmware")
    upload.get_by_label("File").set_input_files(
        {"name": "fwb.bin", "mimeType": "application/octet-stream", "buffer": b"fw " * 4000}
    )
    upload.get_by_label("Version").fill("fwb-2.0")
    upload.get_by_role("button", name="Upload").click()
    expect(upload.get_by_role("status")).to_contain_text("Stored fwb.bin (fwb-2.0)")
    expect(page.get_by_role("table", name="Firmware files")).to_contain_text("fwb-2.0")

    form = page.get_by_role("form", name="New rollout")
    form.get_by_label("Firmware file").select_option(label="fwb-2.0 (fwb.bin)")
    form.get_by_label("Name").fill("FWB rollout")
    form.get_by_label("Stations").fill("\n".join([*fleet, offline]))
    form.get_by_label("Batch size").fill("2")
    form.get_by_label("Abort after failures").fill("0")
    form.get_by_role("button", name="Start rollout").click()
    confirm = page.get_by_role("dialog", name="Start the rollout?")
    expect(confirm).to_contain_text("on 3 station(s)")
    confirm.get_by_role("button", name="Start").click()

    expect(page.get_by_role("heading", name="FWB rollout")).to_be_visible()
    page.evaluate("window.__kept = 'same document'")
    stations = page.get_by_role("table", name="Stations of the rollout")
    # Progress arrives through the event stream: the station statuses go by, and the
    # rollout ends with both stations installed and the offline one failed.
    for sid in fleet:
        row = stations.locator(f'tr[data-station="{sid}"]')
        expect(row).to_contain_text("installed", timeout=LIVE_TIMEOUT_MS)
    expect(stations.locator(f'tr[data-station="{offline}"]')).to_contain_text("failed")
    expect(page.get_by_role("status").filter(has_text="finished")).to_contain_text(
        "2 installed, 1 failed", timeout=LIVE_TIMEOUT_MS
    )
    assert page.evaluate("window.__kept") == "same document", "the page was reloaded"
    for sid in fleet:
        assert server.station(sid)["firmware_version"] == "fwb-2.0"
    updates = server.call("GET", "/firmware-updates", params={"station_id": fleet[0]})
    history = [h["status"] for h in updates["items"][0]["history"]]
    assert "Downloading" in history and "InstallRebooting" in history
    # The rollout page names its controls and keeps contrast (like the main pages).
    for check in (UNNAMED, DUPLICATE_IDS, LOW_CONTRAST):
        assert page.evaluate(check) == []
    rollout_path = page.url.split("#", 1)[1]

    # At phone width neither firmware page scrolls sideways.
    context = new_context(browser, server, viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        phone = context.new_page()
        sign_in(phone)
        for path, heading in (("/firmware", "Firmware"), (rollout_path, "FWB rollout")):
            phone.goto(f"/#{path}")
            expect(phone.get_by_role("heading", name=heading, level=1)).to_be_visible()
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)
    finally:
        context.close()
