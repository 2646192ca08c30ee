"""The roaming story of issue 20 from end to end, between two real Ampyre servers:

1. a CPO (NL/AMP) and an eMSP (DE/EMP) complete the OCPI 2.2.1 credentials handshake,
   each operator using nothing but the REST API;
2. the CPO's operator makes a default tariff and a location with a simulated OCPP 2.0.1
   station in it: the Location, with the station's EVSEs, appears at the eMSP;
3. the eMSP's operator issues a card: the token is pushed to the CPO;
4. a driver badges that card at the simulated station: the CPO authorizes it from the
   pushed token, the station charges and stops;
5. the Session and the priced CDR arrive at the eMSP (read through the eMSP's REST API);
6. the eMSP sends START_SESSION (its REST API) for an app user: the station starts a real
   OCPP transaction; STOP_SESSION ends it again.

Everything waits for a condition with a bound (polling.until); the station and both
servers are stopped at the end (the `start_server` fixture stops the servers)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from polling import station_connected, until

from ampyre.adapters.db.migrate import migrate
from ampyre.simulator.runner import Counters
from ampyre.simulator.session import SessionConfig
from ampyre.simulator.station import SimulatedStation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

STATION = "AMP-E2E-01"
CARD = "EMSPCARD0001"  # the eMSP's RFID card
APP_USER = "EMSPAPP0001"  # the eMSP's app user, for the remote start
FAST = {  # push and sync loops a test can wait for
    "ocpi_push_poll_interval": 0.1,
    "ocpi_push_backoff": 0.2,
    "ocpi_token_sync_interval": 0.2,
    "ocpi_session_update_interval": 0.0,
}
# The CPO's default tariff: 1.00 start fee + 0.30 per kWh (Wh steps), 21 % VAT.
TARIFF = {
    "id": "E2E-STD",
    "currency": "EUR",
    "is_default": True,
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 1.00, "vat": 21.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
            ]
        }
    ],
}
LOCATION = {
    "id": "E2E-DEPOT",
    "name": "Roaming depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
    "opening_times": {"twentyfourseven": True},
}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@contextlib.asynccontextmanager
async def simulated_station(cpo: Server, config: SessionConfig) -> AsyncIterator[SimulatedStation]:
    """Ampyre's simulator as the CPO's station (OCPP 2.0.1, two EVSEs); it charges only
    when a driver plugs in (below) or when it is started remotely."""
    station = SimulatedStation(
        station_id=STATION,
        url=f"{cpo.ws_url}/ocpp",
        protocol="ocpp2.0.1",
        counters=Counters(),
        status_change_interval=0,
        call_timeout=10,
        rng=random.Random(20),  # the same EV and session length every run
        sessions=config,
    )
    task = asyncio.create_task(station.run(), name=STATION)
    try:
        yield station
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


def driver_badges(station: SimulatedStation, evse_id: int, card: str) -> None:
    """A driver plugs in at `evse_id` and presents `card` (the simulator's RFID session:
    the transaction starts at plug-in (2.0.1 E02), Authorize, then charging; it stops by
    itself after the configured time). The simulator's own driver loop (local_sessions)
    would keep starting sessions on both EVSEs; this test wants exactly one."""
    assert station.present_card(evse_id, card, "ISO14443")


async def test_roaming_between_a_cpo_and_an_emsp(
    start_server: StartServer, sqlite_url: str, tmp_path: Path
) -> None:
    emsp_db = f"sqlite+aiosqlite:///{tmp_path / 'emsp.db'}"
    await migrate(emsp_db)
    cpo = await start_server(sqlite_url, ocpi_roles=["CPO"], **FAST)
    emsp = await start_server(
        emsp_db,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_business_name="Roaming eMSP",
        ocpi_roles=["EMSP"],
        pki_dir=str(tmp_path / "pki-emsp"),
        **FAST,
    )
    cpo_api, emsp_api = cpo.api(), emsp.api()

    # 1. The credentials handshake: the CPO's operator creates the partner and hands its
    #    token A and versions URL to the eMSP's operator, who registers.
    invitation = await ok(await cpo_api.post("/ocpi/partners", json={"name": "Roaming eMSP"}), 201)
    cpo_at_emsp = await ok(
        await emsp_api.post(
            "/ocpi/partners",
            json={
                "name": "Ampyre CPO",
                "versions_url": invitation["our_versions_url"],
                "token": invitation["token_a"],
            },
        ),
        201,
    )
    registered = await ok(await emsp_api.post(f"/ocpi/partners/{cpo_at_emsp['id']}/register"))
    assert registered["status"] == "REGISTERED" and registered["version"] == "2.2.1"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in registered["roles"]] == [
        ("CPO", "NL", "AMP")
    ]
    emsp_at_cpo = await ok(await cpo_api.get(f"/ocpi/partners/{invitation['id']}"))
    assert emsp_at_cpo["status"] == "REGISTERED"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in emsp_at_cpo["roles"]] == [
        ("EMSP", "DE", "EMP")
    ]
    cpo_modules = {(e["identifier"], e["role"]) for e in registered["endpoints"]}
    assert {("locations", "SENDER"), ("tokens", "RECEIVER"), ("commands", "RECEIVER")} <= (
        cpo_modules
    )

    # 2. The CPO's tariff and its location with the simulated station.
    await ok(await cpo_api.post("/tariffs", json=TARIFF), 201)
    await cpo.create_station(STATION, registration_status="Accepted")
    await ok(await cpo_api.post("/locations", json=LOCATION), 201)
    await ok(await cpo_api.put(f"/locations/{LOCATION['id']}/stations/{STATION}"))
    config = SessionConfig(
        id_tokens=(CARD,), meter_interval=0.5, session_duration=8.0, local_sessions=False
    )
    async with simulated_station(cpo, config) as station:
        await until("the station online", lambda: station_connected(cpo_api, STATION))

        async def location_at_emsp() -> dict[str, Any] | None:
            page = await ok(await emsp_api.get("/ocpi/received/locations"))
            found = [i for i in page["items"] if i["location_id"] == LOCATION["id"]]
            return found[0] if found else None

        async def evses_available() -> bool:
            got = await location_at_emsp()
            statuses = [e["status"] for e in got["location"]["evses"]] if got else []
            return statuses == ["AVAILABLE", "AVAILABLE"]

        await until("the Location with both EVSEs available at the eMSP", evses_available)
        received = await location_at_emsp()
        assert received is not None
        assert (received["country_code"], received["party_id"]) == ("NL", "AMP")
        assert received["partner_id"] == cpo_at_emsp["id"]
        location = received["location"]
        assert (location["name"], location["city"], location["country"]) == (
            "Roaming depot",
            "Utrecht",
            "NLD",
        )
        evses = {e["uid"]: e for e in location["evses"]}
        assert set(evses) == {f"{STATION}*1", f"{STATION}*2"}
        assert {t for e in evses.values() for c in e["connectors"] for t in c["tariff_ids"]} == {
            TARIFF["id"]
        }

        # 3. The eMSP's card, pushed to the CPO by the token module.
        await ok(await emsp_api.post("/id-tokens", json={"id_token": CARD}), 201)

        async def card_at_cpo() -> bool:
            page = await ok(await cpo_api.get("/ocpi/received/tokens", params={"uid": CARD}))
            return any(i["token"]["uid"] == CARD for i in page["items"])

        await until("the eMSP's card at the CPO", card_at_cpo)
        held = (await ok(await cpo_api.get("/ocpi/received/tokens", params={"uid": CARD})))[
            "items"
        ][0]
        assert held["source"] == "push" and held["partner_id"] == invitation["id"]
        assert (held["token"]["country_code"], held["token"]["party_id"]) == ("DE", "EMP")
        assert held["token"]["valid"] is True and held["token"]["type"] == "RFID"

        # 4. A driver charges with the card at EVSE 1; the CPO authorizes it from the
        #    pushed token; the station stops by itself after some seconds (the simulated
        #    EV ramps its power up over 10 s: a few Wh).
        driver_badges(station, 1, CARD)

        async def ended_transaction() -> dict[str, Any] | None:
            page = await ok(await cpo_api.get("/transactions", params={"station_id": STATION}))
            done = [t for t in page["items"] if t["status"] == "ended"]
            return done[0] if done else None

        async def transaction_ended() -> bool:
            return await ended_transaction() is not None

        await until("the driver's transaction to end at the CPO", transaction_ended)
        transaction = await ended_transaction()
        assert transaction is not None and transaction["id_token"] == CARD
        assert transaction["energy_wh"] > 0
        authorizations = await ok(await cpo_api.get("/ocpi/authorizations"))
        # (Authorize, and the transaction's own checks of the token: all from the whitelist)
        assert authorizations["items"] and {
            (a["kind"], a["uid"], a["outcome"]) for a in authorizations["items"]
        } == {("whitelist", CARD, "Accepted")}

        # 5. The Session and the priced CDR at the eMSP, through its REST API.
        async def session_completed() -> bool:
            page = await ok(await emsp_api.get("/ocpi/sessions", params={"side": "received"}))
            return [s["status"] for s in page["items"]] == ["COMPLETED"]

        await until("the completed Session at the eMSP", session_completed)
        session = (await ok(await emsp_api.get("/ocpi/sessions", params={"side": "received"})))[
            "items"
        ][0]
        assert session["session_id"] == str(transaction["id"])
        assert (session["country_code"], session["party_id"]) == ("NL", "AMP")
        assert session["token_uid"] == CARD
        ocpi_session = session["session"]
        assert ocpi_session["location_id"] == LOCATION["id"]
        assert ocpi_session["evse_uid"] == f"{STATION}*1"
        assert ocpi_session["auth_method"] == "WHITELIST"
        assert ocpi_session["cdr_token"]["uid"] == CARD
        assert Decimal(str(ocpi_session["kwh"])) == Decimal(transaction["energy_wh"]) / 1000

        async def cdr_received() -> bool:
            page = await ok(await emsp_api.get("/ocpi/received/cdrs"))
            return page["total"] == 1

        await until("the CDR at the eMSP", cdr_received)
        cdr = (await ok(await emsp_api.get("/ocpi/received/cdrs")))["items"][0]
        assert cdr["cdr_id"] == str(transaction["id"])
        assert cdr["session_id"] == session["session_id"]
        assert cdr["token_owner"] == "DE/EMP" and cdr["partner_id"] == cpo_at_emsp["id"]
        kwh = Decimal(str(cdr["total_energy"]))
        assert kwh == Decimal(transaction["energy_wh"]) / 1000
        # Priced by the CPO's tariff engine: 1.00 + 0.30/kWh, VAT 21 % (4 decimals).
        excl = (Decimal("1.00") + Decimal("0.30") * kwh).quantize(Decimal("0.0001"))
        incl = (excl * Decimal("1.21")).quantize(Decimal("0.0001"))
        assert Decimal(str(cdr["total_cost"]["excl_vat"])) == excl
        assert abs(Decimal(str(cdr["total_cost"]["incl_vat"])) - incl) <= Decimal("0.0001")
        ocpi_cdr = cdr["cdr"]
        assert [t["id"] for t in ocpi_cdr["tariffs"]] == [TARIFF["id"]]
        assert {p["tariff_id"] for p in ocpi_cdr["charging_periods"]} == {TARIFF["id"]}
        assert ocpi_cdr["cdr_location"]["id"] == LOCATION["id"]
        assert ocpi_cdr["cdr_location"]["evse_uid"] == f"{STATION}*1"
        assert ocpi_cdr["total_fixed_cost"]["excl_vat"] == 1.0

        # 6. START_SESSION from the eMSP for its app user: a real OCPP transaction at the
        #    station (running until STOP_SESSION).
        await ok(
            await emsp_api.post("/id-tokens", json={"id_token": APP_USER, "type": "Central"}),
            201,
        )
        config.session_duration = 600.0
        commands = f"/ocpi/partners/{cpo_at_emsp['id']}/commands"
        started = await ok(
            await emsp_api.post(
                commands,
                json={
                    "command": "START_SESSION",
                    "id_token": APP_USER,
                    "location_id": LOCATION["id"],
                    "evse_uid": f"{STATION}*2",
                    "wait": 15,
                },
            )
        )
        assert (started["response"], started["result"]) == ("ACCEPTED", "ACCEPTED"), started

        async def remote_transaction() -> dict[str, Any] | None:
            page = await ok(await cpo_api.get("/transactions", params={"station_id": STATION}))
            found = [t for t in page["items"] if t["id_token"] == APP_USER]
            return found[0] if found else None

        async def remote_started() -> bool:
            found = await remote_transaction()
            return found is not None and found["status"] == "active"

        await until("the remotely started transaction at the CPO", remote_started)
        remote = await remote_transaction()
        assert remote is not None and remote["evse_id"] == 2
        assert station.active[2].id_token == APP_USER  # the station itself charges

        async def session_active() -> bool:
            page = await ok(await emsp_api.get("/ocpi/sessions", params={"side": "received"}))
            mine = [s for s in page["items"] if s["session_id"] == str(remote["id"])]
            return bool(mine) and mine[0]["status"] == "ACTIVE"

        await until("the remote session ACTIVE at the eMSP", session_active)

        stopped = await ok(
            await emsp_api.post(
                commands,
                json={"command": "STOP_SESSION", "session_id": str(remote["id"]), "wait": 15},
            )
        )
        assert (stopped["response"], stopped["result"]) == ("ACCEPTED", "ACCEPTED"), stopped

        async def remote_ended() -> bool:
            found = await remote_transaction()
            return found is not None and found["status"] == "ended"

        await until("the remote transaction to end", remote_ended)
        await until("its CDR at the eMSP", lambda: _cdrs_at(emsp_api, 2))


async def _cdrs_at(api: httpx.AsyncClient, count: int) -> bool:
    page = await ok(await api.get("/ocpi/received/cdrs"))
    return bool(page["total"] == count)
