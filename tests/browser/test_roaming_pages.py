"""The roaming pages of the dashboard (issue 20: OCPI 2.2.1), against TWO real servers.

One Ampyre is the CPO (NL/AMP, with simulated stations), the other the eMSP (DE/EMP, whose
business name is markup). Everything goes through the dashboard as an admin or operator
would do it, and what one server's pages show is what the other sent over OCPI:

- Partners: the CPO issues a token A on its "New partner" page; the eMSP's admin enters
  it with the CPO's versions URL and registers (A -> B -> C); both partner pages show
  REGISTERED, the other party's roles, its endpoints and the exchanges both ways (bodies
  on demand); credentials are updated from the dashboard. A partner that cannot be
  reached shows the failed registration, gets a new token A, and is deleted.
- Locations: a location is created, a simulated station assigned, a connector's OCPI
  attributes edited; the OCPI object shows them and the eMSP's "From partners" tab
  shows the location it was pushed.
- Tariffs: a tariff is built in the editor while the live preview prices a sample
  session (hand-computed totals, recomputed when a price changes); saved, shown in
  words, and received by the eMSP.
- Sessions and CDRs: the eMSP's driver charges at the CPO's simulated station: the
  roaming session and the priced CDR appear on both sides; the CDR page shows the cost
  breakdown and the charging periods; an operator credits it.
- Everything a partner or an operator typed is shown as text (markup in names, business
  details, tariff texts and exchange bodies creates no element and runs nothing); every
  page passes the accessibility checks of test_accessibility.py; a viewer is offered no
  action; the pages do not scroll sideways on a phone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser_harness import ADMIN_PASSWORD, AmpyreServer, free_port, wait_until
from browser_ui import PHONE, signed_in
from playwright.sync_api import Browser, Page, Route, expect
from test_accessibility import check_page

pytestmark = pytest.mark.browser

MARKUP = "<img src=x onerror=window.__xss=1>"
EMSP_NAME = f"eMSP {MARKUP}"  # the eMSP's business name: its Credentials carry it
PARTNER_NAME = "<b>Roaming</b> eMSP"  # how the CPO's admin calls the eMSP
LOCATION_NAME = "<i>Harbour</i> charging"
TARIFF_TEXT = "<script>window.__xss=2</script> parking free"
# Elements that only injected markup could have made (the app's own DOM has none).
INJECTED = "img[src='x'], svg[onload], iframe, b, i, script:not([type='module']), [onerror]"
VIEWER, VIEWER_PASSWORD = "roam-viewer", "roam-viewer-password-0123"
OPERATOR, OPERATOR_PASSWORD = "roam-operator", "roam-operator-password-0123"
ROAMING_TOKEN = "EMSP-RFID-0001"  # an id token of the eMSP: its driver charges at the CPO
SLOW_MS = 30_000  # OCPI round trips between the two servers (pushes retry every second)


@dataclass
class RoamingServer(AmpyreServer):
    """An Ampyre with its own OCPI party, quick pushes and token syncs."""

    country_code: str = "NL"
    party_id: str = "AMP"
    business_name: str = "Ampyre CPO"

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "AMPYRE_OCPI_COUNTRY_CODE": self.country_code,
            "AMPYRE_OCPI_PARTY_ID": self.party_id,
            "AMPYRE_OCPI_BUSINESS_NAME": self.business_name,
            "AMPYRE_OCPI_PUSH_BACKOFF": "1",
            "AMPYRE_OCPI_PUSH_POLL_INTERVAL": "0.5",
            "AMPYRE_OCPI_TOKEN_SYNC_INTERVAL": "1",
            "AMPYRE_OCPI_SESSION_UPDATE_INTERVAL": "2",
            "AMPYRE_TARIFF_CACHE_SECONDS": "0.5",
        }


@pytest.fixture(scope="module")
def cpo(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoamingServer]:
    srv = RoamingServer(tmp_path_factory.mktemp("ampyre-cpo"))
    try:
        srv.migrate()
        srv.start()
        srv.create_user(VIEWER, "viewer", VIEWER_PASSWORD)
        srv.create_user(OPERATOR, "operator", OPERATOR_PASSWORD)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def emsp(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoamingServer]:
    srv = RoamingServer(
        tmp_path_factory.mktemp("ampyre-emsp"),
        country_code="DE",
        party_id="EMP",
        business_name=EMSP_NAME,
    )
    try:
        srv.migrate()
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def cpo_admin(browser: Browser, cpo: RoamingServer) -> Iterator[Page]:
    with signed_in(browser, cpo, "admin", ADMIN_PASSWORD) as page:
        yield page


@pytest.fixture(scope="module")
def emsp_admin(browser: Browser, emsp: RoamingServer) -> Iterator[Page]:
    with signed_in(browser, emsp, "admin", ADMIN_PASSWORD) as page:
        yield page


@pytest.fixture(scope="module")
def cpo_operator(browser: Browser, cpo: RoamingServer) -> Iterator[Page]:
    with signed_in(browser, cpo, OPERATOR, OPERATOR_PASSWORD) as page:
        yield page


def _a11y(page: Page, where: str) -> None:
    """The checks of test_accessibility.py, and nothing injected, on the page shown."""
    check_page(page, where)
    _inert(page, where)


def _inert(page: Page, where: str) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", where
    injected = page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].map((e) => e.outerHTML)", INJECTED
    )
    assert injected == [], (where, injected)


def _main_nav(page: Page) -> Any:
    return page.get_by_role("navigation", name="Main")


def _partner(srv: AmpyreServer, name: str) -> dict[str, Any] | None:
    page = srv.call("GET", "/ocpi/partners", params={"limit": 500})
    return next((p for p in page["items"] if p["name"] == name), None)


@pytest.fixture(scope="module")
def registered(
    cpo: RoamingServer, emsp: RoamingServer, cpo_admin: Page, emsp_admin: Page
) -> dict[str, int]:
    """The credentials handshake through both dashboards: the CPO issues a token A, the
    eMSP registers with it. {"cpo": the eMSP's partner id at the CPO, "emsp": ...}."""
    page = cpo_admin
    page.goto("/#/")
    _main_nav(page).get_by_role("link", name="Roaming").click()
    expect(page.get_by_role("heading", name="Roaming partners", level=1)).to_be_visible()
    expect(_main_nav(page).get_by_role("link", name="Roaming")).to_have_attribute(
        "aria-current", "page"
    )
    identity = page.locator("section.card").filter(has_text="Our OCPI identity")
    expect(identity).to_contain_text("NL/AMP")
    expect(identity).to_contain_text(f"{cpo.url}/ocpi/versions")
    _a11y(page, "partners (empty)")

    page.get_by_role("link", name="New partner").click()
    expect(page.get_by_role("heading", name="New roaming partner", level=1)).to_be_visible()
    _a11y(page, "new partner")
    page.get_by_label("Name", exact=True).fill(PARTNER_NAME)
    page.get_by_label("They register with us").check()
    expect(page.get_by_label("Their token A")).to_be_hidden()
    page.get_by_role("button", name="Create partner").click()
    secret = page.get_by_label("Token A for them", exact=True)
    expect(secret).to_be_visible()
    token_a = secret.input_value()
    assert len(token_a) >= 16
    expect(page.locator("main")).to_contain_text("shown only this once")
    expect(page.locator("main")).to_contain_text(f"{cpo.url}/ocpi/versions")
    _inert(page, "token A shown")
    page.get_by_role("link", name=re.compile("^Go to ")).click()
    expect(page.get_by_role("heading", name=PARTNER_NAME, level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("PENDING")
    _a11y(page, "pending partner")

    # The eMSP's admin enters the CPO's versions URL and token A: "Register now".
    other = emsp_admin
    other.goto("/#/roaming/partners/new")
    other.get_by_label("Name", exact=True).fill("CPO Ampyre")
    other.get_by_label("Their versions URL").fill(f"{cpo.url}/ocpi/versions")
    other.get_by_label("Their token A").fill(token_a)
    expect(other.get_by_label("Register now")).to_be_checked()
    other.get_by_role("button", name="Create partner").click()
    expect(other.get_by_role("heading", name="CPO Ampyre", level=1)).to_be_visible(timeout=SLOW_MS)
    handshake = other.locator("section.card").filter(
        has=other.get_by_role("heading", name="Handshake")
    )
    expect(handshake).to_contain_text("REGISTERED", timeout=SLOW_MS)
    expect(handshake).to_contain_text("2.2.1")
    parties = other.get_by_role("table", name="Parties of this partner")
    expect(parties).to_contain_text("NL/AMP")
    expect(parties).to_contain_text("CPO")
    endpoints = other.get_by_role("table", name="Endpoints of this partner")
    for module in ("credentials", "locations", "tariffs", "sessions", "cdrs"):
        expect(endpoints).to_contain_text(module)
    exchanges = other.get_by_role("table", name=re.compile("^Last OCPI exchanges"))
    expect(exchanges).to_contain_text("→ to them")
    expect(exchanges).to_contain_text("/ocpi/versions")
    expect(exchanges).to_contain_text("HTTP 200")
    _a11y(other, "registered partner (eMSP side)")

    cpo_id = _partner(cpo, PARTNER_NAME)
    emsp_id = _partner(emsp, "CPO Ampyre")
    assert cpo_id is not None and emsp_id is not None
    return {"cpo": int(cpo_id["id"]), "emsp": int(emsp_id["id"])}


def test_the_handshake_both_ways_and_the_partner_pages(
    cpo: RoamingServer, registered: dict[str, int], cpo_admin: Page
) -> None:
    page = cpo_admin
    page.goto("/#/roaming")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=PARTNER_NAME))
    expect(row).to_contain_text("REGISTERED", timeout=SLOW_MS)
    expect(row).to_contain_text("EMSP DE/EMP")
    expect(row).to_contain_text("2.2.1")
    _a11y(page, "partners")

    row.get_by_role("link", name=PARTNER_NAME).click()
    expect(page.get_by_role("heading", name=PARTNER_NAME, level=1)).to_be_visible()
    parties = page.get_by_role("table", name="Parties of this partner")
    expect(parties).to_contain_text("DE/EMP")
    expect(parties).to_contain_text(EMSP_NAME)  # their business name, as text
    exchanges = page.get_by_role("table", name=re.compile("^Last OCPI exchanges"))
    expect(exchanges).to_contain_text("← from them")  # their credentials POST
    expect(exchanges).to_contain_text("/ocpi/2.2.1/credentials")
    # The bodies, on demand: their Credentials carry the markup business name, as text.
    credentials_row = (
        exchanges.locator("tbody tr")
        .filter(has_text="← from them")
        .filter(has_text="/ocpi/2.2.1/credentials")
        .first
    )
    credentials_row.get_by_text("Bodies").click()
    expect(credentials_row.locator("pre").first).to_contain_text("business_details")
    _a11y(page, "registered partner (CPO side)")

    # Update the credentials: a new token for them, their endpoints again.
    before = _partner(cpo, PARTNER_NAME)
    assert before is not None
    page.get_by_role("button", name="Update credentials").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("new token")
    dialog.get_by_role("button", name="Update credentials").click()
    expect(page.locator(".toast").filter(has_text="Credentials updated.")).to_be_visible(
        timeout=SLOW_MS
    )
    expect(exchanges).to_contain_text("→ to them")  # our PUT toward them
    expect(
        page.locator("section.card").filter(has=page.get_by_role("heading", name="Handshake"))
    ).to_contain_text("REGISTERED")
    after = _partner(cpo, PARTNER_NAME)
    assert after is not None and after["status"] == "REGISTERED"


def test_a_partner_that_cannot_be_reached(cpo: RoamingServer, cpo_admin: Page) -> None:
    page = cpo_admin
    page.goto("/#/roaming/partners/new")
    page.get_by_label("Name", exact=True).fill("Nobody home")
    page.get_by_label("Their versions URL").fill(f"http://127.0.0.1:{free_port()}/ocpi/versions")
    page.get_by_label("Their token A").fill("their-token-a-0123")
    page.get_by_role("button", name="Create partner").click()
    expect(page.get_by_role("heading", name="Nobody home", level=1)).to_be_visible(timeout=SLOW_MS)
    expect(page.locator(".toast-error")).to_contain_text("registration failed", timeout=SLOW_MS)
    handshake = page.locator("section.card").filter(
        has=page.get_by_role("heading", name="Handshake")
    )
    expect(handshake).to_contain_text("PENDING")
    expect(handshake.get_by_role("alert")).to_contain_text("Last error")
    expect(page.get_by_role("button", name="Register")).to_be_visible()
    _a11y(page, "unreachable partner")

    # A new token A (for them to register with us instead), shown once.
    page.get_by_role("button", name="New token A").click()
    secret = page.get_by_label("New token A", exact=True)
    expect(secret).to_be_visible()
    assert len(secret.input_value()) >= 16

    # Delete it: gone from the list.
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Roaming partners", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Nobody home")).to_have_count(0)
    assert _partner(cpo, "Nobody home") is None


