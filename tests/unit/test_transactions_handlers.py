"""Transaction messages through a real session and handler table (schemas, CALLERRORs)
over an in-memory store: 1.6 and 2.x mapping, duplicates, offline order, bad input,
database outage."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from fakes import FakeRouter
from tx_fakes import FakeAuth, FakeTxStore

from ampyre.adapters.memory import MemoryStore
from ampyre.config import Settings
from ampyre.domain.authz import AuthStatus
from ampyre.domain.events import EventType
from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion
from ampyre.domain.transactions import TransactionStatus
from ampyre.protocol.commands import OcppStationCommands
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import OcppSession
from ampyre.protocol.tables import build_tables
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import REASON_SUPERSEDED, TransactionService

SCHEMAS = Schemas()
T0 = "2025-01-01T10:00:00Z"
T1 = "2025-01-01T10:30:00Z"
T2 = "2025-01-01T11:00:00Z"


class _Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


class _Observer:
    def message(self, v: OcppVersion, d: Direction, mtype: int, action: str | None) -> None:
        pass

    def error(self, version: OcppVersion, code: str) -> None:
        pass

    def handled(self, action: str, seconds: float) -> None:
        pass

    def audit(self, entry: MessageLogEntry) -> None:
        pass


class Station:
    """One station's session against a TransactionService on fakes."""

    def __init__(self, version: OcppVersion, store: FakeTxStore | None = None) -> None:
        self.store = store or FakeTxStore()
        self.auth = FakeAuth()
        self.events = self.store.outbox  # what the store committed with the data
        self.router = FakeRouter()
        settings = Settings()
        self.svc = TransactionService(
            self.store,
            self.auth,  # type: ignore[arg-type]
            OcppStationCommands(self.router),
            settings,
        )
        tables = build_tables(
            ProvisioningService(MemoryStore(), settings),
            self.auth,  # type: ignore[arg-type]
            self.svc,
        )
        self.transport = _Transport()
        self.session = OcppSession(
            "CP1", version, self.transport, tables[version], SCHEMAS[version], _Observer()
        )
        self._ids = itertools.count(1)

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        await self.session.on_frame(orjson.dumps([2, f"m{next(self._ids)}", action, payload]))
        assert len(self.transport.sent) == 1
        reply: list[Any] = orjson.loads(self.transport.sent.pop())
        return reply

    async def ok(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(action, payload)
        assert reply[0] == 3, reply
        result: dict[str, Any] = reply[2]
        return result

    async def error(self, action: str, payload: dict[str, Any]) -> tuple[str, str]:
        reply = await self.call(action, payload)
        assert reply[0] == 4, reply
        return reply[2], reply[3]


def start16(
    connector: int = 1, tag: str = "TAG1", meter: int = 1000, ts: str = T0
) -> dict[str, Any]:
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": ts}


def mv16(tx: int | None, value: str, ts: str, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [{"timestamp": ts, "sampledValue": [{"value": value, **extra}]}],
    }
    if tx is not None:
        payload["transactionId"] = tx
    return payload


# ---------------------------------------------------------------------------------- 1.6


async def test_16_session_start_meter_stop() -> None:
    st = Station(OcppVersion.V16)
    started = await st.ok("StartTransaction", {**start16(), "reservationId": 7})
    assert started["idTagInfo"] == {"status": "Accepted"}
    tx_id = started["transactionId"]
    assert isinstance(tx_id, int)
    assert await st.ok("MeterValues", mv16(tx_id, "1500", T1)) == {}
    stopped = await st.ok(
        "StopTransaction",
        {"transactionId": tx_id, "meterStop": 3000, "timestamp": T2, "idTag": "TAG1"},
    )
    assert stopped == {"idTagInfo": {"status": "Accepted"}}

    (tx,) = st.store.transactions.values()
    full = await st.store.get_transaction(tx.id)
    assert full is not None
    assert full.status is TransactionStatus.ENDED
    assert (full.meter_start_wh, full.meter_stop_wh, full.energy_wh) == (1000, 3000, 2000)
    assert full.stop_reason == "Local"  # 1.6 default when the reason is left out
    assert (full.connector_id, full.evse_id, full.id_token, full.reservation_id) == (
        1,
        1,
        "TAG1",
        7,
    )
    contexts = [v.sample.context for v in st.store.meter[tx.id].values()]
    assert contexts == ["Transaction.Begin", "Sample.Periodic", "Transaction.End"]
    assert st.events.types() == [
        EventType.TRANSACTION_STARTED,
        EventType.TRANSACTION_UPDATED,
        EventType.TRANSACTION_ENDED,
    ]
    ended = st.events.published[-1].data
    assert ended["energy_wh"] == 2000 and ended["stop_reason"] == "Local"
    assert ended["started_at"] == "2025-01-01T10:00:00+00:00"
    await st.svc.close()  # the reservation task has run (or is cancelled) by now
    assert st.auth.reservations == [("CP1", 7, tx.id)]


async def test_16_resent_messages_get_the_same_answer_and_no_duplicates() -> None:
    st = Station(OcppVersion.V16)
    first = await st.ok("StartTransaction", start16())
    again = await st.ok("StartTransaction", start16())
    assert first == again
    for _ in range(2):
        await st.ok("MeterValues", mv16(first["transactionId"], "1200", T1))
        await st.ok(
            "StopTransaction",
            {"transactionId": first["transactionId"], "meterStop": 1500, "timestamp": T2},
        )
    assert len(st.store.transactions) == 1
    (pk,) = st.store.transactions
    assert len(st.store.meter[pk]) == 3
    assert list(st.store.events[pk]) == ["Started", "Ended"]


async def test_16_stop_without_idtag_has_no_idtaginfo_and_unknown_id_is_reconstructed() -> None:
    st = Station(OcppVersion.V16)
    answer = await st.ok(
        "StopTransaction",
        {
            "transactionId": 4242,
            "meterStop": 9000,
            "timestamp": T2,
            "reason": "EVDisconnected",
            "transactionData": [{"timestamp": T1, "sampledValue": [{"value": "8", "unit": "kWh"}]}],
        },
    )
    assert answer == {}
    tx = await st.store.find_transaction("CP1", "4242")
    assert tx is not None and not tx.start_seen
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.stop_reason) == (8000, 9000, "EVDisconnected")


