"""Adversarial review of the money path against a real Ampyre on SQLite and PostgreSQL:
durable before ack (store failures, killed database connections, dropped sockets),
idempotent resends, offline and out-of-order replays, bad input, many stations at once,
and silent (zombie) transactions.

Stations here are raw OCPP-J sockets (`Raw`) so that a test controls unique ids, resends
and exactly what goes on the wire. Results are read from the store and counted in SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ampyre.adapters.db import tables as t
from ampyre.domain.transactions import (
    EventKind,
    MeterReading,
    SampledValue,
    Transaction,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
)
from ampyre.services.ports import StoreUnavailable

if TYPE_CHECKING:
    from conftest import Server, StartServer

BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
REPLY_TIMEOUT = 10.0
CONNECTING = 50  # WebSocket handshakes in flight at once in the many-stations test


def ts(minutes: float) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


OnCall = Callable[["Raw", str, dict[str, Any]], dict[str, Any]]


class Raw:
    """A station as raw OCPP-J frames: `call` sends a CALL (unique id chosen by the test if
    wanted) and returns the reply frame; CALLs from Ampyre are answered by `on_call`."""

    def __init__(self, ws: ClientConnection, on_call: OnCall | None = None) -> None:
        self.ws = ws
        self.on_call = on_call
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for text in self.ws:
                msg = orjson.loads(text)
                if msg[0] == 2:
                    self.received.append((msg[2], msg[3]))
                    answer = self.on_call(self, msg[2], msg[3]) if self.on_call else {}
                    await self.ws.send(orjson.dumps([3, msg[1], answer]).decode())
                    continue
                waiter = self._waiting.pop(msg[1], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(msg)

    async def call(self, action: str, payload: dict[str, Any], uid: str | None = None) -> list[Any]:
        uid = uid or f"u{next(self._ids)}"
        waiter: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting[uid] = waiter
        # stdlib json: it writes integers of any size (orjson stops at 64 bits).
        await self.ws.send(json.dumps([2, uid, action, payload]))
        return await asyncio.wait_for(waiter, REPLY_TIMEOUT)

    async def ok(self, action: str, payload: dict[str, Any], uid: str | None = None) -> Any:
        reply = await self.call(action, payload, uid)
        assert reply[0] == 3, reply
        return reply[2]

    async def error(self, action: str, payload: dict[str, Any]) -> str:
        """The CALLERROR code of the answer ("accepted" for a CALLRESULT)."""
        reply = await self.call(action, payload)
        code: str = reply[2] if reply[0] == 4 else "accepted"
        return code


@asynccontextmanager
async def station(
    server: Server,
    station_id: str,
    protocol: str = "ocpp1.6",
    create: bool = True,
    on_call: OnCall | None = None,
) -> AsyncIterator[Raw]:
    if create:
        await server.create_station(station_id)
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        raw = Raw(ws, on_call)
        for _ in range(250):
            if server.app.registry.ocpp_version(station_id) is not None:
                break
            await asyncio.sleep(0.02)
        try:
            yield raw
        finally:
            raw.reader.cancel()
            await asyncio.gather(raw.reader, return_exceptions=True)


async def wait_gone(server: Server, station_id: str) -> None:
    for _ in range(250):
        if server.app.registry.ocpp_version(station_id) is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{station_id} still registered")


# ------------------------------------------------------------------------------ payloads


def start16(tx_ts: str, meter: int, connector: int = 1, tag: str = "TAG") -> dict[str, Any]:
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": tx_ts}


def stop16(tx_id: int, tx_ts: str, meter: int, **extra: Any) -> dict[str, Any]:
    return {"transactionId": tx_id, "meterStop": meter, "timestamp": tx_ts, **extra}


def mv16(
    tx_id: int | None, tx_ts: str, *values: dict[str, Any], connector: int = 1
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": connector,
        "meterValue": [{"timestamp": tx_ts, "sampledValue": list(values)}],
    }
    if tx_id is not None:
        payload["transactionId"] = tx_id
    return payload


def ev201(
    kind: str,
    seq: int,
    at: str,
    tx_id: str = "TX-1",
    wh: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": at,
        "triggerReason": extra.pop("triggerReason", "MeterValuePeriodic"),
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx_id, **extra.pop("info", {})},
        **extra,
    }
    if wh is not None:
        payload["meterValue"] = [{"timestamp": at, "sampledValue": [{"value": wh}]}]
    return payload


# ------------------------------------------------------------------------------ reads


async def tx_of(server: Server, station_id: str, transaction_id: str) -> Transaction:
    tx = await server.app.store.find_transaction(station_id, transaction_id)
    assert tx is not None, (station_id, transaction_id)
    return tx


async def count(server: Server, table: sa.Table, *where: Any) -> int:
    async with server.app.store._tx() as conn:
        n = (
            await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
        ).scalar()
    return int(n or 0)


async def counts(server: Server, station_id: str) -> tuple[int, int, int]:
    """(transactions, events, meter values) stored for a station."""
    pks = sa.select(t.transactions.c.id).where(t.transactions.c.station_id == station_id)
    return (
        await count(server, t.transactions, t.transactions.c.station_id == station_id),
        await count(server, t.transaction_events, t.transaction_events.c.transaction_pk.in_(pks)),
        await count(server, t.meter_values, t.meter_values.c.station_id == station_id),
    )


# ---------------------------------------------------------------------- 1. durable before ack


async def test_failing_store_withholds_every_ack_and_the_retry_stores_one_copy(
    store_url: str, start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(store_url)
    store = server.app.store
    real_submit = store.writer.submit

    async def broken(payload: Any, *, draining: bool = False) -> Any:
        raise StoreUnavailable("database is down (test)")

    async with station(server, "DUR16") as cp16, station(server, "DUR201", "ocpp2.0.1") as cp2:
        tx_id = (await cp16.ok("StartTransaction", start16(ts(0), 100)))["transactionId"]
        await cp2.ok("TransactionEvent", ev201("Started", 0, ts(0), wh=100, evse={"id": 1}))
        messages: list[tuple[Raw, str, str, dict[str, Any]]] = [
            (cp16, "m1", "MeterValues", mv16(tx_id, ts(5), {"value": "150"})),
            (cp16, "m2", "MeterValues", mv16(None, ts(5), {"value": "150"}, connector=2)),
            (cp16, "m3", "StopTransaction", stop16(tx_id, ts(10), 200, reason="EVDisconnected")),
            (cp2, "e1", "TransactionEvent", ev201("Updated", 1, ts(5), wh=150)),
            (cp2, "e2", "TransactionEvent", ev201("Ended", 2, ts(10), wh=200)),
            (cp2, "e3", "MeterValues", {"evseId": 0, "meterValue": [
                {"timestamp": ts(5), "sampledValue": [{"value": 9.0}]}]}),
        ]  # fmt: skip
        before = (await counts(server, "DUR16"), await counts(server, "DUR201"))
        monkeypatch.setattr(store.writer, "submit", broken)
        for cp, uid, action, payload in messages:
            reply = await cp.call(action, payload, uid)
            assert reply[0] == 4 and reply[2] == "InternalError", (action, reply)
        monkeypatch.setattr(store.writer, "submit", real_submit)
        assert (await counts(server, "DUR16"), await counts(server, "DUR201")) == before
        # The station retries each (same unique id), and then once more (answer lost).
        for _ in range(2):
            for cp, uid, action, payload in messages:
                await cp.ok(action, payload, uid)
    assert await counts(server, "DUR16") == (1, 2, 4)
    assert await counts(server, "DUR201") == (1, 3, 4)
    for sid, tid, reason in (("DUR16", str(tx_id), "EVDisconnected"), ("DUR201", "TX-1", "Local")):
        tx = await tx_of(server, sid, tid)
        assert tx.status is TransactionStatus.ENDED and tx.stop_reason == reason
        assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (100, 200, 100)


@pytest.mark.postgres
async def test_killed_database_connections_lose_nothing_acknowledged(
    pg_url: str, start_server: StartServer
) -> None:
    """PostgreSQL: the server's connections are terminated again and again while stations
    send. Every message is retried (same unique id) until acknowledged; in the end every
    acknowledged value is stored exactly once."""
    server = await start_server(pg_url)
    url = make_url(pg_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    errors = 0

    async def send_until_acked(cp: Raw, uid: str, action: str, payload: dict[str, Any]) -> Any:
        nonlocal errors
        for _ in range(100):
            reply = await cp.call(action, payload, uid)
            if reply[0] == 3:
                return reply[2]
            assert reply[2] == "InternalError", reply
            errors += 1
            await asyncio.sleep(0.02)
        raise AssertionError(f"{action} {uid} never acknowledged")

    async def session(cp: Raw) -> None:
        if True:
            start = start16(ts(0), 1000)
            tx_id = (await send_until_acked(cp, "s", "StartTransaction", start))["transactionId"]
            for i in range(1, 16):
                value = {"value": str(1000 + 100 * i)}
                await send_until_acked(cp, f"m{i}", "MeterValues", mv16(tx_id, ts(i), value))
            await send_until_acked(cp, "e", "StopTransaction", stop16(tx_id, ts(20), 3000))

    async def killer() -> None:
        for _ in range(8):
            await asyncio.sleep(0.05)
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                url.database,
            )

    try:
        async with contextlib.AsyncExitStack() as stack:
            cps = [await stack.enter_async_context(station(server, f"KILL{n}")) for n in range(4)]
            await asyncio.wait_for(asyncio.gather(killer(), *(session(cp) for cp in cps)), 60)
    finally:
        await admin.close()
    for n in range(4):
        sid = f"KILL{n}"
        assert await counts(server, sid) == (1, 2, 17), sid
        page = await server.app.store.list_transactions(TransactionFilter(station_id=sid), 10, 0)
        (tx,) = page.items
        assert (tx.status, tx.energy_wh) == (TransactionStatus.ENDED, 2000)


async def test_socket_dropped_mid_transaction_loses_nothing(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    async with station(server, "DROP16") as cp:
        tx_id = (await cp.ok("StartTransaction", start16(ts(0), 500)))["transactionId"]
        await cp.ok("MeterValues", mv16(tx_id, ts(5), {"value": "700"}))
        # The station sends and vanishes before reading the answer.
        await cp.ws.send(
            orjson.dumps([2, "lost", "MeterValues", mv16(tx_id, ts(6), {"value": "750"})]).decode()
        )
    async with station(server, "DROP201", "ocpp2.0.1") as cp2:
        await cp2.ok("TransactionEvent", ev201("Started", 0, ts(0), wh=10, evse={"id": 1}))
    await wait_gone(server, "DROP16")
    await wait_gone(server, "DROP201")
    assert (await tx_of(server, "DROP16", str(tx_id))).status is TransactionStatus.ACTIVE
    async with station(server, "DROP16", create=False) as cp:
        # It resends what it has no answer for, then goes on.
        await cp.ok("MeterValues", mv16(tx_id, ts(6), {"value": "750"}), "lost")
        await cp.ok("StopTransaction", stop16(tx_id, ts(10), 900))
    async with station(server, "DROP201", "ocpp2.0.1", create=False) as cp2:
        await cp2.ok("TransactionEvent", ev201("Ended", 1, ts(10), wh=60))
    tx = await tx_of(server, "DROP16", str(tx_id))
    assert (tx.status, tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (
        TransactionStatus.ENDED,
        500,
        900,
        400,
    )
    assert await counts(server, "DROP16") == (1, 2, 4)
    tx2 = await tx_of(server, "DROP201", "TX-1")
    assert (tx2.status, tx2.energy_wh, tx2.start_seen) == (TransactionStatus.ENDED, 50, True)


# ------------------------------------------------------------------------------ 2. idempotency


async def test_16_every_message_resent_same_answer_no_duplicates(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    api = server.api()
    assert (await api.post("/id-tokens", json={"id_token": "TAG", "type": "ISO14443"})).is_success
    async with station(server, "IDEM16") as cp:
        start = start16(ts(0), 1000)
        first = await cp.ok("StartTransaction", start, "s1")
        assert first["idTagInfo"]["status"] == "Accepted"
        tx_id = first["transactionId"]
        messages = [
            ("StartTransaction", start),
            ("MeterValues", mv16(tx_id, ts(5), {"value": "1500"}, {"value": "3.2",
                "measurand": "Power.Active.Import", "unit": "kW"})),
            ("MeterValues", mv16(None, ts(5), {"value": "77"}, connector=2)),
            ("StopTransaction", stop16(tx_id, ts(10), 2000, idTag="TAG", reason="Local",
                transactionData=[{"timestamp": ts(9), "sampledValue": [{"value": "1900"}]}])),
        ]  # fmt: skip
        for n, (action, payload) in enumerate(messages):
            answers = [
                await cp.ok(action, payload, f"x{n}"),
                await cp.ok(action, payload, f"x{n}"),  # same unique id
                await cp.ok(action, payload),  # a new unique id, same payload
            ]
            assert answers[0] == answers[1] == answers[2], (action, answers)
        # A start resent after its stop (queue replay): the same id, and still ended.
        assert await cp.ok("StartTransaction", start) == first
    assert await counts(server, "IDEM16") == (1, 2, 6)
    tx = await tx_of(server, "IDEM16", str(tx_id))
    assert (tx.status, tx.energy_wh, tx.stop_reason) == (TransactionStatus.ENDED, 1000, "Local")


async def test_201_every_message_resent_same_answer_no_duplicates(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    api = server.api()
    assert (await api.post("/id-tokens", json={"id_token": "RF1", "type": "ISO14443"})).is_success
    token = {"idToken": "RF1", "type": "ISO14443"}
    async with station(server, "IDEM201", "ocpp2.0.1") as cp:
        started = ev201(
            "Started", 0, ts(0), wh=1000, idToken=token, evse={"id": 1, "connectorId": 1}
        )
        messages = [
            ("TransactionEvent", started),
            ("TransactionEvent", ev201("Updated", 1, ts(5), wh=1500,
                info={"chargingState": "Charging"})),
            ("MeterValues", {"evseId": 1, "meterValue": [
                {"timestamp": ts(5), "sampledValue": [{"value": 230.0, "measurand": "Voltage"}]}]}),
            ("TransactionEvent", ev201("Ended", 2, ts(10), wh=2500, idToken=token,
                info={"stoppedReason": "EVDisconnected"})),
        ]  # fmt: skip
        for n, (action, payload) in enumerate(messages):
            answers = [
                await cp.ok(action, payload, f"x{n}"),
                await cp.ok(action, payload, f"x{n}"),
                await cp.ok(action, payload),
            ]
            assert answers[0] == answers[1] == answers[2], (action, answers)
        assert await cp.ok("TransactionEvent", started) == {"idTokenInfo": {"status": "Accepted"}}
    assert await counts(server, "IDEM201") == (1, 3, 4)
    tx = await tx_of(server, "IDEM201", "TX-1")
    assert (tx.status, tx.energy_wh, tx.stop_reason) == (
        TransactionStatus.ENDED,
        1500,
        "EVDisconnected",
    )


def _event(station_id: str, kind: EventKind, **kw: Any) -> TransactionEvent:
    at = kw.pop("at", BASE)
    wh = kw.pop("wh", None)
    readings = (
        (MeterReading(at, (SampledValue(float(wh), str(wh), si_value=float(wh), si_unit="Wh"),)),)
        if wh is not None
        else ()
    )
    return TransactionEvent(
        station_id=station_id,
        kind=kind,
        timestamp=at,
        received_at=datetime.now(UTC),
        meter_values=readings,
        **kw,
    )


async def test_duplicates_within_one_batch_and_across_concurrent_batches(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    store = server.app.store
    for n in range(20):
        await server.create_station(f"B{n}")
    starts = [
        _event(f"B{n}", EventKind.STARTED, transaction_id=None, start_key=f"1|T|{n}",
               event_key="Started", connector_id=1, evse_id=1, wh=100)
        for n in range(20)
    ]  # fmt: skip
    updates = [
        _event(f"B{n}", EventKind.UPDATED, transaction_id=f"E{n}", event_key="seq:1", seq_no=1,
               at=BASE + timedelta(minutes=5), wh=300)
        for n in range(20)
    ]  # fmt: skip
    # Each message twice in one call, and the same calls concurrently (one batch or a few).
    results = await asyncio.gather(
        *(store.record_transaction_events([ev, ev]) for ev in starts + updates for _ in range(3))
    )
    for n in range(40):
        ids = {stored for call in results[3 * n : 3 * n + 3] for stored in call}
        assert len(ids) == 1, (n, ids)
    issued = {results[3 * n][0].transaction_id for n in range(20)}
    assert len(issued) == 20
    for n in range(20):
        assert await counts(server, f"B{n}") == (2, 2, 2)


# ------------------------------------------------------------------------------ 3. offline


async def test_16_queue_replay_back_to_back_on_one_connector(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    async with station(server, "Q16") as cp:
        a = (await cp.ok("StartTransaction", start16(ts(0), 1000)))["transactionId"]
        # Register readings arrive newest first.
        await cp.ok("MeterValues", mv16(a, ts(20), {"value": "3000"}))
        await cp.ok("MeterValues", mv16(a, ts(10), {"value": "2000"}))
        await cp.ok("StopTransaction", stop16(a, ts(30), 3500, reason="EVDisconnected"))
        b = (await cp.ok("StartTransaction", start16(ts(40), 3500)))["transactionId"]
        await cp.ok("MeterValues", mv16(b, ts(45), {"value": "3.9", "unit": "kWh"}))
        await cp.ok("StopTransaction", stop16(b, ts(50), 4200))
    assert a != b
    ta, tb = await tx_of(server, "Q16", str(a)), await tx_of(server, "Q16", str(b))
    assert (ta.energy_wh, ta.stop_reason, ta.ended_at) == (
        2500,
        "EVDisconnected",
        BASE + timedelta(minutes=30),
    )
    assert (tb.energy_wh, tb.stop_reason, tb.status) == (700, "Local", TransactionStatus.ENDED)
    assert ta.started_at == BASE and tb.started_at == BASE + timedelta(minutes=40)


async def test_201_seq_no_gaps_reported_then_filled(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    async with station(server, "GAP201", "ocpp2.0.1") as cp:
        for seq, kind, minute, wh in (
            (5, "Ended", 50, 6000),
            (3, "Updated", 30, 4000),
            (0, "Started", 0, 1000),
        ):
            await cp.ok("TransactionEvent", ev201(kind, seq, ts(minute), wh=wh, offline=True))
        tx = await tx_of(server, "GAP201", "TX-1")
        assert tx.missing_seq_nos == [1, 2, 4] and tx.status is TransactionStatus.ENDED
        assert tx.energy_wh == 5000
        for seq in (4, 1, 2):
            # Late Updated events never reopen it, nor move its meters.
            await cp.ok(
                "TransactionEvent", ev201("Updated", seq, ts(10 * seq), wh=1000 * (seq + 1))
            )
    tx = await tx_of(server, "GAP201", "TX-1")
    assert (tx.missing_seq_nos, tx.status, tx.energy_wh) == ([], TransactionStatus.ENDED, 5000)
    assert tx.offline and tx.start_seen and tx.started_at == BASE


async def test_energy_from_si_values_whatever_the_unit(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    async with station(server, "UNIT201", "ocpp2.0.1") as cp:
        kwh = {"unit": "kWh"}
        await cp.ok(
            "TransactionEvent",
            {
                **ev201("Started", 0, ts(0)),
                "meterValue": [
                    {
                        "timestamp": ts(0),
                        "sampledValue": [
                            {"value": 1.5, "unitOfMeasure": kwh, "context": "Transaction.Begin"}
                        ],
                    }
                ],
            },
        )
        await cp.ok(
            "TransactionEvent",
            {
                **ev201("Updated", 1, ts(5)),
                "meterValue": [
                    {
                        "timestamp": ts(5),
                        "sampledValue": [
                            {"value": 2, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}},
                            # per phase registers are not the total
                            {"value": 9999999, "phase": "L1"},
                            {"value": 9999999, "phase": "L2"},
                            {"value": 1, "measurand": "Energy.Active.Export.Register"},
                        ],
                    }
                ],
            },
        )
        await cp.ok(
            "TransactionEvent",
            {
                **ev201("Ended", 2, ts(10)),
                "meterValue": [
                    {
                        "timestamp": ts(10),
                        "sampledValue": [
                            {
                                "value": 25,
                                "unitOfMeasure": {"unit": "Wh", "multiplier": 2},
                                "context": "Transaction.End",
                            }
                        ],
                    }
                ],
            },
        )
    tx = await tx_of(server, "UNIT201", "TX-1")
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1500, 2500, 1000)
    async with station(server, "UNIT16") as cp16:
        tx_id = (await cp16.ok("StartTransaction", start16(ts(0), 1000)))["transactionId"]
        await cp16.ok(
            "MeterValues",
            mv16(
                tx_id,
                ts(5),
                {"value": "1.75", "unit": "kWh"},
                {"value": "99999", "phase": "L1", "unit": "Wh"},
            ),
        )
        await cp16.ok("StopTransaction", stop16(tx_id, ts(10), 2000))
    tx16 = await tx_of(server, "UNIT16", str(tx_id))
    assert tx16.energy_wh == 1000
    values = (await server.app.store.list_transaction_meter_values(tx16.id, 100, 0)).items
    kwh_row = next(v for v in values if v.sample.unit == "kWh")
    assert (kwh_row.sample.raw_value, kwh_row.sample.si_value) == ("1.75", 1750)


async def test_energy_ignores_registers_not_at_the_outlet(
    store_url: str, start_server: StartServer
) -> None:
    """The energy delivered to the EV is the Outlet register (1.6 7.29 Location / 2.0.1
    LocationEnumType; Outlet is the default). A station that also reports its grid
    connection (Inlet, cumulative over its whole life) or what the EV measured (EV) at the
    same timestamps must not turn a 3 kWh session into 53 kWh."""
    server = await start_server(store_url)
    async with station(server, "LOC16") as cp:
        tx_id = (await cp.ok("StartTransaction", start16(ts(0), 1000)))["transactionId"]
        stop = stop16(tx_id, ts(30), 4000, transactionData=[
            {"timestamp": ts(0), "sampledValue": [
                {"value": "50000", "location": "Inlet", "context": "Transaction.Begin"},
                {"value": "10", "location": "EV", "context": "Transaction.Begin"}]},
            {"timestamp": ts(30), "sampledValue": [
                {"value": "54000", "location": "Inlet", "context": "Transaction.End"},
                {"value": "3000", "location": "EV", "context": "Transaction.End"}]},
        ])  # fmt: skip
        await cp.ok("StopTransaction", stop)
    tx = await tx_of(server, "LOC16", str(tx_id))
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 4000, 3000)


async def test_clock_going_backwards_keeps_start_and_stop_meters(
    store_url: str, start_server: StartServer
) -> None:
    """A 1.6 station whose clock is reset during a session (NTP correction after boot):
    its StartTransaction says 09:00, its StopTransaction 08:20. meterStart and meterStop
    are what the station reported for the start and the stop; energy is their difference."""
    server = await start_server(store_url)
    async with station(server, "CLK16") as cp:
        tx_id = (await cp.ok("StartTransaction", start16(ts(60), 1000)))["transactionId"]
        await cp.ok("MeterValues", mv16(tx_id, ts(10), {"value": "2000"}))
        await cp.ok("StopTransaction", stop16(tx_id, ts(20), 3000))
    tx = await tx_of(server, "CLK16", str(tx_id))
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 3000, 2000)


async def test_meter_values_after_the_stop_do_not_change_the_bill(
    store_url: str, start_server: StartServer
) -> None:
    """A buggy 1.6 station keeps sending periodic MeterValues with the old transactionId
    after its StopTransaction; the transaction ended at meterStop."""
    server = await start_server(store_url)
    async with station(server, "AFTER16") as cp:
        tx_id = (await cp.ok("StartTransaction", start16(ts(0), 1000)))["transactionId"]
        await cp.ok("StopTransaction", stop16(tx_id, ts(10), 2000))
        await cp.ok("MeterValues", mv16(tx_id, ts(15), {"value": "2500"}))
    tx = await tx_of(server, "AFTER16", str(tx_id))
    assert (tx.status, tx.meter_stop_wh, tx.energy_wh) == (TransactionStatus.ENDED, 2000, 1000)


async def test_a_high_seq_no_does_not_stall_reads(
    sqlite_url: str, start_server: StartServer
) -> None:
    server = await start_server(sqlite_url)
    async with station(server, "HIGH201", "ocpp2.0.1") as cp:
        await cp.ok("TransactionEvent", ev201("Started", 0, ts(0), wh=0, evse={"id": 1}))
        await cp.ok("TransactionEvent", ev201("Updated", 10_000_000, ts(1), wh=10))
    began = time.perf_counter()
    tx = await tx_of(server, "HIGH201", "TX-1")
    assert tx.missing_seq_nos[:2] == [1, 2]
    assert time.perf_counter() - began < 0.2


async def test_16_signed_data_beside_the_raw_reading_is_kept(
    store_url: str, start_server: StartServer
) -> None:
    """Eichrecht meters on 1.6 send each register twice in one meterValue: the reading
    (Raw) and the signed record (SignedData); both must be stored as received."""
    server = await start_server(store_url)
    async with station(server, "SIGN16") as cp:
        tx_id = (await cp.ok("StartTransaction", start16(ts(0), 1000)))["transactionId"]
        signed = {"value": "OCMF|{...}|{SD:3045...}", "format": "SignedData"}
        await cp.ok("MeterValues", mv16(tx_id, ts(5), {"value": "1500"}, signed))
    tx = await tx_of(server, "SIGN16", str(tx_id))
    values = (await server.app.store.list_transaction_meter_values(tx.id, 100, 0)).items
    assert sorted(v.sample.format or "" for v in values) == ["Raw", "Raw", "SignedData"]


# ------------------------------------------------------------------------------ 4. bad input


async def test_16_bad_input_gets_clear_errors_and_the_connection_lives(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    async with station(server, "BADX16") as cp:
        tx_id = (await cp.ok("StartTransaction", start16(ts(0), 1000)))["transactionId"]
        refused = {
            "connector 0": ("StartTransaction", start16(ts(0), 1, connector=0)),
            "connector too big": ("StartTransaction", start16(ts(0), 1, connector=2**40)),
            "negative meterStart": ("StartTransaction", start16(ts(0), -5)),
            "idTag too long": ("StartTransaction", start16(ts(0), 1, tag="X" * 21)),
            "bad timestamp": ("StartTransaction", start16("yesterday", 1)),
            "negative register": ("MeterValues", mv16(tx_id, ts(1), {"value": "-3"})),
            "negative connector": ("MeterValues", mv16(None, ts(1), {"value": "3"}, connector=-1)),
            "huge connector": ("MeterValues", mv16(None, ts(1), {"value": "3"}, connector=2**40)),
            "bad meter timestamp": ("MeterValues", mv16(tx_id, "soon", {"value": "3"})),
            "no time zone": ("MeterValues", mv16(tx_id, "2025-03-01T08:07:00", {"value": "3"})),
            "huge transaction id": ("StopTransaction", stop16(10**70, ts(2), 5)),
            "huge reservation id": (
                "StartTransaction",
                {**start16(ts(0), 1), "reservationId": 2**40},
            ),
            "time out of range": (
                "MeterValues",
                mv16(tx_id, "9999-12-31T23:59:59-05:00", {"value": "3"}),
            ),
        }
        codes = {
            name: await cp.error(action, payload) for name, (action, payload) in refused.items()
        }
        assert all(c in ("PropertyConstraintViolation", "FormatViolation",
                         "TypeConstraintViolation", "OccurenceConstraintViolation")
                   for c in codes.values()), json.dumps(codes)  # fmt: skip
        # Odd but storable values are stored as sent; energy only uses numbers.
        odd = [
            {"value": "abc"},
            {"value": "NaN", "measurand": "SoC"},
            {"value": "Infinity", "measurand": "Power.Active.Import"},
            {"value": "1e400", "measurand": "Current.Import"},
            {"value": "0x10", "measurand": "Voltage"},
        ]
        await cp.ok("MeterValues", mv16(tx_id, ts(5), *odd))
        # Far in the future: stored as sent.
        await cp.ok("MeterValues", mv16(None, "2999-12-31T23:59:59Z", {"value": "5"}))
        # Unknown transaction on MeterValues and on stop: accepted, nothing lost.
        await cp.ok("MeterValues", mv16(424242, ts(5), {"value": "10"}))
        assert await cp.ok("StopTransaction", stop16(434343, ts(5), 10)) == {}
        # A stop is never refused for what it says (1.6 section 4.10): a negative meter
        # is stored as sent, and so is meterStop below meterStart.
        assert (
            await cp.ok(
                "StopTransaction",
                stop16(
                    515151,
                    ts(5),
                    -7,
                    transactionData=[{"timestamp": ts(4), "sampledValue": [{"value": "-9"}]}],
                ),
            )
            == {}
        )
        await cp.ok("StopTransaction", stop16(tx_id, ts(10), 900))
        again = await cp.ok("StartTransaction", start16(ts(20), 900))
        assert isinstance(again["transactionId"], int)
    tx = await tx_of(server, "BADX16", str(tx_id))
    assert (tx.status, tx.energy_wh) == (TransactionStatus.ENDED, -100)
    values = (await server.app.store.list_transaction_meter_values(tx.id, 100, 0)).items
    raw = {v.sample.raw_value: v.sample for v in values}
    assert all(raw[text].value is None for text in ("abc", "NaN", "Infinity", "1e400", "0x10"))
    assert (await tx_of(server, "BADX16", "424242")).start_seen is False
    assert (await tx_of(server, "BADX16", "434343")).status is TransactionStatus.ENDED
    negative = await tx_of(server, "BADX16", "515151")
    assert (negative.status, negative.meter_stop_wh) == (TransactionStatus.ENDED, -7)


async def test_201_bad_input_gets_clear_errors_and_the_connection_lives(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url)
    async with station(server, "BADX201", "ocpp2.0.1") as cp:
        await cp.ok(
            "TransactionEvent",
            ev201("Started", 0, ts(0), wh=1000, evse={"id": 1, "connectorId": 1}),
        )
        refused = {
            "transactionId over 36": ev201("Started", 0, ts(0), tx_id="X" * 37),
            "evse 0": ev201("Updated", 1, ts(1), evse={"id": 0}),
            "evse too big": ev201("Updated", 1, ts(1), evse={"id": 2**40}),
            "negative register": ev201("Updated", 1, ts(1), wh=-5),
            "idToken too long": ev201(
                "Updated", 1, ts(1), idToken={"idToken": "I" * 37, "type": "ISO14443"}
            ),
            "bad timestamp": ev201("Updated", 1, "later"),
            "negative seqNo": ev201("Updated", -1, ts(1)),
            "seqNo too big": ev201("Updated", 2**40, ts(1)),
            "connector too big": ev201("Updated", 1, ts(1), evse={"id": 1, "connectorId": 2**40}),
            "remoteStartId too big": ev201("Updated", 1, ts(1), info={"remoteStartId": 2**40}),
            "time out of range": ev201("Updated", 1, "9999-12-31T23:59:59-05:00"),
            "multiplier too big": {**ev201("Updated", 1, ts(1)), "meterValue": [{"timestamp": ts(1),
                "sampledValue": [{"value": 1, "unitOfMeasure": {"multiplier": 2**40}}]}]},
        }  # fmt: skip
        codes = {name: await cp.error("TransactionEvent", p) for name, p in refused.items()}
        assert all(
            c in ("PropertyConstraintViolation", "FormatViolation", "TypeConstraintViolation")
            for c in codes.values()
        ), json.dumps(codes)
        # Huge but finite numbers are stored; evse moving mid-transaction keeps the first.
        await cp.ok("TransactionEvent", ev201("Updated", 1, ts(1), wh=1e300, evse={"id": 2}))
        # Values with no SI form are kept as sent, with no SI value.
        odd = [
            {"value": 5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "U" * 20}},
            {
                "value": 5,
                "measurand": "Current.Import",
                "unitOfMeasure": {"unit": "A", "multiplier": 400},
            },
        ]
        await cp.ok(
            "MeterValues", {"evseId": 1, "meterValue": [{"timestamp": ts(1), "sampledValue": odd}]}
        )
        await cp.ok("TransactionEvent", ev201("Ended", 2, ts(2), wh=2000))
        # An Ended event is never refused, even with a negative register (stored as sent).
        assert await cp.ok("TransactionEvent", ev201("Ended", 0, ts(2), "NEG", wh=-4)) == {}
    tx = await tx_of(server, "BADX201", "TX-1")
    assert (tx.evse_id, tx.status, tx.energy_wh) == (1, TransactionStatus.ENDED, 1000)
    neg = await tx_of(server, "BADX201", "NEG")
    assert (neg.status, neg.meter_stop_wh) == (TransactionStatus.ENDED, -4)
    assert await counts(server, "BADX201") == (2, 4, 6)
    async with server.app.store._tx() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    t.meter_values.c.unit, t.meter_values.c.si_value, t.meter_values.c.si_unit
                ).where(t.meter_values.c.transaction_pk.is_(None))
            )
        ).all()
    assert sorted(map(tuple, rows)) == [("A", None, None), ("U" * 20, None, None)]


# ------------------------------------------------------------------------------ 5. concurrency


async def test_200_stations_each_run_a_full_session_at_once(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(store_url, auto_register=True)
    # What runs at once is the sessions: every station connects first and they all start
    # together. The handshakes go in waves of CONNECTING: each one reads the station from
    # the store, and 200 of them at once, with this process also being the 200 clients on
    # a loaded 2-core machine, took up to ~4 s, close to the 5 s open_timeout; with fewer
    # in flight a handshake over that bound still means a slow server.
    connecting = asyncio.Semaphore(CONNECTING)
    everyone_connected = asyncio.Barrier(200)

    @asynccontextmanager
    async def connected(sid: str, protocol: str) -> AsyncIterator[Raw]:
        async with contextlib.AsyncExitStack() as stack:
            async with connecting:
                cp = await stack.enter_async_context(station(server, sid, protocol, create=False))
            await everyone_connected.wait()
            yield cp

    async def run16(n: int) -> tuple[str, str, float]:
        sid = f"C16-{n}"
        async with connected(sid, "ocpp1.6") as cp:
            tx_id = (await cp.ok("StartTransaction", start16(ts(0), 1000 * n)))["transactionId"]
            for i in range(1, 4):
                await cp.ok("MeterValues", mv16(tx_id, ts(i), {"value": str(1000 * n + 10 * i)}))
            await cp.ok("StopTransaction", stop16(tx_id, ts(5), 1000 * n + 100 + n))
        return sid, str(tx_id), 100 + n

    async def run201(n: int) -> tuple[str, str, float]:
        sid = f"C201-{n}"
        async with connected(sid, "ocpp2.0.1") as cp:
            await cp.ok(
                "TransactionEvent", ev201("Started", 0, ts(0), f"T{n}", wh=5 * n, evse={"id": 1})
            )
            for i in range(1, 4):
                await cp.ok("TransactionEvent", ev201("Updated", i, ts(i), f"T{n}", wh=5 * n + i))
            await cp.ok("TransactionEvent", ev201("Ended", 4, ts(5), f"T{n}", wh=5 * n + 50 + n))
        return sid, f"T{n}", 50 + n

    # A TaskGroup: a station that fails cancels the others (which wait at the barrier).
    async with asyncio.timeout(90), asyncio.TaskGroup() as group:
        tasks = [group.create_task(run16(n)) for n in range(100)]
        tasks += [group.create_task(run201(n)) for n in range(100)]
    done = [task.result() for task in tasks]
    ids16 = [tid for sid, tid, _ in done if sid.startswith("C16")]
    assert len(set(ids16)) == 100
    for sid, tid, energy in done:
        tx = await tx_of(server, sid, tid)
        assert (tx.status, tx.energy_wh, tx.start_seen) == (TransactionStatus.ENDED, energy, True)
    assert await count(server, t.transactions) == 200
    assert await count(server, t.transaction_events) == 100 * 2 + 100 * 5
    assert await count(server, t.meter_values) == 100 * 5 + 100 * 5


# ------------------------------------------------------------------------------ 6. zombies


def charging_16(raw: Raw, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A 1.6 station whose transaction is still running: it answers a trigger with the
    message asked for (a StatusNotification Charging, no MeterValues)."""
    if action == "TriggerMessage" and payload["requestedMessage"] == "StatusNotification":
        status = {
            "connectorId": payload["connectorId"],
            "errorCode": "NoError",
            "status": "Charging",
        }
        asyncio.get_running_loop().create_task(raw.call("StatusNotification", status))
        return {"status": "Accepted"}
    return {"status": "Rejected"}


