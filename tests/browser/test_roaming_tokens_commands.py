"""The roaming tokens and OCPI commands pages of the dashboard (issue 20: OCPI 2.2.1
mod_tokens, mod_commands), against TWO real servers registered with each other.

One Ampyre is the CPO (NL/AMP) with a hand-rolled OCPP 1.6 station in a location, the
other the eMSP (DE/EMP) whose tokens are published with whitelist NEVER (so the CPO asks
it in real time). What one server's pages show is what the other sent over OCPI:

- Tokens: the eMSP's operator publishes a new id token with "Sync now" (its POST and the
  count in a toast); the CPO's received tokens list it (filters, detail with the OCPI
  object) and its admin pulls the eMSP's list again ("Pull tokens…"; a 502 is stubbed).
- Authorizations: the station asks the CPO about the eMSP's token; the CPO asks the eMSP
  in real time; both authorization lists show it.
- Commands: the eMSP's operator sends START_SESSION (refused by the CPO: unknown
  location) and UNLOCK_CONNECTOR (accepted, and the station's result comes back) through
  the "Send command…" dialog; the POST bodies are checked as the page sent them; a 409
  (stubbed) keeps the dialog open with the problem's detail. Both sides list the
  commands; a command's page shows the response and the result.
- A viewer is offered no action; every page and dialog passes the checks of
  test_accessibility.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from browser_harness import ADMIN_PASSWORD, AmpyreServer, wait_until
from browser_ui import signed_in
from playwright.sync_api import Browser, Page, Route, expect
from test_accessibility import check_page
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.browser

OPERATOR, OPERATOR_PASSWORD = "tok-operator", "tok-operator-password-0123"
VIEWER, VIEWER_PASSWORD = "tok-viewer", "tok-viewer-password-0123"
TOKEN = "EMSP-TOK-0001"  # an id token of the eMSP
EMSP_AT_CPO = "eMSP DE"  # how the CPO's admin calls the eMSP
CPO_AT_EMSP = "CPO NL"  # how the eMSP's admin calls the CPO
STATION = "TOKCMD-1"
LOCATION = "LOC-TOK-1"
SLOW_MS = 15_000  # OCPI round trips between the two servers


@dataclass
class PartyServer(AmpyreServer):
    """An Ampyre with its own OCPI party and quick pushes; tokens are published only when
    asked ("Sync now"), never by the periodic sync during the test."""

    country_code: str = "NL"
    party_id: str = "AMP"
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "AMPYRE_OCPI_COUNTRY_CODE": self.country_code,
            "AMPYRE_OCPI_PARTY_ID": self.party_id,
            "AMPYRE_OCPI_PUSH_BACKOFF": "1",
            "AMPYRE_OCPI_PUSH_POLL_INTERVAL": "0.5",
            "AMPYRE_OCPI_TOKEN_SYNC_INTERVAL": "3600",
            "AMPYRE_OCPI_REALTIME_AUTH_TIMEOUT": "8",
            **self.extra,
        }


@dataclass
class Roaming:
    cpo: PartyServer
    emsp: PartyServer
    emsp_at_cpo: int  # the eMSP's partner id at the CPO
    cpo_at_emsp: int  # the CPO's partner id at the eMSP


@pytest.fixture(scope="module")
def roaming(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Roaming]:
    """Both servers, registered with each other over REST, with
    the users of the tests and one id token of the eMSP that is not published yet."""
    cpo = PartyServer(tmp_path_factory.mktemp("ampyre-tok-cpo"))
    emsp = PartyServer(
        tmp_path_factory.mktemp("ampyre-tok-emsp"),
        country_code="DE",
        party_id="EMP",
        extra={"AMPYRE_OCPI_TOKEN_WHITELIST": "NEVER"},
    )
    try:
        # One migration for both (a copy of the fresh database), then both start at once.
        cpo.migrate()
        shutil.copyfile(cpo.database_path, emsp.database_path)
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(cpo.start), pool.submit(emsp.start)]:
                started.result()
        made = cpo.call("POST", "/ocpi/partners", 201, json={"name": EMSP_AT_CPO})
        theirs = emsp.call(
            "POST",
            "/ocpi/partners",
            201,
            json={
                "name": CPO_AT_EMSP,
                "versions_url": f"{cpo.url}/ocpi/versions",
                "token": made["token_a"],
            },
        )
        emsp.call("POST", f"/ocpi/partners/{theirs['id']}/register")
        cpo.create_user(VIEWER, "viewer", VIEWER_PASSWORD)
        emsp.create_user(OPERATOR, "operator", OPERATOR_PASSWORD)
        emsp.create_id_tokens(TOKEN)
        yield Roaming(cpo, emsp, int(made["id"]), int(theirs["id"]))
    finally:
        emsp.stop()
        cpo.stop()


class RawStation:
    """A hand-rolled OCPP 1.6 station: it answers UnlockConnector with Unlocked (and any
    other call of the CSMS with NotImplemented) from a reader thread."""

    def __init__(self, ws_url: str, station_id: str) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(f"{ws_url}/{station_id}", subprotocols=["ocpp1.6"], open_timeout=10)  # type: ignore[list-item]
        )
        self.unlocked: list[int] = []
        self._answers: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = json.loads(self.ws.recv())
                if frame[0] != 2:
                    self._answers[frame[1]] = frame
                elif frame[2] == "UnlockConnector":
                    self.unlocked.append(frame[3]["connectorId"])
                    self.ws.send(json.dumps([3, frame[1], {"status": "Unlocked"}]))
                else:
                    self.ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))

    def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = uuid.uuid4().hex
        self.ws.send(json.dumps([2, message_id, action, payload]))
        wait_until(lambda: message_id in self._answers, 10, action, step=0.05)
        frame = self._answers.pop(message_id)
        assert frame[0] == 3, f"{action} was refused: {frame}"
        return frame[2]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        self._reader.join(timeout=5)


@pytest.fixture(scope="module")
def station(roaming: Roaming) -> Iterator[RawStation]:
    """The CPO's station, booted, connector 1 available, in an OCPI location."""
    cpo = roaming.cpo
    st = RawStation(cpo.ws_url, STATION)
    try:
        st.call("BootNotification", {"chargePointVendor": "Test", "chargePointModel": "Raw"})
        st.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        cpo.call(
            "POST",
            "/locations",
            201,
            json={
                "id": LOCATION,
                "address": "Main street 1",
                "city": "Utrecht",
                "country": "NLD",
                "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
                "time_zone": "Europe/Amsterdam",
            },
        )
        cpo.call("PUT", f"/locations/{LOCATION}/stations/{STATION}")
        yield st
    finally:
        st.close()