async def test_16_bad_input_gets_property_constraint_violation_and_nothing_is_stored() -> None:
    st = Station(OcppVersion.V16)
    code, text = await st.error("StartTransaction", start16(connector=0))
    assert code == "PropertyConstraintViolation" and "connectorId 0" in text
    code, text = await st.error("StartTransaction", start16(meter=-5))
    assert code == "PropertyConstraintViolation" and "negative meterStart" in text
    code, text = await st.error("MeterValues", mv16(1, "-3", T1))
    assert code == "PropertyConstraintViolation" and "negative" in text
    # Too long idTag (1.6 CiString20): the schema refuses it.
    code, _ = await st.error("StartTransaction", start16(tag="X" * 21))
    assert code in ("PropertyConstraintViolation", "FormationViolation", "TypeConstraintViolation")
    assert st.store.writes == 0 and not st.store.transactions
    # A stop is never refused, not even with a negative meter (1.6 section 4.10: sanity
    # checks SHOULD NOT keep the answer from the station): stored as sent.
    assert (
        await st.ok("StopTransaction", {"transactionId": 1, "meterStop": -1, "timestamp": T2}) == {}
    )
    stopped = await st.store.find_transaction("CP1", "1")
    assert stopped is not None and stopped.status is TransactionStatus.ENDED
    assert stopped.meter_stop_wh == -1
    # The connection is still usable.
    assert isinstance((await st.ok("StartTransaction", start16()))["transactionId"], int)


async def test_16_stop_below_start_is_stored(caplog: pytest.LogCaptureFixture) -> None:
    st = Station(OcppVersion.V16)
    tx_id = (await st.ok("StartTransaction", start16(meter=5000)))["transactionId"]
    await st.ok("StopTransaction", {"transactionId": tx_id, "meterStop": 4000, "timestamp": T2})
    tx = await st.store.find_transaction("CP1", str(tx_id))
    assert tx is not None and tx.status is TransactionStatus.ENDED and tx.energy_wh == -1000
    assert "below start meter" in caplog.text


async def test_16_store_outage_withholds_the_ack_and_the_retry_succeeds() -> None:
    st = Station(OcppVersion.V16)
    st.store.fail = True
    code, _ = await st.error("StartTransaction", start16())
    assert code == "InternalError"
    code, _ = await st.error("MeterValues", mv16(None, "5", T1))
    assert code == "InternalError"
    assert not st.store.transactions and not st.store.station_meter and not st.events.published
    st.store.fail = False
    assert (await st.ok("StartTransaction", start16()))["transactionId"] == 1


async def test_16_meter_values_without_transaction_are_station_values() -> None:
    st = Station(OcppVersion.V16)
    await st.ok("MeterValues", mv16(None, "42", T1, measurand="Power.Active.Import", unit="W"))
    await st.ok("MeterValues", mv16(None, "42", T1, measurand="Power.Active.Import", unit="W"))
    (value,) = st.store.station_meter.values()
    assert (value.evse_id, value.connector_id, value.sample.si_value) == (1, 1, 42.0)


async def test_16_token_in_another_transaction_is_concurrent_tx() -> None:
    st = Station(OcppVersion.V16)
    await st.ok("StartTransaction", start16(connector=1))
    second = await st.ok("StartTransaction", start16(connector=2, ts=T1))
    # The station started it anyway: it is recorded and gets an id.
    assert second["idTagInfo"]["status"] == "ConcurrentTx"
    assert second["transactionId"] == 2
    # Refused tokens keep their own status.
    st.auth.statuses["BAD"] = AuthStatus.BLOCKED
    third = await st.ok("StartTransaction", start16(connector=3, tag="BAD"))
    assert third["idTagInfo"]["status"] == "Blocked"


