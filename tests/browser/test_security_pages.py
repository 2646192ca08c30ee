"""The security pages of the dashboard (issue 19 part 5), against a real server.

- Navigation: one "Security" entry in the top bar; the security events, station
  certificates, PKI and Plug & Charge pages link to each other; each station page has
  a Security tab. A part whose API route the server does not have shows a clear "not
  available" state (the rest of the page works).
- A station's Security tab, as an operator, on a simulated 2.0.1 station: the profile
  state; renew the station certificate (the CSR is signed by the built-in PKI and
  installed); install a root certificate, read the list back from the station, delete
  it; rotate the password (shown once; completed when the station reconnects with it);
  the profile upgrade offers only higher profiles. An admin sets the required profile.
- Security events a station sends appear on the station's tab and the all-stations
  page, as text (markup in them stays text), filtered to the critical ones; a new one
  arrives live and the keyboard focus stays where it was.
- The PKI page lists the certificate authorities and the certificates issued; revoking
  one marks it revoked. The Plug & Charge page lists a contract certificate presented
  at Authorize.
- A viewer sees all of it without any action; on a phone nothing scrolls sideways.

These tests run their own server (module scope) with a PKI made by
`ampyre pki init`, and share one signed-in operator page.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_harness import ADMIN_PASSWORD, AmpyreServer, HostileStation, wait_until
from browser_ui import PHONE, signed_in
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect
from test_accessibility import check_page

from ampyre.adapters.pki import LocalPki

pytestmark = pytest.mark.browser

SECURITY_PAGES = {
    "/#/security": "Security events",
    "/#/security/certificates": "Station certificates",
    "/#/security/pki": "PKI",
    "/#/security/contract-certificates": "Plug & Charge contract certificates",
}
VIEWER, VIEWER_PASSWORD = "sec-viewer", "sec-viewer-password-0123"
OPERATOR, OPERATOR_PASSWORD = "sec-operator", "sec-operator-password-0123"
MARKUP = '<img src=x onerror="window.__pwned=1">'


def _a11y(page: Page, where: str) -> None:
    check_page(page, where)


def _missing(route: Route) -> None:
    """What the server answers for a route it does not have."""
    path = route.request.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
    route.fulfill(
        status=404,
        content_type="application/problem+json",
        body=json.dumps({"title": "Not Found", "status": 404, "detail": f"no resource at /{path}"}),
    )


def test_navigation_and_missing_routes_show_not_available(operator: Page) -> None:
    page = operator
    patterns = (
        "**/api/v1/security-events*",
        "**/api/v1/pki*",
        "**/api/v1/pki/**",
        "**/api/v1/certificates*",
        "**/api/v1/certificate-requests*",
        "**/api/v1/contract-certificates*",
    )
    for pattern in patterns:
        page.route(pattern, _missing)
    try:
        _walk_security_pages(page)
    finally:
        for pattern in patterns:
            page.unroute(pattern)


def _walk_security_pages(page: Page) -> None:
    page.goto("/#/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security events", level=1)).to_be_visible()
    sub = page.get_by_role("navigation", name="Security pages")
    for path, heading in SECURITY_PAGES.items():
        name = {"/#/security/contract-certificates": "Plug & Charge"}.get(path, heading)
        sub.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator(".unavailable").first).to_contain_text("Not available")
        expect(sub.get_by_role("link", name=name, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        # The top bar's entry stays marked on every security page.
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Security")
        ).to_have_attribute("aria-current", "page")
        _a11y(page, path)


# ---------------------------------------------------------------------- with a PKI


class PkiServer(AmpyreServer):
    """An Ampyre whose built-in PKI lives in its work directory."""

    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    def env(self) -> dict[str, str]:
        return {**super().env(), "AMPYRE_PKI_DIR": str(self.pki_dir)}

    def migrate_and_pki_init(self) -> None:
        """`ampyre migrate` and `ampyre pki init` side by side (they touch different files)."""
        init = subprocess.Popen(
            [sys.executable, "-m", "ampyre", "pki", "init", "--dir", str(self.pki_dir)],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self.migrate()
            _, err = init.communicate(timeout=60)
            assert init.returncode == 0, err.decode(errors="replace")
        finally:
            if init.poll() is None:
                init.kill()
                init.wait()


@pytest.fixture(scope="module")
def secure(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PkiServer]:
    srv = PkiServer(tmp_path_factory.mktemp("ampyre-security"))
    try:
        srv.migrate_and_pki_init()
        srv.start()
        srv.create_user(VIEWER, "viewer", VIEWER_PASSWORD)
        srv.create_user(OPERATOR, "operator", OPERATOR_PASSWORD)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def station201(secure: PkiServer) -> Iterator[str]:
    """A simulated 2.0.1 station, idle, with a password (profile 1)."""
    sim = secure.simulate("SECB-", 1, protocol="ocpp2.0.1", sessions=False)
    secure.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids[0]
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def operator(browser: Browser, secure: PkiServer) -> Iterator[Page]:
    """One signed-in operator page for the module's tests (signing in costs seconds)."""
    with signed_in(browser, secure, OPERATOR, OPERATOR_PASSWORD) as page:
        yield page