# ---------------------------------------------------------------------- locations


@pytest.fixture(scope="module")
def loc_station(cpo: RoamingServer) -> Iterator[str]:
    """A simulated 1.6 station of the CPO, idle."""
    sim = cpo.simulate("RLOC-", 1, sessions=False)
    cpo.wait_connected(sim.station_ids)
    try:
        yield sim.station_ids[0]
    finally:
        sim.stop()


def test_a_location_with_a_station_and_edited_connectors(
    cpo: RoamingServer,
    emsp: RoamingServer,
    registered: dict[str, int],
    loc_station: str,
    cpo_operator: Page,
    emsp_admin: Page,
) -> None:
    page = cpo_operator
    page.goto("/#/roaming")
    page.get_by_role("navigation", name="Roaming pages").get_by_role(
        "link", name="Locations"
    ).click()
    expect(page.get_by_role("heading", name="Locations", level=1)).to_be_visible()
    _a11y(page, "locations")
    page.get_by_role("link", name="New location").click()
    expect(page.get_by_role("heading", name="New location", level=1)).to_be_visible()
    _a11y(page, "new location")
    page.get_by_label("Name", exact=True).fill(LOCATION_NAME)
    page.get_by_label("Address").fill("Harbour Street 1")
    page.get_by_label("City").fill("Rotterdam")
    page.get_by_label("Postal code").fill("3011 AA")
    page.get_by_label("Country").fill("NLD")
    page.get_by_label("Latitude").fill("51.905000")
    page.get_by_label("Longitude").fill("4.466000")
    page.get_by_label("Time zone").fill("Europe/Amsterdam")
    page.get_by_label("Parking type").select_option("PARKING_LOT")
    page.get_by_role("group", name="Facilities").get_by_label("CAFE").check()
    page.get_by_role("button", name="Create location").click()
    expect(page.get_by_role("heading", name=LOCATION_NAME, level=1)).to_be_visible()
    info = page.locator("section.card").filter(
        has=page.get_by_role("heading", name="Location", exact=True)
    )
    expect(info).to_contain_text("Harbour Street 1")
    expect(info).to_contain_text("51.905000, 4.466000")
    expect(info).to_contain_text("CAFE")

    # Assign the station: its EVSEs appear with their live status.
    page.get_by_label("Station", exact=True).fill(loc_station)
    page.get_by_role("button", name="Assign").click()
    stations = page.locator("section.card").filter(has=page.get_by_role("heading", name="Stations"))
    expect(stations.get_by_role("link", name=loc_station)).to_be_visible()
    evses = page.get_by_role("table", name="EVSEs of this location")
    uid = f"{loc_station}*1"
    row = evses.locator("tbody tr").filter(has_text=uid).first
    expect(row).to_contain_text("AVAILABLE", timeout=SLOW_MS)
    expect(row).to_contain_text("IEC_62196_T2 SOCKET AC_3_PHASE")  # the defaults
    _a11y(page, "location")

    # Describe connector 1 as a DC cable (a dialog of the connector's OCPI attributes).
    row.get_by_role("button", name=f"Edit connector 1 of {uid}").click()
    dialog = page.get_by_role("dialog", name=f"Connector 1 of {uid}")
    dialog.get_by_label("Standard").select_option("CHADEMO")
    dialog.get_by_label("Format").select_option("CABLE")
    dialog.get_by_label("Power type").select_option("DC")
    dialog.get_by_label("Max voltage (V)").fill("500")
    dialog.get_by_label("Max amperage (A)").fill("125")
    _a11y(page, "connector dialog")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(row).to_contain_text("CHADEMO CABLE DC · 500 V, 125 A")
    expect(row).to_contain_text("(edited)")
    partners_view = page.locator("section.card").filter(
        has=page.get_by_role("heading", name="As partners see it")
    )
    partners_view.get_by_text("The OCPI Location object").click()
    expect(partners_view.locator("pre")).to_contain_text('"CHADEMO"')
    expect(partners_view.locator("pre")).to_contain_text(uid)
    _inert(page, "location OCPI object")

    # The EVSE's own attributes: a physical reference and a capability.
    row.get_by_role("button", name=f"Edit EVSE {uid}").click()
    dialog = page.get_by_role("dialog", name=f"EVSE {uid}")
    dialog.get_by_label("Physical reference").fill("Bay 7")
    dialog.get_by_role("group", name="Capabilities").get_by_label("RESERVABLE").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(row.locator("td").first).to_contain_text("(edited)")
    expect(partners_view.locator("pre")).to_contain_text('"physical_reference": "Bay 7"')
    expect(partners_view.locator("pre")).to_contain_text('"RESERVABLE"')

    # Connector 2 described and reset: back to the defaults (AMPYRE_OCPI_CONNECTOR_*).
    row2 = evses.locator("tbody tr").filter(has_text=f"{loc_station}*2").first
    row2.get_by_role("button", name=f"Edit connector 2 of {loc_station}*2").click()
    dialog = page.get_by_role("dialog", name=f"Connector 2 of {loc_station}*2")
    dialog.get_by_label("Standard").select_option("IEC_62196_T2_COMBO")
    dialog.get_by_role("button", name="Save").click()
    expect(row2).to_contain_text("IEC_62196_T2_COMBO")
    row2.get_by_role("button", name=f"Reset connector 2 of {loc_station}*2").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    expect(row2).to_contain_text("IEC_62196_T2 SOCKET AC_3_PHASE")
    expect(row2).not_to_contain_text("(edited)")

    # The location's own fields: Edit.
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name=f"Edit {LOCATION_NAME}", level=1)).to_be_visible()
    _a11y(page, "edit location")
    page.get_by_label("City").fill("Rotterdam Zuid")
    page.get_by_role("button", name="Save location").click()
    expect(page.get_by_role("heading", name=LOCATION_NAME, level=1)).to_be_visible()
    expect(info).to_contain_text("Rotterdam Zuid")
    expect(info).to_contain_text("CAFE")  # kept: the PUT sends every field back

    # The eMSP got it pushed: its "From partners" tab, as text.
    def arrived() -> bool:
        items = emsp.call("GET", "/ocpi/received/locations")["items"]
        return any(i["name"] == LOCATION_NAME and i["city"] == "Rotterdam Zuid" for i in items)

    wait_until(arrived, SLOW_MS / 1000, "the location at the eMSP", step=0.5)
    other = emsp_admin
    other.goto("/#/roaming/locations?view=received")
    expect(other.get_by_role("heading", name="Locations", level=1)).to_be_visible()
    received = other.get_by_role("row").filter(has_text=LOCATION_NAME)
    expect(received).to_contain_text("Rotterdam Zuid")
    expect(received).to_contain_text("NL/AMP")
    expect(received.get_by_role("link", name="CPO Ampyre")).to_be_visible()
    received.get_by_text("OCPI object").click()
    expect(received.locator("pre")).to_contain_text(uid)
    _a11y(other, "received locations")


