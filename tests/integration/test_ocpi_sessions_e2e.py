"""OCPI Sessions and CDRs between two real Ampyre servers (issue 20, H4): a CPO (NL/AMP,
on the parametrized database) and an eMSP (DE/EMP, SQLite) registered with each other.
An OCPP 1.6 station charges with the eMSP's token at the CPO: the Session arrives at the
eMSP (PUT, updates, COMPLETED), then the CDR (POST, with a Location); the CPO serves both
to the eMSP by GET; a credit CDR and a re-issued CDR follow. Then the eMSP's receiver
interfaces against bad input: tokens, malformed bodies, over-long fields, unknown objects,
another party's URL, a CDR POSTed twice."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from polling import until
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ampyre.adapters.db.migrate import migrate
from ampyre.domain.ocpi_sessions import RECEIVED
from ampyre.domain.ocpi_tokens import TokenType

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

UID = "04E2AB11C0FFEE"


@pytest.fixture
async def pair(start_server: StartServer, store_url: str, tmp_path: Path) -> tuple[Server, Server]:
    other = f"sqlite+aiosqlite:///{tmp_path / 'emsp.db'}"
    await migrate(other)
    cpo = await start_server(
        store_url,
        ocpi_push_poll_interval=0.2,
        ocpi_push_backoff=0.2,
        ocpi_session_update_interval=0.0,
        auto_register=True,
    )
    emsp = await start_server(
        other,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_business_name="Partner eMSP",
        ocpi_roles=["EMSP"],
        pki_dir=str(tmp_path / "pki2"),
    )
    return cpo, emsp


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


async def _register(cpo: Server, emsp: Server) -> tuple[int, int]:
    """The CPO makes a partner with token A; the eMSP registers with it.
    (partner id of the eMSP at the CPO, partner id of the CPO at the eMSP)"""
    created = await _ok(await cpo.api().post("/ocpi/partners", json={"name": "emsp"}), 201)
    mine = await _ok(
        await emsp.api().post(
            "/ocpi/partners",
            json={
                "name": "cpo",
                "versions_url": f"{cpo.http_url}/ocpi/versions",
                "token": created["token_a"],
            },
        ),
        201,
    )
    registered = await _ok(await emsp.api().post(f"/ocpi/partners/{mine['id']}/register"))
    assert registered["status"] == "REGISTERED", registered
    return created["id"], mine["id"]


class Station16:
    """A bare OCPP 1.6 station: sends CALLs, answers Ampyre's CALLs with NotImplemented
    (none is needed here)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}

    async def run(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if msg[0] == 2:
                await self.ws.send(json.dumps([4, msg[1], "NotImplemented", "", {}]))
                continue
            future = self._pending.pop(msg[1], None)
            if future is not None and not future.done():
                future.set_result(msg)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        uid = f"c{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[uid] = future
        await self.ws.send(json.dumps([2, uid, action, payload]))
        msg = await asyncio.wait_for(future, timeout=10)
        assert msg[0] == 3, msg
        result: dict[str, Any] = msg[2]
        return result


@contextlib.asynccontextmanager
async def station(server: Server, station_id: str) -> AsyncIterator[Station16]:
    async with connect(server.station_url(station_id), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        s = Station16(ws)
        task = asyncio.create_task(s.run())
        try:
            yield s
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _meter(at: datetime, wh: int) -> dict[str, Any]:
    return {
        "timestamp": _stamp(at),
        "sampledValue": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        ],
    }


async def _charge(cpo: Server) -> int:
    """One 1.6 transaction with the roaming token at a new station; its pk."""
    async with station(cpo, "CP-ROAM") as cs:
        boot = await cs.call(
            "BootNotification", {"chargePointVendor": "Test", "chargePointModel": "R1"}
        )
        assert boot["status"] == "Accepted", boot
        t0 = datetime.now(UTC)  # after the tariff's creation (tariffs are versioned)
        started = await cs.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": UID, "meterStart": 1000, "timestamp": _stamp(t0)},
        )
        assert started["idTagInfo"]["status"] == "Accepted", started
        tx_id = started["transactionId"]
        await cs.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [_meter(t0 + timedelta(seconds=1), 4000)],
            },
        )
        await asyncio.sleep(0.3)
        await cs.call(
            "StopTransaction",
            {
                "transactionId": tx_id,
                "idTag": UID,
                "meterStop": 8500,
                "timestamp": _stamp(datetime.now(UTC)),
                "reason": "EVDisconnected",
            },
        )
    found = await _ok(await cpo.api().get("/transactions", params={"station_id": "CP-ROAM"}))
    pk: int = found["items"][0]["id"]
    return pk


