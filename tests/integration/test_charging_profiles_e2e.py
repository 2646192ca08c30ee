"""Charging profiles end to end through the REST API against a real Ampyre (SQLite and
PostgreSQL): simulated stations of each version get profiles (checked against the
spec's rules: 422 with violations), a remote start carries a TxProfile, the stored set
is reconciled with what a 2.x station reports, the composite schedule is computed and
compared with the station's, profiles are cleared. A scripted 2.0.1 station sends the
station-side inputs: external limits, EV charging needs (answered with a TxProfile) and
the EV's schedule."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import websockets
from polling import station_connected
from polling import until as _until

from ampyre.simulator import run_simulation
from ampyre.simulator.session import SessionConfig

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str) -> Server:
    return await start_server(store_url)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _station_max(limit: float, profile_id: int = 1) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "id": profile_id,
        "stack_level": 0,
        "purpose": "ChargingStationMaxProfile",
        "kind": "Absolute",
        "schedules": [
            {"id": 1, "rate_unit": "A", "start": _iso(start), "periods": [
                {"start_period": 0, "limit": limit},
            ]},
        ],
    }  # fmt: skip


TX_PROFILE = {
    "id": 8,
    "stack_level": 1,
    "purpose": "TxProfile",
    "kind": "Relative",
    "schedules": [{"id": 1, "rate_unit": "A", "periods": [{"start_period": 0, "limit": 10}]}],
}


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_profiles_of_a_simulated_station(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "SC" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    await _ok(
        await api.post(
            "/id-tokens", json={"id_token": "SC-T1", "type": "ISO14443", "status": "accepted"}
        ),
        201,
    )
    # Not connected: 409, nothing stored.
    r = await api.post(
        f"/stations/{sid}/charging-profile", json={"evse_id": 0, "profile": _station_max(16)}
    )
    assert r.status_code == 409, r.text
    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop, seed=3,
            status_change_interval=0,
            sessions=SessionConfig(meter_interval=0.3, local_sessions=False),
        )
    )  # fmt: skip
    try:
        await _until("the station online", lambda: station_connected(api, sid))

        # A station maximum of 16 A: accepted and stored.
        r = await api.post(
            f"/stations/{sid}/charging-profile", json={"evse_id": 0, "profile": _station_max(16)}
        )
        body = await _ok(r)
        assert body["status"] == "accepted" and body["profile"]["id"] == 1
        listed = await _ok(await api.get(f"/stations/{sid}/charging-profiles"))
        assert listed["total"] == 1
        [item] = listed["items"]
        assert (item["evse_id"], item["source"]) == (0, "operator")
        assert item["profile"]["schedules"][0]["periods"][0]["limit"] == 16

        # Broken rules: 422 with each violation, nothing sent or stored.
        bad = _station_max(8, profile_id=2)
        bad["schedules"][0]["periods"] = [
            {"start_period": 60, "limit": 8},
            {"start_period": 30, "limit": 6},
        ]
        r = await api.post(f"/stations/{sid}/charging-profile", json={"evse_id": 1, "profile": bad})
        problem = await _ok(r, 422)
        assert problem["violations"], problem
        assert all({"path", "message", "requirement"} <= set(v) for v in problem["violations"])
        assert any(v["path"].startswith("/schedules/0/periods") for v in problem["violations"])
        assert (await _ok(await api.get(f"/stations/{sid}/charging-profiles")))["total"] == 1
        # The raw endpoint refuses what the typed one keeps in step.
        r = await api.post(f"/stations/{sid}/ocpp/SetChargingProfile", json={})
        assert r.status_code == 409 and "charging-profile" in r.json()["typed_endpoint"]

        # Ampyre's composite schedule and the station's agree.
        r = await api.get(
            f"/stations/{sid}/composite-schedule",
            params={"evse_id": 1, "duration": 600, "ask_station": True},
        )
        view = await _ok(r)
        assert view["status"] == "accepted", view
        assert [p["limit"] for p in view["computed"]["periods"]] == [16]
        assert view["reported"] is not None and view["matches"] is True, view
        assert view["differences"] == []

        # A remote start with a TxProfile in Ampyre's shape.
        r = await api.post(
            f"/stations/{sid}/remote-start",
            json={"id_token": "SC-T1", "evse_id": 1, "charging_profile": TX_PROFILE, "wait": 5},
        )
        started = await _ok(r)
        assert started["status"] == "accepted" and started["transaction"] is not None
        on_evse = await _ok(
            await api.get(f"/stations/{sid}/charging-profiles", params={"evse_id": 1})
        )
        [tx_item] = on_evse["items"]
        assert tx_item["source"] == "remote_start"
        assert tx_item["profile"]["transaction_id"] == started["transaction"]["transaction_id"]
        # The 10 A TxProfile is below the 16 A maximum: the composite of EVSE 1 says 10 A.
        r = await api.get(
            f"/stations/{sid}/composite-schedule",
            params={"evse_id": 1, "duration": 300, "ask_station": True},
        )
        view = await _ok(r)
        # (From the transaction's start on: the schedule may begin a second before it.)
        assert view["computed"]["periods"][-1]["limit"] == 10
        assert view["matches"] is True, view["differences"]
        # A TxProfile in the remote start that breaks the rules is a 422.
        wrong = {**TX_PROFILE, "transaction_id": "123"}
        r = await api.post(
            f"/stations/{sid}/remote-start",
            json={"id_token": "SC-T1", "evse_id": 2, "charging_profile": wrong},
        )
        assert (await _ok(r, 422))["violations"]

        # Reconciliation with what the station reports (2.x); 1.6 has no such message.
        r = await api.post(f"/stations/{sid}/charging-profiles/refresh")
        if protocol == "ocpp1.6":
            assert (await _ok(r, 422))["type"].endswith("not-in-version")
        else:
            refreshed = await _ok(r)
            assert refreshed["status"] == "accepted" and refreshed["complete"] is True
            by_id = {i["profile"]["id"]: i for i in refreshed["items"]}
            assert set(by_id) == {1, 8}
            assert all(i["confirmed_at"] is not None for i in refreshed["items"])
            assert by_id[8]["source"] == "remote_start"

        # Across the fleet.
        fleet = await _ok(await api.get("/charging-profiles", params={"station_id": sid}))
        assert fleet["total"] == 2
        only_tx = await _ok(await api.get("/charging-profiles", params={"purpose": "TxProfile"}))
        assert [i["profile"]["id"] for i in only_tx["items"]] == [8]

        # Clearing the maximum forgets it.
        r = await api.post(f"/stations/{sid}/charging-profiles/clear", json={"profile_id": 1})
        assert (await _ok(r))["status"] == "accepted"
        left = await _ok(await api.get(f"/stations/{sid}/charging-profiles"))
        assert [i["profile"]["id"] for i in left["items"]] == [8]
        r = await api.post(
            f"/stations/{sid}/charging-profiles/clear",
            json={"purpose": "ChargingStationExternalConstraints"},
        )
        assert (await _ok(r, 422))["violations"]

        # The transaction ends: its TxProfile goes with it.
        r = await api.post(
            f"/stations/{sid}/remote-stop", json={"transaction_id": started["transaction"]["id"]}
        )
        await _ok(r)

        async def tx_profile_gone() -> bool:
            got = await _ok(await api.get(f"/stations/{sid}/charging-profiles"))
            return got["total"] == 0

        await _until("the TxProfile gone with its transaction", tx_profile_gone)
    finally:
        stop.set()
        await asyncio.wait_for(sim, 15)


class ScriptedStation:
    """A 2.0.1 station that sends what the test says and answers the CSMS's calls."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.calls: list[list[Any]] = []
        self.n = 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        frame = await self.call_raw(action, payload)
        assert frame[0] == 3, frame
        result: dict[str, Any] = frame[2]
        return result

    async def call_raw(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """The CALLRESULT or CALLERROR frame of a CALL."""
        self.n += 1
        mid = f"m{self.n}"
        await self.ws.send(json.dumps([2, mid, action, payload]))
        while True:
            frame: list[Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if frame[0] == 2:  # the CSMS calls meanwhile: answered, kept
                self.calls.append(frame)
                await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                continue
            assert frame[1] == mid, frame
            return frame

    async def expect_call(self, action: str) -> list[Any]:
        while not any(c[2] == action for c in self.calls):
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            assert frame[0] == 2, frame
            self.calls.append(frame)
            await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
        return next(c for c in self.calls if c[2] == action)


async def test_station_side_inputs_of_a_2_0_1_station(ampyre: Server) -> None:
    api = ampyre.api()
    sid = "SCIN-1"
    await ampyre.create_station(sid, registration_status="Accepted")
    now = datetime.now(UTC)
    async with websockets.connect(ampyre.station_url(sid), subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        st = ScriptedStation(ws)
        boot = await st.call(
            "BootNotification",
            {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
        )
        assert boot["status"] == "Accepted"

        # An EMS limit of 12 A on EVSE 1: kept, and it counts in the composite.
        limit = {
            "evseId": 1,
            "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": False},
            "chargingSchedule": [{
                "id": 1, "chargingRateUnit": "A", "startSchedule": _iso(now - timedelta(minutes=1)),
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12}],
            }],
        }  # fmt: skip
        assert await st.call("NotifyChargingLimit", limit) == {}
        limits = await _ok(await api.get(f"/stations/{sid}/charging-limits"))
        [kept] = limits["items"]
        assert (kept["source"], kept["evse_id"], kept["active"]) == ("EMS", 1, True)
        assert kept["schedules"][0]["periods"][0]["limit"] == 12
        view = await _ok(
            await api.get(f"/stations/{sid}/composite-schedule", params={"evse_id": 1})
        )
        assert [p["limit"] for p in view["computed"]["periods"]] == [12]

        # No transaction on the EVSE: the needs are Rejected (a TxProfile needs one).
        needs = {
            "evseId": 1,
            "chargingNeeds": {
                "requestedEnergyTransfer": "AC_three_phase",
                "departureTime": _iso(now + timedelta(hours=8)),
                "acChargingParameters": {
                    "energyAmount": 11000, "evMinCurrent": 6, "evMaxCurrent": 32,
                    "evMaxVoltage": 400,
                },
            },
        }  # fmt: skip
        assert (await st.call("NotifyEVChargingNeeds", needs))["status"] == "Rejected"

        started = {
            "eventType": "Started",
            "timestamp": _iso(now),
            "triggerReason": "CablePluggedIn",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "SCIN-TX1", "chargingState": "EVConnected"},
            "evse": {"id": 1, "connectorId": 1},
        }
        await st.call("TransactionEvent", started)
        assert (await st.call("NotifyEVChargingNeeds", needs))["status"] == "Accepted"
        call = await st.expect_call("SetChargingProfile")
        sent = call[3]
        assert sent["evseId"] == 1
        profile = sent["chargingProfile"]
        assert profile["chargingProfilePurpose"] == "TxProfile"
        assert profile["transactionId"] == "SCIN-TX1"
        period = profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        # Within the EMS limit, at least the car's minimum.
        assert 6 <= period["limit"] <= 12

        async def installed() -> bool:
            got = await _ok(await api.get(f"/stations/{sid}/charging-profiles"))
            return [i["source"] for i in got["items"]] == ["ev_needs"]

        await _until("the EV needs profile stored", installed)

        ev_schedule = {
            "timeBase": _iso(now),
            "evseId": 1,
            "chargingSchedule": {
                "id": 1, "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": period["limit"]}],
            },
        }  # fmt: skip
        assert (await st.call("NotifyEVChargingSchedule", ev_schedule))["status"] == "Accepted"
        got = await _ok(await api.get(f"/stations/{sid}/ev-charging-needs"))
        [evse] = got["items"]
        assert evse["evse_id"] == 1
        assert evse["needs"]["status"] == "Accepted" and evse["needs"]["energy_amount_wh"] == 11000
        assert evse["needs"]["transaction_id"] == "SCIN-TX1"
        assert evse["ev_schedule"]["schedule"]["periods"][0]["limit"] == period["limit"]

        # The limit is cleared: kept as history, no longer in the composite.
        assert (
            await st.call("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}) == {}
        )
        limits = await _ok(await api.get(f"/stations/{sid}/charging-limits"))
        assert limits["items"][0]["active"] is False
        reports = await _ok(await api.get(f"/stations/{sid}/reports", params={"limit": 50}))
        actions = {r["action"] for r in reports["items"]}
        assert {"NotifyChargingLimit", "ClearedChargingLimit", "NotifyEVChargingNeeds"} <= actions

        # A report is the station's word: the stored set becomes it, odd values and all
        # (2.0.1 lets a stack level below 0 and any phase count through); lists still work.
        odd = {
            "id": 77, "stackLevel": -1, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [{
                "id": 1, "chargingRateUnit": "A", "startSchedule": _iso(now),
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 20, "numberPhases": 4}],
            }],
        }  # fmt: skip
        report = {
            "requestId": 9,
            "chargingLimitSource": "CSO",
            "evseId": 1,
            "chargingProfile": [odd],
        }
        assert await st.call("ReportChargingProfiles", report) == {}
        got = await _ok(await api.get(f"/stations/{sid}/charging-profiles"))
        assert [(i["profile"]["id"], i["source"]) for i in got["items"]] == [(77, "station")]
        fleet = await _ok(await api.get("/charging-profiles"))
        assert fleet["total"] == 1


