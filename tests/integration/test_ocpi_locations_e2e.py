"""OCPI Locations between two real Ampyre servers: "cpo" (NL/AMP) registers with "emsp"
(DE/EMP, eMSP only) through the credentials handshake; the operator of "cpo" makes a
location and puts a station in it; the Location reaches the eMSP (PUT), a scripted
OCPP 1.6 station's status changes reach it as PATCHes, and the eMSP can fetch the list
and objects (paginated). Then the contract of both interfaces: the envelope, 401 for
bad tokens, 2001 for malformed or over-long input, 2003/404 for unknown objects."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import websockets
from polling import until

from ampyre.adapters.db.migrate import migrate

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

PLACE: dict[str, Any] = {
    "name": "Depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
    "opening_times": {"twentyfourseven": True},
}


async def _pair(
    start_server: StartServer, sqlite_url: str, tmp_path: Path, pull: float
) -> tuple[Server, Server]:
    other = f"sqlite+aiosqlite:///{tmp_path / 'emsp.db'}"
    await migrate(other)
    cpo = await start_server(sqlite_url, ocpi_push_poll_interval=0.2, ocpi_page_limit=2)
    emsp = await start_server(
        other,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_roles=["EMSP"],
        ocpi_locations_pull_interval=pull,
        pki_dir=str(tmp_path / "pki2"),
    )
    return cpo, emsp


@pytest.fixture
async def pair(start_server: StartServer, sqlite_url: str, tmp_path: Path) -> tuple[Server, Server]:
    """The eMSP never fetches by itself: what it has came by push."""
    return await _pair(start_server, sqlite_url, tmp_path, 0.0)


@pytest.fixture
async def pulling_pair(
    start_server: StartServer, sqlite_url: str, tmp_path: Path
) -> tuple[Server, Server]:
    """The eMSP looks for new CPO partners every second and fetches their Locations."""
    return await _pair(start_server, sqlite_url, tmp_path, 1.0)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _ocpi(server: Server, token: str | None) -> httpx.AsyncClient:
    headers = {}
    if token is not None:
        headers["Authorization"] = "Token " + base64.b64encode(token.encode()).decode()
    client = httpx.AsyncClient(base_url=f"{server.http_url}/ocpi", headers=headers, timeout=10)
    server._clients.append(client)
    return client


async def _register(cpo: Server, emsp: Server) -> tuple[str, str]:
    """The credentials handshake (cpo registers with emsp); the tokens each side presents
    to the other: (cpo's, emsp's)."""
    made = await _ok(await emsp.api().post("/ocpi/partners", json={"name": "cpo"}), 201)
    mine = await _ok(
        await cpo.api().post(
            "/ocpi/partners",
            json={
                "name": "emsp",
                "versions_url": made["our_versions_url"],
                "token": made["token_a"],
            },
        ),
        201,
    )
    registered = await _ok(await cpo.api().post(f"/ocpi/partners/{mine['id']}/register"))
    assert registered["status"] == "REGISTERED", registered
    at_cpo = await cpo.app.roaming.partners.get(mine["id"])
    at_emsp = await emsp.app.roaming.partners.get(made["id"])
    assert at_cpo is not None and at_emsp is not None
    assert at_cpo.token_out and at_emsp.token_out
    return at_cpo.token_out, at_emsp.token_out


class Station16:
    """A scripted OCPP 1.6 station: boots and reports connector statuses."""

    def __init__(self, server: Server, sid: str) -> None:
        self.server, self.sid = server, sid
        self.ws: Any = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        url = self.server.station_url(self.sid)
        self.ws = await websockets.connect(url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        self._reader = asyncio.create_task(self._read())
        boot = await self.call(
            "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )
        assert boot["status"] == "Accepted"

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame[0] == 2:
                await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
            elif frame[1] in self._waiting:
                self._waiting.pop(frame[1]).set_result(frame)

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        mid = f"{self.sid}-{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[mid] = future
        await self.ws.send(json.dumps([2, mid, action, payload]))
        frame = await asyncio.wait_for(future, 10)
        assert frame[0] == 3, frame
        return frame[2]

    async def status(self, connector: int, status: str) -> None:
        await self.call(
            "StatusNotification",
            {"connectorId": connector, "status": status, "errorCode": "NoError",
             "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")},
        )  # fmt: skip

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        self.ws = self._reader = None


async def _received(emsp: Server, location_id: str) -> dict[str, Any] | None:
    r = await emsp.api().get(f"/ocpi/received/locations/NL/AMP/{location_id}")
    return r.json()["location"] if r.status_code == 200 else None


async def _evse_status(emsp: Server, location_id: str, uid: str) -> str | None:
    found = await _received(emsp, location_id)
    for evse in (found or {}).get("evses", []):
        if evse["uid"] == uid:
            return str(evse["status"])
    return None


async def test_locations_reach_the_emsp_and_status_changes_are_patched(
    pair: tuple[Server, Server],
) -> None:
    cpo, emsp = pair
    _, emsp_token = await _register(cpo, emsp)
    api = cpo.api()
    await cpo.create_station("CP1", registration_status="Accepted")
    made = await _ok(await api.post("/locations", json={"id": "DEPOT", **PLACE}), 201)
    assert made["stations"] == [] and made["roaming"] is True
    await _ok(await api.put("/locations/DEPOT/stations/CP1"))

    # The PUT of the Location reaches the eMSP (no EVSE yet: CP1 never reported one).
    async def arrived() -> bool:
        return await _received(emsp, "DEPOT") is not None

    await until("the Location at the eMSP", arrived)

    station = Station16(cpo, "CP1")
    await station.connect()
    try:
        await station.status(0, "Available")
        await station.status(1, "Available")

        async def evse_is(status: str) -> bool:
            return await _evse_status(emsp, "DEPOT", "CP1*1") == status

        await until("the new EVSE (PUT) at the eMSP", lambda: evse_is("AVAILABLE"))
        await station.status(1, "Charging")
        await until("the PATCH of the status", lambda: evse_is("CHARGING"))

        # What was sent: a PATCH with the status and last_updated only (8.2.2.3).
        exchanges = await _ok(await cpo.api().get("/ocpi/partners/1/exchanges?limit=50"))
        patches = [x for x in exchanges["items"] if x["method"] == "PATCH"]
        assert patches and patches[0]["url"].endswith(
            "/ocpi/emsp/2.2.1/locations/NL/AMP/DEPOT/CP1*1"
        )
        assert set(json.loads(patches[0]["request_body"])) == {"status", "last_updated"}
    finally:
        await station.close()
    await until("the EVSE UNKNOWN once its station is gone", lambda: evse_is("UNKNOWN"))

    # Connector attributes: a PUT of the whole Location carries them.
    await _ok(
        await api.put(
            "/locations/DEPOT/evses/CP1/1/connectors/1",
            json={"standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC",
                  "max_voltage": 920, "max_amperage": 400, "max_electric_power": 150000},
        ),
        204,
    )  # fmt: skip

    async def dc() -> bool:
        found = await _received(emsp, "DEPOT")
        return bool(found) and found["evses"][0]["connectors"][0]["power_type"] == "DC"

    await until("the connector's new description at the eMSP", dc)
    evses = await _ok(await api.get("/locations/DEPOT/evses"))
    [evse] = evses["items"]
    assert evse["uid"] == "CP1*1" and evse["status"] == "UNKNOWN" and not evse["connected"]
    assert evse["connectors"][0]["customized"] and evse["connectors"][0]["max_voltage"] == 920

    # The eMSP pulls with GET (Sender interface), page by page.
    await _ok(await api.post("/locations", json={"id": "B-SITE", **PLACE, "name": "B"}), 201)
    await _ok(await api.post("/locations", json={"id": "C-SITE", **PLACE, "name": "C"}), 201)
    await _ok(await api.post("/locations", json={"id": "PRIVATE", **PLACE, "roaming": False}), 201)
    client = _ocpi(cpo, emsp_token)
    r = await client.get("/cpo/2.2.1/locations", params={"limit": 2})
    body = await _ok(r)
    assert body["status_code"] == 1000 and body["timestamp"].endswith("Z")
    assert [x["id"] for x in body["data"]] == ["B-SITE", "C-SITE"]
    assert r.headers["X-Total-Count"] == "3" and r.headers["X-Limit"] == "2"
    assert 'rel="next"' in r.headers["Link"] and "offset=2" in r.headers["Link"]
    next_url = r.headers["Link"].split(">")[0].lstrip("<")
    page2 = await _ok(await client.get(next_url))
    assert [x["id"] for x in page2["data"]] == ["DEPOT"]
    assert page2["data"][0]["evses"][0]["uid"] == "CP1*1"
    one = await _ok(await client.get("/cpo/2.2.1/locations/depot/CP1*1/1"))
    assert one["data"]["standard"] == "IEC_62196_T2_COMBO"

    # The eMSP's own operator sees what it received.
    listing = await _ok(await emsp.api().get("/ocpi/received/locations"))
    assert {x["location_id"] for x in listing["items"]} >= {"DEPOT"}
    assert all(x["country_code"] == "NL" and x["party_id"] == "AMP" for x in listing["items"])


async def test_the_emsp_fetches_what_existed_before_it_registered(
    pulling_pair: tuple[Server, Server],
) -> None:
    cpo, emsp = pulling_pair
    for n in range(3):  # two pages of the CPO's (ocpi_page_limit 2): the Link is followed
        await _ok(await cpo.api().post("/locations", json={"id": f"OLD-{n}", **PLACE}), 201)
    await _register(cpo, emsp)

    async def all_there() -> bool:
        listing = await _ok(await emsp.api().get("/ocpi/received/locations"))
        return {x["location_id"] for x in listing["items"]} == {"OLD-0", "OLD-1", "OLD-2"}

    await until("the eMSP to GET the CPO's Locations after registering", all_there)
    partner = (await _ok(await emsp.api().get("/ocpi/partners")))["items"][0]["id"]
    pulled = await _ok(await emsp.api().post(f"/ocpi/received/locations/pull?partner_id={partner}"))
    assert pulled == {"stored": 3}
    r = await emsp.api().post("/ocpi/received/locations/pull?partner_id=99")
    assert r.status_code == 404


async def test_sender_and_receiver_contract(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    cpo_token, emsp_token = await _register(cpo, emsp)
    await _ok(await cpo.api().post("/locations", json={"id": "L1", **PLACE}), 201)
    sender = _ocpi(cpo, emsp_token)

    # Bad tokens: HTTP 401 (transport_and_format 4.1.2).
    for token in (None, "not-a-token"):
        r = await _ocpi(cpo, token).get("/cpo/2.2.1/locations")
        assert r.status_code == 401 and r.json()["status_code"] == 2001
    # Unknown objects: 2003 Unknown Location, HTTP 404.
    for path in ("/cpo/2.2.1/locations/NOPE", "/cpo/2.2.1/locations/L1/X*1",
                 "/cpo/2.2.1/locations/L1/X*1/1"):  # fmt: skip
        r = await sender.get(path)
        assert r.status_code == 404 and r.json()["status_code"] == 2003, path
    # Over-long URL segments (CiString(36)): 2001, HTTP 400.
    r = await sender.get("/cpo/2.2.1/locations/" + "x" * 37)
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    # Bad date filters: 2001.
    r = await sender.get("/cpo/2.2.1/locations", params={"date_from": "yesterday"})
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    r = await sender.get("/cpo/2.2.1/locations", params={"date_from": "2999-01-01T00:00:00Z"})
    assert (await _ok(r))["data"] == [] and r.headers["X-Total-Count"] == "0"

    # The Receiver interface of the eMSP, called as the CPO would.
    receiver = _ocpi(emsp, cpo_token)
    base = "/emsp/2.2.1/locations/NL/AMP"
    location = await _ok(await cpo.api().get("/locations/L1/ocpi"))
    location = {**location, "id": "R1"}
    r = await receiver.put(f"{base}/R1", json=location)
    assert r.status_code == 201 and r.json()["status_code"] == 1000
    r = await receiver.put(f"{base}/r1", json=location)  # CiString: the same Location
    assert r.status_code == 200
    got = await _ok(await receiver.get(f"{base}/R1"))
    assert got["data"]["id"] == "R1" and got["data"]["address"] == "Main Street 1"

    evse = {"uid": "E1", "status": "AVAILABLE", "last_updated": "2024-01-01T00:00:00Z",
            "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                            "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,
                            "last_updated": "2024-01-01T00:00:00Z"}]}  # fmt: skip
    assert (await receiver.put(f"{base}/R1/E1", json=evse)).status_code == 201
    r = await receiver.patch(
        f"{base}/R1/E1", json={"status": "CHARGING", "last_updated": "2024-01-02T00:00:00Z"}
    )
    assert (await _ok(r))["status_code"] == 1000
    got = await _ok(await receiver.get(f"{base}/R1/E1"))
    assert got["data"]["status"] == "CHARGING"
    got = await _ok(await receiver.get(f"{base}/R1/E1/1"))
    assert got["data"]["max_amperage"] == 16

    def refused(r: httpx.Response, status: int = 400, code: int = 2001) -> None:
        assert r.status_code == status and r.json()["status_code"] == code, r.text

    # Malformed bodies, missing or over-long fields, mismatching ids: 2001.
    refused(
        await receiver.put(
            f"{base}/R2", content=b"{not json", headers={"content-type": "application/json"}
        )
    )
    refused(await receiver.put(f"{base}/R2", json=[1, 2]))
    refused(await receiver.put(f"{base}/R2", json={**location, "id": "R2", "address": "x" * 46}))
    refused(
        await receiver.put(f"{base}/R2", json={k: v for k, v in location.items() if k != "city"})
    )
    refused(await receiver.put(f"{base}/R2", json=location))  # body id R1 vs URL R2
    refused(await receiver.patch(f"{base}/R1/E1", json={"status": "CHARGING"}))  # no last_updated
    refused(
        await receiver.patch(
            f"{base}/R1/E1", json={"status": "FLYING", "last_updated": "2024-01-02T00:00:00Z"}
        )
    )
    r = await receiver.patch(
        f"{base}/R1", json={"name": "x" * 256, "last_updated": "2024-01-02T00:00:00Z"}
    )
    refused(r)
    assert "name" in r.json()["status_message"]
    # Unknown objects: 2003, HTTP 404.
    refused(await receiver.get(f"{base}/R9"), 404, 2003)
    refused(await receiver.put(f"{base}/R9/E1", json=evse), 404, 2003)
    refused(
        await receiver.patch(
            f"{base}/R1/E9", json={"status": "CHARGING", "last_updated": "2024-01-02T00:00:00Z"}
        ),
        404,
        2003,
    )
    refused(await receiver.get(f"{base}/R1/E1/7"), 404, 2003)
    # Another party's URL: not this connection's (transport_and_format 4.1.6).
    r = await receiver.put("/emsp/2.2.1/locations/BE/BEC/R1", json=location)
    assert r.status_code == 404
    # Too long a segment.
    refused(await receiver.get(f"{base}/{'x' * 37}"))


async def test_operator_rest(pair: tuple[Server, Server]) -> None:
    cpo, _ = pair
    api = cpo.api()
    made = await _ok(await api.post("/locations", json=PLACE), 201)
    assert len(made["id"]) == 36 and made["last_updated"]
    r = await api.post("/locations", json={**PLACE, "id": made["id"].upper()})
    assert r.status_code == 409
    r = await api.post("/locations", json={**PLACE, "address": "x" * 46})
    assert r.status_code == 422  # the schema's limit
    r = await api.post("/locations", json={**PLACE, "country": "NL1"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "country"]
    r = await api.post("/locations", json={**PLACE, "opening_times": {"twentyfourseven": False}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "opening_times", "regular_hours"]
    r = await api.put(f"/locations/{made['id']}", json={**PLACE, "id": "OTHER"})
    assert r.status_code == 422
    changed = await _ok(await api.put(f"/locations/{made['id']}", json={**PLACE, "name": "New"}))
    assert changed["name"] == "New"
    assert (await api.put(f"/locations/{made['id']}/stations/NOPE")).status_code == 404
    assert (await api.get("/locations/NOPE")).status_code == 404
    page = await _ok(await api.get("/locations", params={"limit": 1}))
    assert page["total"] == 1 and page["items"][0]["id"] == made["id"]
    preview = await _ok(await api.get(f"/locations/{made['id']}/ocpi"))
    assert preview["country_code"] == "NL" and preview["evses"] == []
    assert (await _ok(await api.post(f"/locations/{made['id']}/push")))["queued"] == 0
    assert (await api.delete(f"/locations/{made['id']}")).status_code == 204
    assert (await api.delete(f"/locations/{made['id']}")).status_code == 404