async def test_session_and_cdrs_reach_the_emsp(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    emsp_at_cpo, cpo_at_emsp = await _register(cpo, emsp)
    partner = await cpo.app.roaming.partners.get(emsp_at_cpo)
    assert partner is not None
    # The eMSP's token, as its token push would leave it at the CPO.
    await cpo.app.roaming.tokens_roaming.put(
        partner,
        "DE",
        "EMP",
        UID,
        TokenType.RFID,
        {
            "country_code": "DE",
            "party_id": "EMP",
            "uid": UID,
            "type": "RFID",
            "contract_id": "DE-EMP-C00001-1",
            "issuer": "Partner eMSP",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2026-12-01T10:00:00Z",
        },
    )
    # The CPO's default tariff: 0.25/kWh excl. VAT, 21 % VAT.
    tariff = {
        "id": "STD",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}]}
        ],
        "is_default": True,
    }
    await _ok(await cpo.api().post("/tariffs", json=tariff), 201)
    pk = await _charge(cpo)
    sessions = emsp.app.roaming.ocpi_sessions

    async def completed() -> bool:
        got = await sessions.received("NL", "AMP", str(pk))
        return got is not None and got.status == "COMPLETED"

    await until("the completed session at the eMSP", completed)
    got = await sessions.received("NL", "AMP", str(pk))
    assert got is not None and got.side == RECEIVED and got.partner_id == cpo_at_emsp
    body = got.body
    assert body["cdr_token"]["uid"] == UID and body["cdr_token"]["party_id"] == "EMP"
    assert body["kwh"] == 7.5 and body["end_date_time"]
    assert body["evse_uid"] and body["connector_id"] == "1"
    # Priced by the tariff engine: 7.5 kWh x 0.25 = 1.875 excl. VAT.
    assert body["total_cost"] == {"excl_vat": 1.875, "incl_vat": 2.2688}
    assert {p.get("tariff_id") for p in body["charging_periods"]} == {"STD"}

    async def cdr_arrived() -> bool:
        page = await emsp.api().get("/ocpi/received/cdrs")
        return page.status_code == 200 and page.json()["total"] == 1

    await until("the CDR at the eMSP", cdr_arrived)
    received = (await _ok(await emsp.api().get("/ocpi/received/cdrs")))["items"][0]
    assert received["cdr_id"] == str(pk) and received["session_id"] == str(pk)
    assert received["total_energy"] == 7.5 and received["token_owner"] == "DE/EMP"
    assert received["cdr"]["cdr_location"]["connector_id"] == "1"
    assert received["total_cost"] == {"excl_vat": 1.875, "incl_vat": 2.2688}
    assert [t["id"] for t in received["cdr"]["tariffs"]] == ["STD"]
    assert received["cdr"]["total_energy_cost"] == {"excl_vat": 1.875, "incl_vat": 2.2688}
    # The CDR is at its URL at the eMSP, for the CPO that sent it.
    cpo_token = partner.token_out  # what the CPO presents to the eMSP
    assert cpo_token
    url = f"{emsp.http_url}/ocpi/emsp/2.2.1/cdrs/{received['id']}"
    again = await _ok(await _ocpi(emsp, cpo_token).get(url))
    assert again["data"]["id"] == str(pk)

    # Operator views at the CPO.
    ours = await _ok(await cpo.api().get("/cdrs", params={"transaction_id": pk}))
    assert ours["total"] == 1 and ours["items"][0]["partner_id"] == emsp_at_cpo
    cdr_pk = ours["items"][0]["id"]
    mine = await _ok(await cpo.api().get("/ocpi/sessions", params={"side": "ours"}))
    assert [s["transaction_id"] for s in mine["items"]] == [pk]
    assert mine["items"][0]["status"] == "COMPLETED" and mine["items"][0]["pushed_at"]
    one = await _ok(await cpo.api().get(f"/ocpi/sessions/{mine['items'][0]['id']}"))
    assert one["session"]["id"] == str(pk)

    # The pull model: the eMSP GETs the CPO's sessions and CDRs with its token.
    emsp_side = await emsp.app.roaming.partners.get(cpo_at_emsp)
    assert emsp_side is not None
    token = emsp_side.token_out
    assert token
    pulled = await _ocpi(cpo, token).get("/cpo/2.2.1/sessions", params={"limit": 1})
    page = await _ok(pulled)
    assert page["status_code"] == 1000 and [s["id"] for s in page["data"]] == [str(pk)]
    assert pulled.headers["X-Total-Count"] == "1" and pulled.headers["X-Limit"] == "1"
    cdrs = await _ok(await _ocpi(cpo, token).get("/cpo/2.2.1/cdrs"))
    assert [c["id"] for c in cdrs["data"]] == [str(pk)]
    later = await _ok(
        await _ocpi(cpo, token).get("/cpo/2.2.1/cdrs", params={"date_from": "2999-01-01T00:00:00Z"})
    )
    assert later["data"] == []

    # A correction: credit and re-issue; both reach the eMSP.
    credited = await _ok(
        await cpo.api().post(f"/cdrs/{cdr_pk}/credit", json={"reason": "test", "reissue": True}),
        201,
    )
    assert credited["credit"]["cdr_id"] == f"{pk}-C"
    assert credited["reissued"]["cdr_id"] == f"{pk}-2"
    conflict = await cpo.api().post(f"/cdrs/{cdr_pk}/credit", json={})
    assert conflict.status_code == 409
    assert (await cpo.api().post("/cdrs/999999/credit")).status_code == 404

    async def three() -> bool:
        page = await emsp.api().get("/ocpi/received/cdrs")
        return page.status_code == 200 and page.json()["total"] == 3

    await until("the credit and re-issued CDRs at the eMSP", three)
    ids = {
        c["cdr_id"]: c for c in (await _ok(await emsp.api().get("/ocpi/received/cdrs")))["items"]
    }
    assert set(ids) == {str(pk), f"{pk}-C", f"{pk}-2"}
    assert ids[f"{pk}-C"]["credit"] is True
    assert ids[f"{pk}-C"]["total_cost"]["excl_vat"] == -ids[str(pk)]["total_cost"]["excl_vat"]
    assert ids[str(pk)]["credited_by"] == f"{pk}-C"


