"""TransactionService on fakes: remote start/stop correlation and silent (zombie)
transactions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeRouter
from tx_fakes import FakeAuth, FakeTxStore, Outbox

from ampyre.config import Settings
from ampyre.domain.events import EventType
from ampyre.domain.models import Connector
from ampyre.domain.transactions import (
    ENERGY_REGISTER,
    EventKind,
    MeterReading,
    SampledValue,
    TransactionEvent,
    TransactionFilter,
    TransactionStatus,
)
from ampyre.protocol.commands import OcppStationCommands
from ampyre.services.commands import CallOutcome, CommandTimeout, StationNotConnected
from ampyre.services.transactions import (
    REASON_CLOSED_BY_OPERATOR,
    REASON_CONNECTOR_IDLE,
    REASON_NOT_ONGOING,
    TransactionNotActive,
    TransactionNotFound,
    TransactionNotStale,
    TransactionService,
)

T0 = datetime(2025, 1, 1, 10, tzinfo=UTC)
Script = Callable[[str, dict[str, Any]], Awaitable[CallOutcome]]


class ScriptedRouter(FakeRouter):
    def __init__(self, versions: dict[str, str]) -> None:
        super().__init__(versions)
        self.script: Script | None = None

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        self.calls.append((station_id, action, payload, timeout))
        assert self.script is not None
        return await self.script(action, payload)


def make(
    version: str = "ocpp2.0.1", **settings: Any
) -> tuple[TransactionService, FakeTxStore, ScriptedRouter, Outbox]:
    store, router = FakeTxStore(), ScriptedRouter({"CP1": version})
    svc = TransactionService(
        store,
        FakeAuth(),  # type: ignore[arg-type]
        OcppStationCommands(router),
        Settings(**settings),
    )
    return svc, store, router, store.outbox


def event(kind: EventKind, tx_id: str | None, at: datetime, **fields: Any) -> TransactionEvent:
    return TransactionEvent(
        station_id="CP1",
        kind=kind,
        timestamp=at,
        received_at=fields.pop("received_at", datetime.now(UTC)),
        transaction_id=tx_id,
        **fields,
    )


def accepted(**payload: Any) -> CallOutcome:
    return CallOutcome(ok=True, payload={"status": "Accepted", **payload})


# ------------------------------------------------------------------------ publishing


async def test_updated_event_reports_the_delivered_energy_register_only() -> None:
    svc, _, _, events = make()

    def wh(value: float, **where: Any) -> SampledValue:
        return SampledValue(
            value, str(value), ENERGY_REGISTER, si_value=value, si_unit="Wh", **where
        )

    samples = (wh(5000.0), wh(1800.0, phase="L1"), wh(90000.0, location="EV"))
    await svc.record(
        event(
            EventKind.UPDATED,
            "TX-1",
            T0,
            event_key="seq:1",
            seq_no=1,
            meter_values=(MeterReading(T0, samples),),
        )
    )
    assert events.published[-1].type is EventType.TRANSACTION_UPDATED
    assert events.published[-1].data["meter_wh"] == 5000.0


async def test_start_and_end_are_logged_once_each_with_the_token_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc, _, _, _ = make()
    caplog.set_level(logging.INFO, logger="ampyre.services.transactions")
    common = {
        "evse_id": 1,
        "connector_id": 1,
        "id_token": "CARD-123456",
        "id_token_type": "ISO14443",
    }
    await svc.record(event(EventKind.STARTED, "TX-9", T0, event_key="seq:0", seq_no=0, **common))
    await svc.record(event(EventKind.UPDATED, "TX-9", T0, event_key="seq:1", seq_no=1))
    await svc.record(
        event(EventKind.ENDED, "TX-9", T0, event_key="seq:2", seq_no=2, stop_reason="Local")
    )
    lines = [r.getMessage() for r in caplog.records if "transaction TX-9" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "started on EVSE 1, id token *******3456" in lines[0]
    assert "CARD-123456" not in lines[0]
    assert "ended: Local" in lines[1]


# ------------------------------------------------------------------------ remote start


async def test_2x_remote_start_returns_the_transaction_reported_with_its_remote_start_id() -> None:
    svc, store, router, _ = make()

    async def script(action: str, payload: dict[str, Any]) -> CallOutcome:
        assert action == "RequestStartTransaction"
        rsid = payload["remoteStartId"]

        async def station_reports() -> None:
            await asyncio.sleep(0.01)
            await svc.record(
                event(
                    EventKind.STARTED,
                    "TX-9",
                    T0,
                    event_key="seq:0",
                    seq_no=0,
                    remote_start_id=rsid,
                    evse_id=2,
                )
            )

        asyncio.get_running_loop().create_task(station_reports())
        return accepted()

    router.script = script
    result = await svc.remote_start("CP1", "APP-USER", evse_id=2, wait=2)
    assert result.outcome.status == "accepted"
    assert result.remote_start_id == 1
    assert result.transaction is not None and result.transaction.transaction_id == "TX-9"
    (_, _action, payload, _) = router.calls[0]
    assert payload == {
        "idToken": {"idToken": "APP-USER", "type": "Central"},
        "remoteStartId": 1,
        "evseId": 2,
    }
    assert not svc.pending.waiting()  # correlated and forgotten
    assert (await store.find_transaction("CP1", "TX-9")).remote_start_id == 1  # type: ignore[union-attr]


async def test_16_remote_start_tags_the_next_matching_start_even_after_the_wait() -> None:
    svc, store, router, _ = make("ocpp1.6")
    router.script = lambda action, payload: asyncio.sleep(0, accepted())
    result = await svc.remote_start(
        "CP1", "TAG1", evse_id=1, wait=0, charging_profile={"chargingProfileId": 1}
    )
    assert result.transaction is None
    assert router.calls[0][1:3] == (
        "RemoteStartTransaction",
        {"idTag": "TAG1", "connectorId": 1, "chargingProfile": {"chargingProfileId": 1}},
    )
    # A start with another tag, or on another connector, is not the one.
    await svc.record(
        event(EventKind.STARTED, None, T0, start_key="a", id_token="OTHER", connector_id=1)
    )
    await svc.record(
        event(EventKind.STARTED, None, T0, start_key="b", id_token="TAG1", connector_id=2)
    )
    stored = await svc.record(
        event(EventKind.STARTED, None, T0, start_key="c", id_token="TAG1", connector_id=1)
    )
    where = TransactionFilter(remote_start_id=result.remote_start_id)
    page = await store.list_transactions(where, 10, 0)
    assert [t.id for t in page.items] == [stored.stored.id]


async def test_remote_start_uses_the_stored_token_type() -> None:
    svc, _, router, _ = make()
    svc._auth.types["CARD-1"] = "ISO14443"  # type: ignore[attr-defined]
    router.script = lambda action, payload: asyncio.sleep(0, accepted())
    await svc.remote_start("CP1", "CARD-1", wait=0)
    await svc.remote_start("CP1", "CARD-1", id_token_type="eMAID", wait=0)
    types = [call[2]["idToken"]["type"] for call in router.calls]
    assert types == ["ISO14443", "eMAID"]


async def test_remote_start_rejected_or_offline() -> None:
    svc, _, router, _ = make()
    router.script = lambda action, payload: asyncio.sleep(
        0, CallOutcome(True, {"status": "Rejected"})
    )
    result = await svc.remote_start("CP1", "X", wait=5)
    assert result.outcome.status == "rejected" and result.transaction is None
    assert not svc.pending.waiting()
    with pytest.raises(StationNotConnected):
        await svc.remote_start("CP2", "X")


async def test_remote_stop() -> None:
    svc, _store, router, _ = make()
    router.script = lambda action, payload: asyncio.sleep(0, accepted())
    stored = (await svc.record(event(EventKind.STARTED, "TX-1", T0, event_key="seq:0"))).stored
    _tx, outcome = await svc.remote_stop(stored.id)
    assert outcome.status == "accepted"
    assert router.calls[-1][1:3] == ("RequestStopTransaction", {"transactionId": "TX-1"})
    with pytest.raises(TransactionNotFound):
        await svc.remote_stop(999)
    await svc.record(event(EventKind.ENDED, "TX-1", T0, event_key="seq:1"))
    with pytest.raises(TransactionNotActive):
        await svc.remote_stop(stored.id)

    svc16, _store16, router16, _ = make("ocpp1.6")
    router16.script = lambda action, payload: asyncio.sleep(0, accepted())
    s16 = (
        await svc16.record(event(EventKind.STARTED, None, T0, start_key="k", connector_id=1))
    ).stored
    await svc16.remote_stop(s16.id)
    assert router16.calls[-1][1:3] == (
        "RemoteStopTransaction",
        {"transactionId": int(s16.transaction_id)},
    )
    router16.versions.clear()
    with pytest.raises(StationNotConnected):
        await svc16.remote_stop(s16.id)


# ------------------------------------------------------------------------ silent transactions


async def _silent(svc: TransactionService, tx_id: str | None, **fields: Any) -> int:
    old = datetime.now(UTC) - timedelta(hours=2)
    recorded = await svc.record(event(EventKind.STARTED, tx_id, old, received_at=old, **fields))
    return recorded.stored.id


async def test_2x_silent_transaction_closed_when_the_station_says_it_is_over() -> None:
    svc, store, router, events = make(transaction_silence_timeout=60)
    over = await _silent(svc, "OVER", event_key="seq:0", evse_id=1)
    running = await _silent(svc, "RUNNING", event_key="seq:0", evse_id=2)
    queued = await _silent(svc, "QUEUED", event_key="seq:0", evse_id=3)
    fresh = (await svc.record(event(EventKind.STARTED, "FRESH", T0, event_key="seq:0"))).stored.id

    async def script(action: str, payload: dict[str, Any]) -> CallOutcome:
        if action == "TriggerMessage":
            return accepted()
        answers = {
            "OVER": {"ongoingIndicator": False, "messagesInQueue": False},
            "RUNNING": {"ongoingIndicator": True, "messagesInQueue": False},
            "QUEUED": {"ongoingIndicator": False, "messagesInQueue": True},
        }
        return CallOutcome(True, answers[payload["transactionId"]])

    router.script = script
    assert await svc.check_silent() == 1
    assert store.transactions[over].status is TransactionStatus.ENDED
    assert store.transactions[over].stop_reason == REASON_NOT_ONGOING
    for pk in (running, queued, fresh):
        assert store.transactions[pk].status is TransactionStatus.ACTIVE
    asked = {p.get("transactionId") for (_, a, p, _) in router.calls if a == "GetTransactionStatus"}
    assert asked == {"OVER", "RUNNING", "QUEUED"}
    triggers = [p for (_, a, p, _) in router.calls if a == "TriggerMessage"]
    assert triggers == [{"requestedMessage": "TransactionEvent", "evse": {"id": 2}}]
    assert events.published[-1].type is EventType.TRANSACTION_ENDED
    assert events.published[-1].data["stop_reason"] == REASON_NOT_ONGOING


async def test_silent_transaction_of_an_offline_station_is_left_alone() -> None:
    svc, store, router, _ = make(transaction_silence_timeout=60)
    pk = await _silent(svc, "T", event_key="seq:0")
    router.versions.clear()
    assert await svc.check_silent() == 0
    assert store.transactions[pk].status is TransactionStatus.ACTIVE and not router.calls


@pytest.mark.parametrize(("status", "closed"), [("Available", True), ("Charging", False)])
async def test_16_silent_transaction_closed_when_its_connector_is_idle(
    status: str, closed: bool
) -> None:
    svc, store, router, _ = make("ocpp1.6", transaction_silence_timeout=60, call_timeout=1)
    pk = await _silent(svc, None, start_key="k", connector_id=1, evse_id=1)

    async def script(action: str, payload: dict[str, Any]) -> CallOutcome:
        if payload["requestedMessage"] == "StatusNotification":
            store.connectors["CP1"] = [
                Connector("CP1", 1, 1, status, updated_at=datetime.now(UTC) + timedelta(seconds=1))
            ]
        return accepted()

    router.script = script
    assert await svc.check_silent() == int(closed)
    tx = store.transactions[pk]
    assert (tx.status is TransactionStatus.ENDED) is closed
    if closed:
        assert tx.stop_reason == REASON_CONNECTOR_IDLE
    assert [p["requestedMessage"] for (_, _, p, _) in router.calls] == [
        "MeterValues",
        "StatusNotification",
    ]


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_unanswered_probe_leaves_the_transaction_alone(version: str) -> None:
    svc, store, router, _ = make(version, transaction_silence_timeout=60, call_timeout=1)
    pk = await _silent(svc, "7", start_key="k", event_key="seq:0", connector_id=1, evse_id=1)

    async def script(action: str, payload: dict[str, Any]) -> CallOutcome:
        raise CommandTimeout("no answer")

    router.script = script
    assert await svc.check_silent() == 0
    assert store.transactions[pk].status is TransactionStatus.ACTIVE
    assert len(router.calls) == 1  # the probe stops at the first unanswered command


async def test_watcher_runs_and_stops() -> None:
    svc, store, router, _ = make(transaction_silence_timeout=0.05, transaction_check_interval=0.05)
    router.script = lambda action, payload: asyncio.sleep(
        0, CallOutcome(True, {"ongoingIndicator": False, "messagesInQueue": False})
    )
    pk = await _silent(svc, "Z", event_key="seq:0")
    await svc.start()
    for _ in range(100):
        if store.transactions[pk].status is TransactionStatus.ENDED:
            break
        await asyncio.sleep(0.02)
    await svc.close()
    assert store.transactions[pk].status is TransactionStatus.ENDED


# ------------------------------------------------------------------------ administrative close


async def test_administrative_close_of_a_silent_transaction() -> None:
    svc, store, _, events = make(transaction_silence_timeout=600)
    now = datetime.now(UTC)
    meter = (MeterReading(T0, (SampledValue(100.0, "100", si_value=100.0, si_unit="Wh"),)),)
    started = event(
        EventKind.STARTED, "TX-9", T0, event_key="seq:0", seq_no=0, evse_id=1, meter_values=meter
    )
    pk = (await svc.record(started)).stored.id
    tx = await svc.get(pk)
    assert tx is not None and not svc.stale(tx)
    with pytest.raises(TransactionNotStale):
        await svc.close_administratively(pk, "gone", "ops")
    fresh = await svc.list_transactions(TransactionFilter(stale=False), 10, 0)
    assert [t.id for t in fresh.items] == [pk]
    # Silent for longer than the timeout: stale, and closed without force.
    store.transactions[pk].last_message_at = now - timedelta(seconds=601)
    stale = await svc.list_transactions(TransactionFilter(stale=True), 10, 0)
    assert [t.id for t in stale.items] == [pk]
    events.published.clear()
    closed = await svc.close_administratively(pk, "station replaced", "ops")
    assert (closed.status, closed.stop_reason, closed.closed_by, closed.close_reason) == (
        TransactionStatus.ENDED,
        REASON_CLOSED_BY_OPERATOR,
        "ops",
        "station replaced",
    )
    [published] = events.published
    assert published.type is EventType.TRANSACTION_ENDED
    assert published.data["closed_administratively"] is True
    assert published.data["closed_by"] == "ops" and published.data["meter_stop_wh"] == 100.0
    with pytest.raises(TransactionNotActive):
        await svc.close_administratively(pk, "again", "ops", force=True)
    with pytest.raises(TransactionNotFound):
        await svc.close_administratively(pk + 100, "nothing", "ops")


async def test_forced_close_of_a_live_transaction() -> None:
    svc, _, _, events = make()
    started = event(EventKind.STARTED, "TX-10", T0, event_key="seq:0", seq_no=0, evse_id=1)
    pk = (await svc.record(started)).stored.id
    closed = await svc.close_administratively(pk, "stuck display", "ops", force=True)
    assert closed.status is TransactionStatus.ENDED and closed.closed_at is not None
    assert events.published[-1].data["close_reason"] == "stuck display"