def not_ongoing_201(raw: Raw, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    if action == "GetTransactionStatus":
        return {"messagesInQueue": False, "ongoingIndicator": payload.get("transactionId") == "ON"}
    return {"status": "Rejected"}


async def test_silent_transactions_closed_only_when_over(
    store_url: str, start_server: StartServer
) -> None:
    server = await start_server(
        store_url, transaction_silence_timeout=0.3, transaction_check_interval=0.1
    )
    async with (
        station(server, "ZC16", on_call=charging_16) as cp16,
        station(server, "Z2", "ocpp2.0.1", on_call=not_ongoing_201) as cp2,
    ):
        tx_id = (await cp16.ok("StartTransaction", start16(ts(0), 0)))["transactionId"]
        await cp2.ok("TransactionEvent", ev201("Started", 0, ts(0), "ON", wh=0, evse={"id": 1}))
        await cp2.ok("TransactionEvent", ev201("Started", 0, ts(0), "OVER", wh=0, evse={"id": 2}))
        for _ in range(60):
            over = await tx_of(server, "Z2", "OVER")
            if over.status is TransactionStatus.ENDED:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # several more rounds
        assert (over.status, over.stop_reason) == (TransactionStatus.ENDED, "NotOngoing")
        assert (await tx_of(server, "Z2", "ON")).status is TransactionStatus.ACTIVE
        assert (await tx_of(server, "ZC16", str(tx_id))).status is TransactionStatus.ACTIVE
        assert (
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "connectorId": 1},
        ) in cp16.received
        # The station's own Ended, arriving late, wins over Ampyre's reason.
        await cp2.ok(
            "TransactionEvent",
            ev201("Ended", 1, ts(3), "OVER", wh=700, info={"stoppedReason": "EVDisconnected"}),
        )
    over = await tx_of(server, "Z2", "OVER")
    assert (over.stop_reason, over.energy_wh) == ("EVDisconnected", 700)
    # Disconnected stations are not probed, and their transactions are not closed.
    await wait_gone(server, "ZC16")
    await asyncio.sleep(0.4)
    assert (await tx_of(server, "ZC16", str(tx_id))).status is TransactionStatus.ACTIVE
