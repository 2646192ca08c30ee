"""Sites end to end through the REST API against a real Ampyre (SQLite and PostgreSQL):
a site's configuration with its rules (422 naming the field, 409 for a station already
in another site), and the balancer at work on scripted 2.0.1 stations: a car arriving
gets room made for it (decreases first), a car drawing less leaves its capacity to the
other, a station that disconnects is counted at its maximum until it is back, every
decision is recorded with its reasons, site.at_limit / site.below_limit reach the
outbox, the series and the base-load push."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import websockets
from polling import until as _until

from ampyre.adapters.db.outbox import OutboxSql

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str) -> Server:
    return await start_server(
        store_url,
        balancer_tick=0.3,
        balancer_min_interval=0.0,
        balancer_settle=0.0,
        balancer_retry=1.0,
        balancer_call_timeout=3.0,
        site_sample_interval=0.2,
    )


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _site(members: list[dict[str, Any]], limit: float = 32.0, **extra: Any) -> dict[str, Any]:
    return {"name": "depot", "grid_limit": {"unit": "A", "value": limit}, "members": members,
            **extra}  # fmt: skip


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Station:
    """A scripted 2.0.1 station: sends what the test says, answers SetChargingProfile
    with `answer` (and every other call with Accepted), keeps the profiles it got."""

    def __init__(self, ampyre: Server, sid: str) -> None:
        self.ampyre, self.sid = ampyre, sid
        self.answer = "Accepted"
        self.limits: list[float] = []
        self.ws: Any = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.seq = 0

    @property
    def limit(self) -> float | None:
        return self.limits[-1] if self.limits else None

    async def connect(self) -> None:
        url = self.ampyre.station_url(self.sid)
        self.ws = await websockets.connect(url, subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
        self._reader = asyncio.create_task(self._read())
        boot = await self.call(
            "BootNotification",
            {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
        )
        assert boot["status"] == "Accepted"

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        self.ws = self._reader = None

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame[0] == 2:
                answer: dict[str, Any] = {"status": "Accepted"}
                if frame[2] == "SetChargingProfile":
                    answer = {"status": self.answer}
                    if self.answer == "Accepted":
                        schedule = frame[3]["chargingProfile"]["chargingSchedule"][0]
                        self.limits.append(schedule["chargingSchedulePeriod"][0]["limit"])
                await self.ws.send(json.dumps([3, frame[1], answer]))
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

    async def tx(self, kind: str, tx_id: str, currents: tuple[float, ...] = ()) -> None:
        payload: dict[str, Any] = {
            "eventType": kind,
            "timestamp": _iso(datetime.now(UTC)),
            "triggerReason": "CablePluggedIn" if kind == "Started" else "MeterValuePeriodic",
            "seqNo": self.seq,
            "transactionInfo": {"transactionId": tx_id, "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
        }
        self.seq += 1
        if currents:
            payload["meterValue"] = [{
                "timestamp": payload["timestamp"],
                "sampledValue": [
                    {"value": a, "measurand": "Current.Import", "phase": f"L{i + 1}",
                     "unitOfMeasure": {"unit": "A"}}
                    for i, a in enumerate(currents)
                ],
            }]  # fmt: skip
        await self.call("TransactionEvent", payload)


async def test_site_configuration_and_its_rules(ampyre: Server) -> None:
    api = ampyre.api()
    for sid in ("SITE-A", "SITE-B", "SITE-C"):
        await ampyre.create_station(sid, registration_status="Accepted")
    body = _site(
        [
            {"station_id": "SITE-A", "evse_id": 1, "circuit_id": "f1", "phases": 1,
             "phase_rotation": "L2L3L1", "min_a": 6, "max_a": 16, "priority": 1},
            {"station_id": "SITE-B", "circuit_id": "sub"},
        ],
        limit=63,
        circuits=[
            {"id": "sub", "name": "garage", "limit_a": 40},
            {"id": "f1", "name": "feeder 1", "parent_id": "sub", "limit_a": 20},
        ],
        base_load={"mode": "fixed", "fixed_a": 5},
        token_priorities={"VIP-1": 3},
    )  # fmt: skip
    created = await _ok(await api.post("/sites", json=body), 201)
    site_id = created["id"]
    assert created["members"][0]["phase_rotation"] == "L2L3L1"
    assert created["members"][1]["evse_id"] is None and created["members"][1]["max_a"] == 32
    assert created["circuits"][1]["parent_id"] == "sub"
    assert created["base_load"]["mode"] == "fixed" and created["token_priorities"] == {"VIP-1": 3}
    assert (await _ok(await api.get(f"/sites/{site_id}")))["name"] == "depot"
    assert [s["id"] for s in (await _ok(await api.get("/sites")))["items"]] == [site_id]

    # Broken rules: 422 naming the field; nothing stored.
    cases = [
        (
            {"circuits": [{"id": "x", "limit_a": 10, "parent_id": "nope"}]},
            ["body", "circuits", 0, "parent_id"],
        ),
        (
            {"circuits": [{"id": "x", "limit_a": 10, "parent_id": "y"},
                          {"id": "y", "limit_a": 10, "parent_id": "x"}]},
            ["body", "circuits", 0, "parent_id"],
        ),
        ({"members": [{"station_id": "SITE-C", "phase_rotation": "L1L1L2"}]},
         ["body", "members", 0, "phase_rotation"]),
        ({"members": [{"station_id": "SITE-C", "min_a": 20, "max_a": 16}]},
         ["body", "members", 0, "min_a"]),
        ({"members": [{"station_id": "NOPE"}]}, ["body", "members"]),
        ({"members": [{"station_id": "SITE-C", "circuit_id": "none"}]},
         ["body", "members", 0, "circuit_id"]),
    ]  # fmt: skip
    for extra, loc in cases:
        problem = await _ok(await api.post("/sites", json={**_site([]), **extra}), 422)
        assert problem["errors"][0]["loc"] == loc, problem
    r = await api.post("/sites", json={**_site([]), "grid_limit": {"unit": "kW", "value": -1}})
    assert r.status_code == 422
    r = await api.post("/sites", json={**_site([]), "surprise": 1})
    assert r.status_code == 422
    # A station already in a site: 409.
    r = await api.post("/sites", json=_site([{"station_id": "SITE-B", "evse_id": 2}]))
    assert r.status_code == 409 and "already in site" in r.json()["detail"]
    assert len((await _ok(await api.get("/sites")))["items"]) == 1

    # Replace, push a base load, rebalance, delete.
    body["grid_limit"] = {"unit": "kW", "value": 43.5}
    replaced = await _ok(await api.put(f"/sites/{site_id}", json=body))
    assert replaced["grid_limit"] == {"unit": "kW", "value": 43.5}
    assert (await api.put("/sites/999", json=body)).status_code == 404
    await _ok(await api.post(f"/sites/{site_id}/base-load", json={"l1": 3, "l2": 4, "l3": 5}), 204)
    got = await _ok(await api.get(f"/sites/{site_id}"))
    assert got["pushed_base_load"] == {"L1": 3, "L2": 4, "L3": 5}
    r = await api.post(f"/sites/{site_id}/base-load", json={"l1": -3})
    assert r.status_code == 422
    assert (await api.post("/sites/999/base-load", json={"l1": 1})).status_code == 404
    assert (await _ok(await api.post(f"/sites/{site_id}/rebalance")))["requested"] is True
    assert (await api.post("/sites/999/rebalance")).status_code == 404
    assert (await api.get("/sites/999/status")).status_code == 404
    await _ok(await api.delete(f"/sites/{site_id}"), 204)
    assert (await api.get(f"/sites/{site_id}")).status_code == 404
    assert (await api.delete(f"/sites/{site_id}")).status_code == 404


async def _status(api: httpx.AsyncClient, site_id: int) -> dict[str, Any] | None:
    body: dict[str, Any] | None = await _ok(await api.get(f"/sites/{site_id}/status"))
    return body


async def _evses(api: httpx.AsyncClient, site_id: int) -> dict[str, dict[str, Any]]:
    status = await _status(api, site_id)
    return {} if status is None else {e["station_id"]: e for e in status["evses"]}


async def test_balancing_scripted_stations(ampyre: Server) -> None:
    api = ampyre.api()
    a, b = Station(ampyre, "BAL-A"), Station(ampyre, "BAL-B")
    for s in (a, b):
        await ampyre.create_station(s.sid, registration_status="Accepted")
    members = [{"station_id": s.sid, "evse_id": 1, "max_a": 32} for s in (a, b)]
    site = await _ok(await api.post("/sites", json=_site(members, limit=32)), 201)
    site_id = site["id"]
    try:
        await a.connect()
        await b.connect()
        await a.tx("Started", "TX-A")
        await _until("A's profile of 32 A", lambda: _eq(a.limit, 32))

        # B arrives: first 0 A beside A's 32 A, then A comes down before B goes up.
        await b.tx("Started", "TX-B")

        async def shared() -> bool:
            return a.limit == 16 and b.limit == 16

        await _until("A and B at 16 A each", shared)
        assert b.limits[0] == 0 and a.limits == [32, 16]
        evses = await _evses(api, site_id)
        assert {k: v["allocated_a"] for k, v in evses.items()} == {"BAL-A": 16, "BAL-B": 16}
        assert evses["BAL-A"]["state"] == "charging" and evses["BAL-A"]["transaction_id"] == "TX-A"
        assert "fair share of the grid connection L1" in evses["BAL-A"]["reason"]
        status = await _status(api, site_id)
        assert status is not None and status["at_limit"] is True
        assert status["allocated_a"] == {"L1": 32, "L2": 32, "L3": 32}
        assert status["limit_a"] == {"L1": 32, "L2": 32, "L3": 32}
        profiles = await _ok(await api.get(f"/stations/{a.sid}/charging-profiles"))
        [installed] = profiles["items"]
        assert installed["source"] == "balancer"
        assert installed["profile"]["transaction_id"] == "TX-A"

        # A's car takes 5 A only: B gets the rest.
        await a.tx("Updated", "TX-A", (5.0, 5.0, 5.0))

        async def reassigned() -> bool:
            return a.limit == 7 and b.limit == 25

        await _until("A's unused capacity given to B", reassigned)
        evses = await _evses(api, site_id)
        assert "the car draws only 5.0 A" in evses["BAL-A"]["reason"]
        assert evses["BAL-A"]["measured_a"] == 5.0

        # B disconnects: counted at its 32 A, so A is paused (its 6 A minimum cannot fit).
        await b.close()

        async def a_paused() -> bool:
            e = await _evses(api, site_id)
            return a.limit == 0 and e.get("BAL-B", {}).get("state") == "failsafe"

        await _until("A paused while B is counted at its maximum", a_paused)
        evses = await _evses(api, site_id)
        assert "disconnected" in evses["BAL-B"]["reason"]
        assert evses["BAL-A"]["state"] == "paused" and "minimum" in evses["BAL-A"]["reason"]

        # B is back: its profile is sent again and both share once it confirmed.
        b.limits.clear()
        await b.connect()

        async def both_back() -> bool:
            return bool(b.limits) and (a.limit or 0) > 0 and (b.limit or 0) > 0

        await _until("both charging again", both_back)

        # A's transaction ends: B may have everything.
        await a.tx("Ended", "TX-A")
        await _until("B at 32 A", lambda: _eq(b.limit, 32))

        # The decision history explains each step; the series has the chart's points.
        history = (await _ok(await api.get(f"/sites/{site_id}/allocations")))["items"]
        assert len(history) >= 4
        # Compared as times: RFC 3339 text leaves out a zero fraction.
        at = [datetime.fromisoformat(h["computed_at"]) for h in history]
        assert at[0] >= at[-1]
        triggers = {t for h in history for t in h["trigger"].split(", ")}
        assert "station disconnected" in triggers and "meter values" in triggers, triggers
        assert all(e["reason"] for h in history for e in h["evses"])
        series = (await _ok(await api.get(f"/sites/{site_id}/series")))["items"]
        assert series and set(series[0]) >= {"at", "limit_a", "allocated_a", "measured_a"}
        assert all(p["allocated_a"]["L1"] <= p["limit_a"]["L1"] for p in series)

        # site.at_limit and site.below_limit went to the outbox with the decisions.
        outbox = OutboxSql(ampyre.app.store.db)
        events = await outbox.events_after(0, 10_000)
        kinds = [e.type for e in events if e.type.startswith("site.")]
        assert "site.at_limit" in kinds and kinds[-1] == "site.below_limit", kinds
        at_limit = next(e for e in events if e.type == "site.at_limit")
        assert at_limit.data["site_id"] == site_id and at_limit.data["binding"]
    finally:
        await a.close()
        await b.close()


async def _eq(value: float | None, expected: float) -> bool:
    return value == expected


async def test_a_station_refusing_profiles_counts_at_its_maximum(ampyre: Server) -> None:
    api = ampyre.api()
    a, b = Station(ampyre, "REF-A"), Station(ampyre, "REF-B")
    for s in (a, b):
        await ampyre.create_station(s.sid, registration_status="Accepted")
    members = [{"station_id": s.sid, "evse_id": 1, "max_a": 20} for s in (a, b)]
    site_id = (await _ok(await api.post("/sites", json=_site(members, limit=32)), 201))["id"]
    b.answer = "Rejected"
    try:
        await a.connect()
        await b.connect()
        await a.tx("Started", "TX-RA")
        await b.tx("Started", "TX-RB")

        async def a_makes_room() -> bool:
            e = await _evses(api, site_id)
            return a.limit == 12 and e.get("REF-B", {}).get("state") == "failsafe"

        await _until("A at 12 A beside B counted at 20 A", a_makes_room)
        evses = await _evses(api, site_id)
        assert "not accepted (rejected" in evses["REF-B"]["reason"]
        b.answer = "Accepted"  # retried after AMPYRE_BALANCER_RETRY

        async def shared() -> bool:
            return a.limit == 16 and b.limit == 16

        await _until("A and B at 16 A once B accepted", shared)
    finally:
        await a.close()
        await b.close()
