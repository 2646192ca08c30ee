"""OCPI 2.2.1 commands between two real Ampyre servers (issue 20, H5): the eMSP sends
START_SESSION for one of its app tokens and a simulated OCPP 2.0.1 station at the CPO
starts a real transaction (authorized by the command's grant, no real-time call), then
STOP_SESSION ends it; RESERVE_NOW / CANCEL_RESERVATION / UNLOCK_CONNECTOR reach an OCPP
1.6 station; each time the CPO answers a CommandResponse at once and POSTs the
CommandResult to the eMSP's response_url. Also the Receiver and Sender interfaces'
contract (unknown command, unknown session, malformed bodies, another eMSP's token,
results for unknown commands or from the wrong partner)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from polling import station_connected, until
from test_ocpi_tokens_e2e import Pair, ok, pair  # noqa: F401 (the fixture)
from test_ocpp_lib_clients import running

from ampyre.domain.ocpi_commands import (
    CommandType,
)
from ampyre.simulator import run_simulation
from ampyre.simulator.session import SessionConfig

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server

LOCATION = {
    "name": "Roaming depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
}


async def make_location(cpo: Server, location_id: str, station_id: str) -> None:
    await ok(await cpo.api().post("/locations", json={"id": location_id, **LOCATION}), 201)
    await ok(await cpo.api().put(f"/locations/{location_id}/stations/{station_id}"))


async def evse_uids(cpo: Server, location_id: str) -> list[str]:
    r = await cpo.api().get(f"/locations/{location_id}/evses")
    return [e["uid"] for e in r.json()["items"]] if r.status_code == 200 else []


async def transactions(cpo: Server, station_id: str) -> list[dict[str, Any]]:
    r = await cpo.api().get("/transactions", params={"station_id": station_id})
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def sender(both: Pair) -> Any:
    async def send(body: dict[str, Any]) -> httpx.Response:
        return await both.emsp.api().post(
            f"/ocpi/partners/{both.cpo_partner_at_emsp}/commands", json=body
        )

    return send


async def test_start_session_starts_a_real_ocpp_transaction(pair: Pair) -> None:  # noqa: F811
    cpo, emsp = pair.cpo, pair.emsp
    send = sender(pair)
    app_token = {"id_token": "APPUSER1", "type": "Central"}
    await ok(await emsp.api().post("/id-tokens", json=app_token), 201)
    sid = "CMD201-00001"
    await cpo.create_station(sid, registration_status="Accepted")
    await make_location(cpo, "DEPOT", sid)
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{cpo.ws_url}/ocpp", 1, "ocpp2.0.1", prefix="CMD201-", stop=stop, seed=1,
            status_change_interval=0,
            sessions=SessionConfig(meter_interval=0.3, local_sessions=False),
        )
    )  # fmt: skip
    try:
        await until("the station online", lambda: station_connected(cpo.api(), sid))
        await until("its EVSEs", lambda: _some(evse_uids(cpo, "DEPOT")))
        evse = (await evse_uids(cpo, "DEPOT"))[0]

        started = await ok(
            await send(
                {
                    "command": "START_SESSION",
                    "id_token": "APPUSER1",
                    "location_id": "DEPOT",
                    "evse_uid": evse,
                    "authorization_reference": "AUTH-1",
                    "wait": 15,
                }
            )
        )
        assert started["direction"] == "sent" and started["response"] == "ACCEPTED", started
        assert started["result"] == "ACCEPTED", started
        assert started["request"]["token"]["uid"] == "APPUSER1"
        assert started["request"]["token"]["type"] == "APP_USER"
        assert started["request"]["response_url"].endswith(f"/START_SESSION/{started['uid']}")

        # A real transaction with the eMSP's token, accepted through the command's grant.
        async def running_tx() -> bool:
            items = await transactions(cpo, sid)
            return bool(items) and items[0]["status"] == "active"

        await until("the transaction", running_tx)
        tx = (await transactions(cpo, sid))[0]
        assert tx["id_token"] == "APPUSER1"
        assert tx["auth_status"] in (None, "Accepted")
        received = await ok(await cpo.api().get("/ocpi/commands", params={"direction": "received"}))
        command = received["items"][0]
        assert (command["command"], command["response"], command["result"]) == (
            "START_SESSION",
            "ACCEPTED",
            "ACCEPTED",
        )
        assert command["station_id"] == sid and command["location_id"] == "DEPOT"
        grant = await cpo.app.roaming.tokens_roaming.authorization(sid, "APPUSER1")
        assert grant is not None and grant.kind.value == "command"
        assert grant.authorization_reference == "AUTH-1"
        token = await cpo.app.roaming.tokens_roaming.lookup("APPUSER1")
        assert token is not None and (token.country_code, token.party_id) == ("DE", "EMP")

        # STOP_SESSION: the session id is the transaction's id.
        stopped = await ok(
            await send({"command": "STOP_SESSION", "session_id": str(tx["id"]), "wait": 15})
        )
        assert (stopped["response"], stopped["result"]) == ("ACCEPTED", "ACCEPTED"), stopped

        async def ended() -> bool:
            got = (await cpo.api().get(f"/transactions/{tx['id']}")).json()
            return bool(got["status"] == "ended")

        await until("the end of the transaction", ended)
        again = await ok(await send({"command": "STOP_SESSION", "session_id": str(tx["id"])}))
        assert again["response"] == "UNKNOWN_SESSION" and again["result"] is None

        # UNLOCK_CONNECTOR (help desk): the simulator unlocks.
        unlocked = await ok(
            await send(
                {
                    "command": "UNLOCK_CONNECTOR",
                    "location_id": "DEPOT",
                    "evse_uid": evse,
                    "connector_id": "1",
                    "wait": 15,
                }
            )
        )
        assert (unlocked["response"], unlocked["result"]) == ("ACCEPTED", "ACCEPTED"), unlocked
        nowhere = await ok(
            await send(
                {
                    "command": "UNLOCK_CONNECTOR",
                    "location_id": "DEPOT",
                    "evse_uid": evse,
                    "connector_id": "9",
                }
            )
        )
        assert nowhere["response"] == "REJECTED" and nowhere["response_message"]
    finally:
        stop.set()
        await asyncio.wait_for(sim, 15)
    # The station goes away: a command for it is refused at once.
    await until("the station offline", lambda: _offline(cpo, sid))
    offline = await ok(
        await send(
            {"command": "START_SESSION", "id_token": "APPUSER1", "location_id": "DEPOT",
             "evse_uid": evse}
        )
    )  # fmt: skip
    assert offline["response"] == "REJECTED" and "offline" in offline["response_message"]


async def _some(found: Any) -> bool:
    return bool(await found)


async def _offline(cpo: Server, sid: str) -> bool:
    return not await station_connected(cpo.api(), sid)


class Reserving16(ChargePoint16):
    """A 1.6 station that takes reservations, cancels them and unlocks."""

    reserved: list[dict[str, Any]]
    cancelled: list[int]

    @on(Action16.reserve_now)
    async def on_reserve_now(self, **kwargs: Any) -> result16.ReserveNow:
        self.reserved.append(kwargs)
        return result16.ReserveNow(status="Accepted")

    @on(Action16.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int) -> result16.CancelReservation:
        self.cancelled.append(reservation_id)
        return result16.CancelReservation(status="Accepted")

    @on(Action16.unlock_connector)
    async def on_unlock_connector(self, connector_id: int) -> result16.UnlockConnector:
        return result16.UnlockConnector(status="UnlockFailed")


async def test_reservations_and_unlock_on_an_ocpp16_station(pair: Pair) -> None:  # noqa: F811
    cpo, emsp = pair.cpo, pair.emsp
    send = sender(pair)
    await ok(await emsp.api().post("/id-tokens", json={"id_token": "CARD16"}), 201)
    sid = "RES16-1"
    await cpo.create_station(sid, registration_status="Accepted")
    await make_location(cpo, "RESLOC", sid)
    async with running(Reserving16, cpo, sid, "ocpp1.6") as cp:
        cp.reserved, cp.cancelled = [], []
        await cp.call(
            call16.BootNotification(charge_point_vendor="V", charge_point_model="M"),
            suppress=False,
        )
        for connector in (1, 2):
            await cp.call(
                call16.StatusNotification(
                    connector_id=connector, error_code="NoError", status="Available"
                ),
                suppress=False,
            )
        await until("its EVSEs", lambda: _some(evse_uids(cpo, "RESLOC")))
        evse = sorted(await evse_uids(cpo, "RESLOC"))[0]
        expiry = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)

        reserved = await ok(
            await send(
                {
                    "command": "RESERVE_NOW",
                    "id_token": "CARD16",
                    "location_id": "RESLOC",
                    "evse_uid": evse,
                    "expiry_date": expiry.isoformat(),
                    "reservation_id": "EMSP-R1",
                    "wait": 15,
                }
            )
        )
        assert (reserved["response"], reserved["result"]) == ("ACCEPTED", "ACCEPTED"), reserved
        assert cp.reserved[0]["id_tag"] == "CARD16" and cp.reserved[0]["connector_id"] == 1
        # Ampyre's own reservation id goes to the station, not the eMSP's.
        station_reservation = cp.reserved[0]["reservation_id"]
        received = (
            await ok(await cpo.api().get("/ocpi/commands", params={"direction": "received"}))
        )["items"][0]
        assert received["reservation_id"] == station_reservation
        assert received["ocpi_reservation_id"] == "EMSP-R1"

        # The same reservation_id again replaces it (the earlier one is cancelled).
        again = await ok(
            await send(
                {
                    "command": "RESERVE_NOW",
                    "id_token": "CARD16",
                    "location_id": "RESLOC",
                    "expiry_date": expiry.isoformat(),
                    "reservation_id": "emsp-r1",
                    "wait": 15,
                }
            )
        )
        assert again["result"] == "ACCEPTED", again
        assert cp.cancelled == [station_reservation]
        assert cp.reserved[1]["connector_id"] == 0  # no EVSE named: any
        cancelled = await ok(
            await send({"command": "CANCEL_RESERVATION", "reservation_id": "EMSP-R1", "wait": 15})
        )
        assert (cancelled["response"], cancelled["result"]) == ("ACCEPTED", "ACCEPTED")
        assert cp.cancelled[-1] == cp.reserved[1]["reservation_id"]
        unknown = await ok(await send({"command": "CANCEL_RESERVATION", "reservation_id": "NOPE"}))
        assert unknown["response"] == "REJECTED"
        past = await ok(
            await send(
                {
                    "command": "RESERVE_NOW",
                    "id_token": "CARD16",
                    "location_id": "RESLOC",
                    "expiry_date": (expiry - timedelta(days=1)).isoformat(),
                }
            )
        )
        assert past["response"] == "REJECTED"

        failed = await ok(
            await send(
                {
                    "command": "UNLOCK_CONNECTOR",
                    "location_id": "RESLOC",
                    "evse_uid": evse,
                    "connector_id": "1",
                    "wait": 15,
                }
            )
        )
        assert (failed["result"], failed["result_message"]) == (
            "FAILED",
            "the Charge Point answered unlockfailed",
        )
    listed = await ok(await emsp.api().get("/ocpi/commands", params={"direction": "sent"}))
    assert listed["total"] == 6
    one = await ok(await emsp.api().get(f"/ocpi/commands/{listed['items'][0]['id']}"))
    assert one["command"] == "UNLOCK_CONNECTOR"


def _ocpi(server: Server, token: str) -> httpx.AsyncClient:
    value = base64.b64encode(token.encode()).decode()
    client = httpx.AsyncClient(
        base_url=f"{server.http_url}/ocpi", headers={"Authorization": f"Token {value}"}, timeout=10
    )
    server._clients.append(client)
    return client


def start_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "response_url": "https://emsp.invalid/ocpi/emsp/2.2.1/commands/START_SESSION/1",
        "token": {
            "country_code": "DE",
            "party_id": "EMP",
            "uid": "APP9",
            "type": "APP_USER",
            "contract_id": "C9",
            "issuer": "Partner",
            "valid": True,
            "whitelist": "NEVER",
            "last_updated": "2026-01-01T00:00:00Z",
        },
        "location_id": "NOWHERE",
    }
    body.update(changes)
    return body


async def test_commands_contract(pair: Pair) -> None:  # noqa: F811
    cpo_side = _ocpi(pair.cpo, await pair.emsp_token())

    async def post(url: str, body: Any) -> dict[str, Any]:
        r = await cpo_side.post(url, json=body)
        data: dict[str, Any] = r.json()
        data["http"] = r.status_code
        return data

    unknown = await post("/cpo/2.2.1/commands/SELF_DESTRUCT", {})
    assert unknown["http"] == 200 and unknown["data"]["result"] == "NOT_SUPPORTED"
    no_location = await post("/cpo/2.2.1/commands/START_SESSION", start_body())
    assert no_location["status_code"] == 1000
    assert no_location["data"]["result"] == "REJECTED" and no_location["data"]["timeout"] > 0
    assert no_location["data"]["message"][0]["language"] == "en"
    other_emsp = start_body()
    other_emsp["token"] = {**other_emsp["token"], "party_id": "OTH"}
    refused = await post("/cpo/2.2.1/commands/START_SESSION", other_emsp)
    assert refused["data"]["result"] == "REJECTED"
    assert "not owned" in refused["data"]["message"][0]["text"]
    no_session = await post(
        "/cpo/2.2.1/commands/STOP_SESSION",
        {"response_url": "https://emsp.invalid/r/1", "session_id": "424242"},
    )
    assert no_session["data"]["result"] == "UNKNOWN_SESSION"
    for bad in (
        start_body(response_url="not a url"),
        start_body(location_id="L" * 37),
        start_body(token={"uid": "x"}),
        start_body(connector_id="1"),  # without evse_uid
        [],
    ):
        r = await post("/cpo/2.2.1/commands/START_SESSION", bad)
        assert (r["http"], r["status_code"]) == (400, 2001), r
    r = await cpo_side.post("/cpo/2.2.1/commands/STOP_SESSION", content=b"{")
    assert (r.status_code, r.json()["status_code"]) == (400, 2001)

    # Results at the eMSP: only for a command it sent to that partner.
    emsp_side = _ocpi(pair.emsp, await pair.cpo_token())
    r = await emsp_side.post("/emsp/2.2.1/commands/START_SESSION/nope", json={"result": "ACCEPTED"})
    assert (r.status_code, r.json()["status_code"]) == (404, 2004)
    sent = await pair.emsp.app.roaming.sent_commands.send(
        pair.cpo_partner_at_emsp, CommandType.STOP_SESSION, {"session_id": "1"}
    )
    assert sent.response is not None and sent.response.value == "UNKNOWN_SESSION"
    url = f"/emsp/2.2.1/commands/STOP_SESSION/{sent.uid}"
    r = await emsp_side.post(url, json={"result": "WHATEVER"})
    assert (r.status_code, r.json()["status_code"]) == (400, 2001)
    wrong = f"/emsp/2.2.1/commands/START_SESSION/{sent.uid}"
    r = await emsp_side.post(wrong, json={"result": "ACCEPTED"})
    assert r.status_code == 404  # the command in the URL must be the one sent
    late = {"result": "TIMEOUT", "message": [{"language": "en", "text": "late"}]}
    r = await emsp_side.post(url, json=late)
    assert (r.status_code, r.json()["status_code"]) == (200, 1000)
    listed = await ok(await pair.emsp.api().get("/ocpi/commands", params={"direction": "sent"}))
    stored = next(c for c in listed["items"] if c["uid"] == sent.uid)
    assert (stored["result"], stored["result_message"]) == ("TIMEOUT", "late")
