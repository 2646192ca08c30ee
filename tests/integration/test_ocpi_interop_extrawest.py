"""Interop with an independent OCPI 2.2.1 implementation: an eMSP made with the
`extrawest-ocpi` package (tests/interop/extrawest_emsp.py), run as a subprocess with the
python of its own virtualenv `.venv-ocpi` (`make ocpi-venv`), talks to a real Ampyre CPO.

* Ampyre registers with it (Ampyre initiates the credentials handshake; the package's
  credentials module answers and calls Ampyre's versions and details back), then pushes
  its tariff and a Location (PUT; EVSE status PATCHes as a scripted OCPP 1.6 station
  reports), pulls the eMSP's tokens from the package's Tokens Sender interface, and, once
  the station charged with the eMSP's card, pushes the Session (PUT, PATCH) and the
  priced CDR (POST): the package's Receiver interfaces validate and store each of them.
* The eMSP registers with Ampyre (it initiates; the package serves its versions and
  details to Ampyre's calls back), receives a Location, then Ampyre renews the
  credentials (PUT, answered by the package) and unregisters (DELETE).

What the package cannot do is not tested here (see the report / README): it has no
client to start a handshake or to pull (GET) a CPO's Locations, Sessions or CDRs, so
the handshake's initiating side is a few lines of the test app, and the data reach it by
Ampyre's pushes only.

Skipped without `.venv-ocpi` unless CI=true, where it is mandatory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ocpp.v16 import call as call16
from polling import until
from test_ocpp_lib_clients import Station16, running

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

ROOT = Path(__file__).resolve().parents[2]
OCPI_PYTHON = ROOT / ".venv-ocpi" / "bin" / "python"
EMSP_APP = ROOT / "tests" / "interop" / "extrawest_emsp.py"
START_TIMEOUT = 30.0  # seconds for the eMSP process to listen (imports fastapi, pydantic)
CARD = "EXWCARD001"
STATION = "EXW-CS-01"
FAST = {
    "ocpi_push_poll_interval": 0.1,
    "ocpi_push_backoff": 0.2,
    "ocpi_token_sync_interval": 0.2,
    "ocpi_session_update_interval": 0.0,
}
TARIFF = {
    "id": "EXW-STD",
    "currency": "EUR",
    "is_default": True,
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}]}
    ],
}
LOCATION = {
    "id": "EXW-DEPOT",
    "name": "Interop depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
    "opening_times": {"twentyfourseven": True},
}


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


class ExtrawestEmsp:
    """The running eMSP process: its base URL, its token A, what it received."""

    def __init__(self, url: str, token_a: str, log: Path) -> None:
        self.url, self.token_a, self.log = url, token_a, log
        self.versions_url = f"{url}/ocpi/versions"
        self.client = httpx.AsyncClient(base_url=url, timeout=10)

    async def state(self) -> dict[str, Any]:
        response = await self.client.get("/control/state")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def register_with(self, versions_url: str, token: str) -> dict[str, Any]:
        response = await self.client.post(
            "/control/register", json={"versions_url": versions_url, "token": token}
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture
async def extrawest(tmp_path: Path) -> AsyncIterator[ExtrawestEmsp]:
    if not OCPI_PYTHON.exists():
        reason = f"{OCPI_PYTHON.relative_to(ROOT)} is missing (make ocpi-venv)"
        if _on_ci():
            pytest.fail(f"{reason}; CI=true: the extrawest-ocpi interop test is mandatory")
        pytest.skip(reason)
    token_a = secrets.token_urlsafe(16)
    log = tmp_path / "extrawest-emsp.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(OCPI_PYTHON), str(EMSP_APP), "--token-a", token_a, "--country", "DE",
            "--party", "EXW", "--token-uid", CARD,
            stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=tmp_path,
        )  # fmt: skip
    emsp: ExtrawestEmsp | None = None
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        assert line.startswith(b"LISTENING "), (line, log.read_text()[-3000:])
        emsp = ExtrawestEmsp(line.split()[1].decode(), token_a, log)
        yield emsp
    finally:
        if emsp is not None:
            await emsp.client.aclose()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        print(log.read_text()[-5000:])  # shown when the test failed


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def upper(pairs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(role, country_code, party_id) of credentials roles; CiStrings compared as such."""
    return {(r["role"], r["country_code"].upper(), r["party_id"].upper()) for r in pairs}


def module_calls(requests: list[str]) -> set[tuple[str, str, int]]:
    """(method, module, HTTP status) of the eMSP module requests the app answered (its
    log lines are "PUT /ocpi/emsp/2.2.1/locations/NL/AMP/X 200")."""
    calls = set()
    for line in requests:
        method, path, status = line.split(" ")
        parts = path.split("/")  # "", "ocpi", "emsp", "2.2.1", module, ...
        if parts[2] == "emsp":
            calls.add((method, parts[4], int(status)))
    return calls


async def pushes_settled(api: httpx.AsyncClient) -> bool:
    pending = await ok(await api.get("/ocpi/push-queue", params={"status": "pending"}))
    return bool(pending["total"] == 0)