@pytest.fixture
def viewer(browser: Browser, secure: PkiServer) -> Iterator[Page]:
    with signed_in(browser, secure, VIEWER, VIEWER_PASSWORD) as page:
        yield page


def _installed(srv: AmpyreServer, station_id: str) -> list[dict[str, object]]:
    answer = srv.call("GET", f"/stations/{station_id}/certificates")
    items: list[dict[str, object]] = answer["items"] if isinstance(answer, dict) else answer
    return items


def _use(item: dict[str, object]) -> object:
    return item.get("use") or item.get("certificate_type")


def test_station_security_tab(secure: PkiServer, station201: str, operator: Page) -> None:
    page = operator
    sid = station201
    page.goto(f"/#/stations/{sid}?tab=security")
    expect(page.get_by_role("heading", name="Security profile")).to_be_visible()
    certs = page.get_by_role("table", name="Installed certificates")
    expect(certs).to_be_visible()

    # Renew the station certificate: a CSR comes, the PKI signs it, the station installs it.
    page.get_by_role("button", name="Renew…").click()
    dialog = page.get_by_role("dialog", name="Renew a certificate")
    dialog.get_by_label("Certificate").select_option("ChargingStationCertificate")
    dialog.get_by_role("button", name="Renew").click()
    answer = page.get_by_role("dialog", name="Renew certificate")
    expect(answer).to_contain_text(re.compile("accepted", re.I), timeout=15_000)
    answer.get_by_role("button", name="Close").click()
    csrs = page.get_by_role("table", name="Certificate signing requests")
    expect(csrs.locator("tbody tr").first).to_contain_text("installed", timeout=20_000)
    expect(certs).to_contain_text("ChargingStationCertificate", timeout=20_000)
    row = certs.locator("tbody tr").filter(has_text="ChargingStationCertificate")
    expect(row).to_contain_text(sid)  # its subject, CN = the station id
    expect(row).to_contain_text("d left")  # the expiry, far away
    row.get_by_role("group").get_by_text("PEM", exact=True).click()
    expect(row.locator("pre")).to_contain_text("BEGIN CERTIFICATE")
    csrs.get_by_role("button", name=re.compile("^Show certificate signing request")).first.click()
    shown = page.get_by_role("dialog", name=re.compile("^Certificate signing request"))
    expect(shown).to_contain_text("BEGIN CERTIFICATE REQUEST")
    expect(shown.get_by_label("Signed chain (PEM)")).to_contain_text("BEGIN CERTIFICATE")
    shown.get_by_role("button", name="Close").click()

    # Install a root, read the list back from the station, delete it.
    root_pem = (secure.pki_dir / "csms-root.pem").read_text()
    page.get_by_role("button", name="Install a certificate…").click()
    dialog = page.get_by_role("dialog", name="Install a certificate")
    dialog.get_by_label("Certificate type").select_option("CSMSRootCertificate")
    dialog.get_by_label("Certificate (PEM)").fill(root_pem)
    dialog.get_by_role("button", name="Install").click()
    answer = page.get_by_role("dialog", name="Install certificate")
    expect(answer).to_contain_text(re.compile("accepted", re.I), timeout=15_000)
    answer.get_by_role("button", name="Close").click()
    expect(certs).to_contain_text("CSMSRootCertificate")
    page.get_by_role("button", name="Read from the station").click()
    answer = page.get_by_role("dialog", name="Read installed certificates")
    expect(answer).to_contain_text(re.compile("accepted", re.I), timeout=15_000)
    answer.get_by_role("button", name="Close").click()
    root_row = certs.locator("tbody tr").filter(has_text="CSMSRootCertificate")
    expect(root_row).to_have_count(1)
    assert any(_use(c) == "CSMSRootCertificate" for c in _installed(secure, sid))

    # The list is read again shortly after (the station's reports may trail its answer),
    # and every 15 s: the keyboard focus stays on the Delete button through the redraws.
    delete = root_row.get_by_role("button", name=re.compile("^Delete certificate"))
    delete.focus()
    page.evaluate("document.activeElement.__mark = 1")
    wait_until(
        lambda: page.evaluate(
            "!document.activeElement.__mark && document.activeElement.textContent === 'Delete'"
        ),
        20,
        "the certificate list redrawn with the focus kept",
    )
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name=re.compile("^Delete CSMSRootCertificate")).get_by_role(
        "button", name="Delete"
    ).click()
    answer = page.get_by_role("dialog", name="Delete certificate")
    expect(answer).to_contain_text(re.compile("accepted", re.I), timeout=15_000)
    answer.get_by_role("button", name="Close").click()
    expect(certs.locator("tbody tr").filter(has_text="CSMSRootCertificate")).to_have_count(0)

    # Rotate the password: shown once, the change tracked.
    page.get_by_role("button", name="Rotate password…").click()
    dialog = page.get_by_role("dialog", name="Rotate the station password")
    dialog.get_by_role("button", name="Rotate password").click()
    shown = page.get_by_role("dialog", name="Password rotation")
    secret = shown.get_by_label("New password")
    expect(secret).to_have_value(re.compile(r"^\S{16,}$"), timeout=15_000)
    password = secret.input_value()
    shown.get_by_role("button", name="Done").click()
    # The simulator reconnects with the new password: the change completes, live.
    history = page.locator("details.security-history")
    expect(history).to_contain_text("completed", timeout=20_000)
    expect(page.get_by_role("table", name="Pending credential changes")).to_contain_text("None")
    history.locator("summary").click()
    expect(history.get_by_role("table")).to_contain_text("password")
    assert password not in page.content()  # shown once, gone with its dialog

    # The profile upgrade dialog offers only higher profiles (2.x: URL and slot too).
    page.get_by_role("button", name="Upgrade profile…").click()
    dialog = page.get_by_role("dialog", name="Upgrade the security profile")
    options = dialog.get_by_label("New profile").locator("option")
    expect(options).to_have_count(2)  # configured: profile 1 (a password)
    expect(dialog.get_by_label("CSMS URL")).to_be_visible()
    expect(dialog.get_by_label("Configuration slot")).to_be_visible()
    _a11y(page, "profile upgrade dialog")
    dialog.get_by_role("button", name="Cancel").click()
    _a11y(page, "security tab")