# ---------------------------------------------------------------------- tariffs


def _preview_total(page: Page) -> Any:
    return page.locator(".preview-total")


def test_a_tariff_built_with_a_live_price_preview(
    cpo: RoamingServer,
    emsp: RoamingServer,
    registered: dict[str, int],
    cpo_operator: Page,
    emsp_admin: Page,
) -> None:
    page = cpo_operator
    page.goto("/#/roaming/tariffs")
    expect(page.get_by_role("heading", name="Tariffs", level=1)).to_be_visible()
    _a11y(page, "tariffs")
    page.get_by_role("link", name="New tariff").click()
    expect(page.get_by_role("heading", name="New tariff", level=1)).to_be_visible()
    page.get_by_label("Tariff id").fill("STD-1")
    expect(page.get_by_label("Currency")).to_have_value("EUR")

    # Element 1: energy 0.25/kWh and charging time 2.00/h, 21 % VAT each.
    c1 = "component 1 of element 1"
    page.get_by_label(f"Type of {c1}").select_option("ENERGY")
    page.get_by_label(f"Price of {c1} (excl. VAT)").fill("0.25")
    page.get_by_label(f"VAT of {c1} (%)").fill("21")
    page.get_by_role("button", name="Add a price component to element 1").click()
    c2 = "component 2 of element 1"
    page.get_by_label(f"Type of {c2}").select_option("TIME")
    page.get_by_label(f"Price of {c2} (excl. VAT)").fill("2")
    page.get_by_label(f"VAT of {c2} (%)").fill("21")

    # The sample session: 90 min charging 20 kWh, 30 min parked (no parking price):
    # energy 20 x 0.25 = 5.00 (6.05 incl.), time 1.5 h x 2.00 = 3.00 (3.63 incl.).
    expect(page.get_by_label("Charging (min)")).to_have_value("90")
    expect(page.get_by_label("Parked after (min)")).to_have_value("30")
    expect(page.get_by_label("Energy (kWh)", exact=True)).to_have_value("20")
    total = _preview_total(page)
    expect(total).to_contain_text("9.68")
    breakdown = page.locator("dl.cost-breakdown")
    expect(breakdown).to_contain_text("8.00")  # excl. VAT
    expect(breakdown.locator("dt:text-is('Energy') + dd")).to_contain_text("6.05")
    expect(breakdown.locator("dt:text-is('Charging time') + dd")).to_contain_text("3.63")
    periods = page.get_by_role("table", name="Charging periods of the sample session")
    expect(periods).to_contain_text("energy 20 kWh")

    # A new price: the preview follows (6.00 + 3.00 = 9.00, 10.89 incl.).
    page.get_by_label(f"Price of {c1} (excl. VAT)").fill("0.30")
    expect(total).to_contain_text("10.89")

    # Element 2: a start fee of 1.00 on one weekday only. Not the session's day: no fee.
    page.get_by_role("button", name="Add element").click()
    e2 = "component 1 of element 2"
    page.get_by_label(f"Type of {e2}").select_option("FLAT")
    page.get_by_label(f"Price of {e2} (excl. VAT)").fill("1")
    page.get_by_label(f"VAT of {e2} (%)").fill("21")
    expect(total).to_contain_text("12.10")  # 10.89 + 1.21
    start = page.get_by_label("Session start").input_value()  # local "YYYY-MM-DDTHH:MM"
    weekday = page.evaluate("(v) => new Date(v).getDay()", start)  # 0 = Sunday
    days = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]
    session_day, other_day = days[weekday], days[(weekday + 3) % 7]
    restrictions = page.locator("details.tariff-restrictions").filter(
        has_text="Restrictions of element 2"
    )
    restrictions.get_by_text("Restrictions of element 2").click()
    week = restrictions.get_by_role("group", name="Days of the week (none: every day)")
    week.get_by_label(other_day.capitalize()).check()
    expect(total).to_contain_text("10.89")
    week.get_by_label(session_day.capitalize()).check()
    expect(total).to_contain_text("12.10")
    expect(breakdown.locator("dt:text-is('Fixed (start fee)') + dd")).to_contain_text("1.21")

    # Order matters: element 2 moves up (and the fee is still billed: another dimension).
    page.get_by_role("button", name="Move element 2 up").click()
    expect(page.get_by_label("Type of component 1 of element 1")).to_have_value("FLAT")
    expect(total).to_contain_text("12.10")

    # A text for drivers (markup stays text), then save.
    page.get_by_text("Price limits and texts").click()
    page.get_by_label("Alternative text").fill(TARIFF_TEXT)
    page.get_by_label("The default tariff").check()
    _a11y(page, "tariff editor")
    page.get_by_role("button", name="Create tariff").click()
    expect(page.get_by_role("heading", name="Tariff STD-1", level=1)).to_be_visible()
    elements = page.locator("ol.tariff-elements")
    expect(elements.locator("li").nth(0)).to_contain_text("per session")
    expect(elements.locator("li").nth(0)).to_contain_text(session_day.capitalize()[:3])
    expect(elements.locator("li").nth(1)).to_contain_text("0.30/kWh (21 % VAT)")
    expect(page.locator("main")).to_contain_text(TARIFF_TEXT)
    expect(_preview_total(page)).to_contain_text("12.10")  # the saved tariff, by id
    _a11y(page, "tariff page")

    # The list: the default tariff, in words.
    page.locator("p.crumbs").get_by_role("link", name="Tariffs").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="STD-1"))
    expect(row).to_contain_text("default")
    expect(row).to_contain_text("0.30/kWh")

    # Edit: the editor opens with what was saved; the id cannot change.
    page.goto("/#/roaming/tariffs/STD-1/edit")
    expect(page.get_by_role("heading", name="Edit tariff STD-1", level=1)).to_be_visible()
    expect(page.get_by_label("Tariff id")).to_have_attribute("readonly", "")
    expect(page.get_by_label("Price of component 1 of element 2 (excl. VAT)")).to_have_value("0.3")
    expect(_preview_total(page)).to_contain_text("12.10")
    page.get_by_label("Price of component 1 of element 2 (excl. VAT)").fill("0.35")
    expect(_preview_total(page)).to_contain_text("13.31")  # 8.47 + 3.63 + 1.21
    page.get_by_role("button", name="Save tariff").click()
    expect(page.get_by_role("heading", name="Tariff STD-1", level=1)).to_be_visible()
    expect(page.locator("ol.tariff-elements")).to_contain_text("0.35/kWh")

    # The eMSP got the tariff: "From partners", its text as text.
    def arrived() -> bool:
        items = emsp.call("GET", "/ocpi/received/tariffs")["items"]
        return any(
            i["tariff"]["id"] == "STD-1" and "0.35" in str(i["tariff"]["elements"]) for i in items
        )

    wait_until(arrived, SLOW_MS / 1000, "the tariff at the eMSP", step=0.5)
    other = emsp_admin
    other.goto("/#/roaming/tariffs?view=received")
    received = other.get_by_role("row").filter(has_text="STD-1")
    expect(received).to_contain_text("0.35/kWh")
    received.get_by_text("OCPI object").click()
    expect(received.locator("pre")).to_contain_text(TARIFF_TEXT)
    _a11y(other, "received tariffs")


