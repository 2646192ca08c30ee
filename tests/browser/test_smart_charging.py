"""Smart charging in the dashboard (issue 18 part 6).

- A station's Charging tab: a profile set through the simple form is installed and
  listed (source, purpose, stack level, confirmed); a profile that breaks the spec's
  rules is refused with each violation listed in the dialog (the same ones the API
  gives); the composite schedule is shown computed and as the station reports it; the
  profile is cleared again. A 1.6 station offers no read-back and no 2.x-only parts.
- Sites: a site is created in the editor (grid limit, a circuit, two charging stations
  as members), its page shows the status per phase, each EVSE's allocation with the
  balancer's reason (as the API gives it) and a chart that grows from the event stream
  without a reload; the site is edited; a site the server refuses shows why; the pages
  name their controls, keep contrast and do not scroll sideways on a phone; a viewer sees
  them without any way to change them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser_harness import AmpyreServer, wait_until
from browser_ui import PHONE, new_context, sign_in
from playwright.sync_api import Browser, Page, expect
from test_accessibility import check_page

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 30_000


def _a11y(page: Page, where: str) -> None:
    check_page(page, where)


def _no_sideways_scroll(browser: Browser, server: AmpyreServer, paths: dict[str, str]) -> None:
    context = new_context(browser, server, viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        phone = context.new_page()
        sign_in(phone)
        for path, heading in paths.items():
            phone.goto(f"/#{path}")
            expect(phone.get_by_role("heading", name=heading, level=1)).to_be_visible()
            expect(phone.locator("main[aria-busy='true']")).to_have_count(0)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)
    finally:
        context.close()


# ---------------------------------------------------------------------- charging tab


@pytest.fixture
def stations(server: AmpyreServer) -> Iterator[tuple[str, str]]:
    """A 2.0.1 and a 1.6 simulated station, idle (no sessions)."""
    new = server.simulate("SCB201-", 1, protocol="ocpp2.0.1", sessions=False)
    old = server.simulate("SCB16-", 1, sessions=False)
    server.wait_connected([*new.station_ids, *old.station_ids])
    try:
        yield new.station_ids[0], old.station_ids[0]
    finally:
        new.stop()
        old.stop()


def test_charging_tab_profiles_violations_composite(
    server: AmpyreServer, stations: tuple[str, str], admin_page: Page, browser: Browser
) -> None:
    v201, v16 = stations
    page = admin_page
    page.goto(f"/#/stations/{v201}?tab=charging")
    expect(page.get_by_role("heading", name="Installed profiles")).to_be_visible()
    profiles = page.get_by_role("table", name="Installed charging profiles")
    expect(profiles).to_contain_text("No charging profiles installed")

    # The simple form: at most 16 A for the whole station.
    page.get_by_role("button", name="Set a profile").click()
    dialog = page.get_by_role("dialog", name="Set a charging profile")
    dialog.get_by_label("Purpose").select_option("ChargingStationMaxProfile")
    dialog.get_by_label("Limit", exact=True).fill("16")
    dialog.get_by_label("Profile id").fill("7")
    dialog.get_by_label("Stack level").fill("1")
    dialog.get_by_role("button", name="Send profile").click()
    expect(dialog).to_have_count(0, timeout=15_000)
    expect(page.get_by_text("Profile 7 installed: the station accepted it.")).to_be_visible()
    row = profiles.locator('tr[data-profile="7"]')
    for text in ("ChargingStationMaxProfile", "16 A", "operator"):
        expect(row).to_contain_text(text)
    expect(row.locator("td").nth(3)).to_have_text("1")  # stack level
    installed = server.call("GET", f"/stations/{v201}/charging-profiles")
    assert installed["total"] == 1

    # A profile against the rules: refused with each violation shown, nothing sent.
    bad = {
        "id": 8,
        "stack_level": 0,
        "purpose": "TxProfile",  # needs a transaction, and not on EVSE 0
        "kind": "Absolute",
        "schedules": [{"id": 1, "rate_unit": "A", "periods": [{"start_period": 60, "limit": -3}]}],
    }
    refused = server.api.post(
        f"/stations/{v201}/charging-profile", json={"evse_id": 0, "profile": bad}
    )
    assert refused.status_code == 422, refused.text
    violations: list[dict[str, Any]] = refused.json()["violations"]
    assert violations
    page.get_by_role("button", name="Set a profile").click()
    dialog = page.get_by_role("dialog", name="Set a charging profile")
    dialog.get_by_label("Form").select_option("json")
    dialog.get_by_label("Profile (JSON)").fill(json.dumps(bad))
    dialog.get_by_role("button", name="Send profile").click()
    box = dialog.locator(".violations")
    expect(box).to_contain_text("the profile breaks these rules")
    expect(box.locator("li")).to_have_count(len(violations))
    for v in violations:
        item = box.locator("li").filter(has_text=v["message"])
        expect(item.first).to_contain_text(v["path"])
        if v.get("requirement"):
            expect(item.first).to_contain_text(v["requirement"])
    dialog.get_by_role("button", name="Cancel").click()
    assert server.call("GET", f"/stations/{v201}/charging-profiles")["total"] == 1

    # The composite schedule of EVSE 1: computed, and as the station reports it.
    composite = page.get_by_role("form", name="Composite schedule")
    composite.get_by_label("EVSE").select_option("1")
    composite.get_by_role("button", name="Show composite schedule").click()
    verdict = page.locator(".composite-verdict")
    expect(verdict).to_contain_text("Matches the station", timeout=15_000)
    table = page.get_by_role("table", name="Composite schedule, computed and reported")
    expect(table.locator("tbody tr").first).to_contain_text("16 A")
    _a11y(page, "charging tab")

    # 2.x only: read back from the station; the station-side inputs are listed.
    page.get_by_role("button", name="Read from the station").click()
    answer = page.get_by_role("dialog", name="Read profiles from the station")
    expect(answer).to_contain_text("Status:", timeout=15_000)
    answer.get_by_role("button", name="Close").click()
    # The station reported it back: confirmed.
    expect(row.locator("td").nth(7)).to_contain_text("confirmed")
    assert server.call("GET", f"/stations/{v201}/charging-profiles")["items"][0]["confirmed_at"]
    expect(page.get_by_role("heading", name="External charging limits")).to_be_visible()
    expect(page.get_by_role("heading", name="EV charging needs")).to_be_visible()

    # Clear the profile from its row.
    row.get_by_role("button", name="Clear profile 7").click()
    page.get_by_role("dialog", name="Clear profile 7?").get_by_role("button", name="Clear").click()
    result = page.get_by_role("dialog", name="Clear charging profiles")
    expect(result).to_contain_text(re.compile("accepted", re.I), timeout=15_000)
    result.get_by_role("button", name="Close").click()
    expect(profiles).to_contain_text("No charging profiles installed")
    assert server.call("GET", f"/stations/{v201}/charging-profiles")["total"] == 0

    # A 1.6 station: no read-back, no 2.x-only parts.
    page.goto(f"/#/stations/{v16}?tab=charging")
    expect(page.get_by_role("button", name="Set a profile")).to_be_visible()
    expect(page.get_by_role("button", name="Read from the station")).to_have_count(0)
    expect(page.get_by_role("heading", name="EV charging needs")).to_have_count(0)

    _no_sideways_scroll(browser, server, {f"/stations/{v201}?tab=charging": f"Station {v201}"})


# ---------------------------------------------------------------------- sites


@pytest.fixture
def chargers(server: AmpyreServer) -> Iterator[list[str]]:
    """Two 1.6 stations charging EVs at both connectors (meter values every 2 s)."""
    tokens = ("SCB-SITE-1", "SCB-SITE-2", "SCB-SITE-3", "SCB-SITE-4")
    server.create_id_tokens(*tokens)
    sim = server.simulate(
        "SCBS-", 2, id_tokens=tokens, meter_interval=2, session_duration=900, idle_time=1
    )
    server.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids
    finally:
        sim.stop()


def _sample_count(page: Page) -> int:
    text = page.locator(".site-chart + .tchart-note").inner_text()
    found = re.match(r"(\d+) sample", text)
    return int(found.group(1)) if found else 0


def test_site_created_watched_live_and_edited(
    server: AmpyreServer, chargers: list[str], admin_page: Page, browser: Browser
) -> None:
    page = admin_page
    page.goto("/#/sites")
    expect(page.get_by_role("heading", name="Sites", level=1)).to_be_visible()
    _a11y(page, "sites")
    page.get_by_role("link", name="New site").click()

    form = page.get_by_role("form", name="New site")
    form.get_by_label("Name").fill("SCB depot")
    form.get_by_label("Grid limit").fill("40")
    form.get_by_role("button", name="Add circuit").click()
    form.get_by_label("Id of circuit 1").fill("feeder")
    form.get_by_label("Name of circuit 1").fill("Car park feeder")
    form.get_by_label("Limit of circuit 1 (A)").fill("20")
    expect(form.locator(".circuit-tree")).to_contain_text("Car park feeder: 20 A")
    for n, sid in enumerate(chargers, start=1):
        form.get_by_role("button", name="Add member").click()
        form.get_by_label(f"Station of member {n}").fill(sid)
        form.get_by_label(f"Circuit of member {n}").select_option("feeder")
        form.get_by_label(f"Maximum current of member {n} (A)").fill("16")
    _a11y(page, "new site")
    form.get_by_role("button", name="Create site").click()

    expect(page.get_by_role("heading", name="SCB depot", level=1, exact=True)).to_be_visible()
    site_id = page.url.split("#/sites/", 1)[1]
    site = server.call("GET", f"/sites/{site_id}")
    assert site["grid_limit"] == {"unit": "A", "value": 40}
    assert [c["id"] for c in site["circuits"]] == ["feeder"]
    assert sorted(m["station_id"] for m in site["members"]) == sorted(chargers)
    page.evaluate("window.__kept = 'same document'")

    # Status per phase and each EVSE's allocation with the balancer's reason.
    phases = page.get_by_role("table", name="Limit, allocation and measured load per phase")
    expect(phases.locator('tr[data-phase="L1"]')).to_contain_text("40 A")
    evses = page.get_by_role("table", name="Allocation per EVSE")
    expect(evses.get_by_text("charging", exact=True).first).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    def shows_the_api_status() -> bool:
        """Every EVSE's state and reason on the page are the API's (the page follows the
        balancer live; a decision may land between the two reads, so this is retried)."""
        status = server.call("GET", f"/sites/{site_id}/status")
        if not status or not status["evses"]:
            return False
        for e in status["evses"]:
            row = evses.locator(f'tr[data-station="{e["station_id"]}"][data-evse="{e["evse_id"]}"]')
            if row.count() != 1:
                return False
            text = row.inner_text()
            if e["state"] not in text or e["reason"] not in text:
                return False
        return True

    wait_until(shows_the_api_status, 30, "the page to show each EVSE's allocation and reason")
    # The four EVSEs share the 20 A feeder: never more than that is allocated.
    status = server.call("GET", f"/sites/{site_id}/status")
    assert sum(e["allocated_a"] for e in status["evses"] if e["state"] == "charging") <= 20.0

    # The chart grows from the event stream (meter values), without a reload.
    expect(page.locator(".site-chart svg.tchart-svg")).to_be_visible()
    wait_until(lambda: _sample_count(page) >= 1, 30, "a first sample in the site chart")
    first = _sample_count(page)
    wait_until(lambda: _sample_count(page) > first, 30, "the site chart to grow")
    assert page.evaluate("window.__kept") == "same document", "the page was reloaded"
    legend = page.locator(".tchart-legend")
    expect(legend).to_contain_text("Limit L1")
    expect(legend).to_contain_text("Measured L3")
    page.get_by_label("Phases shown").select_option("L2")
    expect(legend.locator("li")).to_have_count(3)
    _a11y(page, "site")

    # Edit: a lower grid limit is saved and shown.
    page.get_by_role("link", name="Edit").click()
    form = page.get_by_role("form", name="Edit site SCB depot")
    expect(form.get_by_label("Station of member 2")).to_have_value(chargers[1])
    expect(form.get_by_label("Parent of circuit 1")).to_have_value("")
    _a11y(page, "edit site")
    form.get_by_label("Grid limit").fill("30")
    form.get_by_role("button", name="Save site").click()
    expect(page.get_by_role("heading", name="SCB depot", level=1, exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"#/sites/{site_id}$"))
    expect(page.locator("dl.props")).to_contain_text("30 A per phase")
    assert server.call("GET", f"/sites/{site_id}")["grid_limit"]["value"] == 30
    expect(phases.locator('tr[data-phase="L1"]')).to_contain_text("30 A", timeout=LIVE_TIMEOUT_MS)

    # A site the server refuses (the same station twice): its reason is shown.
    page.goto("/#/sites/new")
    form = page.get_by_role("form", name="New site")
    form.get_by_label("Name").fill("SCB broken")
    form.get_by_label("Grid limit").fill("25")
    for n in (1, 2):
        form.get_by_role("button", name="Add member").click()
        form.get_by_label(f"Station of member {n}").fill(chargers[0])
    form.get_by_role("button", name="Create site").click()
    expect(form.locator(".error-box")).to_contain_text("twice")
    assert all(s["name"] != "SCB broken" for s in _sites(server))

    _no_sideways_scroll(browser, server, {"/sites": "Sites", f"/sites/{site_id}": "SCB depot"})

    # A viewer sees the site and a station's profiles, and is offered no changes.
    server.create_user("scb-viewer", "viewer", "scb-viewer-password-0123")
    context = new_context(browser, server)
    try:
        viewer = context.new_page()
        sign_in(viewer, "scb-viewer", "scb-viewer-password-0123")
        viewer.goto(f"/#/sites/{site_id}")
        expect(viewer.get_by_role("heading", name="SCB depot", exact=True)).to_be_visible()
        expect(viewer.get_by_role("table", name="Allocation per EVSE")).to_be_visible()
        for name in ("Rebalance now", "Delete"):
            expect(viewer.get_by_role("button", name=name)).to_have_count(0)
        expect(viewer.get_by_role("link", name="Edit")).to_have_count(0)
        viewer.goto("/#/sites")
        expect(viewer.get_by_role("table", name="Sites")).to_contain_text("SCB depot")
        expect(viewer.get_by_role("link", name="New site")).to_have_count(0)
        viewer.goto(f"/#/stations/{chargers[0]}?tab=charging")
        expect(viewer.get_by_role("heading", name="Installed profiles")).to_be_visible()
        expect(viewer.get_by_role("button", name="Set a profile")).to_have_count(0)
    finally:
        context.close()


def _sites(server: AmpyreServer) -> list[dict[str, Any]]:
    answer = server.call("GET", "/sites")
    items: list[dict[str, Any]] = answer if isinstance(answer, list) else answer["items"]
    return items