def _send_events(srv: AmpyreServer, station_id: str, *events: tuple[str, str | None]) -> None:
    """Security events from a hand-rolled 2.0.1 station (type, techInfo)."""
    hostile = HostileStation(srv.ws_url, station_id, "ocpp2.0.1")
    try:
        hostile.call(
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
        )
        for event_type, tech_info in events:
            payload = {"type": event_type, "timestamp": datetime.now(UTC).isoformat()}
            if tech_info is not None:
                payload["techInfo"] = tech_info
            hostile.call("SecurityEventNotification", payload)
    finally:
        hostile.close()


def test_security_events_shown_as_text_and_filtered(secure: PkiServer, operator: Page) -> None:
    _send_events(
        secure,
        "SECEV-1",
        ("InvalidFirmwareSignature", MARKUP),
        ("StartupOfTheDevice", None),  # critical (2.0.1 appendix, security events)
    )
    page = operator
    page.goto("/#/security")
    table = page.get_by_role("table", name="Security events, newest first")
    expect(table).to_contain_text("InvalidFirmwareSignature")
    expect(table).to_contain_text(MARKUP)  # as text
    assert page.evaluate("window.__pwned === undefined")
    page.get_by_label("Show").select_option("true")
    expect(table).to_contain_text("StartupOfTheDevice")
    expect(table).not_to_contain_text("InvalidFirmwareSignature")
    # The filters live in the address (a link to the page keeps them).
    page.goto("/#/security?station=SECEV-1")
    expect(page.get_by_label("Station")).to_have_value("SECEV-1")
    expect(page.get_by_label("Show")).to_have_value("")
    expect(table.locator("tbody tr")).to_have_count(2)
    _a11y(page, "security events")

    # A new event arrives live; the keyboard focus stays on the link it was on.
    link = table.get_by_role("link", name="SECEV-1").first
    link.focus()
    page.evaluate("document.activeElement.__mark = 1")
    _send_events(secure, "SECEV-1", ("TamperDetectionActivated", "case opened"))
    expect(table).to_contain_text("TamperDetectionActivated")
    assert page.evaluate(
        "!document.activeElement.__mark && document.activeElement.textContent === 'SECEV-1'"
    )

    # The station's own tab.
    page.goto("/#/stations/SECEV-1?tab=security")
    own = page.get_by_role("table", name="Security events of this station, newest first")
    expect(own).to_contain_text("InvalidFirmwareSignature")
    expect(own).to_contain_text("StartupOfTheDevice")