def _session(session_id: str = "S1", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "AMP",
        "id": session_id,
        "start_date_time": "2026-12-01T10:00:00Z",
        "kwh": 0,
        "cdr_token": {
            "country_code": "DE",
            "party_id": "EMP",
            "uid": UID,
            "type": "RFID",
            "contract_id": "DE-EMP-C00001-1",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "CP1*1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": "2026-12-01T10:00:00Z",
    }
    body.update(kw)
    return body


def _cdr(cdr_id: str = "C1", **kw: Any) -> dict[str, Any]:
    body = _session(cdr_id)
    for key in ("kwh", "status", "location_id", "evse_uid", "connector_id"):
        del body[key]
    body.update(
        end_date_time="2026-12-01T11:00:00Z",
        cdr_location={
            "id": "LOC1",
            "address": "Main Street 1",
            "city": "Utrecht",
            "country": "NLD",
            "coordinates": {"latitude": "52.09073", "longitude": "5.12142"},
            "evse_uid": "CP1*1",
            "evse_id": "NL*AMP*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        charging_periods=[
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10.5}],
                "tariff_id": "T1",
            }
        ],
        total_cost={"excl_vat": 2.63, "incl_vat": 3.18},
        total_energy=10.5,
        total_time=1,
    )
    body.update(kw)
    return body


