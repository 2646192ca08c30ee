"""Browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium, never
a downloaded browser) against a real `ampyre serve` subprocess with simulated stations.

Without /usr/bin/chromium these tests are skipped, or fail when CI=true (`make test`
installs it). The server, Playwright and the browser are started once for the package
(package scope: they are gone before the rest of the suite runs) and each test gets a
fresh browser context (cookies, storage) and page. A page that throws an uncaught error
or trips the Content-Security-Policy fails the test that opened it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_harness import (
    ADMIN_PASSWORD,
    CHROMIUM,
    CHROMIUM_ARGS,
    AmpyreServer,
    running_server,
)
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
EXPECT_TIMEOUT_MS = 10_000

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="package")
def chromium() -> Path:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        reason = f"{CHROMIUM} is missing (`make test` installs Debian's chromium package)"
        if _on_ci():
            pytest.fail(reason + " (CI=true: browser tests are mandatory)")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="package")
def server(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmpyreServer]:
    """One real Ampyre for the package: SQLite in a temp dir, free ports on 127.0.0.1,
    auto-registration, the bootstrap token and the bootstrap admin user."""
    workdir = tmp_path_factory.mktemp("ampyre-browser")
    try:
        with running_server(workdir) as srv:
            yield srv
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="package")
def playwright(chromium: Path) -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium: Path) -> Iterator[Browser]:
    b = playwright.chromium.launch(
        executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True, timeout=30_000
    )
    try:
        yield b
    finally:
        b.close()


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


@pytest.fixture
def context(browser: Browser, server: AmpyreServer) -> Iterator[BrowserContext]:
    ctx = new_context(browser, server)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    watch = PageWatch()
    p = context.new_page()
    watch.attach(p)
    yield p
    assert watch.problems == [], watch.problems


def sign_in(page: Page, user: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    """Through the sign-in form, as a person would."""
    page.goto("/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def admin_page(page: Page) -> Page:
    sign_in(page)
    return page
