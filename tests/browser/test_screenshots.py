"""Screenshots of the main pages for the README, taken from a live server with simulated
stations charging. `make screenshots` writes them to docs/screenshots/ (it sets
AMPYRE_SCREENSHOT_DIR); in an ordinary test run they go to a temp dir, and each page is
still checked to have rendered (heading, content, no error box, no script error)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from browser_harness import AmpyreServer, HostileStation, free_port, wait_until
from browser_ui import PHONE, PageWatch, new_context, sign_in
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

CHART_POINTS = 12  # wait for a chart worth looking at (meter values every 2 s)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("AMPYRE_SCREENSHOT_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook_receiver() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/ampyre-events"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def demo(server: AmpyreServer, charger: str, webhook_receiver: str) -> Iterator[dict[str, Any]]:
    """A small network to look at: 1.6 and 2.0.1 stations charging, a faulted one, id
    tokens (one blocked), a webhook that works and one whose receiver is gone."""
    tokens = [f"DEMO-{c}" for c in "ABCDEF"]
    server.create_id_tokens(*tokens[:5], description="Fleet card")
    server.create_id_tokens(tokens[5], description="Lost, blocked by support", status="blocked")
    billing = server.call(
        "POST", "/webhooks", 201, json={"url": webhook_receiver, "description": "Billing system"}
    )
    server.call(
        "POST",
        "/webhooks",
        201,
        json={
            "url": f"http://127.0.0.1:{free_port()}/gone",
            "description": "Old CRM (offline)",
            "event_types": ["transaction.ended"],
        },
    )
    sims = [
        server.simulate("DEMO16-", 3, id_tokens=tuple(tokens[:3]), idle_time=5),
        server.simulate("DEMO201-", 2, protocol="ocpp2.0.1", id_tokens=tuple(tokens[3:5])),
    ]
    faulty = HostileStation(server.ws_url, "DEMO-FAULTY-1", "ocpp1.6")
    try:
        faulty.call("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC22"})
        faulty.call(
            "StatusNotification",
            {
                "connectorId": 1,
                "errorCode": "GroundFailure",
                "status": "Faulted",
                "info": "RCD tripped",
            },
        )
        server.wait_connected([sid for sim in sims for sid in sim.station_ids])
        tx = server.active_transaction(charger)
        yield {"station": charger, "transaction": tx, "webhook": billing["id"]}
    finally:
        faulty.close()
        for sim in sims:
            sim.stop()


@pytest.fixture
def admin(browser: Browser, server: AmpyreServer) -> Iterator[Page]:
    context = new_context(browser, server)
    watch = PageWatch()
    try:
        page = context.new_page()
        watch.attach(page)
        sign_in(page)
        yield page
        assert watch.problems == [], watch.problems
    finally:
        context.close()


def settle(page: Page, heading: str | re.Pattern[str]) -> None:
    """The page is drawn: its heading is shown, nothing is loading, no error box."""
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    expect(page.locator("[aria-busy='true']")).to_have_count(0)
    expect(page.locator("main .error-box")).to_have_count(0)
    page.evaluate("document.activeElement && document.activeElement.blur()")


def shoot(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=path)
    assert path.stat().st_size > 10_000  # a page, not a blank


def test_screenshots_of_the_main_pages(
    server: AmpyreServer, demo: dict[str, Any], admin: Page, shots: Path
) -> None:
    page = admin
    page.goto("/#/")
    settle(page, "Overview")
    expect(page.locator("ul.alerts")).to_contain_text("GroundFailure")
    shoot(page, shots, "overview")

    page.goto("/#/stations")
    settle(page, "Stations")
    expect(page.locator(".badge-online").first).to_be_visible()
    shoot(page, shots, "stations")

    page.goto(f"/#/stations/{demo['station']}")
    settle(page, re.compile(f"Station {demo['station']}"))
    expect(
        page.get_by_role("img", name=re.compile(r"connector \d: Charging")).first
    ).to_be_visible()
    shoot(page, shots, "station")

    tx = demo["transaction"]
    page.goto(f"/#/transactions/{tx['id']}")
    settle(page, f"Transaction #{tx['id']}")
    chart = page.locator("svg.tchart-svg g[data-series='power'] path")
    wait_until(
        lambda: len(re.findall(r"[ML]", chart.get_attribute("d") or "")) >= CHART_POINTS,
        CHART_POINTS * 2 + 15,
        "a chart with some points",
    )
    shoot(page, shots, "transaction")

    page.goto("/#/id-tokens")
    settle(page, "Id tokens")
    expect(page.locator(".badge-blocked").first).to_be_visible()
    shoot(page, shots, "id-tokens")

    page.goto("/#/webhooks")
    settle(page, "Webhooks")
    expect(page.get_by_text("Billing system")).to_be_visible()
    shoot(page, shots, "webhooks")

    # One webhook's delivery history (the receiver answers 204).
    page.goto(f"/#/webhooks/{demo['webhook']}")
    settle(page, f"Webhook #{demo['webhook']}")
    expect(page.locator("tbody .badge-delivered").first).to_be_visible()
    shoot(page, shots, "webhook-deliveries")


def test_screenshot_at_phone_width(
    browser: Browser, server: AmpyreServer, demo: dict[str, Any], shots: Path
) -> None:
    context = new_context(browser, server, viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page)
        page.goto("/#/stations")
        settle(page, "Stations")
        expect(page.locator(".badge-online").first).to_be_visible()
        shoot(page, shots, "stations-phone")
    finally:
        context.close()
