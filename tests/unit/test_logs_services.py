"""Log requests, display messages and customer information (issue 17 parts 5-7): the
services with in-memory stores and files, over the real per-version encoders
(protocol/device_commands.py) and a fake CommandRouter; the multipart upload parser
and the on-disk file store."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeRouter

from ampyre.adapters.log_files import DiskLogFiles
from ampyre.api.log_uploads import MalformedForm, first_part
from ampyre.config import Settings
from ampyre.domain.events import DomainEvent, EventType
from ampyre.domain.models import Page
from ampyre.protocol.device_commands import OcppDeviceCommands
from ampyre.services.commands import CallOutcome, CommandTimeout, InvalidPayload
from ampyre.services.customer import (
    CustomerPart,
    CustomerService,
    CustomerSpec,
    InvalidCustomerRequest,
)
from ampyre.services.display import DisplayMessage, DisplayService
from ampyre.services.display_requests import PartKind, PartRequest, PartStatus
from ampyre.services.logs import (
    ACTIVE,
    LogRequest,
    LogService,
    LogSpec,
    LogStatus,
    LogType,
    NotConnected,
    StoredFile,
    TooLarge,
    UnknownUpload,
    token_hash,
)
from ampyre.services.station_port import NotAddressable

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------- fakes


class MemoryLogs:
    def __init__(self) -> None:
        self.rows: dict[int, LogRequest] = {}
        self.tokens: dict[int, str] = {}
        self.events: list[DomainEvent] = []

    async def create_log_request(self, request: LogRequest, token_hash: str) -> LogRequest:
        request = dataclasses.replace(request, id=len(self.rows) + 1)
        self.rows[request.id], self.tokens[request.id] = request, token_hash
        return dataclasses.replace(request)

    async def update_log_request(
        self, request: LogRequest, events: Sequence[DomainEvent] = ()
    ) -> None:
        self.rows[request.id] = dataclasses.replace(request)
        self.events += events

    async def settle_log_request(
        self,
        request_id: int,
        status: LogStatus,
        station_answer: str | None,
        filename: str | None,
        detail: str | None,
        at: datetime,
    ) -> LogRequest | None:
        row = self.rows[request_id]
        if row.status == LogStatus.REQUESTED:
            row.status = status
        row.station_answer, row.detail, row.updated_at = station_answer, detail, at
        row.filename = filename or row.filename
        return dataclasses.replace(row)

    async def get_log_request(self, request_id: int) -> LogRequest | None:
        row = self.rows.get(request_id)
        return None if row is None else dataclasses.replace(row)

    async def find_upload(self, token_hash: str) -> LogRequest | None:
        for rid, h in self.tokens.items():
            if h == token_hash and self.rows[rid].stored_as is None:
                return dataclasses.replace(self.rows[rid])
        return None

    async def attach_file(
        self,
        request_id: int,
        file: StoredFile,
        content_type: str | None,
        at: datetime,
        events: Sequence[DomainEvent] = (),
    ) -> bool:
        row = self.rows[request_id]
        if row.stored_as is not None:
            return False
        self.events += events
        row.stored_as, row.size, row.sha256 = file.stored_as, file.size, file.sha256
        row.content_type, row.received_at = content_type, at
        return True

    async def latest_active(self, station_id: str, log_type: LogType) -> LogRequest | None:
        found = [
            r
            for r in self.rows.values()
            if r.station_id == station_id and r.log_type == log_type and r.status in ACTIVE
        ]
        return dataclasses.replace(max(found, key=lambda r: r.id)) if found else None

    async def list_log_requests(
        self, station_id: str | None, with_file: bool | None, limit: int, offset: int
    ) -> Page:
        rows = [r for r in self.rows.values() if station_id in (None, r.station_id)]
        return Page(
            items=rows[offset : offset + limit], total=len(rows), limit=limit, offset=offset
        )


class MemoryFiles:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def receive(self, chunks: AsyncIterator[bytes], limit: int, name: str) -> StoredFile:
        data = b""
        async for chunk in chunks:
            data += chunk
            if len(data) > limit:
                raise TooLarge(limit)
        self.files[name] = data
        return StoredFile(name, len(data), hashlib.sha256(data).hexdigest())

    async def discard(self, stored_as: str) -> None:
        self.files.pop(stored_as, None)

    def path(self, stored_as: str) -> str:
        return f"/mem/{stored_as}"


class MemoryParts:
    """DisplayStore and CustomerStore."""

    def __init__(self) -> None:
        self.requests: dict[int, PartRequest] = {}
        self.messages: dict[tuple[str, int], DisplayMessage] = {}
        self.parts: dict[int, dict[int, CustomerPart]] = {}

    async def create_part_request(self, request: PartRequest) -> PartRequest:
        request = dataclasses.replace(request, id=len(self.requests) + 1)
        self.requests[request.id] = request
        return dataclasses.replace(request)

    async def get_part_request(self, request_id: int) -> PartRequest | None:
        row = self.requests.get(request_id)
        return None if row is None else dataclasses.replace(row)

    async def update_part_request(self, request: PartRequest) -> None:
        self.requests[request.id] = dataclasses.replace(request)

    async def settle_part_request(
        self,
        request_id: int,
        status: PartStatus,
        station_answer: str | None,
        detail: str | None,
        finished_at: datetime | None,
    ) -> PartRequest | None:
        row = self.requests[request_id]
        row.station_answer = station_answer
        if row.status == PartStatus.REQUESTED:
            row.status, row.detail, row.finished_at = status, detail, finished_at
        return dataclasses.replace(row)

    async def expire_part_requests(self, before: datetime, now: datetime) -> int:
        n = 0
        for row in self.requests.values():
            if (
                row.status == PartStatus.ACCEPTED
                and (row.last_part_at or row.requested_at) < before
            ):
                row.status, row.finished_at = PartStatus.INCOMPLETE, now
                n += 1
        return n

    async def list_part_requests(
        self, kind: PartKind, station_id: str | None, limit: int
    ) -> list[PartRequest]:
        return [r for r in self.requests.values() if r.kind == kind][:limit]

    async def put_display_message(self, message: DisplayMessage) -> None:
        self.messages[(message.station_id, message.message_id)] = dataclasses.replace(message)

    async def delete_display_message(self, station_id: str, message_id: int) -> bool:
        return self.messages.pop((station_id, message_id), None) is not None

    async def list_display_messages(self, station_id: str) -> list[DisplayMessage]:
        return [m for (s, _), m in sorted(self.messages.items()) if s == station_id]

    async def keep_reported(self, station_id: str, request_id: int) -> int:
        gone = [
            k for k, m in self.messages.items() if k[0] == station_id and m.request_id != request_id
        ]
        for k in gone:
            del self.messages[k]
        return len(gone)

    async def clear_display_messages(self, station_id: str) -> int:
        return await self.keep_reported(station_id, -1)

    async def add_customer_part(self, request_id: int, part: CustomerPart) -> bool:
        held = self.parts.setdefault(request_id, {})
        if part.seq_no in held:
            return False
        held[part.seq_no] = part
        return True

    async def customer_parts(self, request_id: int) -> list[CustomerPart]:
        return [p for _, p in sorted(self.parts.get(request_id, {}).items())]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def settings(**kw: Any) -> Settings:
    return Settings(public_url="https://csms.example/", log_upload_max=100, **kw)


def ok(payload: dict[str, Any]) -> CallOutcome:
    return CallOutcome(ok=True, payload=payload)


def log_service(router: FakeRouter) -> tuple[LogService, MemoryLogs, MemoryFiles]:
    store, files = MemoryLogs(), MemoryFiles()
    return LogService(store, OcppDeviceCommands(router), files, settings()), store, files


async def stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def token_of(location: str) -> str:
    return location.rsplit("/", 1)[1]


# ---------------------------------------------------------------------------- logs


async def test_log_request_to_an_offline_station_stores_nothing() -> None:
    svc, store, _ = log_service(FakeRouter())
    with pytest.raises(NotConnected):
        await svc.request("CS-1", LogSpec())
    assert store.rows == {}


async def test_diagnostics_16_request_carries_an_upload_url_of_its_own() -> None:
    router = FakeRouter({"CS-1": V16}, ok({"fileName": "diag.zip"}))
    svc, store, _ = log_service(router)
    spec = LogSpec(oldest=T0, latest=T0 + timedelta(hours=1), retries=2, retry_interval=30)
    record, answer = await svc.request("CS-1", spec, timeout=3)
    (_, action, payload, timeout) = router.calls[0]
    assert (action, timeout) == ("GetDiagnostics", 3)
    assert payload["location"].startswith("https://csms.example/uploads/logs/")
    assert payload["startTime"] == "2026-01-01T00:00:00.000Z" and payload["retryInterval"] == 30
    token = token_of(payload["location"])
    assert len(token) >= 40 and store.tokens[record.id] == token_hash(token) != token
    assert (record.status, record.filename, answer.status) == (LogStatus.ACCEPTED, "diag.zip", "ok")


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (ok({}), LogStatus.NO_DATA),  # 1.6: no fileName, nothing to upload
        (CommandTimeout("late"), LogStatus.TIMED_OUT),
        (CallOutcome(ok=False, error_code="NotImplemented"), LogStatus.ERROR),
    ],
)
async def test_log_request_outcomes_stay_visible(
    answer: CallOutcome | Exception, status: LogStatus
) -> None:
    svc, store, _ = log_service(FakeRouter({"CS-1": V16}, answer))
    record, _ = await svc.request("CS-1", LogSpec())
    assert record.status == status and store.rows[record.id].status == status


@pytest.mark.parametrize("version", [V16, V201, V21])
async def test_security_log_is_get_log_with_the_request_id(version: str) -> None:
    router = FakeRouter({"CS-1": version}, ok({"status": "Rejected"}))
    svc, _, _ = log_service(router)
    record, _ = await svc.request("CS-1", LogSpec(log_type=LogType.SECURITY, oldest=T0))
    (_, action, payload, _) = router.calls[0]
    assert action == "GetLog" and payload["logType"] == "SecurityLog"
    assert payload["requestId"] == record.id
    assert payload["log"]["oldestTimestamp"] == "2026-01-01T00:00:00.000Z"
    assert record.status == LogStatus.REJECTED and record.station_answer == "Rejected"


async def test_notifications_follow_the_request_and_win_over_a_late_answer() -> None:
    router = FakeRouter({"CS-1": V201}, ok({"status": "Accepted", "filename": "a.log"}))
    svc, store, _ = log_service(router)
    original = router.call

    async def uploading_before_the_answer(*args: Any, **kw: Any) -> CallOutcome:
        await svc.status_notified("CS-1", "Uploading", 1, None)
        return await original(*args, **kw)

    router.call = uploading_before_the_answer  # type: ignore[method-assign]
    record, _ = await svc.request("CS-1", LogSpec())
    assert record.status == LogStatus.UPLOADING and record.filename == "a.log"
    assert await svc.status_notified("CS-2", "Uploaded", 1, None) is None  # not its request
    await svc.status_notified("CS-1", "Idle", 1, None)
    assert store.rows[1].status == LogStatus.UPLOADING and store.rows[1].station_status == "Idle"
    await svc.status_notified("CS-1", "UploadFailure", 1, None)
    assert store.rows[1].status == LogStatus.UPLOAD_FAILED
    # Each change is a webhook event written with it.
    assert [(e.type, e.station_id, e.data["status"]) for e in store.events] == [
        (EventType.LOG_STATUS_CHANGED, "CS-1", "uploading"),
        (EventType.LOG_STATUS_CHANGED, "CS-1", "uploading"),
        (EventType.LOG_STATUS_CHANGED, "CS-1", "upload_failed"),
    ]


async def test_accepted_canceled_cancels_the_upload_under_way() -> None:
    router = FakeRouter({"CS-1": V201}, ok({"status": "Accepted"}))
    svc, store, _ = log_service(router)
    first, _ = await svc.request("CS-1", LogSpec())
    router.answer = ok({"status": "AcceptedCanceled"})
    second, _ = await svc.request("CS-1", LogSpec(log_type=LogType.SECURITY))
    assert second.status == LogStatus.ACCEPTED
    assert store.rows[first.id].status == LogStatus.CANCELED


async def test_16_diagnostics_status_belongs_to_the_newest_active_request() -> None:
    router = FakeRouter({"CS-1": V16}, ok({"fileName": "d"}))
    svc, store, _ = log_service(router)
    first, _ = await svc.request("CS-1", LogSpec())
    second, _ = await svc.request("CS-1", LogSpec())
    changed = await svc.status_notified("CS-1", "Uploaded", None, LogType.DIAGNOSTICS)
    assert changed is not None and changed.id == second.id
    assert store.rows[first.id].status == LogStatus.ACCEPTED
    assert await svc.status_notified("CS-9", "Uploaded", None, LogType.DIAGNOSTICS) is None


async def test_upload_is_stored_once_within_its_limit() -> None:
    router = FakeRouter({"CS-1": V201}, ok({"status": "Accepted"}))
    svc, store, files = log_service(router)
    record, _ = await svc.request("CS-1", LogSpec())
    token = token_of(router.calls[0][2]["log"]["remoteLocation"])
    with pytest.raises(UnknownUpload):
        await svc.receive_upload("not-a-token", stream(b"x"), None, None)
    with pytest.raises(TooLarge):
        await svc.receive_upload(token, stream(b"x"), 101, None)  # declared
    with pytest.raises(TooLarge):
        await svc.receive_upload(token, stream(b"x" * 60, b"y" * 60), None, None)  # streamed
    assert files.files == {} and store.rows[record.id].stored_as is None
    done = await svc.receive_upload(token, stream(b"abc", b"def"), None, "text/plain")
    assert (done.size, done.sha256) == (6, hashlib.sha256(b"abcdef").hexdigest())
    assert done.stored_as is not None and done.stored_as.startswith(f"{record.id}-")
    assert files.files == {done.stored_as: b"abcdef"}
    (event,) = store.events
    assert (event.data["has_file"], event.data["size"]) == (True, 6)
    with pytest.raises(UnknownUpload):  # used
        await svc.receive_upload(token, stream(b"again"), None, None)


# ---------------------------------------------------------------------------- display


def display(router: FakeRouter, **kw: Any) -> tuple[DisplayService, MemoryParts, Clock]:
    store, clock = MemoryParts(), Clock()
    svc = DisplayService(store, OcppDeviceCommands(router), settings(**kw))
    svc.now = clock  # type: ignore[method-assign]
    return svc, store, clock


def message(mid: int, **kw: Any) -> DisplayMessage:
    return DisplayMessage(
        station_id="CS-1", message_id=mid, priority="InFront", content=f"m{mid}", **kw
    )


async def test_display_messages_are_2x_only() -> None:
    svc, _, _ = display(FakeRouter({"CS-1": V16}))
    with pytest.raises(NotAddressable):
        await svc.set(message(1))
    with pytest.raises(NotAddressable):
        await svc.refresh("CS-1")


@pytest.mark.parametrize("version", [V201, V21])
async def test_set_stores_what_the_station_accepted(version: str) -> None:
    router = FakeRouter({"CS-1": version}, ok({"status": "Accepted"}))
    svc, store, _ = display(router)
    await svc.set(message(1, state="Charging", language="en", start_at=T0, transaction_id="t-1"))
    (_, action, payload, _) = router.calls[0]
    assert action == "SetDisplayMessage"
    assert payload == {
        "message": {
            "id": 1,
            "priority": "InFront",
            "state": "Charging",
            "startDateTime": "2026-01-01T00:00:00.000Z",
            "transactionId": "t-1",
            "message": {"format": "UTF8", "content": "m1", "language": "en"},
        }
    }
    router.answer = ok({"status": "NotSupportedPriority"})
    answer = await svc.set(message(2))
    assert answer.status == "notsupportedpriority"
    assert [m.message_id for m in await svc.list("CS-1")] == [1]
    router.answer = ok({"status": "Unknown"})  # the station has no such message: gone
    await svc.clear("CS-1", 1)
    assert store.messages == {}


async def test_refresh_assembles_parts_and_replaces_the_stored_messages() -> None:
    router = FakeRouter({"CS-1": V201}, ok({"status": "Accepted"}))
    svc, store, _ = display(router)
    await store.put_display_message(message(7, source="csms"))  # no longer on the station
    request, _ = await svc.refresh("CS-1")
    assert router.calls[0][1:3] == ("GetDisplayMessages", {"requestId": request.id})
    assert request.status == PartStatus.ACCEPTED
    await svc.reported("CS-1", request.id, [message(1), message(2)], tbc=True)
    mid = await svc.get_request(request.id)
    assert mid is not None and (mid.status, mid.parts) == (PartStatus.ACCEPTED, 1)
    await svc.reported("CS-1", request.id, [message(3), message(2**40)], tbc=False)
    done = await svc.get_request(request.id)
    assert done is not None and (done.status, done.parts) == (PartStatus.COMPLETE, 2)
    assert [(m.message_id, m.source) for m in await svc.list("CS-1")] == [
        (1, "station"),
        (2, "station"),
        (3, "station"),
    ]


async def test_refresh_answered_unknown_means_no_messages() -> None:
    svc, store, _ = display(FakeRouter({"CS-1": V201}, ok({"status": "Unknown"})))
    await store.put_display_message(message(1))
    request, _ = await svc.refresh("CS-1")
    assert request.status == PartStatus.UNKNOWN and store.messages == {}


async def test_refresh_without_its_last_part_is_closed_incomplete() -> None:
    svc, _, clock = display(
        FakeRouter({"CS-1": V201}, ok({"status": "Accepted"})), report_timeout=60
    )
    request, _ = await svc.refresh("CS-1")
    await svc.reported("CS-1", request.id, [message(1)], tbc=True)
    clock.now += timedelta(seconds=59)
    assert (await svc.get_request(request.id)).status == PartStatus.ACCEPTED  # type: ignore[union-attr]
    clock.now += timedelta(seconds=2)
    assert (await svc.get_request(request.id)).status == PartStatus.INCOMPLETE  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- customer


def customer(router: FakeRouter, **kw: Any) -> tuple[CustomerService, MemoryParts, Clock]:
    store, clock = MemoryParts(), Clock()
    svc = CustomerService(store, OcppDeviceCommands(router), settings(**kw))
    svc.now = clock  # type: ignore[method-assign]
    return svc, store, clock


@pytest.mark.parametrize(
    "spec",
    [
        CustomerSpec(report=False, clear=False, id_token="A"),
        CustomerSpec(report=True, clear=False),
        CustomerSpec(report=True, clear=False, id_token="A", customer_identifier="B"),
    ],
)
async def test_customer_request_must_name_one_customer_and_ask_something(
    spec: CustomerSpec,
) -> None:
    svc, store, _ = customer(FakeRouter({"CS-1": V201}))
    with pytest.raises(InvalidCustomerRequest):
        await svc.request(["CS-1"], spec)
    assert store.requests == {}


async def test_customer_report_assembled_in_seq_order_once_complete() -> None:
    router = FakeRouter({"CS-1": V201, "CS-2": V21}, ok({"status": "Accepted"}))
    svc, _, _ = customer(router)
    spec = CustomerSpec(report=True, clear=True, id_token="AB12", id_token_type="eMAID")
    results = await svc.request(["CS-1", "CS-2"], spec)
    assert [r.request.status for r in results] == [PartStatus.ACCEPTED] * 2
    (_, action, payload, _) = router.calls[0]
    assert action == "CustomerInformation"
    assert payload == {
        "requestId": results[0].request.id,
        "report": True,
        "clear": True,
        "idToken": {"idToken": "AB12", "type": "eMAID"},
    }
    rid = results[0].request.id
    await svc.part("CS-1", rid, CustomerPart(2, "c", tbc=False))
    await svc.part("CS-1", rid, CustomerPart(0, "a", tbc=True))
    assert (await svc.get(rid)).status == PartStatus.ACCEPTED  # type: ignore[union-attr]
    await svc.part("CS-1", rid, CustomerPart(0, "a", tbc=True))  # retransmitted
    await svc.part("CS-2", rid, CustomerPart(1, "x", tbc=True))  # another station's: ignored
    await svc.part("CS-1", rid, CustomerPart(1, "b", tbc=True))
    done = await svc.get(rid)
    assert done is not None and (done.status, done.parts) == (PartStatus.COMPLETE, 3)
    assert await svc.report_text(rid) == "abc"


async def test_customer_clearing_only_completes_with_the_answer() -> None:
    svc, _, _ = customer(FakeRouter({"CS-1": V201}, ok({"status": "Accepted"})))
    (result,) = await svc.request(
        ["CS-1"], CustomerSpec(report=False, clear=True, customer_identifier="C")
    )
    assert result.request.status == PartStatus.COMPLETE


async def test_customer_outcomes_per_station() -> None:
    router = FakeRouter({"CS-16": V16, "CS-1": V201}, ok({"status": "Invalid"}))
    svc, _, _ = customer(router)
    spec = CustomerSpec(report=True, clear=False, id_token="A")
    with pytest.raises(NotAddressable):
        await svc.request(["CS-16"], spec)
    results = await svc.request(["CS-16", "CS-1", "CS-OFF"], spec)
    assert [r.request.status for r in results] == [
        PartStatus.ERROR,
        PartStatus.REJECTED,
        PartStatus.NOT_CONNECTED,
    ]


async def test_payloads_the_schema_refuses_are_not_addressable() -> None:
    refused = InvalidPayload("'Bogus' is not one of [...]", "PropertyConstraintViolation")
    svc, store, _ = customer(FakeRouter({"CS-1": V201}, refused))
    spec = CustomerSpec(report=True, clear=False, id_token="A", id_token_type="Bogus")
    with pytest.raises(NotAddressable, match="refused by the OCPP schema"):
        await svc.request(["CS-1"], spec)
    (request,) = store.requests.values()
    assert request.status == PartStatus.ERROR and request.detail
    logs, log_store, _ = log_service(FakeRouter({"CS-1": V201}, refused))
    with pytest.raises(NotAddressable):
        await logs.request("CS-1", LogSpec())
    assert [r.status for r in log_store.rows.values()] == [LogStatus.ERROR]


async def test_customer_report_without_its_last_part_is_incomplete() -> None:
    svc, _, clock = customer(
        FakeRouter({"CS-1": V201}, ok({"status": "Accepted"})), report_timeout=30
    )
    (result,) = await svc.request(["CS-1"], CustomerSpec(report=True, clear=False, id_token="A"))
    await svc.part("CS-1", result.request.id, CustomerPart(0, "a", tbc=True))
    clock.now += timedelta(seconds=31)
    assert [r.status for r in await svc.list(None)] == [PartStatus.INCOMPLETE]


# ---------------------------------------------------------------------------- uploads


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


def pieces(data: bytes, size: int) -> Iterable[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
async def test_first_form_part_is_extracted_whatever_the_chunking(size: int) -> None:
    content = b"line one\r\n--not the boundary\r\nline three\r\n"
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="../../a.log"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + content + b"\r\n--XyZ\r\n"
        b'Content-Disposition: form-data; name="other"\r\n\r\nignored\r\n--XyZ--\r\n'
    )
    assert await collect(first_part(stream(*pieces(body, size)), b"XyZ")) == content


async def test_form_without_its_closing_boundary_is_refused() -> None:
    with pytest.raises(MalformedForm):
        await collect(first_part(stream(b"--B\r\n\r\nno end"), b"B"))


async def test_disk_files_keep_nothing_of_an_oversized_upload(tmp_path: Path) -> None:
    files = DiskLogFiles(tmp_path / "logs")
    with pytest.raises(TooLarge):
        await files.receive(stream(b"x" * 8, b"y" * 8), 10, "1-0123456789abcdef.log")
    assert list((tmp_path / "logs").iterdir()) == []
    stored = await files.receive(stream(b"abc"), 10, "2-0123456789abcdef.log")
    assert await asyncio.to_thread(Path(files.path(stored.stored_as)).read_bytes) == b"abc"
    with pytest.raises(ValueError):
        files.path("../escape.log")