@pytest.fixture(scope="module")
def cpo_admin(browser: Browser, roaming: Roaming) -> Iterator[Page]:
    with signed_in(browser, roaming.cpo, "admin", ADMIN_PASSWORD) as page:
        yield page


@pytest.fixture(scope="module")
def emsp_operator(browser: Browser, roaming: Roaming) -> Iterator[Page]:
    with signed_in(browser, roaming.emsp, OPERATOR, OPERATOR_PASSWORD) as page:
        yield page


def _a11y(page: Page, where: str) -> None:
    """The checks of test_accessibility.py on what is shown (dialogs included)."""
    check_page(page, where)


def _fulfil_problem(route: Route, status: int, detail: str) -> None:
    title = {409: "Conflict", 502: "Bad Gateway"}[status]
    route.fulfill(
        status=status,
        content_type="application/problem+json",
        body=json.dumps({"title": title, "status": status, "detail": detail}),
    )


def _toast(page: Page, text: str) -> Any:
    return page.locator(".toast").filter(has_text=text)


# ---------------------------------------------------------------------- tokens


def test_published_tokens_and_sync_now(roaming: Roaming, emsp_operator: Page) -> None:
    page = emsp_operator
    page.goto("/#/roaming")
    page.get_by_role("navigation", name="Roaming pages").get_by_role("link", name="Tokens").click()
    expect(page.get_by_role("heading", name="Roaming tokens", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Which tokens").get_by_role(
        "link", name="Ours, published"
    ).click()
    table = page.get_by_role("table", name="Our tokens as published to CPO partners")
    expect(table).to_contain_text("No token is published yet.")
    _a11y(page, "published tokens (none yet)")

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/ocpi/published/tokens/sync")
    ) as answer:
        page.get_by_role("button", name="Sync now").click()
    assert answer.value.status == 200 and answer.value.json() == {"count": 1}
    expect(_toast(page, "1 token published to the CPO partners.")).to_be_visible()
    row = table.get_by_role("row").filter(has_text=TOKEN)
    expect(row).to_contain_text("NEVER")
    expect(row).to_contain_text("valid")
    row.get_by_text("Show").click()
    expect(row.locator("pre")).to_contain_text('"party_id": "EMP"')
    _a11y(page, "published tokens")