# ---------------------------------------------------------------------- sessions, CDRs

ROAMING_TOKEN_2 = "EMSP-RFID-0002"


def _amount(value: float) -> str:
    """A number as the pages show money: 2 to 4 decimals (en-US digits)."""
    text = f"{float(value):.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{int(whole):,}.{frac.ljust(2, '0')}"


@pytest.fixture(scope="module")
def roaming_cdr(
    cpo: RoamingServer, emsp: RoamingServer, registered: dict[str, int]
) -> Iterator[dict[str, Any]]:
    """The eMSP's drivers charge at a simulated CPO station priced by a tariff of its own:
    the first CDR the CPO made (REST: the set-up is not what these tests look at)."""
    emsp.create_id_tokens(ROAMING_TOKEN, ROAMING_TOKEN_2)

    def pushed() -> bool:
        items = cpo.call("GET", "/ocpi/received/tokens", params={"limit": 500})["items"]
        uids = {i["token"]["uid"] for i in items}
        return {ROAMING_TOKEN, ROAMING_TOKEN_2} <= uids

    wait_until(pushed, SLOW_MS / 1000, "the eMSP's tokens at the CPO", step=0.5)
    tariff = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.4, "vat": 21, "step_size": 1},
                    {"type": "TIME", "price": 1.2, "vat": 21, "step_size": 60},
                ]
            }
        ],
        "station_ids": ["RSES-00001"],
    }
    cpo.call("PUT", "/tariffs/ROAM-1", 201, json=tariff)
    sim = cpo.simulate(
        "RSES-",
        1,
        id_tokens=(ROAMING_TOKEN, ROAMING_TOKEN_2),
        meter_interval=2,
        session_duration=12,
        idle_time=3,
    )
    found: list[dict[str, Any]] = []

    def made() -> bool:
        found[:] = [
            c
            for c in cpo.call("GET", "/cdrs", params={"credit": "false"})["items"]
            if c["token_uid"] in (ROAMING_TOKEN, ROAMING_TOKEN_2)
        ]
        return bool(found)

    try:
        wait_until(made, 90, "a CDR of a roaming session", step=1.0)
        yield found[-1]  # the oldest (newest first)
    finally:
        sim.stop()