async def test_numbers_json_cannot_carry_are_refused_before_anything(ampyre: Server) -> None:
    # Python's JSON parser reads NaN and Infinity; a profile never carries them.
    await ampyre.create_station("CP-NAN", registration_status="Accepted")
    api = ampyre.api()
    profile = json.dumps({"evse_id": 0, "profile": _station_max(16)})
    for bad in ("NaN", "Infinity", "-Infinity"):
        body = profile.replace('"limit": 16', f'"limit": {bad}')
        assert bad in body
        r = await api.post(
            "/stations/CP-NAN/charging-profile",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert "limit" in r.json()["detail"], r.text
    listed = await api.get("/stations/CP-NAN/charging-profiles")
    assert listed.json()["total"] == 0


async def test_station_values_the_columns_cannot_hold_fail_that_message_only(
    ampyre: Server,
) -> None:
    # An EVSE id beyond 32 bits passes the 2.0.1 schemas (no maximum) but not the
    # columns: that one message gets a CALLERROR, the station and the others go on.
    api = ampyre.api()
    for sid in ("BIG-1", "BIG-2"):
        await ampyre.create_station(sid, registration_status="Accepted")
    now = datetime.now(UTC)
    boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
    huge = 2**40
    limit = {
        "evseId": huge,
        "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": False},
        "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "A", "startSchedule": _iso(now),
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12}],
        }],
    }  # fmt: skip
    needs = {
        "evseId": huge,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase",
            "acChargingParameters": {
                "energyAmount": 1e300, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400,
            },
        },
    }  # fmt: skip
    async with (
        websockets.connect(ampyre.station_url("BIG-1"), subprotocols=["ocpp2.0.1"]) as ws1,  # type: ignore[list-item]
        websockets.connect(ampyre.station_url("BIG-2"), subprotocols=["ocpp2.0.1"]) as ws2,  # type: ignore[list-item]
    ):
        bad, good = ScriptedStation(ws1), ScriptedStation(ws2)
        assert (await bad.call("BootNotification", boot))["status"] == "Accepted"
        assert (await good.call("BootNotification", boot))["status"] == "Accepted"
        for action, payload in (("NotifyChargingLimit", limit), ("NotifyEVChargingNeeds", needs)):
            frame = await bad.call_raw(action, payload)
            assert frame[0] == 4, frame  # a CALLERROR for this message alone
        limit["evseId"] = 1
        assert await good.call("NotifyChargingLimit", limit) == {}
        assert await bad.call("Heartbeat", {})
    kept = await _ok(await api.get("/stations/BIG-2/charging-limits"))
    assert [x["evse_id"] for x in kept["items"]] == [1]
    assert (await _ok(await api.get("/stations/BIG-1/charging-limits")))["items"] == []