def test_received_tokens_filters_detail_and_pull(
    roaming: Roaming, cpo_admin: Page, emsp_operator: Page
) -> None:
    cpo = roaming.cpo

    def arrived() -> bool:
        return bool(cpo.call("GET", "/ocpi/received/tokens", params={"uid": TOKEN})["items"])

    if not arrived():  # the eMSP's Sync now (the test before) pushes it
        emsp_operator.goto("/#/roaming/tokens?view=published")
        emsp_operator.get_by_role("button", name="Sync now").click()
    wait_until(arrived, SLOW_MS / 1000, "the eMSP's token at the CPO", step=0.3)

    page = cpo_admin
    page.goto("/#/roaming/tokens")
    expect(page.get_by_role("heading", name="Roaming tokens", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Tokens received from eMSP partners")
    row = table.get_by_role("row").filter(has_text=TOKEN)
    expect(row).to_contain_text("DE/EMP")
    expect(row.get_by_role("link", name=EMSP_AT_CPO)).to_be_visible()
    expect(row).to_contain_text("pushed or pulled")
    expect(row).to_contain_text("NEVER")
    _a11y(page, "received tokens")

    # Filters go to the API (once a code has its full length) and into the address bar.
    with page.expect_request(lambda r: "country_code=NL" in r.url):
        page.get_by_label("Country code").fill("nl")
    expect(table).to_contain_text("No received tokens.")
    assert "country_code=NL" in page.url
    page.get_by_label("Country code").fill("DE")
    page.get_by_label("Token uid").fill(TOKEN)
    expect(row).to_be_visible()

    # Pull the eMSP's whole list again: a real pull, then a stubbed 502.
    page.get_by_role("button", name="Pull tokens…").click()
    dialog = page.get_by_role("dialog", name="Pull tokens from an eMSP")
    dialog.get_by_label("eMSP partner").select_option(label=EMSP_AT_CPO)
    _a11y(page, "pull dialog")
    dialog.get_by_role("button", name="Pull tokens").click()
    expect(_toast(page, f"1 token pulled from {EMSP_AT_CPO}.")).to_be_visible(timeout=SLOW_MS)
    expect(dialog).to_have_count(0)

    pulls = "**/api/v1/ocpi/partners/*/tokens/pull"
    page.route(pulls, lambda route: _fulfil_problem(route, 502, "the partner could not be reached"))
    try:
        page.get_by_role("button", name="Pull tokens…").click()
        dialog.get_by_label("eMSP partner").select_option(label=EMSP_AT_CPO)
        dialog.get_by_role("button", name="Pull tokens").click()
        expect(dialog.get_by_role("alert")).to_contain_text("the partner could not be reached")
        expect(dialog).to_contain_text("HTTP 502.")
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_have_count(0)
    finally:
        page.unroute(pulls)

    # A token's page: what the eMSP said about it, and the OCPI object.
    row.get_by_role("link", name=TOKEN).click()
    expect(page.get_by_role("heading", name=f"Roaming token {TOKEN}", level=1)).to_be_visible()
    props = page.locator("dl.props")
    expect(props.locator("dt:text-is('Owner') + dd")).to_have_text("DE/EMP")
    expect(props.locator("dt:text-is('Whitelist') + dd")).to_have_text("NEVER")
    expect(props.locator("dt:text-is('From partner') + dd")).to_have_text(EMSP_AT_CPO)
    page.get_by_text("The OCPI Token object").click()
    expect(page.locator("details pre")).to_contain_text(f'"contract_id": "{TOKEN}"')
    _a11y(page, "received token")


def test_real_time_authorizations_on_both_sides(
    roaming: Roaming, station: RawStation, cpo_admin: Page, emsp_operator: Page
) -> None:
    # The CPO knows the token (published by the earlier tests; again here, so that this
    # test also runs alone or on another test process).
    roaming.emsp.call("POST", "/ocpi/published/tokens/sync")
    wait_until(
        lambda: roaming.cpo.call("GET", f"/ocpi/received/tokens?uid={TOKEN}")["total"] > 0,
        30,
        "the eMSP's token at the CPO",
    )
    # The station asks the CPO; the token's whitelist is NEVER: the CPO asks the eMSP.
    answer = station.call("Authorize", {"idTag": TOKEN})
    assert answer["idTagInfo"]["status"] == "Accepted"

    page = cpo_admin
    page.goto("/#/roaming/tokens")
    page.get_by_role("navigation", name="Which tokens").get_by_role(
        "link", name="Authorizations"
    ).click()
    expect(page.get_by_role("heading", name="Roaming tokens", level=1)).to_be_visible()
    assert page.url.endswith("view=authorizations")
    table = page.get_by_role("table", name="Roaming authorizations, newest first")
    row = table.get_by_role("row").filter(has_text=TOKEN)
    expect(row).to_contain_text("real-time (we asked the eMSP)")
    expect(row).to_contain_text("ALLOWED")
    expect(row).to_contain_text("Accepted")
    expect(row).to_contain_text("DE/EMP")
    expect(row.get_by_role("link", name=STATION)).to_be_visible()
    expect(row.get_by_role("link", name=EMSP_AT_CPO)).to_be_visible()
    _a11y(page, "authorizations (CPO)")

    other = emsp_operator
    other.goto("/#/roaming/tokens?view=authorizations")
    theirs = other.get_by_role("row").filter(has_text=TOKEN)
    expect(theirs).to_contain_text("answered (a CPO asked us)")
    expect(theirs.get_by_role("link", name=CPO_AT_EMSP)).to_be_visible()
    expect(theirs).to_contain_text("ALLOWED")


# ---------------------------------------------------------------------- commands


def _send_dialog(page: Page, partner_id: int) -> Any:
    """The "Send command…" dialog; the only CPO partner is chosen already."""
    page.get_by_role("button", name="Send command…").click()
    dialog = page.get_by_role("dialog", name="Send an OCPI command")
    expect(dialog.get_by_label("CPO partner")).to_have_value(str(partner_id))
    return dialog


def test_send_commands_and_follow_them(
    roaming: Roaming, station: RawStation, emsp_operator: Page, cpo_admin: Page
) -> None:
    page = emsp_operator
    page.goto("/#/roaming/tokens")
    page.get_by_role("navigation", name="Roaming pages").get_by_role(
        "link", name="Commands"
    ).click()
    expect(page.get_by_role("heading", name="OCPI commands", level=1)).to_be_visible()
    commands_path = f"/api/v1/ocpi/partners/{roaming.cpo_at_emsp}/commands"

    def sent(request: Any) -> bool:
        return request.method == "POST" and request.url.endswith(commands_path)

    # START_SESSION at a location the CPO does not have: sent, and refused by the CPO.
    dialog = _send_dialog(page, roaming.cpo_at_emsp)
    expect(dialog.get_by_label("Command")).to_have_value("START_SESSION")
    expect(dialog.get_by_label("Session id")).to_be_hidden()
    expect(dialog.get_by_label("Wait for the result (seconds)")).to_have_value("10")
    _a11y(page, "send dialog")
    dialog.get_by_label("Our id token").fill(TOKEN)
    dialog.get_by_label("Location id").fill("NOWHERE")
    dialog.get_by_label("Wait for the result (seconds)").fill("2")
    with page.expect_request(sent) as request:
        dialog.get_by_role("button", name="Send").click()
    assert request.value.post_data_json == {
        "command": "START_SESSION",
        "id_token": TOKEN,
        "location_id": "NOWHERE",
        "wait": 2,
    }
    answer = page.get_by_role("dialog", name="START_SESSION sent")
    expect(answer.locator("dt:text-is('CPO response') + dd")).to_contain_text("REJECTED")
    expect(answer.locator("dt:text-is('CPO response') + dd")).to_contain_text(
        "unknown location or EVSE"
    )
    expect(answer.locator("dt:text-is('Result') + dd")).to_contain_text("not accepted")
    _a11y(page, "answer dialog")
    answer.get_by_role("button", name="Close").click()

    # UNLOCK_CONNECTOR at the station: accepted, and its result comes within the wait.
    dialog = _send_dialog(page, roaming.cpo_at_emsp)
    dialog.get_by_label("Command").select_option("UNLOCK_CONNECTOR")
    expect(dialog.get_by_label("Our id token")).to_be_hidden()
    dialog.get_by_label("Location id").fill(LOCATION)
    dialog.get_by_label("EVSE uid").fill(f"{STATION}*1")
    dialog.get_by_label("Connector id").fill("1")
    dialog.get_by_label("Wait for the result (seconds)").fill("20")
    with page.expect_request(sent) as request:
        dialog.get_by_role("button", name="Send").click()
    assert request.value.post_data_json == {
        "command": "UNLOCK_CONNECTOR",
        "location_id": LOCATION,
        "evse_uid": f"{STATION}*1",
        "connector_id": "1",
        "wait": 20,
    }
    answer = page.get_by_role("dialog", name="UNLOCK_CONNECTOR sent")
    expect(answer.locator("dt:text-is('CPO response') + dd")).to_contain_text(
        "ACCEPTED", timeout=30_000
    )
    expect(answer.locator("dt:text-is('Result') + dd")).to_contain_text("ACCEPTED")
    assert station.unlocked == [1]
    answer.get_by_role("link", name="Open command").click()
    expect(answer).to_have_count(0)
    expect(
        page.get_by_role("heading", name=re.compile(r"^OCPI command \d+$"), level=1)
    ).to_be_visible()
    info = page.locator("section.card").filter(
        has=page.get_by_role("heading", name="UNLOCK_CONNECTOR")
    )
    expect(info).to_contain_text("sent (we are the eMSP)")
    expect(info.get_by_role("link", name=CPO_AT_EMSP)).to_be_visible()
    expect(info.locator("dt:text-is('Response') + dd")).to_have_text("ACCEPTED")
    expect(info.locator("dt:text-is('Result') + dd")).to_have_text("ACCEPTED")
    page.get_by_text("The request we sent").click()
    expect(page.locator("details pre")).to_contain_text("response_url")
    _a11y(page, "sent command")

    # A 409 (stubbed): nothing sent, the dialog stays open with the problem's detail.
    page.goto("/#/roaming/commands")
    page.route(
        f"**{commands_path}",
        lambda route: _fulfil_problem(
            route, 409, f"partner {roaming.cpo_at_emsp} has no commands Receiver interface"
        ),
    )
    try:
        dialog = _send_dialog(page, roaming.cpo_at_emsp)
        dialog.get_by_label("Command").select_option("STOP_SESSION")
        dialog.get_by_label("Session id").fill("77")
        dialog.get_by_label("Wait for the result (seconds)").fill("0")
        with page.expect_request(sent) as request:
            dialog.get_by_role("button", name="Send").click()
        assert request.value.post_data_json == {
            "command": "STOP_SESSION",
            "session_id": "77",
            "wait": 0,
        }
        expect(dialog.get_by_role("alert")).to_contain_text("has no commands Receiver interface")
        expect(dialog).to_contain_text("HTTP 409.")
        _a11y(page, "send dialog with a problem")
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_have_count(0)
    finally:
        page.unroute(f"**{commands_path}")

    # The list: both sent commands, filtered by command.
    table = page.get_by_role("table", name="OCPI commands, newest first")
    unlock = table.get_by_role("row").filter(has_text="UNLOCK_CONNECTOR")
    start = table.get_by_role("row").filter(has_text="START_SESSION")
    expect(start).to_contain_text("REJECTED")
    expect(unlock).to_contain_text(f"location {LOCATION}")
    expect(unlock.locator("td[data-label='Result']")).to_have_text("ACCEPTED")
    _a11y(page, "commands (eMSP)")
    page.get_by_label("Command", exact=True).select_option("UNLOCK_CONNECTOR")
    expect(start).to_have_count(0)
    assert "command=UNLOCK_CONNECTOR" in page.url

    # The CPO's side: the commands it received, carried out at its station.
    other = cpo_admin
    other.goto("/#/roaming/commands?direction=received")
    expect(other.get_by_role("heading", name="OCPI commands", level=1)).to_be_visible()
    expect(other.get_by_label("Direction")).to_have_value("received")
    theirs = other.get_by_role("row").filter(has_text="UNLOCK_CONNECTOR")
    expect(theirs).to_contain_text("received (we are the CPO)")
    expect(theirs.get_by_role("link", name=STATION)).to_be_visible()
    expect(theirs.get_by_role("link", name=EMSP_AT_CPO)).to_be_visible()
    _a11y(other, "commands (CPO)")
    theirs.get_by_role("link", name=re.compile("^UNLOCK_CONNECTOR")).click()
    card = other.locator("section.card").filter(
        has=other.get_by_role("heading", name="UNLOCK_CONNECTOR")
    )
    expect(card).to_contain_text("Our response")
    expect(card.locator("dt:text-is('Result') + dd")).to_have_text("ACCEPTED", timeout=SLOW_MS)
    _a11y(other, "received command")


def test_a_viewer_is_offered_no_action(browser: Browser, roaming: Roaming) -> None:
    with signed_in(browser, roaming.cpo, VIEWER, VIEWER_PASSWORD) as page:
        page.goto("/#/roaming/tokens")
        expect(page.get_by_role("table", name="Tokens received from eMSP partners")).to_be_visible()
        expect(page.get_by_role("button", name="Pull tokens…")).to_have_count(0)
        page.goto("/#/roaming/tokens?view=published")
        expect(page.get_by_role("table", name=re.compile("^Our tokens"))).to_be_visible()
        expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
        page.goto("/#/roaming/commands")
        expect(page.get_by_role("table", name="OCPI commands, newest first")).to_be_visible()
        expect(page.get_by_role("button", name="Send command…")).to_have_count(0)