def test_roaming_sessions_and_a_priced_cdr_credited(
    cpo: RoamingServer,
    emsp: RoamingServer,
    roaming_cdr: dict[str, Any],
    cpo_operator: Page,
    emsp_admin: Page,
) -> None:
    page = cpo_operator
    cdr = roaming_cdr
    uid = cdr["token_uid"]
    assert cdr["partner_id"] is not None and float(cdr["total_cost"]["excl_vat"]) > 0

    # The CPO's roaming sessions: this one, at our station, sent to the eMSP.
    page.goto("/#/roaming/sessions")
    expect(page.get_by_role("heading", name="Roaming sessions", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=uid).filter(has_text="COMPLETED").first
    expect(row).to_contain_text("their driver, our station")
    expect(row.get_by_role("link", name=PARTNER_NAME)).to_be_visible()
    expect(row).to_contain_text("DE/EMP")
    _a11y(page, "roaming sessions")
    page.get_by_label("Status").select_option("COMPLETED")
    expect(page.get_by_role("row").filter(has_text="ACTIVE")).to_have_count(0)
    row.get_by_role("link").first.click()
    expect(
        page.get_by_role("heading", name=re.compile("^Roaming session "), level=1)
    ).to_be_visible()
    cost = page.locator("section.card").filter(has=page.get_by_role("heading", name="Cost"))
    expect(cost).to_contain_text("Total")
    expect(cost).to_contain_text("incl. VAT")
    expect(page.get_by_role("table", name="Charging periods")).to_contain_text("energy")
    _a11y(page, "roaming session")

    # The CDR: who, where, the cost per dimension, the periods, the tariff it was priced with.
    page.goto("/#/roaming/cdrs")
    expect(page.get_by_role("heading", name="CDRs", level=1)).to_be_visible()
    _a11y(page, "CDRs")
    link = page.get_by_role("link", name=cdr["cdr_id"], exact=True)
    cdr_row = page.get_by_role("row").filter(has=link)
    expect(cdr_row.get_by_role("link", name=PARTNER_NAME)).to_be_visible()
    expect(cdr_row).to_contain_text(uid)
    link.click()
    expect(page.get_by_role("heading", name=f"CDR {cdr['cdr_id']}", level=1)).to_be_visible()
    session = page.locator("section.card").filter(has=page.get_by_role("heading", name="Session"))
    expect(session).to_contain_text(uid)
    expect(session).to_contain_text("RSES-00001")  # the EVSE uid in the CDR location
    breakdown = page.locator("dl.cost-breakdown")
    total = _amount(cdr["total_cost"]["excl_vat"])
    expect(breakdown.locator("dt:text-is('Total') + dd")).to_contain_text(total)
    expect(breakdown.locator("dt:text-is('Energy') + dd")).to_contain_text("kWh")
    expect(breakdown.locator("dt:text-is('Charging time') + dd")).to_contain_text("min")
    periods = page.get_by_role("table", name="Charging periods")
    expect(periods.locator("tbody tr").first).to_contain_text("ROAM-1")
    expect(periods.locator("tbody tr").first).to_contain_text("energy")
    used = page.locator("section.card").filter(has=page.get_by_role("heading", name="Tariffs used"))
    expect(used).to_contain_text("ROAM-1")
    expect(used).to_contain_text("0.40/kWh (21 % VAT)")
    _a11y(page, "CDR")

    # Credit it (the reason is markup: shown as text), and re-issue it.
    page.get_by_role("button", name="Credit").click()
    dialog = page.get_by_role("dialog", name=f"Credit CDR {cdr['cdr_id']}?")
    dialog.get_by_label("Reason").fill(MARKUP)
    dialog.get_by_label("Issue a new CDR").check()
    _a11y(page, "credit dialog")
    dialog.get_by_role("button", name="Credit").click()
    expect(page.get_by_role("heading", name=f"CDR {cdr['cdr_id']}-C", level=1)).to_be_visible()
    expect(page.locator("main .badge").filter(has_text="credit")).to_be_visible()
    expect(session).to_contain_text(MARKUP)  # the remark
    expect(breakdown.locator("dt:text-is('Total') + dd")).to_contain_text(
        re.compile(rf"-\D?{re.escape(total)}")
    )
    expect(page.get_by_role("button", name="Credit")).to_have_count(0)  # a credit CDR is final
    _a11y(page, "credit CDR")
    page.goto("/#/roaming/cdrs")
    original = page.get_by_role("row").filter(
        has=page.get_by_role("link", name=cdr["cdr_id"], exact=True)
    )
    expect(original).to_contain_text("credited")
    page.get_by_label("Show").select_option("true")
    expect(page.get_by_role("link", name=f"{cdr['cdr_id']}-C")).to_be_visible()
    expect(page.get_by_role("link", name=cdr["cdr_id"], exact=True)).to_have_count(0)

    # The eMSP's side: our driver's session elsewhere, and the CDR it received.
    def received() -> bool:
        items = emsp.call("GET", "/ocpi/received/cdrs")["items"]
        return any(c["cdr_id"] == cdr["cdr_id"] for c in items)

    wait_until(received, SLOW_MS / 1000, "the CDR at the eMSP", step=0.5)
    other = emsp_admin
    other.goto("/#/roaming/sessions")
    theirs = other.get_by_role("row").filter(has_text=uid).first
    expect(theirs).to_contain_text("our driver, their station")
    expect(theirs.get_by_role("link", name="CPO Ampyre")).to_be_visible()
    other.goto("/#/roaming/cdrs?view=received")
    link = other.get_by_role("link", name=cdr["cdr_id"], exact=True)
    expect(link).to_be_visible()
    _a11y(other, "received CDRs")
    link.click()
    expect(other.get_by_role("heading", name=f"CDR {cdr['cdr_id']}", level=1)).to_be_visible()
    expect(other.locator("dl.cost-breakdown")).to_contain_text(total)
    expect(other.get_by_role("button", name="Credit")).to_have_count(0)  # not ours to credit
    _a11y(other, "received CDR")


# ---------------------------------------------------------------------- push queue


def _fulfil_json(route: Route, body: Any, status: int = 200) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def test_the_push_queue_shows_failed_updates_and_retries_them(
    cpo: RoamingServer, registered: dict[str, int], cpo_operator: Page
) -> None:
    """A failed push is hard to make on purpose between two healthy servers: the queue's
    answer is replaced in the browser (the shape of GET /ocpi/push-queue), and the retry
    and drop requests are checked as the page sends them."""
    page = cpo_operator
    partner_id = registered["cpo"]
    failed = {
        "id": 77,
        "partner_id": partner_id,
        "method": "PUT",
        "url": "http://127.0.0.1:9/ocpi/emsp/2.2.1/tariffs/NL/AMP/T1",
        "object_key": "tariff:T1",
        "status": "failed",
        "attempts": 10,
        "next_attempt_at": "2030-01-01T00:00:00Z",
        "last_http_status": 400,
        "last_status_code": 2001,
        "last_error": f"refused: {MARKUP}",
        "created_at": "2030-01-01T00:00:00Z",
        "body": {"id": "T1", "note": MARKUP},
    }
    sent: list[tuple[str, str]] = []

    def queue(route: Route) -> None:
        request = route.request
        if request.method == "GET":
            _fulfil_json(route, {"items": [failed], "total": 1, "limit": 25, "offset": 0})
            return
        sent.append((request.method, request.url.split("/api/v1", 1)[1]))
        if request.method == "DELETE":
            route.fulfill(status=204)
        else:
            _fulfil_json(route, {**failed, "status": "pending", "attempts": 0})

    page.route("**/api/v1/ocpi/push-queue**", queue)
    try:
        page.goto("/#/roaming/push-queue")
        expect(page.get_by_role("heading", name="OCPI push queue", level=1)).to_be_visible()
        row = page.get_by_role("row").filter(has_text="tariff:T1")
        expect(row).to_contain_text("failed")
        expect(row).to_contain_text("given up")
        expect(row).to_contain_text("HTTP 400 · OCPI 2001")
        expect(row).to_contain_text(MARKUP)
        expect(row.get_by_role("link", name=PARTNER_NAME)).to_be_visible()
        row.get_by_text("Show").click()
        expect(row.locator("pre")).to_contain_text(MARKUP)
        _a11y(page, "push queue")
        row.get_by_role("button", name="Retry update 77").click()
        expect(page.locator(".toast").filter(has_text="Queued again.")).to_be_visible()
        row.get_by_role("button", name="Drop update 77").click()
        page.get_by_role("dialog").get_by_role("button", name="Drop").click()
        expect(page.locator(".toast").filter(has_text="Dropped.")).to_be_visible()
        assert sent == [("POST", "/ocpi/push-queue/77/retry"), ("DELETE", "/ocpi/push-queue/77")]
        # The partner's page shows its own queue (the filter goes with the request).
        page.goto(f"/#/roaming/partners/{partner_id}")
        queue_card = page.locator("section.card").filter(
            has=page.get_by_role("heading", name="Push queue")
        )
        expect(queue_card).to_contain_text("tariff:T1")
    finally:
        page.unroute("**/api/v1/ocpi/push-queue**")


def test_a_server_without_the_roaming_api_says_so(cpo_operator: Page) -> None:
    page = cpo_operator

    def missing(route: Route) -> None:
        path = route.request.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        _fulfil_json(
            route, {"title": "Not Found", "status": 404, "detail": f"no resource at /{path}"}, 404
        )

    patterns = ("**/api/v1/tariffs*", "**/api/v1/cdrs*", "**/api/v1/ocpi/sessions*")
    for pattern in patterns:
        page.route(pattern, missing)
    try:
        for path, heading in (
            ("/#/roaming/tariffs", "Tariffs"),
            ("/#/roaming/cdrs", "CDRs"),
            ("/#/roaming/sessions", "Roaming sessions"),
        ):
            page.goto(path)
            expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
            expect(page.locator(".unavailable")).to_contain_text("Not available")
    finally:
        for pattern in patterns:
            page.unroute(pattern)


# ---------------------------------------------------------------------- roles, phone


def test_a_viewer_sees_the_roaming_pages_without_any_action(
    browser: Browser, cpo: RoamingServer, registered: dict[str, int]
) -> None:
    cpo.call(
        "PUT",
        "/tariffs/VIEW-1",
        json={
            "currency": "EUR",
            "elements": [{"price_components": [{"type": "FLAT", "price": 2.5, "step_size": 1}]}],
        },
        expect=201,
    )
    with signed_in(browser, cpo, VIEWER, VIEWER_PASSWORD) as page:
        page.goto("/#/roaming")
        expect(page.get_by_role("link", name=PARTNER_NAME)).to_be_visible()
        expect(page.get_by_role("link", name="New partner")).to_have_count(0)
        page.get_by_role("link", name=PARTNER_NAME).click()
        expect(page.get_by_role("heading", name=PARTNER_NAME, level=1)).to_be_visible()
        expect(page.locator(".page-header button")).to_have_count(0)
        _a11y(page, "partner as a viewer")
        page.goto("/#/roaming/tariffs/VIEW-1")
        expect(page.get_by_role("heading", name="Tariff VIEW-1", level=1)).to_be_visible()
        expect(_preview_total(page)).to_contain_text("2.50")  # previews are for viewers too
        expect(page.get_by_role("link", name="Edit")).to_have_count(0)
        expect(page.get_by_role("button", name="Delete")).to_have_count(0)
        page.goto("/#/roaming/tariffs")
        expect(page.get_by_role("link", name="New tariff")).to_have_count(0)
        page.goto("/#/roaming/locations")
        expect(page.get_by_role("link", name="New location")).to_have_count(0)
        for path, role in (
            ("/#/roaming/tariffs/new", "operator"),
            ("/#/roaming/partners/new", "admin"),
        ):
            page.goto(path)
            expect(page.get_by_role("alert")).to_contain_text(f"needs the {role} role")


def test_the_roaming_pages_on_a_phone(
    browser: Browser, cpo: RoamingServer, registered: dict[str, int]
) -> None:
    with signed_in(
        browser, cpo, OPERATOR, OPERATOR_PASSWORD, viewport=PHONE, has_touch=True, is_mobile=True
    ) as page:
        for path, heading in (
            ("/#/roaming", "Roaming partners"),
            (f"/#/roaming/partners/{registered['cpo']}", PARTNER_NAME),
            ("/#/roaming/tariffs/new", "New tariff"),
            ("/#/roaming/locations/new", "New location"),
            ("/#/roaming/cdrs", "CDRs"),
        ):
            page.goto(path)
            expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
            expect(page.locator("main[aria-busy='true']")).to_have_count(0)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} scrolls sideways ({width} px)"


