"""The real handler tables on a memory store: station DataTransfer routed by vendorId,
notifications with an empty answer stored in the station's history, and the error code
for actions Ampyre does not handle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fakes import FakeRouter
from tx_fakes import FakeAuth, FakeTxStore

from ampyre.adapters.memory import MemoryStore
from ampyre.config import Settings
from ampyre.domain.models import MessageLogEntry, OcppVersion, Station
from ampyre.protocol.commands import OcppStationCommands
from ampyre.protocol.schemas import Schemas
from ampyre.protocol.session import OcppSession
from ampyre.protocol.tables import build_tables
from ampyre.services.data_transfer import (
    DataTransferService,
    DataTransferStatus,
    VendorMessage,
    VendorReply,
)
from ampyre.services.provisioning import ProvisioningService
from ampyre.services.transactions import TransactionService

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
TS = "2025-01-01T12:00:00Z"
_SCHEMAS = {v: Schemas()[v] for v in OcppVersion}


class _Transport:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(orjson.loads(data))


class _Observer:
    def message(self, *args: Any) -> None:
        pass

    def error(self, version: OcppVersion, code: str) -> None:
        pass

    def handled(self, action: str, seconds: float) -> None:
        pass

    def audit(self, entry: MessageLogEntry) -> None:
        pass


class Station_:
    def __init__(self, version: OcppVersion, vendors: DataTransferService | None = None) -> None:
        self.store = MemoryStore()
        settings = Settings()
        auth = FakeAuth()
        tx = TransactionService(
            FakeTxStore(),
            auth,  # type: ignore[arg-type]
            OcppStationCommands(FakeRouter()),
            settings,
        )
        prov = ProvisioningService(self.store, settings)
        tables = build_tables(prov, auth, tx, vendors)  # type: ignore[arg-type]
        self.transport = _Transport()
        self.session = OcppSession(
            "CP-1", version, self.transport, tables[version], _SCHEMAS[version], _Observer()
        )

    async def start(self) -> None:
        await self.store.create_station(Station(id="CP-1", created_at=datetime.now(UTC)))

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        await self.session.on_frame(orjson.dumps([2, "m", action, payload]))
        reply: list[Any] = self.transport.sent[-1]
        return reply


# ------------------------------------------------------------------ DataTransfer


@pytest.mark.parametrize("version", list(OcppVersion))
async def test_data_transfer_unknown_vendor(version: OcppVersion) -> None:
    st = Station_(version)
    await st.start()
    reply = await st.call("DataTransfer", {"vendorId": "com.example", "messageId": "x"})
    assert reply == [3, "m", {"status": "UnknownVendorId"}]


@pytest.mark.parametrize("version", list(OcppVersion))
async def test_data_transfer_goes_to_the_vendor_handler(version: OcppVersion) -> None:
    seen: list[VendorMessage] = []

    async def acme(message: VendorMessage) -> VendorReply:
        seen.append(message)
        if message.message_id != "ping":
            return VendorReply(DataTransferStatus.UNKNOWN_MESSAGE_ID)
        return VendorReply(DataTransferStatus.ACCEPTED, {"pong": message.data})

    vendors = DataTransferService()
    vendors.register("com.Acme", acme)
    st = Station_(version, vendors)
    await st.start()
    reply = await st.call(
        "DataTransfer", {"vendorId": "COM.ACME", "messageId": "ping", "data": "1"}
    )
    data = reply[2]["data"]
    assert reply[2]["status"] == "Accepted"
    # 1.6 data is a string: structured data goes as its JSON text.
    assert (orjson.loads(data) if version is V16 else data) == {"pong": "1"}
    reply = await st.call("DataTransfer", {"vendorId": "com.acme", "messageId": "other"})
    assert reply == [3, "m", {"status": "UnknownMessageId"}]
    assert [(m.station_id, m.vendor_id) for m in seen] == [
        ("CP-1", "COM.ACME"),
        ("CP-1", "com.acme"),
    ]
    reply = await st.call("DataTransfer", {"vendorId": "com.other"})
    assert reply[2] == {"status": "UnknownVendorId"}


def test_vendor_registry_refuses_duplicates_and_bad_ids() -> None:
    async def h(message: VendorMessage) -> VendorReply:
        return VendorReply(DataTransferStatus.REJECTED)

    vendors = DataTransferService()
    vendors.register("acme", h)
    with pytest.raises(ValueError, match="already"):
        vendors.register("ACME", h)
    with pytest.raises(ValueError):
        vendors.register("", h)
    with pytest.raises(ValueError):
        vendors.register("x" * 256, h)
    assert vendors.vendors() == ["acme"]


# ------------------------------------------------------------------ stored notifications
# (Firmware status notifications are interpreted by the firmware block and still stored:
# tests/unit/test_firmware_service.py. Diagnostics/log status, display messages and
# customer information likewise: tests/unit/test_logs_services.py. Charging limits and
# profile reports: tests/unit/test_smart_charging_codecs.py.)

NOTIFICATIONS_16 = [
    ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS}),
]
NOTIFICATIONS_2 = [
    ("SecurityEventNotification", {"type": "SettingSystemTime", "timestamp": TS}),
    ("PublishFirmwareStatusNotification", {"status": "Published", "requestId": 2}),
]  # fmt: skip
CASES = [(V16, a, p) for a, p in NOTIFICATIONS_16] + [
    (v, a, p) for v in (V201, V21) for a, p in NOTIFICATIONS_2
]


@pytest.mark.parametrize(("version", "action", "payload"), CASES)
async def test_notification_is_acknowledged_and_stored(
    version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    st = Station_(version)
    await st.start()
    reply = await st.call(action, payload)
    assert reply == [3, "m", {}], reply
    page = await st.store.list_reports("CP-1", 10, 0)
    assert [(r.action, r.payload) for r in page.items] == [(action, payload)]
    assert page.items[0].request_id == payload.get("requestId")


async def test_notification_not_stored_is_not_acknowledged() -> None:
    # Durable before ack: a store that cannot take it makes the station retry.
    st = Station_(V201)  # the station row does not exist: the memory store refuses
    reply = await st.call("SecurityEventNotification", {"type": "X", "timestamp": TS})
    assert reply[0] == 4 and reply[2] == "InternalError"


async def test_request_id_beyond_32_bits_stays_in_the_payload_only() -> None:
    st = Station_(V201)
    await st.start()
    payload = {"status": "Published", "requestId": 2**40}
    assert (await st.call("PublishFirmwareStatusNotification", payload))[0] == 3
    (report,) = (await st.store.list_reports("CP-1", 10, 0)).items
    assert report.request_id is None and report.payload == payload


@pytest.mark.parametrize(
    ("version", "action", "code"),
    [
        (V16, "GetConfiguration", "NotSupported"),  # a CSMS -> station action
        (V201, "Get15118EVCertificate", "NotSupported"),  # defined, not handled yet
        (V21, "NotifyAllowedEnergyTransfer", "NotSupported"),
        (V16, "TransactionEvent", "NotImplemented"),  # not an action of 1.6
        (V201, "NotifyDERAlarm", "NotImplemented"),  # 2.1 only
    ],
)
async def test_unhandled_actions(version: OcppVersion, action: str, code: str) -> None:
    st = Station_(version)
    await st.start()
    reply = await st.call(action, {})
    assert reply[:3] == [4, "m", code]
