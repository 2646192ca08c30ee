"""Live updates without reloading: stations coming online, a transaction's chart growing
while the simulator charges, and a remote stop changing the transaction's state.

Each test marks the window (`window.__kept`) before it waits: a reload or a navigation
would drop the mark, so the change must have come through the event stream."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_harness import AmpyreServer, wait_until
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 20_000  # station boots and meter values every 2 s, stream ticks


def keep_window(page: Page) -> None:
    page.evaluate("window.__kept = 'same document'")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__kept") == "same document", "the page was reloaded"


def tile_value(page: Page, label: str) -> Locator:
    return (
        page.locator(".tile").filter(has=page.get_by_text(label, exact=True)).locator(".tile-value")
    )


def number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text) or "0")


def test_demo_stations_go_online_without_reload(server: AmpyreServer, admin_page: Page) -> None:
    page = admin_page
    online = tile_value(page, "Online")
    expect(online).to_have_text(re.compile(r"^\d"))
    expect(page.locator(".live-dot.live-open")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    before = number(online.inner_text())
    total_before = number(tile_value(page, "Stations").inner_text())
    keep_window(page)

    sim = server.simulate("LIVE-", 3, sessions=False)
    expect(online).to_have_text(f"{before + 3:,}", timeout=LIVE_TIMEOUT_MS)
    expect(tile_value(page, "Stations")).to_have_text(f"{total_before + 3:,}")
    assert_not_reloaded(page)

    # And offline again when they go away.
    sim.stop()
    expect(online).to_have_text(f"{before:,}", timeout=LIVE_TIMEOUT_MS)
    assert_not_reloaded(page)


@pytest.fixture
def charging(server: AmpyreServer, charger: str) -> dict[str, Any]:
    return server.active_transaction(charger)


def chart_points(page: Page) -> int:
    """Points drawn on the power line of the transaction chart (path commands)."""
    d = page.locator("svg.tchart-svg g[data-series='power'] path").get_attribute("d") or ""
    return len(re.findall(r"[ML]", d))


def test_transaction_chart_grows_while_charging(charging: dict[str, Any], admin_page: Page) -> None:
    page = admin_page
    page.goto(f"/#/transactions/{charging['id']}")
    expect(page.get_by_role("heading", name=f"Transaction #{charging['id']}")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile(r"^Power, energy and state of charge"))
    expect(chart).to_have_attribute("aria-label", re.compile(r"\d+ samples"))
    expect(page.locator("svg.tchart-svg g[data-series='power'] path")).to_have_count(1)
    keep_window(page)
    first = chart_points(page)
    assert first >= 1

    # Meter values arrive every 2 s: the line gets longer, twice, without a reload.
    wait_until(lambda: chart_points(page) >= first + 2, LIVE_TIMEOUT_MS / 1000, "chart growth")
    expect(chart).to_have_attribute("aria-label", re.compile(r"latest Power [\d.]+"))
    assert_not_reloaded(page)


def test_remote_stop_changes_the_state_without_reload(
    server: AmpyreServer, charging: dict[str, Any], admin_page: Page
) -> None:
    page = admin_page
    pk = charging["id"]
    page.goto(f"/#/transactions/{pk}")
    summary = page.locator("dl.props")
    expect(summary).to_contain_text("still running")
    keep_window(page)

    page.get_by_role("button", name="Stop", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Stop this transaction?")
    dialog.get_by_role("button", name="Stop charging").click()
    answer = page.get_by_role("dialog", name="The station's answer")
    expect(answer).to_contain_text("Accepted")
    answer.get_by_role("button", name="Close").click()

    # The station ends it and reports it; the stream brings the new state here.
    expect(summary.locator(".badge-ended")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(summary).not_to_contain_text("still running")
    expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(0)
    assert_not_reloaded(page)
    assert server.call("GET", f"/transactions/{pk}")["status"] == "ended"