async def test_emsp_receiver_interfaces(pair: tuple[Server, Server]) -> None:
    cpo, emsp = pair
    _, cpo_at_emsp = await _register(cpo, emsp)
    cpo_side = await emsp.app.roaming.partners.get(cpo_at_emsp)
    assert cpo_side is not None and cpo_side.token_out
    # What the CPO presents to the eMSP: the token the eMSP issued to it.
    cpo_partner = await cpo.app.roaming.partners.list()
    token = next(p.token_out for p in cpo_partner if p.token_out)
    assert token
    client = _ocpi(emsp, token)
    base = "/emsp/2.2.1/sessions"

    # Unknown or missing token: 401.
    for bad in (_ocpi(emsp, "not-a-token"), _ocpi(emsp, None)):
        r = await bad.get(f"{base}/NL/AMP/S1")
        assert r.status_code == 401 and r.json()["status_code"] == 2001
    # PUT, GET, PATCH (periods added), GET.
    await _ok(await client.put(f"{base}/NL/AMP/S1", json=_session()))
    got = await _ok(await client.get(f"{base}/NL/AMP/S1"))
    assert got["status_code"] == 1000 and got["data"]["id"] == "S1"
    period = {
        "start_date_time": "2026-12-01T10:05:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 1.2}],
    }
    await _ok(
        await client.patch(
            f"{base}/nl/amp/S1",
            json={"kwh": 1.2, "charging_periods": [period], "last_updated": "2026-12-01T10:06:00Z"},
        )
    )
    got = await _ok(await client.get(f"{base}/NL/AMP/S1"))
    assert got["data"]["kwh"] == 1.2 and got["data"]["charging_periods"] == [period]
    # Unknown objects: 2004 / 404.
    for r in (
        await client.get(f"{base}/NL/AMP/NOPE"),
        await client.patch(f"{base}/NL/AMP/NOPE", json={"last_updated": "2026-12-01T10:06:00Z"}),
    ):
        assert r.status_code == 404 and r.json()["status_code"] == 2004
    # Another party's URL: 2001 / 404.
    r = await client.put(f"{base}/FR/XXX/S1", json=_session(country_code="FR", party_id="XXX"))
    assert r.status_code == 404 and r.json()["status_code"] == 2001
    # Malformed bodies and field limits: 2001 / 400.
    for bad_body in (
        "not json",
        [1, 2],
        _session(id="S2", kwh="lots"),
        _session(id="S2", status="CHARGING"),
        _session(id="S2", location_id="L" * 37),
        _session(id="S2", meter_id="m" * 256),
        _session(id="S2", start_date_time="yesterday"),
        {k: v for k, v in _session("S2").items() if k != "cdr_token"},
        _session(id="S3"),  # the body's id differs from the URL's
    ):
        content = bad_body if isinstance(bad_body, str) else json.dumps(bad_body)
        r = await client.put(
            f"{base}/NL/AMP/S2", content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400, (bad_body, r.text)
        assert r.json()["status_code"] == 2001
    r = await client.patch(f"{base}/NL/AMP/S1", json={"kwh": 3})  # no last_updated
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    r = await client.get(f"{base}/NL/AMP/{'x' * 37}")
    assert r.status_code == 400 and r.json()["status_code"] == 2001

    # CDRs: POST answers a Location; the same CDR again is fine; another under its id not.
    posted = await client.post("/emsp/2.2.1/cdrs", json=_cdr())
    assert posted.status_code == 200 and posted.json()["status_code"] == 1000, posted.text
    location = posted.headers["Location"]
    assert location.startswith(f"{emsp.http_url}/ocpi/emsp/2.2.1/cdrs/")
    fetched = await _ok(await client.get(location))
    assert fetched["data"] == _cdr()
    again = await client.post("/emsp/2.2.1/cdrs", json=_cdr())
    assert again.status_code == 200 and again.headers["Location"] == location
    changed = await client.post("/emsp/2.2.1/cdrs", json=_cdr(total_energy=11))
    assert changed.status_code == 400 and changed.json()["status_code"] == 2001
    for bad_cdr in (
        _cdr("C2", charging_periods=[]),
        _cdr("C2", credit=True),  # a credit CDR without credit_reference_id
        _cdr("C" * 37),  # a normal CDR's id has at most 36 characters
        _cdr("C2", country_code="FR"),  # not the caller's party
        _cdr("C2", cdr_location={**_cdr()["cdr_location"], "connector_standard": "PLUG"}),
        _cdr("C2", cdr_location={**_cdr()["cdr_location"], "address": "a" * 46}),
    ):
        r = await client.post("/emsp/2.2.1/cdrs", json=bad_cdr)
        assert r.status_code == 400 and r.json()["status_code"] == 2001, (bad_cdr, r.text)
    r = await client.get("/emsp/2.2.1/cdrs/999999")
    assert r.status_code == 404 and r.json()["status_code"] == 2004
    # Credit CDRs of a partner are taken as sent.
    credit = _cdr("C1-C", credit=True, credit_reference_id="C1", total_cost={"excl_vat": -2.63})
    assert (await client.post("/emsp/2.2.1/cdrs", json=credit)).status_code == 200
    listed = await _ok(await emsp.api().get("/ocpi/received/cdrs"))
    assert listed["total"] == 2
    by_id = {c["cdr_id"]: c for c in listed["items"]}
    assert by_id["C1"]["credited_by"] == "C1-C" and by_id["C1-C"]["credit"] is True
    assert (await emsp.api().get(f"/ocpi/received/cdrs/{by_id['C1']['id']}")).status_code == 200
    assert (await emsp.api().get("/cdrs")).json()["total"] == 0  # ours: none
    assert (await emsp.api().get(f"/cdrs/{by_id['C1']['id']}")).status_code == 404
    sessions = await _ok(await emsp.api().get("/ocpi/sessions", params={"side": "received"}))
    assert sessions["total"] == 1 and sessions["items"][0]["kwh"] == 1.2

    # The CPO side: charging preferences are not supported (404), unknown session 2004.
    emsp_token = cpo_side.token_out
    r = await _ocpi(cpo, emsp_token).put(
        "/cpo/2.2.1/sessions/12345/charging_preferences", json={"profile_type": "FAST"}
    )
    assert r.status_code == 404 and r.json()["status_code"] == 2004
    r = await _ocpi(cpo, emsp_token).put(
        "/cpo/2.2.1/sessions/12345/charging_preferences", json={"profile_type": "SLOW"}
    )
    assert r.status_code == 400 and r.json()["status_code"] == 2001
