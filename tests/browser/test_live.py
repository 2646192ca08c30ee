"""Live updates without reloading: stations coming online, a transaction's chart growing
while the simulator charges, and a remote stop changing the transaction's state.

Each test marks the window (`window.__kept`) before it waits: a reload or a navigation
would drop the mark, so the change must have come through the event stream."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_harness import AmpyreServer, wait_until
from browser_ui import PageWatch
from playwright.sync_api import BrowserContext, Locator, Page, expect

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


def tile_follows_server(
    tile: Locator, server: AmpyreServer, at_least: int = 0, at_most: int | None = None
) -> None:
    """The tile shows the server's online count (read again on every try) and that count
    is within the bounds."""

    def matches() -> bool:
        shown = number(tile.inner_text())
        online: int = server.call("GET", "/overview")["stations"]["online"]
        in_bounds = shown >= at_least and (at_most is None or shown <= at_most)
        return shown == online and in_bounds

    wait_until(matches, LIVE_TIMEOUT_MS / 1000, "the Online tile to follow the server")


def station_badge(page: Page, station_id: str) -> Locator:
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=station_id))
    return row.locator(".badge-online, .badge-offline")


def test_demo_stations_go_online_without_reload(
    server: AmpyreServer, admin_page: Page, context: BrowserContext
) -> None:
    ids = [f"LIVE-{i:05d}" for i in (1, 2, 3)]
    for sid in ids:  # known but never connected: listed offline
        server.call("POST", "/stations", 201, json={"id": sid})
    overview = admin_page
    overview.goto("/#/")
    online = tile_value(overview, "Online")
    expect(tile_value(overview, "Stations")).to_have_text(re.compile(r"^\d"))
    expect(overview.locator(".live-dot.live-open")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    before = number(online.inner_text())
    keep_window(overview)

    # A second tab of the same browser on the station list, filtered to these stations.
    stations = context.new_page()
    watch = PageWatch()
    watch.attach(stations)
    stations.goto("/#/stations?q=LIVE-")
    for sid in ids:
        expect(station_badge(stations, sid)).to_have_text("offline")
    expect(stations.locator(".live-dot.live-open")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    keep_window(stations)

    sim = server.simulate("LIVE-", 3, sessions=False)
    server.wait_connected(ids)
    # The tile catches up with the server's count, which now has these three online.
    # (Compared with the server rather than with before + 3: a station that an earlier
    # test closed may still be going offline.)
    tile_follows_server(online, server, at_least=before + 2)
    for sid in ids:
        expect(station_badge(stations, sid)).to_have_text("online", timeout=LIVE_TIMEOUT_MS)
    # Their connectors came with their StatusNotifications.
    expect(stations.get_by_role("img", name=re.compile(r"connector 1: Available"))).to_have_count(
        3, timeout=LIVE_TIMEOUT_MS
    )
    assert_not_reloaded(overview)
    assert_not_reloaded(stations)

    # And offline again when they go away.
    peak = number(online.inner_text())
    sim.stop()
    wait_until(lambda: not any(server.station(sid)["connected"] for sid in ids), 20, "disconnects")
    tile_follows_server(online, server, at_most=peak - 3)
    for sid in ids:
        expect(station_badge(stations, sid)).to_have_text("offline", timeout=LIVE_TIMEOUT_MS)
    assert_not_reloaded(overview)
    assert_not_reloaded(stations)
    assert watch.problems == [], watch.problems


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
