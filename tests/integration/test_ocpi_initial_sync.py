"""A partner that registers gets the full current state, and an "unknown Location" answer
gets the whole Location (issue 20, H9).

- The push queue (SQLite and PostgreSQL): a request queued with a delay waits, and the
  later requests of its object wait behind it; a request answered 2003 / HTTP 404 goes
  to the fallback of its object kind once (its replacement is sent next, in order), a
  replacement that fails too, a broken fallback, other answers and kinds fail as before.
- Two real Ampyre servers: before any handshake the CPO (NL/AMP) has a Location with an
  OCPP 1.6 station and a tariff, and the eMSP (DE/EMP) an id token; neither pulls (the
  eMSP's Locations pull is off, the CPO's token pull runs only at start). After the
  credentials handshake (either side initiating) each has the other's objects without
  any further change. Then the eMSP loses the Location; the station's next status change
  (an EVSE PATCH answered 404 / 2003) ends with the whole Location at the eMSP again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa
from ocpp.v16 import call as call16
from polling import until
from test_ocpi_push import Env, drain
from test_ocpp_lib_clients import Station16, running

from ampyre.adapters.db.database import Database
from ampyre.adapters.db.migrate import migrate
from ampyre.adapters.db.tables_locations import ocpi_received_locations
from ampyre.config import Settings
from ampyre.domain.ocpi import Partner
from ampyre.services.ocpi_port import OcpiReply, PushItem, PushStatus

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

UNKNOWN = OcpiReply(404, 2003, "Unknown Location", None)


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    database = Database(Settings(database_url=store_url))
    yield database
    await database.dispose()


# ------------------------------------------------------------------ the push queue


async def test_a_delayed_request_holds_its_object_back(db: Database) -> None:
    env = Env(db)
    p = await env.partner("emsp")
    url = "https://emsp/tariffs/NL/AMP/T1"
    await env.push.enqueue(p.id, "PUT", url, {"v": 1}, "tariff:T1", delay=3.0)
    await env.push.enqueue(p.id, "PATCH", url, {"v": 2}, "tariff:T1")
    await env.push.enqueue(p.id, "PUT", url + "2", {"v": "other"}, "tariff:T2")
    await drain(env)
    assert [b for *_, b in env.client.sent] == [{"v": "other"}]  # T1's rows wait
    [held, follower] = await env.rows()
    assert (held.next_attempt_at - env.clock.now).total_seconds() == pytest.approx(3.0, abs=1)
    assert follower.next_attempt_at <= env.clock.now
    env.clock.advance(3.0)
    await drain(env)
    assert [b["v"] for *_, b in env.client.sent] == ["other", 1, 2]
    assert await env.rows() == []
    # The partner's own queue call passes the delay on (and knows the endpoint).
    assert await env.push.to_partner(p, "tariffs", "PUT", "/NL/AMP/T3", {"v": 3}, "t:3", delay=9)
    [row] = await env.rows()
    assert row.url == "https://emsp/tariffs/NL/AMP/T3"
    assert (row.next_attempt_at - env.clock.now).total_seconds() == pytest.approx(9, abs=1)


class Fallback:
    """A fallback like the Location one: the whole object instead of anything else."""

    def __init__(self, env: Env, broken: bool = False) -> None:
        self.env, self.broken = env, broken
        self.asked: list[tuple[int, str, str]] = []

    async def __call__(self, partner: Partner, item: PushItem) -> bool:
        self.asked.append((partner.id, item.method, item.url))
        if self.broken:
            raise RuntimeError("fallback bug")
        if item.method == "PUT" and item.url == "https://emsp/tariffs/L1":
            return False  # the whole object failed itself: give up
        await self.env.push.enqueue(
            partner.id, "PUT", "https://emsp/tariffs/L1", {"whole": True}, item.object_key
        )
        return True


async def test_unknown_object_answers_send_the_whole_object_once(db: Database) -> None:
    env = Env(db)
    fallback = Fallback(env)
    env.push.on_unknown_object("location:", fallback)
    p = await env.partner("emsp")
    patch_url = "https://emsp/tariffs/L1/E1"
    env.client.answers[patch_url] = [UNKNOWN]
    await env.push.enqueue(p.id, "PATCH", patch_url, {"status": "CHARGING"}, "location:L1")
    await env.push.enqueue(p.id, "PATCH", patch_url + "/1", {"n": 2}, "location:L1")
    assert await env.push.run_once() == 1
    # The PATCH is handled (gone); the whole object replaced the queued follower
    # (a PUT supersedes the PATCHes no one is sending) and goes next.
    [replacement] = await env.rows()
    assert (replacement.method, replacement.body) == ("PUT", {"whole": True})
    await drain(env)
    assert [(m, u) for _, m, u, _ in env.client.sent] == [
        ("PATCH", patch_url),
        ("PUT", "https://emsp/tariffs/L1"),
    ]
    assert fallback.asked == [(p.id, "PATCH", patch_url)]
    assert await env.rows() == []

    # The replacement answered "unknown" as well: the fallback declines, it fails.
    env.client.answers["https://emsp/tariffs/L1"] = [OcpiReply(404, 2000, "no", None)]
    env.client.answers[patch_url] = [UNKNOWN]
    await env.push.enqueue(p.id, "PATCH", patch_url, {"status": "AVAILABLE"}, "location:L1")
    await drain(env)
    [failed] = await env.rows(PushStatus.FAILED)
    assert (failed.method, failed.last_http_status, failed.attempts) == ("PUT", 404, 1)
    assert len(fallback.asked) == 3
    await env.push.delete(failed.id)

    # Other refusals, and objects without a fallback, fail at once as before.
    env.client.answers[patch_url] = [OcpiReply(400, 2001, "bad", None)]
    await env.push.enqueue(p.id, "PATCH", patch_url, {"x": 1}, "location:L1")
    env.client.answers["https://emsp/tariffs/T9"] = [UNKNOWN]
    await env.push.enqueue(p.id, "PATCH", "https://emsp/tariffs/T9", {"x": 1}, "tariff:T9")
    await drain(env)
    failed_rows = await env.rows(PushStatus.FAILED)
    assert sorted((r.object_key, r.last_status_code) for r in failed_rows) == [
        ("location:L1", 2001),
        ("tariff:T9", 2003),
    ]
    assert len(fallback.asked) == 3


async def test_a_broken_fallback_leaves_the_request_failed(db: Database) -> None:
    env = Env(db)
    env.push.on_unknown_object("location:", Fallback(env, broken=True))
    p = await env.partner("emsp")
    env.client.answers["https://emsp/tariffs/L1/E1"] = [UNKNOWN]
    await env.push.enqueue(p.id, "PATCH", "https://emsp/tariffs/L1/E1", {}, "location:L1")
    await drain(env)
    [failed] = await env.rows(PushStatus.FAILED)
    assert failed.last_status_code == 2003 and len(env.client.sent) == 1


# ------------------------------------------------------------------ two servers

FAST = {
    "ocpi_push_poll_interval": 0.1,
    "ocpi_push_backoff": 0.2,
    # The publisher and the CPO's token pull run once at start, then not for an hour:
    # what arrives after the handshake was pushed.
    "ocpi_token_sync_interval": 3600.0,
}
PLACE: dict[str, Any] = {
    "name": "Depot",
    "address": "Main Street 1",
    "city": "Utrecht",
    "postal_code": "3511 AA",
    "country": "NLD",
    "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
    "time_zone": "Europe/Amsterdam",
}
TARIFF: dict[str, Any] = {
    "id": "T1",
    "currency": "EUR",
    "is_default": True,
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}]}
    ],
}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def register(initiator: Server, receiver: Server) -> tuple[int, int]:
    """The credentials handshake; (partner id at the initiator, at the receiver)."""
    created = await ok(await receiver.api().post("/ocpi/partners", json={"name": "peer"}), 201)
    mine = await ok(
        await initiator.api().post(
            "/ocpi/partners",
            json={
                "name": "peer",
                "versions_url": created["our_versions_url"],
                "token": created["token_a"],
            },
        ),
        201,
    )
    registered = await ok(await initiator.api().post(f"/ocpi/partners/{mine['id']}/register"))
    assert registered["status"] == "REGISTERED", registered
    return mine["id"], created["id"]


async def received_location(emsp: Server) -> dict[str, Any] | None:
    r = await emsp.api().get("/ocpi/received/locations/NL/AMP/DEPOT")
    return r.json()["location"] if r.status_code == 200 else None


async def evse_status(emsp: Server) -> str | None:
    found = await received_location(emsp)
    evses = (found or {}).get("evses", [])
    return str(evses[0]["status"]) if evses else None


@pytest.mark.parametrize("initiator", ["cpo", "emsp"])
async def test_a_new_partner_gets_everything_and_a_lost_location_comes_back(
    start_server: StartServer, store_url: str, tmp_path: Path, initiator: str
) -> None:
    other = f"sqlite+aiosqlite:///{tmp_path / 'emsp.db'}"
    await migrate(other)
    cpo = await start_server(store_url, ocpi_roles=["CPO"], **FAST)
    emsp = await start_server(
        other,
        ocpi_country_code="DE",
        ocpi_party_id="EMP",
        ocpi_roles=["EMSP"],
        ocpi_locations_pull_interval=0.0,  # never GETs Locations: only pushes arrive
        pki_dir=str(tmp_path / "pki2"),
        **FAST,
    )
    await cpo.create_station("CP1", registration_status="Accepted")
    async with running(Station16, cpo, "CP1", "ocpp1.6") as cp:
        await cp.call(
            call16.BootNotification(charge_point_vendor="V", charge_point_model="M"),
            suppress=False,
        )

        async def status(value: str) -> None:
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status=value),
                suppress=False,
            )

        # Before any partner exists: a Location with the station, a tariff, a card.
        await status("Available")
        await ok(await cpo.api().post("/tariffs", json=TARIFF), 201)
        await ok(await cpo.api().post("/locations", json={"id": "DEPOT", **PLACE}), 201)
        await ok(await cpo.api().put("/locations/DEPOT/stations/CP1"))

        async def evse_at_cpo() -> bool:
            found = await ok(await cpo.api().get("/locations/DEPOT/ocpi"))
            return [e["status"] for e in found["evses"]] == ["AVAILABLE"]

        await until("the EVSE in the CPO's Location", evse_at_cpo)
        await ok(await emsp.api().post("/id-tokens", json={"id_token": "CARD0001"}), 201)
        assert await emsp.app.roaming.token_publisher.sync() == 1  # published, to no one

        if initiator == "cpo":
            at_cpo, at_emsp = await register(cpo, emsp)
        else:
            at_emsp, at_cpo = await register(emsp, cpo)

        # Each side gets the other's objects with no change made after the handshake.
        async def location_arrived() -> bool:
            return await evse_status(emsp) == "AVAILABLE"

        async def tariff_arrived() -> bool:
            page = await ok(await emsp.api().get("/ocpi/received/tariffs"))
            return [i["tariff"]["id"] for i in page["items"]] == ["T1"]

        async def token_arrived() -> bool:
            page = await ok(await cpo.api().get("/ocpi/received/tokens"))
            return [i["token"]["uid"] for i in page["items"]] == ["CARD0001"]

        await until("the Location at the eMSP", location_arrived)
        await until("the tariff at the eMSP", tariff_arrived)
        await until("the token at the CPO", token_arrived)
        location = await received_location(emsp)
        assert location is not None and location["evses"][0]["uid"] == "CP1*1"
        assert location["evses"][0]["connectors"][0]["tariff_ids"] == ["T1"]
        tariffs = await ok(await emsp.api().get("/ocpi/received/tariffs"))
        [component] = tariffs["items"][0]["tariff"]["elements"][0]["price_components"]
        assert component["type"] == "ENERGY" and float(component["price"]) == 0.3
        # They came as PUTs pushed to that partner (no GET of the other's lists).
        out_cpo = await ok(await cpo.api().get(f"/ocpi/partners/{at_cpo}/exchanges?limit=100"))
        sent = {(x["method"], x["url"].split("/2.2.1/")[-1]) for x in out_cpo["items"]}
        assert {("PUT", "locations/NL/AMP/DEPOT"), ("PUT", "tariffs/NL/AMP/T1")} <= sent
        assert not any(m == "GET" and u.startswith("tokens") for m, u in sent)
        # When the eMSP initiated, the CPO's pushes waited until the eMSP had stored its
        # new token (the hold): none was refused.
        assert not [x for x in out_cpo["items"] if x["http_status"] == 401]
        out_emsp = await ok(await emsp.api().get(f"/ocpi/partners/{at_emsp}/exchanges?limit=100"))
        puts = [
            x
            for x in out_emsp["items"]
            if x["direction"] == "out" and x["method"] == "PUT" and "/tokens/" in x["url"]
        ]
        assert [x["url"].split("/2.2.1/")[-1] for x in puts] == ["tokens/DE/EMP/CARD0001?type=RFID"]
        assert puts[0]["http_status"] in (200, 201)

        # The eMSP loses the Location (e.g. restored from an old backup).
        async with emsp.app.store.db.tx() as conn:
            await conn.execute(sa.delete(ocpi_received_locations))
        assert await received_location(emsp) is None
        # The next status change is a PATCH of the EVSE: 404 / 2003 -> the whole Location.
        await status("Charging")

        async def back() -> bool:
            return await evse_status(emsp) == "CHARGING"

        await until("the whole Location at the eMSP again", back)

    async def exchanges() -> list[dict[str, Any]]:
        page = await ok(await cpo.api().get(f"/ocpi/partners/{at_cpo}/exchanges?limit=200"))
        return [x for x in page["items"] if x["direction"] == "out"][::-1]  # oldest first

    history = [(x["method"], x["http_status"], x["status_code"]) for x in await exchanges()]
    refused = history.index(("PATCH", 404, 2003))
    assert ("PUT", 200, 1000) in history[refused:] or ("PUT", 201, 1000) in history[refused:]
    queue = await ok(await cpo.api().get("/ocpi/push-queue", params={"status": "failed"}))
    assert queue["items"] == []  # nothing gave up

    # Later PATCHes are accepted again (the eMSP knows the Location once more): the
    # station is gone, its EVSE UNKNOWN.
    async def unknown() -> bool:
        return await evse_status(emsp) == "UNKNOWN"

    await until("the PATCH to UNKNOWN after the station left", unknown)
