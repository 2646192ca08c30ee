"""Charging sessions end to end: independent `ocpp`-library stations against a running
Ampyre on SQLite and PostgreSQL, read back through the REST API. Offline replay,
duplicates, database outage, remote start/stop, silent transactions, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from ampyre.services.ports import StoreUnavailable

if TYPE_CHECKING:
    from conftest import Server, StartServer

T0 = "2025-01-01T10:00:00Z"
T1 = "2025-01-01T10:30:00Z"
T2 = "2025-01-01T11:00:00Z"


class Station16(ChargePoint16):
    remote_start_answer = "Accepted"

    @on(Action16.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, **kwargs: Any) -> Any:
        self.remote_start = {"id_tag": id_tag, **kwargs}
        if self.remote_start_answer == "Accepted":
            connector = kwargs.get("connector_id", 1)
            asyncio.get_running_loop().create_task(self._start_later(connector, id_tag))
        return result16.RemoteStartTransaction(status=self.remote_start_answer)

    async def _start_later(self, connector: int, id_tag: str) -> None:
        await asyncio.sleep(0.05)
        self.started = await self.call(
            call16.StartTransaction(
                connector_id=connector, id_tag=id_tag, meter_start=0, timestamp=T0
            ),
            suppress=False,
        )

    @on(Action16.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> Any:
        self.remote_stop = transaction_id
        return result16.RemoteStopTransaction(status="Accepted")

    @on(Action16.trigger_message)
    async def on_trigger(self, requested_message: str, **kwargs: Any) -> Any:
        return result16.TriggerMessage(status="Rejected")


class Station201(ChargePoint201):
    ongoing = False

    @on(Action201.request_start_transaction)
    async def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **kw: Any
    ) -> Any:
        self.request_start = {"id_token": id_token, "remote_start_id": remote_start_id, **kw}
        asyncio.get_running_loop().create_task(self._started(remote_start_id))
        return result201.RequestStartTransaction(status="Accepted")

    async def _started(self, remote_start_id: int) -> None:
        await asyncio.sleep(0.05)
        await self.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=T0,
                trigger_reason="RemoteStart",
                seq_no=0,
                transaction_info={"transactionId": "REMOTE-1", "remoteStartId": remote_start_id},
                evse={"id": 1, "connectorId": 1},
            ),
            suppress=False,
        )

    @on(Action201.request_stop_transaction)
    async def on_request_stop(self, transaction_id: str, **kw: Any) -> Any:
        self.request_stop = transaction_id
        return result201.RequestStopTransaction(status="Accepted")

    @on(Action201.get_transaction_status)
    async def on_status(self, **kw: Any) -> Any:
        self.status_asked = kw
        return result201.GetTransactionStatus(
            messages_in_queue=False, ongoing_indicator=self.ongoing
        )

    @on(Action201.trigger_message)
    async def on_trigger(self, requested_message: str, **kw: Any) -> Any:
        return result201.TriggerMessage(status="Rejected")


@asynccontextmanager
async def running(
    cp_class: type[Any], server: Server, station_id: str, protocol: str
) -> AsyncIterator[Any]:
    await server.create_station(station_id)
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        cp = cp_class(station_id, ws, response_timeout=5)
        task = asyncio.create_task(cp.start())
        # The gateway registers the connection right after the handshake; wait for it.
        for _ in range(100):
            if server.app.registry.ocpp_version(station_id) is not None:
                break
            await asyncio.sleep(0.02)
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _token(api: httpx.AsyncClient, token: str, type_: str = "ISO14443") -> None:
    r = await api.post("/id-tokens", json={"id_token": token, "type": type_})
    assert r.status_code == 201, r.text


async def _only_transaction(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    page = (await api.get("/transactions", params={"station_id": station_id})).json()
    assert page["total"] == 1, page
    tx: dict[str, Any] = page["items"][0]
    return tx


def _mv16(value: str, ts: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"timestamp": ts, "sampledValue": [{"value": value, **extra}]}]


# ------------------------------------------------------------------------------ 1.6


async def test_16_complete_session(store_url: str, start_server: StartServer) -> None:
    server = await start_server(store_url)
    api = server.api()
    await _token(api, "TAG-16")
    async with running(Station16, server, "TX16", "ocpp1.6") as cp:
        start = call16.StartTransaction(
            connector_id=1, id_tag="TAG-16", meter_start=1000, timestamp=T0
        )
        first = await cp.call(start, suppress=False)
        assert first.id_tag_info["status"] == "Accepted"
        # Resent (the station missed our answer): same id, nothing duplicated.
        again = await cp.call(start, suppress=False)
        assert again.transaction_id == first.transaction_id
        tx_id = first.transaction_id
        for _ in range(2):
            await cp.call(
                call16.MeterValues(
                    connector_id=1,
                    transaction_id=tx_id,
                    meter_value=[
                        {
                            "timestamp": T1,
                            "sampledValue": [
                                {"value": "2.5", "unit": "kWh"},
                                {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                                {
                                    "value": "230",
                                    "measurand": "Voltage",
                                    "phase": "L1-N",
                                    "unit": "V",
                                },
                            ],
                        }
                    ],
                ),
                suppress=False,
            )
        stop = call16.StopTransaction(
            meter_stop=4000,
            timestamp=T2,
            transaction_id=tx_id,
            reason="EVDisconnected",
            id_tag="TAG-16",
        )
        stopped = await cp.call(stop, suppress=False)
        assert stopped.id_tag_info["status"] == "Accepted"
        await cp.call(stop, suppress=False)

    tx = await _only_transaction(api, "TX16")
    assert tx["transaction_id"] == str(tx_id)
    assert tx["status"] == "ended" and tx["start_seen"] is True
    assert (tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"]) == (1000, 4000, 3000)
    assert (tx["stop_reason"], tx["id_token"], tx["connector_id"]) == (
        "EVDisconnected",
        "TAG-16",
        1,
    )
    assert tx["started_at"].startswith("2025-01-01T10:00:00")
    detail = (await api.get(f"/transactions/{tx['id']}")).json()
    assert detail["energy_wh"] == 3000 and detail["missing_seq_nos"] == []
    values = (await api.get(f"/transactions/{tx['id']}/meter-values")).json()
    assert values["total"] == 5  # begin, three samples, end: no duplicates
    by_measurand = {(v["measurand"], v["context"]): v for v in values["items"]}
    energy = by_measurand[("Energy.Active.Import.Register", "Sample.Periodic")]
    assert (energy["unit"], energy["raw_value"], energy["si_value"], energy["si_unit"]) == (
        "kWh",
        "2.5",
        2500,
        "Wh",
    )
    power = by_measurand[("Power.Active.Import", "Sample.Periodic")]
    assert (power["si_value"], power["si_unit"]) == (7400, "W")
    assert by_measurand[("Voltage", "Sample.Periodic")]["phase"] == "L1-N"
    events = (await api.get(f"/transactions/{tx['id']}/events")).json()
    assert [e["kind"] for e in events["items"]] == ["Started", "Ended"]
    filtered = await api.get("/transactions", params={"id_token": "TAG-16", "status": "active"})
    assert filtered.json()["total"] == 0


async def test_16_offline_replay_and_unknown_stop(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    api = server.api()
    async with running(Station16, server, "OFF16", "ocpp1.6") as cp:
        # A stop for a transaction Ampyre never saw started: accepted and reconstructed.
        answer = await cp.call(
            call16.StopTransaction(
                meter_stop=9000,
                timestamp=T2,
                transaction_id=777,
                transaction_data=[
                    {
                        "timestamp": T0,
                        "sampledValue": [{"value": "5000", "context": "Transaction.Begin"}],
                    },
                    {"timestamp": T1, "sampledValue": [{"value": "7000"}]},
                ],
            ),
            suppress=False,
        )
        assert answer.id_tag_info is None
        # meterStop below meterStart: stored, never lost.
        started = await cp.call(
            call16.StartTransaction(connector_id=2, id_tag="X", meter_start=500, timestamp=T0),
            suppress=False,
        )
        await cp.call(
            call16.StopTransaction(
                meter_stop=400, timestamp=T1, transaction_id=started.transaction_id
            ),
            suppress=False,
        )
    page = (await api.get("/transactions", params={"station_id": "OFF16"})).json()
    by_id = {t["transaction_id"]: t for t in page["items"]}
    unknown = by_id["777"]
    assert unknown["start_seen"] is False and unknown["status"] == "ended"
    assert (unknown["meter_start_wh"], unknown["meter_stop_wh"], unknown["energy_wh"]) == (
        5000,
        9000,
        4000,
    )
    assert unknown["stop_reason"] == "Local"
    low = by_id[str(started.transaction_id)]
    assert low["status"] == "ended" and low["energy_wh"] == -100


async def test_16_database_outage_withholds_the_ack(
    store_url: str, start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(store_url)
    api = server.api()
    store = server.app.store
    async with running(Station16, server, "DOWN16", "ocpp1.6") as cp:
        real_submit = store.writer.submit

        async def broken(payload: Any, *, draining: bool = False) -> Any:
            raise StoreUnavailable("database is down (test)")

        monkeypatch.setattr(store.writer, "submit", broken)
        start = call16.StartTransaction(connector_id=1, id_tag="T", meter_start=10, timestamp=T0)
        with pytest.raises(InternalError):
            await cp.call(start, suppress=False)
        with pytest.raises(InternalError):
            await cp.call(
                call16.MeterValues(connector_id=1, meter_value=_mv16("11", T1)), suppress=False
            )
        monkeypatch.setattr(store.writer, "submit", real_submit)
        assert (await api.get("/transactions", params={"station_id": "DOWN16"})).json()[
            "total"
        ] == 0
        retried = await cp.call(start, suppress=False)
        assert isinstance(retried.transaction_id, int)
    assert (await _only_transaction(api, "DOWN16"))["meter_start_wh"] == 10


async def test_16_bad_input_never_breaks_the_connection(server: Server) -> None:
    await server.create_station("BAD16")
    api = server.api()
    frames = [
        ["StartTransaction", {"connectorId": 0, "idTag": "T", "meterStart": 1, "timestamp": T0}],
        ["StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": -1, "timestamp": T0}],
        [
            "StartTransaction",
            {"connectorId": 1, "idTag": "T" * 21, "meterStart": 1, "timestamp": T0},
        ],
        ["MeterValues", {"connectorId": 1, "transactionId": 5, "meterValue": _mv16("-2", T1)}],
        ["StopTransaction", {"transactionId": 5, "meterStop": -7, "timestamp": T1}],
        ["NoSuchAction", {}],
    ]
    async with connect(
        server.station_url("BAD16"), subprotocols=[Subprotocol("ocpp1.6")], open_timeout=5
    ) as ws:
        codes = []
        for i, (action, payload) in enumerate(frames):
            await ws.send(orjson.dumps([2, f"b{i}", action, payload]).decode())
            reply = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply[1] == f"b{i}"
            codes.append(reply[2] if reply[0] == 4 else "accepted")
        assert codes[0] == codes[1] == codes[3] == "PropertyConstraintViolation"
        assert codes[2] != "accepted"  # idTag too long: refused by the schema
        # A stop is never refused (1.6 section 4.10): stored as sent, transaction 5 rebuilt.
        assert codes[4] == "accepted"
        assert codes[5] == "NotImplemented"
        await ws.send(
            orjson.dumps(
                [
                    2,
                    "ok",
                    "StartTransaction",
                    {"connectorId": 1, "idTag": "T", "meterStart": 1, "timestamp": T0},
                ]
            ).decode()
        )
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply[0] == 3 and isinstance(reply[2]["transactionId"], int)
    page = (await api.get("/transactions", params={"station_id": "BAD16"})).json()
    assert page["total"] == 2
    rebuilt = [t for t in page["items"] if t["transaction_id"] == "5"]
    assert rebuilt[0]["status"] == "ended" and rebuilt[0]["meter_stop_wh"] == -7


# ------------------------------------------------------------------------------ 2.0.1


def _event(kind: str, seq: int, ts: str, value: float | None = None, **kw: Any) -> Any:
    return call201.TransactionEvent(
        event_type=kind,
        timestamp=ts,
        trigger_reason=kw.pop("trigger_reason", "MeterValuePeriodic"),
        seq_no=seq,
        transaction_info={"transactionId": "EV-42", **kw.pop("info", {})},
        meter_value=(
            [
                {
                    "timestamp": ts,
                    "sampledValue": [{"value": value, "unitOfMeasure": {"unit": "kWh"}}],
                }
            ]
            if value is not None
            else None
        ),
        **kw,
    )


async def test_201_session_offline_out_of_order_and_duplicates(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    api = server.api()
    await _token(api, "RFID-201")
    token = {"idToken": "RFID-201", "type": "ISO14443"}
    async with running(Station201, server, "TX201", "ocpp2.0.1") as cp:
        signed = {
            "signedMeterData": "T0NNRnx7fQ==",
            "signingMethod": "ECDSA-secp256r1-SHA256",
            "encodingMethod": "OCMF",
            "publicKey": "MFkwEwYHKoZI",
        }
        # Replayed after an outage: Ended first, then an update, then Started; seq 2 lost.
        ended = await cp.call(
            _event(
                "Ended",
                4,
                T2,
                12.0,
                id_token=token,
                offline=True,
                trigger_reason="StopAuthorized",
                info={"stoppedReason": "Local"},
            ),
            suppress=False,
        )
        assert ended.id_token_info["status"] == "Accepted"
        update = call201.TransactionEvent(
            event_type="Updated",
            timestamp=T1,
            trigger_reason="MeterValuePeriodic",
            seq_no=3,
            transaction_info={"transactionId": "EV-42", "chargingState": "Charging"},
            offline=True,
            meter_value=[
                {
                    "timestamp": T1,
                    "sampledValue": [
                        {
                            "value": 8.0,
                            "unitOfMeasure": {"unit": "kWh"},
                            "signedMeterValue": signed,
                        },
                        {
                            "value": 11,
                            "measurand": "Power.Active.Import",
                            "unitOfMeasure": {"unit": "W", "multiplier": 3},
                        },
                    ],
                }
            ],
        )
        await cp.call(update, suppress=False)
        await cp.call(update, suppress=False)  # resent
        started = await cp.call(
            _event(
                "Started",
                0,
                T0,
                2.0,
                id_token=token,
                evse={"id": 1, "connectorId": 1},
                trigger_reason="Authorized",
                offline=True,
            ),
            suppress=False,
        )
        assert started.id_token_info["status"] == "Accepted"
        await cp.call(
            _event(
                "Updated",
                1,
                T0,
                trigger_reason="ChargingStateChanged",
                info={"chargingState": "Charging"},
            ),
            suppress=False,
        )

    tx = await _only_transaction(api, "TX201")
    assert tx["transaction_id"] == "EV-42" and tx["status"] == "ended"
    assert (tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"]) == (2000, 12000, 10000)
    assert tx["missing_seq_nos"] == [2]
    assert tx["offline"] is True and tx["start_seen"] is True
    assert (tx["evse_id"], tx["id_token"], tx["stop_reason"]) == (1, "RFID-201", "Local")
    events = (await api.get(f"/transactions/{tx['id']}/events")).json()
    assert [e["seq_no"] for e in events["items"]] == [0, 1, 3, 4]
    assert events["missing_seq_nos"] == [2]
    assert events["items"][0]["trigger_reason"] == "Authorized"
    assert (
        events["items"][2]["payload"]["meterValue"][0]["sampledValue"][0]["signedMeterValue"]
        == signed
    )
    values = (await api.get(f"/transactions/{tx['id']}/meter-values", params={"limit": 50})).json()
    assert values["total"] == 4
    signed_row = next(v for v in values["items"] if v["signed"])
    assert signed_row["signed"] == signed and signed_row["si_value"] == 8000
    power = next(v for v in values["items"] if v["measurand"] == "Power.Active.Import")
    assert (power["multiplier"], power["si_value"], power["si_unit"]) == (3, 11000, "W")


# ------------------------------------------------------------------------------ remote start/stop


async def test_remote_start_and_stop_16(store_url: str, start_server: StartServer) -> None:
    server = await start_server(store_url)
    api = server.api()
    async with running(Station16, server, "RS16", "ocpp1.6") as cp:
        r = await api.post(
            "/stations/RS16/remote-start", json={"id_token": "APP1", "evse_id": 2, "wait": 5}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "accepted" and body["response"] == {"status": "Accepted"}
        assert cp.remote_start == {"id_tag": "APP1", "connector_id": 2}
        tx = body["transaction"]
        for _ in range(50):  # the station reads our StartTransaction answer a bit later
            if hasattr(cp, "started"):
                break
            await asyncio.sleep(0.02)
        assert tx is not None and tx["transaction_id"] == str(cp.started.transaction_id)
        assert tx["remote_start_id"] == body["remote_start_id"]
        polled = await api.get("/transactions", params={"remote_start_id": body["remote_start_id"]})
        assert [t["id"] for t in polled.json()["items"]] == [tx["id"]]

        r = await api.post("/stations/RS16/remote-stop", json={"transaction_id": tx["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        assert cp.remote_stop == cp.started.transaction_id
        assert (
            await api.post("/stations/OTHER/remote-stop", json={"transaction_id": tx["id"]})
        ).status_code == 404
        assert (await api.post("/transactions/99999/stop")).status_code == 404

        cp.remote_start_answer = "Rejected"
        r = await api.post("/stations/RS16/remote-start", json={"id_token": "APP1", "wait": 1})
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        assert r.json()["transaction"] is None

    # The station is gone.
    r = await api.post(f"/transactions/{tx['id']}/stop")
    assert r.status_code == 409, r.text
    r = await api.post("/stations/RS16/remote-start", json={"id_token": "APP1"})
    assert r.status_code == 409 and r.json()["type"].endswith("station-not-connected")


async def test_remote_start_and_stop_201(store_url: str, start_server: StartServer) -> None:
    server = await start_server(store_url)
    api = server.api()
    async with running(Station201, server, "RS201", "ocpp2.0.1") as cp:
        r = await api.post(
            "/stations/RS201/remote-start", json={"id_token": "APP2", "evse_id": 1, "wait": 5}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert cp.request_start["remote_start_id"] == body["remote_start_id"]
        assert cp.request_start["id_token"] == {"id_token": "APP2", "type": "Central"}
        tx = body["transaction"]
        assert (
            tx["transaction_id"] == "REMOTE-1" and tx["remote_start_id"] == body["remote_start_id"]
        )
        r = await api.post(f"/transactions/{tx['id']}/stop")
        assert r.status_code == 200 and r.json()["status"] == "accepted"
        assert cp.request_stop == "REMOTE-1"
        await cp.call(
            _event("Ended", 1, T2, info={"transactionId": "REMOTE-1", "stoppedReason": "Remote"}),
            suppress=False,
        )
        # Ended already: nothing to stop.
        assert (await api.post(f"/transactions/{tx['id']}/stop")).status_code == 409
    assert (
        await api.post("/stations/NOPE/remote-start", json={"id_token": "A"})
    ).status_code == 404


# ------------------------------------------------------------------------------ silent transactions


async def test_silent_201_transaction_is_queried_and_closed(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(
        store_url, transaction_silence_timeout=0.3, transaction_check_interval=0.2
    )
    api = server.api()
    async with running(Station201, server, "Z201", "ocpp2.0.1") as cp:
        cp.ongoing = True
        await cp.call(
            _event(
                "Started",
                0,
                T0,
                1.0,
                evse={"id": 1, "connectorId": 1},
                trigger_reason="CablePluggedIn",
            ),
            suppress=False,
        )
        tx = await _only_transaction(api, "Z201")
        await asyncio.sleep(0.8)
        assert (await api.get(f"/transactions/{tx['id']}")).json()["status"] == "active"
        assert cp.status_asked == {"transaction_id": "EV-42"}
        cp.ongoing = False
        for _ in range(50):
            body = (await api.get(f"/transactions/{tx['id']}")).json()
            if body["status"] == "ended":
                break
            await asyncio.sleep(0.1)
    assert body["status"] == "ended" and body["stop_reason"] == "NotOngoing"


class IdleStation16(Station16):
    """Its transaction is long over, but the StopTransaction was lost."""

    @on(Action16.trigger_message)
    async def on_trigger(self, requested_message: str, **kwargs: Any) -> Any:
        self.triggered = [*getattr(self, "triggered", []), requested_message]
        if requested_message == "StatusNotification":
            asyncio.get_running_loop().create_task(self._status(kwargs["connector_id"]))
        return result16.TriggerMessage(status="Accepted")

    async def _status(self, connector: int) -> None:
        await asyncio.sleep(0.05)
        await self.call(
            call16.StatusNotification(
                connector_id=connector, error_code="NoError", status="Available"
            ),
            suppress=False,
        )


async def test_silent_16_transaction_on_an_idle_connector_is_closed(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(
        store_url, transaction_silence_timeout=0.3, transaction_check_interval=0.2
    )
    api = server.api()
    async with running(IdleStation16, server, "Z16", "ocpp1.6") as cp:
        await cp.call(
            call16.StartTransaction(connector_id=1, id_tag="Z", meter_start=0, timestamp=T0),
            suppress=False,
        )
        tx = await _only_transaction(api, "Z16")
        for _ in range(50):
            body = (await api.get(f"/transactions/{tx['id']}")).json()
            if body["status"] == "ended":
                break
            await asyncio.sleep(0.1)
    assert body["status"] == "ended" and body["stop_reason"] == "ConnectorIdle"
    assert cp.triggered[:2] == ["MeterValues", "StatusNotification"]
