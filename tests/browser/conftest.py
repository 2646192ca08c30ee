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

import pytest
from browser_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    AmpyreServer,
    running_server,
)
from browser_ui import PageWatch, new_context, sign_in
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright


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
def charger(server: AmpyreServer) -> Iterator[str]:
    """A simulated 1.6 station that keeps charging EVs at both its connectors (meter values
    every 2 s, sessions of 5-15 minutes, a new EV a second after one leaves); its id."""
    tokens = ("BRW-CHARGE-1", "BRW-CHARGE-2")  # one per connector (no ConcurrentTx)
    server.create_id_tokens(*tokens)
    sim = server.simulate("CHG-", 1, id_tokens=tokens, meter_interval=2, session_duration=600)
    try:
        yield sim.station_ids[0]
    finally:
        sim.stop()


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


@pytest.fixture
def admin_page(page: Page) -> Page:
    sign_in(page)
    return page
