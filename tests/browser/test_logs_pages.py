"""Logs, display messages and customer data in the dashboard (issue 17 parts 5-7): an
admin asks a simulated 2.0.1 station for a log from its Logs tab and downloads the
uploaded file, sets, refreshes and clears a display message, requests a customer
report and sees it complete; the pages pass the accessibility, contrast and phone-width
checks the other pages pass."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer
from browser_ui import PHONE, new_context, sign_in
from playwright.sync_api import Browser, Page, expect
from test_accessibility import DUPLICATE_IDS, LOW_CONTRAST, UNNAMED

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def station(server: AmpyreServer) -> Iterator[str]:
    sim = server.simulate("LOGSUI-", 1, protocol="ocpp2.0.1", sessions=False)
    server.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids[0]
    finally:
        sim.stop()


def test_log_display_and_customer_data(
    server: AmpyreServer, station: str, admin_page: Page
) -> None:
    page = admin_page
    page.goto(f"/#/stations/{station}?tab=logs")
    page.get_by_role("button", name="Request a log").click()
    dialog = page.get_by_role("dialog", name="Request a log")
    dialog.get_by_label("Log type").select_option("diagnostics")
    dialog.get_by_role("button", name="Request").click()
    answer = page.get_by_role("dialog", name="Log request")
    # The upload may have begun (or ended) before the answer is shown.
    expect(answer).to_contain_text(
        re.compile(r"Status: (accepted|uploading|uploaded)"), timeout=15_000
    )
    answer.get_by_role("button", name="Close").click()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("uploaded", timeout=15_000)
    link = row.get_by_role("link", name="Download log")
    expect(link).to_be_visible(timeout=10_000)
    with page.expect_download() as info:
        link.click()
    path = info.value.path()
    with open(path, "rb") as fh:
        assert fh.read().startswith(f"# diagnostics log of {station}".encode())

    # Display messages: set one, refresh from the station, clear it.
    page.goto(f"/#/stations/{station}?tab=display")
    page.get_by_role("button", name="Set a message").click()
    form = page.get_by_role("dialog", name="Set a display message")
    form.get_by_label("Message id").fill("4")
    form.get_by_label("Text").fill("Free parking <b>today</b>")
    form.get_by_role("button", name="Send").click()
    result = page.get_by_role("dialog", name="Set display message")
    expect(result).to_contain_text("accepted", timeout=15_000)
    result.get_by_role("button", name="Close").click()
    messages = page.locator("tbody tr")
    expect(messages.filter(has_text="Free parking <b>today</b>")).to_have_count(1)
    page.get_by_role("button", name="Refresh from the station").click()
    refreshed = page.get_by_role("dialog", name="Refresh display messages")
    # The station's parts may all be in before the answer is shown: complete already.
    expect(refreshed).to_contain_text(
        re.compile(r"Request #\d+: (accepted|receiving|complete)"), timeout=15_000
    )
    refreshed.get_by_role("button", name="Close").click()
    expect(messages.filter(has_text="reported")).to_have_count(1, timeout=10_000)
    page.get_by_role("button", name="Clear display message 4").click()
    page.get_by_role("dialog", name="Clear display message").get_by_role(
        "button", name="Clear"
    ).click()
    cleared = page.get_by_role("dialog", name="Clear display message")
    expect(cleared).to_contain_text("accepted", timeout=15_000)
    cleared.get_by_role("button", name="Close").click()
    expect(page.get_by_text("No display messages known.")).to_be_visible(timeout=10_000)

    # Customer data: a report in parts, complete, with a download.
    page.goto("/#/customer-data")
    page.get_by_label("Stations (comma-separated)").fill(station)
    page.get_by_label("Customer", exact=True).fill("BRW-CUSTOMER")
    page.get_by_role("button", name="Ask the stations").click()
    asked = page.get_by_role("dialog", name="Customer information")
    expect(asked).to_contain_text(
        re.compile(rf"{station}: (accepted|receiving|complete)"), timeout=15_000
    )
    asked.get_by_role("button", name="Close").click()
    request_row = page.locator("tbody tr").filter(has_text="BRW-CUSTOMER")
    expect(request_row).to_contain_text("complete", timeout=15_000)
    expect(request_row.get_by_role("link", name="Download the report")).to_be_visible()


def pages(station: str) -> dict[str, str]:
    return {
        "/#/logs": "Logs",
        "/#/customer-data": "Customer data",
        f"/#/stations/{station}?tab=logs": f"Station {station}",
        f"/#/stations/{station}?tab=display": f"Station {station}",
    }


def test_pages_name_their_controls_and_have_contrast(station: str, admin_page: Page) -> None:
    page = admin_page
    for path, heading in pages(station).items():
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator("main[aria-busy='true']")).to_have_count(0)
        expect(page.locator("h1")).to_have_count(1)
        assert page.evaluate(UNNAMED) == [], path
        assert page.evaluate(DUPLICATE_IDS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path


def test_pages_fit_a_phone(browser: Browser, server: AmpyreServer, station: str) -> None:
    context = new_context(browser, server, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page)
        for path in pages(station):
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide"
    finally:
        context.close()