async def test_16_new_start_on_a_busy_connector_closes_the_old_one() -> None:
    st = Station(OcppVersion.V16)
    old = (await st.ok("StartTransaction", start16(meter=100)))["transactionId"]
    new = (await st.ok("StartTransaction", start16(tag="TAG2", meter=500, ts=T2)))["transactionId"]
    assert old != new
    old_tx = await st.store.find_transaction("CP1", str(old))
    new_tx = await st.store.find_transaction("CP1", str(new))
    assert old_tx is not None and new_tx is not None
    assert (old_tx.status, old_tx.stop_reason) == (TransactionStatus.ENDED, REASON_SUPERSEDED)
    assert new_tx.status is TransactionStatus.ACTIVE
    assert st.events.types().count(EventType.TRANSACTION_ENDED) == 1


async def test_reservation_failure_does_not_fail_the_ack() -> None:
    st = Station(OcppVersion.V16)
    st.auth.reservation_error = RuntimeError("reservation store down")
    answer = await st.ok("StartTransaction", {**start16(), "reservationId": 3})
    assert answer["transactionId"] == 1
    await st.svc.close()


# ---------------------------------------------------------------------------------- 2.x


def tx_event(
    kind: str, seq: int, ts: str, *, value: float | None = None, **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": ts,
        "triggerReason": extra.pop("trigger", "MeterValuePeriodic"),
        "seqNo": seq,
        "transactionInfo": {"transactionId": "TX-1", **extra.pop("info", {})},
        **extra,
    }
    if value is not None:
        payload["meterValue"] = [{"timestamp": ts, "sampledValue": [{"value": value}]}]
    return payload


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
async def test_2x_out_of_order_offline_replay(version: OcppVersion) -> None:
    st = Station(version)
    token = {"idToken": "RFID1", "type": "ISO14443"}
    # Ended and an update arrive before Started; seqNo 2 never arrives.
    ended = await st.ok(
        "TransactionEvent",
        tx_event(
            "Ended",
            4,
            T2,
            value=5000,
            idToken=token,
            offline=True,
            info={"stoppedReason": "EVDisconnected"},
        ),
    )
    assert ended == {"idTokenInfo": {"status": "Accepted"}}
    assert await st.ok("TransactionEvent", tx_event("Updated", 3, T1, value=3000)) == {}
    started = await st.ok(
        "TransactionEvent",
        tx_event(
            "Started",
            0,
            T0,
            value=1000,
            trigger="Authorized",
            idToken=token,
            evse={"id": 1, "connectorId": 1},
            info={"chargingState": "Charging"},
        ),
    )
    assert started == {"idTokenInfo": {"status": "Accepted"}}
    await st.ok("TransactionEvent", tx_event("Updated", 1, T0))
    await st.ok("TransactionEvent", tx_event("Updated", 1, T0))  # resent
    tx = await st.store.find_transaction("CP1", "TX-1")
    assert tx is not None
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 5000, 4000)
    assert tx.status is TransactionStatus.ENDED and tx.stop_reason == "EVDisconnected"
    assert tx.missing_seq_nos == [2]
    assert tx.start_seen and tx.offline
    history = await st.store.list_transaction_events(tx.id)
    assert [r.seq_no for r in history] == [0, 1, 3, 4]


async def test_2x_ended_without_reason_defaults_to_local_and_no_token_no_info() -> None:
    st = Station(OcppVersion.V201)
    assert await st.ok("TransactionEvent", tx_event("Ended", 0, T0, trigger="StopAuthorized")) == {}
    tx = await st.store.find_transaction("CP1", "TX-1")
    assert tx is not None and tx.stop_reason == "Local"


async def test_2x_bad_input() -> None:
    st = Station(OcppVersion.V201)
    code, text = await st.error("TransactionEvent", tx_event("Started", 0, T0, value=-1))
    assert code == "PropertyConstraintViolation" and "negative" in text
    code, _ = await st.error("TransactionEvent", tx_event("Started", 0, T0, evse={"id": 0}))
    assert code == "PropertyConstraintViolation"
    long_token = {"idToken": "X" * 37, "type": "ISO14443"}
    code, _ = await st.error("TransactionEvent", tx_event("Started", 0, T0, idToken=long_token))
    assert code in ("PropertyConstraintViolation", "FormatViolation", "TypeConstraintViolation")
    code, _ = await st.error("StartTransaction", start16())  # a 1.6 action on 2.0.1
    assert code == "NotImplemented"
    assert st.store.writes == 0


async def test_2x_meter_values_and_outage() -> None:
    st = Station(OcppVersion.V201)
    payload = {
        "evseId": 0,
        "meterValue": [
            {"timestamp": T0, "sampledValue": [{"value": 12.5, "unitOfMeasure": {"unit": "kWh"}}]}
        ],
    }
    st.store.fail = True
    assert (await st.error("MeterValues", payload))[0] == "InternalError"
    assert (await st.error("TransactionEvent", tx_event("Started", 0, T0)))[0] == "InternalError"
    st.store.fail = False
    assert await st.ok("MeterValues", payload) == {}
    (value,) = st.store.station_meter.values()
    assert (value.evse_id, value.sample.si_value, value.sample.unit) == (0, 12500.0, "kWh")
