"""Signing in: a wrong password is refused with a message, the right one opens the
overview, and all of it works with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from browser_harness import ADMIN_PASSWORD
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_wrong_password_shows_an_error_and_the_right_one_the_overview(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_title("Sign in · Ampyre")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong password")
    expect(page.get_by_role("heading", name="Overview")).to_have_count(0)

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page).to_have_title("Overview · Ampyre")
    expect(page.get_by_role("banner")).to_contain_text("admin (admin)")
    # The session is a cookie the page's scripts cannot read (HttpOnly).
    assert "ampyre_session" not in page.evaluate("document.cookie")
    cookie = next(c for c in page.context.cookies() if c["name"] == "ampyre_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # Signed in survives a reload; signing out ends it.
    page.reload()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("User name")).to_be_visible()
    page.reload()
    expect(page.get_by_label("User name")).to_be_visible()


def test_keyboard_only_sign_in(page: Page) -> None:
    page.goto("/")
    user = page.get_by_label("User name")
    expect(user).to_be_focused()  # the form takes the focus: no mouse needed to start
    # The skip link comes first in the tab order, then the form.
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(user).to_be_focused()
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()

    # The page's main region takes the focus; Tab then Enter follows its first link.
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")
    stations = page.get_by_role("link", name=re.compile(r"^[\d,]+ Stations$"))
    expect(stations).to_be_focused()
    # The live `stats` ticks (every 2 s) redraw the tiles: the focus stays where it is.
    page.wait_for_timeout(2500)
    expect(stations).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/stations$"))
