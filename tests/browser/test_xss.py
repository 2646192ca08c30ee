"""What a station sends is text, never markup.

Station ids cannot carry markup (A-Z a-z 0-9 * - _ = + | @ . only, refused at the
handshake otherwise), but everything else a station says can: a hand-rolled station
(no simulator) boots with markup as its vendor, model, serial and firmware, reports a
fault whose info is markup, and an admin's description and an id token's description
carry some too. Every page showing them must show the characters, create no element from
them and run nothing. The Content-Security-Policy would stop inline handlers anyway, so
the test looks at the DOM itself, not only at `window.__xss`: injected elements fail it
even when the CSP kept them from running.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from browser_harness import AmpyreServer, HostileStation
from playwright.sync_api import Page, expect
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.browser

# OCPP 2.0.1 ChargingStationType limits: vendorName 50, model 20, serialNumber 25,
# firmwareVersion 50; 1.6 StatusNotification info 50.
VENDOR = "<img src=x onerror=window.__xss=2>"
MODEL = "<b>bold</b><i>it"
SERIAL = "<svg onload=__xss=7>"
FIRMWARE = "<script>window.__xss=1</script>"
INFO = "<img src=x onerror=window.__xss=3>"
DESCRIPTION = "<script>window.__xss=4</script><img src=x onerror=window.__xss=5>"
TOKEN_NOTE = "<iframe src=javascript:window.__xss=6>"

# Elements that only injected markup could have made (the app's own DOM has none).
INJECTED = (
    "img[src='x'], svg[onload], iframe, b, i, script:not([type='module']), [onerror], [onload]"
)


@pytest.fixture(scope="module")
def hostile(server: AmpyreServer) -> Iterator[tuple[str, str]]:
    """A 2.0.1 station with markup in its boot strings and a 1.6 one with a fault whose
    info is markup; both stay connected for the module."""
    s201 = HostileStation(server.ws_url, "XSS-201", "ocpp2.0.1")
    s16 = HostileStation(server.ws_url, "XSS-16", "ocpp1.6")
    try:
        boot = s201.call(
            "BootNotification",
            {
                "reason": "PowerUp",
                "chargingStation": {
                    "vendorName": VENDOR,
                    "model": MODEL,
                    "serialNumber": SERIAL,
                    "firmwareVersion": FIRMWARE,
                },
            },
        )
        assert boot["status"] == "Accepted"
        boot = s16.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Accepted"
        s16.call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "OtherError", "status": "Faulted", "info": INFO},
        )
        server.call("PATCH", "/stations/XSS-201", json={"description": DESCRIPTION})
        server.create_id_tokens("BRW-XSS-1", description=TOKEN_NOTE)
        yield s201.station_id, s16.station_id
    finally:
        s201.close()
        s16.close()


def assert_inert(page: Page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    injected = page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].map((e) => e.outerHTML)", INJECTED
    )
    assert injected == []


def test_a_station_id_with_markup_is_refused_at_the_handshake(server: AmpyreServer) -> None:
    # The id rule leaves no room for markup in ids: such a station never gets in.
    with pytest.raises(InvalidStatus, match=r"HTTP 4\d\d"):
        HostileStation(server.ws_url, "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "ocpp1.6")
    response = server.api.post("/stations", json={"id": "<script>alert(1)</script>"})
    assert response.status_code == 422


def test_station_strings_are_shown_as_text(
    server: AmpyreServer, hostile: tuple[str, str], admin_page: Page
) -> None:
    s201, s16 = hostile
    page = admin_page

    # Overview: the fault's info is in the recent alerts.
    page.goto("/#/")
    alerts = page.locator("ul.alerts")
    expect(alerts).to_contain_text(INFO)
    expect(alerts.get_by_role("link", name=s16)).to_be_visible()
    assert_inert(page)

    # Station list: vendor / model and firmware columns.
    page.goto("/#/stations?q=XSS-")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=s201))
    expect(row).to_contain_text(f"{VENDOR} {MODEL}")
    expect(row).to_contain_text(FIRMWARE)
    assert_inert(page)

    # Station page: every boot string and the description, each exactly as sent.
    page.goto(f"/#/stations/{s201}")
    details = page.locator("dl.props")
    for label, value in [
        ("Vendor", VENDOR),
        ("Model", MODEL),
        ("Serial number", SERIAL),
        ("Firmware", FIRMWARE),
        ("Description", DESCRIPTION),
    ]:
        dd = details.locator(f"dt:text-is('{label}') + dd")
        expect(dd).to_have_text(value)
    assert_inert(page)

    # Its message log shows the raw frames, markup and all, as text.
    page.get_by_role("tab", name="Message log").click()
    expect(page.locator("main")).to_contain_text("BootNotification")
    expect(page.locator("main")).to_contain_text(json.dumps(VENDOR)[1:-1])
    assert_inert(page)

    # The faulted station's connector: status info as text.
    page.goto(f"/#/stations/{s16}")
    expect(page.locator("main")).to_contain_text(INFO)
    assert_inert(page)

    # Its alert (alerts page): the info as text.
    page.goto(f"/#/alerts?station_id={s16}")
    expect(page.locator("main tbody")).to_contain_text(INFO)
    assert_inert(page)

    # An id token's description.
    page.goto("/#/id-tokens?q=BRW-XSS")
    expect(page.get_by_role("row").filter(has_text="BRW-XSS-1")).to_contain_text(TOKEN_NOTE)
    assert_inert(page)


def test_the_page_itself_carries_a_strict_content_security_policy(server: AmpyreServer) -> None:
    csp = httpx.get(server.url + "/", timeout=5).headers["content-security-policy"]
    assert re.search(r"script-src 'self'(;|$)", csp), csp