def _authorize_with_contract(srv: PkiServer, station_id: str, emaid: str) -> None:
    """A 2.0.1 station sends Authorize with a contract certificate chain from the PKI's
    MO sub-CA (central validation, OCPP 2.0.1 C07)."""
    key = ec.generate_private_key(ec.SECP256R1())
    issued = LocalPki.load(srv.pki_dir).issue_contract_certificate(emaid, key.public_key())
    hostile = HostileStation(srv.ws_url, station_id, "ocpp2.0.1")
    try:
        hostile.call(
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
        )
        hostile.call(
            "Authorize",
            {"idToken": {"idToken": emaid, "type": "eMAID"}, "certificate": issued.chain_pem()},
        )
    finally:
        hostile.close()


def test_pki_page_lists_and_revokes(secure: PkiServer, station201: str, operator: Page) -> None:
    page = operator
    page.goto("/#/security/pki")
    cas = page.get_by_role("table", name="Certificate authorities")
    for name in ("csms-root", "csms-sub", "v2g-root", "mo-root", "oem-root"):
        expect(cas.locator(f'tr[data-ca="{name}"]')).to_have_count(1)
    issued = page.get_by_role("table", name="Issued certificates")
    # The station certificate signed in the tab test, or one signed for this test.
    if not secure.call("GET", "/pki/certificates")["items"]:
        secure.call(
            "POST",
            f"/stations/{station201}/certificates/renew",
            json={"certificate_type": "ChargingStationCertificate"},
        )
        wait_until(lambda: bool(secure.call("GET", "/pki/certificates")["items"]), 20, "a cert")
        page.reload()
    row = issued.locator("tbody tr").filter(has_text=station201).first
    expect(row).to_be_visible()
    row.get_by_role("button", name=re.compile("^Revoke certificate")).click()
    dialog = page.get_by_role("dialog", name=re.compile("^Revoke certificate"))
    dialog.get_by_label("Reason").select_option("superseded")
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text(re.compile(r"Certificate \S+ revoked\."))).to_be_visible()
    expect(issued.locator("tbody tr").filter(has_text=station201).first).to_contain_text("revoked")
    _a11y(page, "pki")

    # A vehicle's contract certificate presented at Authorize is listed (as text).
    emaid = "ZZAMPC0H6TEST1"
    _authorize_with_contract(secure, "SECPNC-1", emaid)
    page.goto("/#/security/contract-certificates")
    contracts = page.get_by_role("table", name="Contract certificates")
    row = contracts.locator("tbody tr").filter(has_text=emaid)
    expect(row).to_contain_text("presented at Authorize")
    expect(row).to_contain_text("SECPNC-1")
    expect(row.get_by_role("link", name=f"Id token {emaid}")).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)  # not ours to revoke
    expect(page.locator(".unavailable")).to_have_count(0)
    _a11y(page, "contract certificates")
    page.goto("/#/security/certificates")
    expect(
        page.get_by_role("table", name="Installed certificates of all stations")
    ).to_contain_text(station201)
    _a11y(page, "station certificates")


def test_viewer_sees_without_actions(secure: PkiServer, station201: str, viewer: Page) -> None:
    page = viewer
    page.goto(f"/#/stations/{station201}?tab=security")
    expect(page.get_by_role("heading", name="Security profile")).to_be_visible()
    expect(page.get_by_role("table", name="Installed certificates")).to_be_visible()
    for name in ("Rotate password…", "Upgrade profile…", "Read from the station", "Renew…"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Delete certificate"))).to_have_count(0)
    page.goto("/#/security/pki")
    expect(page.get_by_role("table", name="Certificate authorities")).to_be_visible()
    expect(page.get_by_role("table", name="Issued certificates")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)
    page.goto("/#/security/contract-certificates")
    expect(page.get_by_role("table", name="Contract certificates")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)

    # On a phone nothing scrolls sideways (wide tables scroll in their own box).
    page.set_viewport_size(ViewportSize(width=PHONE["width"], height=PHONE["height"]))
    station_page = {f"/#/stations/{station201}?tab=security": f"Station {station201}"}
    for path, heading in {**SECURITY_PAGES, **station_page}.items():
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator("main[aria-busy='true']")).to_have_count(0)
        expect(page.locator("table").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)


def test_admin_sets_the_required_profile(
    browser: Browser, secure: PkiServer, station201: str
) -> None:
    with signed_in(browser, secure, "admin", ADMIN_PASSWORD) as page:
        page.goto(f"/#/stations/{station201}?tab=security")
        configured = page.locator('dd[data-field="configured"]')
        expect(configured).to_contain_text("not set")
        page.get_by_role("button", name="Set the required profile…").click()
        dialog = page.get_by_role("dialog", name="Set the required security profile")
        dialog.get_by_label("Required profile").select_option("1")
        dialog.get_by_role("button", name="Save").click()
        expect(configured).to_have_text("1: HTTP Basic over plain WebSocket")
        assert secure.station(station201)["security_profile"] == 1
        _a11y(page, "security tab (admin)")