def test_unregister_a_registered_partner(
    browser: Browser, cpo: RoamingServer, cpo_admin: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A third Ampyre (its own party, so that the module's eMSP is not disturbed) registers
    with the CPO; the CPO's admin unregisters it from its page: it is told (credentials
    DELETE) and gone from the CPO's list."""
    other = RoamingServer(
        tmp_path_factory.mktemp("ampyre-emsp2"), country_code="BE", party_id="EM2"
    )
    try:
        other.migrate()
        other.start()
        made = cpo.call("POST", "/ocpi/partners", 201, json={"name": "Short-lived eMSP"})
        theirs = other.call(
            "POST",
            "/ocpi/partners",
            201,
            json={
                "name": "CPO",
                "versions_url": f"{cpo.url}/ocpi/versions",
                "token": made["token_a"],
            },
        )
        other.call("POST", f"/ocpi/partners/{theirs['id']}/register")
        page = cpo_admin
        page.goto(f"/#/roaming/partners/{made['id']}")
        expect(page.get_by_role("heading", name="Short-lived eMSP", level=1)).to_be_visible()
        handshake = page.locator("section.card").filter(
            has=page.get_by_role("heading", name="Handshake")
        )
        expect(handshake).to_contain_text("REGISTERED")
        expect(page.get_by_role("button", name="New token A")).to_have_count(0)  # registered
        page.get_by_role("button", name="Unregister").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("tells them first")
        dialog.get_by_role("button", name="Unregister and delete").click()
        expect(page.get_by_role("heading", name="Roaming partners", level=1)).to_be_visible()
        expect(page.get_by_role("link", name="Short-lived eMSP")).to_have_count(0)
        assert _partner(cpo, "Short-lived eMSP") is None
        assert other.call("GET", f"/ocpi/partners/{theirs['id']}")["status"] == "UNREGISTERED"
    finally:
        other.stop()