@contextlib.asynccontextmanager
async def station16(cpo: Server) -> AsyncIterator[Any]:
    await cpo.create_station(STATION, registration_status="Accepted")
    async with running(Station16, cpo, STATION, "ocpp1.6") as cp:
        boot = await cp.call(
            call16.BootNotification(charge_point_vendor="V", charge_point_model="M"),
            suppress=False,
        )
        assert boot.status == "Accepted"
        yield cp


async def test_ampyre_registers_and_pushes_to_the_extrawest_emsp(
    start_server: StartServer, sqlite_url: str, extrawest: ExtrawestEmsp
) -> None:
    cpo = await start_server(sqlite_url, ocpi_roles=["CPO"], **FAST)
    api = cpo.api()

    # The handshake, started by Ampyre with the eMSP's token A.
    partner = await ok(
        await api.post(
            "/ocpi/partners",
            json={
                "name": "Extrawest eMSP",
                "versions_url": extrawest.versions_url,
                "token": extrawest.token_a,
            },
        ),
        201,
    )
    registered = await ok(await api.post(f"/ocpi/partners/{partner['id']}/register"))
    assert registered["status"] == "REGISTERED" and registered["version"] == "2.2.1"
    assert upper(registered["roles"]) == {("EMSP", "DE", "EXW")}
    assert {(e["identifier"], e["role"]) for e in registered["endpoints"]} >= {
        ("locations", "RECEIVER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "RECEIVER"),
        ("tariffs", "RECEIVER"),
        ("tokens", "SENDER"),
    }
    state = await extrawest.state()
    assert not state["token_a_valid"]  # retired by the handshake
    assert [upper(p["roles"]) for p in state["partners"]] == [{("CPO", "NL", "AMP")}]
    assert state["partners"][0]["versions_url"] == f"{cpo.http_url}/ocpi/versions"
    # The package called Ampyre back during the POST: versions, then 2.2.1 details.
    exchanges = await ok(await api.get(f"/ocpi/partners/{partner['id']}/exchanges"))
    inbound = {(x["method"], x["url"]) for x in exchanges["items"] if x["direction"] == "in"}
    assert {("GET", "/ocpi/versions"), ("GET", "/ocpi/2.2.1/details")} <= inbound

    # Ampyre pulls the eMSP's tokens from the package's Tokens Sender interface.
    async def card_held() -> bool:
        page = await ok(await api.get("/ocpi/received/tokens", params={"uid": CARD}))
        return bool(page["total"])

    await until("the eMSP's card pulled by Ampyre", card_held)
    held = (await ok(await api.get("/ocpi/received/tokens", params={"uid": CARD})))["items"][0]
    assert held["partner_id"] == partner["id"]
    assert held["token"]["whitelist"] == "ALLOWED" and held["token"]["valid"] is True

    # Tariff and Location pushed (PUT) to the package's Receiver interfaces.
    await ok(await api.post("/tariffs", json=TARIFF), 201)
    await ok(await api.post("/locations", json=LOCATION), 201)
    async with station16(cpo) as cp:
        await ok(await api.put(f"/locations/{LOCATION['id']}/stations/{STATION}"))
        await cp.call(
            call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"),
            suppress=False,
        )
        location_key = f"NL/AMP/{LOCATION['id']}"

        async def evse_available() -> bool:
            location = (await extrawest.state())["locations"].get(location_key)
            evses = location["evses"] if location else []
            return [(e["uid"].upper(), e["status"]) for e in evses] == [
                (f"{STATION}*1", "AVAILABLE")
            ]

        await until("the Location with its EVSE available at the eMSP", evse_available)
        state = await extrawest.state()
        location = state["locations"][location_key]
        assert (location["name"], location["city"], location["country"]) == (
            "Interop depot",
            "Utrecht",
            "NLD",
        )
        # (The package lower-cases every CiString it validates: its default setting
        # CI_STRING_LOWERCASE_PREFERENCE; OCPI compares them case-insensitively.)
        assert location["evses"][0]["connectors"][0]["tariff_ids"] == [TARIFF["id"].lower()]
        tariff = state["tariffs"]["NL/AMP/EXW-STD"]
        assert tariff["elements"][0]["price_components"][0]["price"] == 0.25

        # A charge with the eMSP's card: authorized from the pulled token.
        auth = await cp.call(call16.Authorize(id_tag=CARD), suppress=False)
        assert auth.id_tag_info["status"] == "Accepted"
        t0 = datetime.now(UTC)  # after the tariff's creation: it is in force
        started = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag=CARD, meter_start=1000, timestamp=t0.isoformat()
            ),
            suppress=False,
        )
        assert started.id_tag_info["status"] == "Accepted"
        await cp.call(
            call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"),
            suppress=False,
        )
        await cp.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": (t0 + timedelta(seconds=1)).isoformat(),
                        "sampled_value": [{"value": "4000", "unit": "Wh"}],
                    }
                ],
            ),
            suppress=False,
        )
        await asyncio.sleep(1.0)
        await cp.call(
            call16.StopTransaction(
                transaction_id=started.transaction_id,
                id_tag=CARD,
                meter_stop=8500,
                timestamp=datetime.now(UTC).isoformat(),
                reason="EVDisconnected",
            ),
            suppress=False,
        )

    # The Session and the CDR, as the package's Receiver interfaces stored them.
    transactions = await ok(await api.get("/transactions", params={"station_id": STATION}))
    pk = str(transactions["items"][0]["id"])

    async def completed_and_billed() -> bool:
        state = await extrawest.state()
        session = state["sessions"].get(f"NL/AMP/{pk}")
        return bool(session and session["status"] == "COMPLETED" and pk in state["cdrs"])

    await until("the completed Session and the CDR at the eMSP", completed_and_billed)
    state = await extrawest.state()
    session = state["sessions"][f"NL/AMP/{pk}"]
    assert session["cdr_token"]["uid"].upper() == CARD
    assert session["location_id"].upper() == LOCATION["id"]
    assert session["kwh"] == 7.5
    assert session["total_cost"] == {"excl_vat": 1.875, "incl_vat": 2.2688}
    cdr = state["cdrs"][pk]
    assert cdr["total_energy"] == 7.5 and cdr["auth_method"] == "WHITELIST"
    assert cdr["total_cost"] == {"excl_vat": 1.875, "incl_vat": 2.2688}
    assert [t["id"] for t in cdr["tariffs"]] == [TARIFF["id"].lower()]
    assert {p["tariff_id"] for p in cdr["charging_periods"]} == {TARIFF["id"].lower()}
    # (The package's CdrLocation model has no evse_uid: it keeps the eMI3 evse_id.)
    assert cdr["cdr_location"]["evse_id"].upper() == "NL*AMP*EEXWCS01*1"

    # What went over the wire, as the package answered it: every push accepted.
    await until("Ampyre's push queue empty", lambda: pushes_settled(api))
    failed = await ok(await api.get("/ocpi/push-queue", params={"status": "failed"}))
    assert failed["total"] == 0, failed
    calls = module_calls((await extrawest.state())["requests"])
    assert {
        ("POST", "credentials", 200),
        ("GET", "tokens", 200),
        ("PUT", "tariffs", 200),
        ("PUT", "locations", 200),
        ("PATCH", "locations", 200),
        ("PUT", "sessions", 200),
        ("POST", "cdrs", 200),
    } <= calls
    assert {status for _, _, status in calls} == {200}, calls


