"""Browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium, never
a downloaded browser) against a real `ampyre serve` subprocess with simulated stations.

Without /usr/bin/chromium these tests are skipped, or fail when CI=true (`make test`
installs it). The server, Playwright and the browser are started once (session fixtures)
and closed right after the last browser test, not at the end of the session: sync
Playwright keeps its own event loop marked as running while it lives, which the asyncio
tests that follow could not share. Each test gets a fresh browser context (cookies,
storage) and page. A page that throws an uncaught error or trips the
Content-Security-Policy fails the test that opened it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    AmpyreServer,
)
from browser_ui import PageWatch, new_context, sign_in
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        reason = f"{CHROMIUM} is missing (`make test` installs Debian's chromium package)"
        if _on_ci():
            pytest.fail(reason + " (CI=true: browser tests are mandatory)")
        pytest.skip(reason)
    return CHROMIUM


class _Lifetime:
    """Closers of the shared resources, run once each, newest first."""

    def __init__(self) -> None:
        self._closers: list[Callable[[], None]] = []

    def add(self, fn: Callable[[], None]) -> Callable[[], None]:
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                fn()

        self._closers.append(once)
        return once

    def close(self) -> None:
        """Run every closer even when one fails (no process left behind); then raise."""
        failed: BaseException | None = None
        while self._closers:
            try:
                self._closers.pop()()
            except BaseException as exc:
                failed = failed or exc
        if failed is not None:
            raise failed


_LIFETIME = _Lifetime()
HERE = Path(__file__).parent


def _more_browser_tests(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    if nextitem is not None and HERE in nextitem.path.parents:
        return True
    items = item.session.items
    later = items[items.index(item) + 1 :] if item in items else []
    return any(HERE in other.path.parents for other in later)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)
    finally:
        if not _more_browser_tests(item, nextitem):
            _LIFETIME.close()


@pytest.fixture(scope="session")
def server(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmpyreServer]:
    """One real Ampyre for the browser tests: SQLite in a temp dir, free ports on
    127.0.0.1, auto-registration, the bootstrap token and the bootstrap admin user."""
    workdir = tmp_path_factory.mktemp("ampyre-browser")
    srv = AmpyreServer(workdir)

    def stop() -> None:
        srv.stop()  # and its simulations
        shutil.rmtree(workdir, ignore_errors=True)

    close = _LIFETIME.add(stop)
    try:
        srv.migrate()
        srv.start()
        yield srv
    finally:
        close()


@pytest.fixture(scope="session")
def charger(server: AmpyreServer) -> Iterator[str]:
    """A simulated 1.6 station that keeps charging EVs at both its connectors (meter values
    every 2 s, sessions of 5-15 minutes, a new EV a second after one leaves); its id."""
    tokens = ("BRW-CHARGE-1", "BRW-CHARGE-2")  # one per connector (no ConcurrentTx)
    server.create_id_tokens(*tokens)
    sim = server.simulate("CHG-", 1, id_tokens=tokens, meter_interval=2, session_duration=600)
    close = _LIFETIME.add(sim.stop)
    try:
        yield sim.station_ids[0]
    finally:
        close()


@pytest.fixture(scope="session")
def playwright(chromium: Path) -> Iterator[Playwright]:
    pw = sync_playwright().start()
    close = _LIFETIME.add(pw.stop)
    try:
        yield pw
    finally:
        close()


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium: Path) -> Iterator[Browser]:
    b = playwright.chromium.launch(
        executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True, timeout=30_000
    )
    close = _LIFETIME.add(b.close)
    try:
        yield b
    finally:
        close()


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
