"""Page helpers of the browser tests: contexts, sign-in, watching pages for errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from browser_harness import ADMIN_PASSWORD, AmpyreServer
from playwright.sync_api import Browser, BrowserContext, Page, expect

VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
EXPECT_TIMEOUT_MS = 10_000

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


class PageWatch:
    """Uncaught errors and CSP violations seen by the pages of one context."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and "Content Security Policy" in text:
            self.problems.append(f"CSP: {text}")


def new_context(browser: Browser, server: AmpyreServer, **options: Any) -> BrowserContext:
    options.setdefault("viewport", VIEWPORT)
    context = browser.new_context(base_url=server.url, **options)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    return context


def sign_in(page: Page, user: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    """Through the sign-in form, as a person would."""
    page.goto("/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@contextlib.contextmanager
def signed_in(
    browser: Browser, srv: AmpyreServer, user: str, password: str, **options: Any
) -> Iterator[Page]:
    """A page of a fresh context, signed in; it must end without page errors."""
    context = new_context(browser, srv, **options)
    watch = PageWatch()
    page = context.new_page()
    watch.attach(page)
    try:
        sign_in(page, user, password)
        yield page
        assert watch.problems == [], watch.problems
    finally:
        context.close()
