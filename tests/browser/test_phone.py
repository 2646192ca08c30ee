"""The station list on a phone (390 px wide): no sideways scrolling of the page, the
navigation behind a Menu button, search and the station links usable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import AmpyreServer
from browser_ui import PHONE, PageWatch, new_context, sign_in
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser, server: AmpyreServer) -> Iterator[Page]:
    context = new_context(browser, server, viewport=PHONE, has_touch=True, is_mobile=True)
    watch = PageWatch()
    try:
        page = context.new_page()
        watch.attach(page)
        yield page
        assert watch.problems == [], watch.problems
    finally:
        context.close()


def page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_station_list_at_390_px(server: AmpyreServer, charger: str, phone: Page) -> None:
    page = phone
    sign_in(page)
    assert page_width(page) <= PHONE["width"], "the overview scrolls sideways"

    # The navigation is folded away behind the Menu button.
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    stations_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Stations")
    expect(stations_link).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    stations_link.click()
    expect(page.get_by_role("heading", name="Stations", level=1)).to_be_visible()
    expect(stations_link).to_be_hidden()  # folded again after navigating

    # Rows are there and readable without sideways scrolling.
    link = page.get_by_role("link", name=charger, exact=True)
    expect(link).to_be_visible()
    assert page_width(page) <= PHONE["width"], "the station list scrolls sideways"
    box = link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    # Search works at this width too and the link opens the station.
    page.get_by_role("searchbox").fill(charger)
    expect(page.get_by_role("row").filter(has=page.get_by_role("link"))).to_have_count(1)
    link.click()
    expect(page.get_by_role("heading", name=f"Station {charger}")).to_be_visible()
    assert page_width(page) <= PHONE["width"], "the station page scrolls sideways"
