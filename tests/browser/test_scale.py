"""20,000 stations in the database: the overview's counts and the paged station list
render, and how long that takes is measured and printed (not asserted: a shared CI
machine's timings are no verdict; docs/benchmarks.md keeps the measured numbers).

The stations are written into the SQLite file before the server starts (browser_harness
.seed_stations): 1 in 50 has a Faulted connector, 1 in 7 is Charging."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_harness import BOOTSTRAP_TOKEN, AmpyreServer, running_server, seed_stations
from browser_ui import PageWatch, new_context, sign_in
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

STATIONS = 20_000
FAULTED = len(range(0, STATIONS, 50))
CHARGING = len(range(0, STATIONS, 7))
DASH, NEXT = "\u2013", "\u203a"  # en dash and single angle quote of the pager


@pytest.fixture(scope="module")
def big_server(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmpyreServer]:
    workdir = tmp_path_factory.mktemp("ampyre-20k")
    try:
        with running_server(workdir, lambda s: seed_stations(s.database_path, STATIONS)) as srv:
            yield srv
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def big_page(browser: Browser, big_server: AmpyreServer) -> Iterator[Page]:
    context = new_context(browser, big_server)
    watch = PageWatch()
    try:
        page = context.new_page()
        watch.attach(page)
        yield page
        assert watch.problems == [], watch.problems
    finally:
        context.close()


def api_ms(server: AmpyreServer, path: str, runs: int = 5) -> float:
    """Median wall time of a GET, in ms (after one warm-up)."""
    headers = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    times = []
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30) as client:
        for i in range(runs + 1):
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200
            if i:
                times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


# Resolves with performance.now() (ms since the navigation started) in the first frame
# that shows the Stations tile with the full count.
FIRST_PAINT_OF_COUNTS = """(expected) => {
  const tile = [...document.querySelectorAll('.tile')]
    .find((t) => t.querySelector('.tile-label')?.textContent === 'Stations');
  return tile?.querySelector('.tile-value')?.textContent === expected ? performance.now() : 0;
}"""


def test_overview_and_station_list_with_20000_stations(
    big_server: AmpyreServer, big_page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    page = big_page
    sign_in(page)
    # A fresh load, signed in: from navigation start to the counts on screen.
    page.goto("/")
    counted = page.wait_for_function(FIRST_PAINT_OF_COUNTS, arg=f"{STATIONS:,}", polling="raf")
    overview_ms = float(counted.json_value())
    fcp = page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    tiles = page.locator(".tiles")
    expect(tiles).to_contain_text(f"{FAULTED:,}Faulted")
    expect(tiles).to_contain_text(f"{CHARGING:,}Charging")
    expect(tiles).to_contain_text(f"{STATIONS:,}Offline")

    # The station list: the server pages, sorts and searches.
    t0 = time.perf_counter()
    page.get_by_role("link", name=f"{STATIONS:,} Stations").click()
    status = page.locator(".pager-status")
    expect(status).to_have_text(f"1{DASH}25 of {STATIONS}")
    list_ms = (time.perf_counter() - t0) * 1000
    expect(page.get_by_role("row")).to_have_count(26)
    page.get_by_role("button", name=f"Next {NEXT}").click()
    expect(status).to_have_text(f"26{DASH}50 of {STATIONS}")
    page.get_by_role("button", name="Last seen").click()
    expect(status).to_have_text(f"1{DASH}25 of {STATIONS}")
    page.get_by_role("searchbox").fill("SEED-019999")
    expect(status).to_have_text(f"1{DASH}1 of 1")
    expect(page.get_by_role("link", name="SEED-019999")).to_be_visible()

    overview_api = api_ms(big_server, "/overview")
    list_api = api_ms(big_server, "/stations?limit=25&sort=-last_seen")
    search_api = api_ms(big_server, "/stations?limit=25&q=019999")
    with capsys.disabled():
        print(
            f"\n[20,000 stations] overview counts painted {overview_ms:.0f} ms after navigation"
            f" start (first contentful paint {fcp or 0:.0f} ms); station list page "
            f"{list_ms:.0f} ms from the click; API medians: /overview {overview_api:.0f} ms, "
            f"/stations sorted by last seen {list_api:.0f} ms, search {search_api:.0f} ms"
        )