async def test_extrawest_emsp_registers_with_ampyre(
    start_server: StartServer, sqlite_url: str, extrawest: ExtrawestEmsp
) -> None:
    cpo = await start_server(sqlite_url, ocpi_roles=["CPO"], **FAST)
    api = cpo.api()

    # The handshake, started by the eMSP with Ampyre's token A.
    invitation = await ok(await api.post("/ocpi/partners", json={"name": "Extrawest"}), 201)
    answer = await extrawest.register_with(invitation["our_versions_url"], invitation["token_a"])
    assert answer["registered"] is True
    assert upper(answer["roles"]) == {("CPO", "NL", "AMP")}
    partner = await ok(await api.get(f"/ocpi/partners/{invitation['id']}"))
    assert partner["status"] == "REGISTERED"
    assert upper(partner["roles"]) == {("EMSP", "DE", "EXW")}
    assert partner["versions_url"] == extrawest.versions_url
    # During the POST Ampyre read the eMSP's versions and details (the package's).
    state = await extrawest.state()
    assert {"GET /ocpi/versions 200", "GET /ocpi/2.2.1/details 200"} <= set(state["requests"])
    assert state["partners"][0]["initiated_by"] == "us"

    # Data flows: a new Location is pushed to the eMSP.
    await ok(await api.post("/locations", json=LOCATION), 201)

    async def location_arrived() -> bool:
        return f"NL/AMP/{LOCATION['id']}" in (await extrawest.state())["locations"]

    await until("the Location at the eMSP", location_arrived)

    # Ampyre renews the credentials (PUT, answered by the package: new tokens both ways);
    # pushes still arrive with the new token.
    renewed = await ok(await api.put(f"/ocpi/partners/{invitation['id']}/credentials"))
    assert renewed["status"] == "REGISTERED"
    assert "PUT /ocpi/emsp/2.2.1/credentials/ 200" in (await extrawest.state())["requests"]
    changed = {**LOCATION, "name": "Interop depot, renamed"}
    await ok(await api.put(f"/locations/{LOCATION['id']}", json=changed))

    async def renamed() -> bool:
        location = (await extrawest.state())["locations"].get(f"NL/AMP/{LOCATION['id']}")
        return bool(location and location["name"] == "Interop depot, renamed")

    await until("the changed Location at the eMSP (new token)", renamed)

    # Ampyre unregisters: the package drops the partner (credentials DELETE).
    await ok(await api.delete(f"/ocpi/partners/{invitation['id']}"), 204)
    state = await extrawest.state()
    assert state["partners"] == []
    assert "DELETE /ocpi/emsp/2.2.1/credentials/ 200" in state["requests"]
