"""Diagnostics and security log uploads (issue 17 part 5), version-neutral.

An operator asks a station for a log (1.6 GetDiagnostics, or GetLog of the 1.6 security
extension for security logs; 2.x GetLog with DiagnosticsLog/SecurityLog). The location
given to the station is Ampyre's own upload URL with an unguessable token, valid for
that one request: the station uploads the file there (HTTP PUT or POST), Ampyre stores
it under AMPYRE_LOG_DIR with its size and sha256, and the API lists and downloads it.
The request record follows the station's answer and its upload status notifications
(1.6 DiagnosticsStatusNotification; LogStatusNotification with the requestId).

The record is written before the command goes out (the station may upload before its
answer is processed) and every notification that changes it is committed before the
station gets its answer (durable before ack).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ampyre.config import Settings
from ampyre.domain.events import DomainEvent, EventType
from ampyre.domain.models import Page
from ampyre.services.clock import utcnow
from ampyre.services.station_port import NOT_CONNECTED, Answer, NotAddressable

UPLOAD_PATH = "/uploads/logs/"


class LogType(enum.StrEnum):
    DIAGNOSTICS = "diagnostics"  # 1.6 GetDiagnostics, 2.x DiagnosticsLog
    SECURITY = "security"  # 1.6 security extension / 2.x SecurityLog


class LogStatus(enum.StrEnum):
    """Where a log request stands. The first group follows the answer to the command,
    the second the station's upload status notifications."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_DATA = "no_data"  # 1.6 GetDiagnostics answered without a fileName
    NOT_CONNECTED = "not_connected"
    TIMED_OUT = "timed_out"
    ERROR = "error"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    UPLOAD_FAILED = "upload_failed"
    CANCELED = "canceled"  # replaced by a newer request (2.x AcceptedCanceled)


# Requests the station may still upload for (1.6 notifications carry no request id:
# they belong to the station's newest such request).
ACTIVE = frozenset({LogStatus.REQUESTED, LogStatus.ACCEPTED, LogStatus.UPLOADING})

# Upload status as the station notifies it -> the request's status; Idle changes nothing.
# 1.6 DiagnosticsStatus: Idle, Uploaded, UploadFailed, Uploading; 2.0.1
# UploadLogStatusEnumType adds BadMessage, NotSupportedOperation, PermissionDenied,
# UploadFailure, AcceptedCanceled.
_NOTIFIED: dict[str, LogStatus] = {
    "Uploading": LogStatus.UPLOADING,
    "Uploaded": LogStatus.UPLOADED,
    "UploadFailed": LogStatus.UPLOAD_FAILED,
    "UploadFailure": LogStatus.UPLOAD_FAILED,
    "BadMessage": LogStatus.UPLOAD_FAILED,
    "NotSupportedOperation": LogStatus.UPLOAD_FAILED,
    "PermissionDenied": LogStatus.UPLOAD_FAILED,
    "AcceptedCanceled": LogStatus.CANCELED,
}


@dataclass(slots=True, frozen=True)
class LogSpec:
    """What to ask for. `request_id` and `location` are set by the service."""

    log_type: LogType = LogType.DIAGNOSTICS
    oldest: datetime | None = None  # 1.6 startTime, 2.x oldestTimestamp
    latest: datetime | None = None  # 1.6 stopTime, 2.x latestTimestamp
    retries: int | None = None
    retry_interval: int | None = None
    request_id: int = 0
    location: str = ""

    def params(self) -> dict[str, Any]:
        """As stored with the request (JSON)."""
        out: dict[str, Any] = {}
        if self.oldest is not None:
            out["oldest"] = self.oldest.isoformat()
        if self.latest is not None:
            out["latest"] = self.latest.isoformat()
        if self.retries is not None:
            out["retries"] = self.retries
        if self.retry_interval is not None:
            out["retry_interval"] = self.retry_interval
        return out


@dataclass(slots=True)
class LogRequest:
    id: int
    station_id: str
    ocpp_version: str
    log_type: LogType
    status: LogStatus
    requested_at: datetime
    updated_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    station_status: str | None = None
    station_answer: str | None = None
    filename: str | None = None
    detail: str | None = None
    stored_as: str | None = None
    size: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    received_at: datetime | None = None

    @property
    def has_file(self) -> bool:
        return self.stored_as is not None


@dataclass(slots=True, frozen=True)
class LogAnswer:
    """The station's answer to GetDiagnostics/GetLog: `filename` as it names the file."""

    answer: Answer
    filename: str | None = None


@dataclass(slots=True, frozen=True)
class StoredFile:
    stored_as: str
    size: int
    sha256: str


class LogStore(Protocol):
    async def create_log_request(self, request: LogRequest, token_hash: str) -> LogRequest: ...
    async def update_log_request(
        self, request: LogRequest, events: Sequence[DomainEvent] = ()
    ) -> None:
        """Write the request's changes, and `events` to the outbox in the same commit."""
        ...

    async def settle_log_request(
        self,
        request_id: int,
        status: LogStatus,
        station_answer: str | None,
        filename: str | None,
        detail: str | None,
        at: datetime,
    ) -> LogRequest | None:
        """Record the answer to the command in one statement; the status only while the
        request is still `requested` (a notification may have moved it on already)."""
        ...

    async def get_log_request(self, request_id: int) -> LogRequest | None: ...
    async def find_upload(self, token_hash: str) -> LogRequest | None:
        """The request of an upload token that has not received its file yet."""
        ...

    async def attach_file(
        self,
        request_id: int,
        file: StoredFile,
        content_type: str | None,
        at: datetime,
        events: Sequence[DomainEvent] = (),
    ) -> bool:
        """Record the file of a request that has none yet (with `events`, in one
        commit); False if it has one."""
        ...

    async def latest_active(self, station_id: str, log_type: LogType) -> LogRequest | None: ...
    async def delete_log_request(self, request_id: int) -> bool: ...
    async def list_log_requests(
        self, station_id: str | None, with_file: bool | None, limit: int, offset: int
    ) -> Page: ...


class LogCommands(Protocol):
    def connected_version(self, station_id: str) -> str | None: ...
    async def get_log(
        self, station_id: str, spec: LogSpec, timeout: float | None = None
    ) -> LogAnswer: ...


class LogFiles(Protocol):
    """Where uploaded files live. `receive` stores a stream of chunks under a name of
    Ampyre's choosing, stopping at `limit` bytes (TooLarge, nothing kept)."""

    async def receive(self, chunks: AsyncIterator[bytes], limit: int, name: str) -> StoredFile: ...
    async def discard(self, stored_as: str) -> None: ...
    def path(self, stored_as: str) -> str: ...


class UnknownUpload(LookupError):
    """No request waits for a file under this token (never issued, or already used)."""


class TooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than {limit} bytes")
        self.limit = limit


class NotConnected(LookupError):
    pass


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def upload_base(settings: Settings) -> str:
    """The base URL stations reach Ampyre's HTTP server at."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"http://{host}:{settings.http_port}"


def _event(request: LogRequest) -> DomainEvent:
    return DomainEvent(
        EventType.LOG_STATUS_CHANGED,
        request.updated_at,
        request.station_id,
        {
            "id": request.id,
            "log_type": request.log_type.value,
            "status": request.status.value,
            "station_status": request.station_status,
            "has_file": request.has_file,
            "size": request.size,
            "sha256": request.sha256,
        },
    )


def _answer_status(log: LogAnswer, version: str) -> LogStatus:
    answer = log.answer
    if answer.status == NOT_CONNECTED:
        return LogStatus.NOT_CONNECTED
    if answer.status == "timeout":
        return LogStatus.TIMED_OUT
    if answer.status == "error":
        return LogStatus.ERROR
    if answer.status == "ok":
        # 1.6 GetDiagnostics.conf has no status: no fileName means nothing to upload.
        return LogStatus.ACCEPTED if log.filename else LogStatus.NO_DATA
    if answer.status in ("accepted", "acceptedcanceled"):
        # OCPP 2.0.1 N01 AcceptedCanceled: accepted, and an ongoing upload was canceled.
        return LogStatus.ACCEPTED
    return LogStatus.REJECTED


class LogService:
    def __init__(
        self,
        store: LogStore,
        commands: LogCommands,
        files: LogFiles,
        settings: Settings,
        base_url: Callable[[], str] | None = None,
    ) -> None:
        """`base_url`: where stations reach Ampyre's HTTP server (default: upload_base)."""
        self._base_url = base_url or (lambda: upload_base(settings))
        self._store = store
        self._commands = commands
        self._files = files
        self._settings = settings

    def now(self) -> datetime:
        return utcnow()

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    @property
    def upload_limit(self) -> int:
        return self._settings.log_upload_max

    async def request(
        self, station_id: str, spec: LogSpec, timeout: float | None = None
    ) -> tuple[LogRequest, Answer]:
        """Ask the station for a log; raises NotConnected (nothing stored) when the
        station is not connected. The record is stored before the command is sent and
        updated with the answer (timed out, rejected, ... stay visible)."""
        version = self._commands.connected_version(station_id)
        if version is None:
            raise NotConnected(station_id)
        token = secrets.token_urlsafe(32)
        now = self.now()
        record = await self._store.create_log_request(
            LogRequest(
                id=0,
                station_id=station_id,
                ocpp_version=version,
                log_type=spec.log_type,
                status=LogStatus.REQUESTED,
                requested_at=now,
                updated_at=now,
                params=spec.params(),
            ),
            token_hash(token),
        )
        location = f"{self._base_url().rstrip('/')}{UPLOAD_PATH}{token}"
        sent = LogSpec(
            spec.log_type,
            spec.oldest,
            spec.latest,
            spec.retries,
            spec.retry_interval,
            request_id=record.id,
            location=location,
        )
        try:
            got = await self._commands.get_log(station_id, sent, timeout)
        except NotAddressable as exc:
            await self._store.settle_log_request(
                record.id, LogStatus.ERROR, None, None, str(exc)[:512], self.now()
            )
            raise
        answered = _answer_status(got, version)
        fresh = await self._store.settle_log_request(
            record.id,
            answered,
            got.answer.station_answer,
            (got.filename or "")[:255] or None,
            got.answer.detail[:512] if got.answer.detail else None,
            self.now(),
        )
        if got.answer.status == "acceptedcanceled":
            await self._cancel_others(station_id, record.id)
        return fresh or record, got.answer

    async def _cancel_others(self, station_id: str, keep: int) -> None:
        """The station canceled its ongoing upload for the new request: the older
        requests still under way will not upload."""
        page = await self._store.list_log_requests(station_id, False, 20, 0)
        for other in page.items:
            if other.id != keep and other.status in ACTIVE:
                other.status, other.updated_at = LogStatus.CANCELED, self.now()
                await self._store.update_log_request(other, [_event(other)])

    async def status_notified(
        self, station_id: str, status: str, request_id: int | None, log_type: LogType | None
    ) -> LogRequest | None:
        """A station's upload status: 2.x (and 1.6 security) LogStatusNotification names
        the request; 1.6 DiagnosticsStatusNotification belongs to the station's newest
        active diagnostics request. Returns the request it changed, if any."""
        if request_id is not None:
            found = await self._store.get_log_request(request_id)
            if found is None or found.station_id != station_id:
                return None
        elif log_type is not None:
            found = await self._store.latest_active(station_id, log_type)
            if found is None:
                return None
        else:
            return None
        found.station_status = status[:32]
        new = _NOTIFIED.get(status)
        if new is not None:
            found.status = new
        found.updated_at = self.now()
        await self._store.update_log_request(found, [_event(found)])
        return found

    async def receive_upload(
        self,
        token: str,
        chunks: AsyncIterator[bytes],
        declared_length: int | None,
        content_type: str | None,
    ) -> LogRequest:
        """Store an upload. Raises UnknownUpload (unknown or used token) and TooLarge
        (nothing kept); the file name is Ampyre's own, never the uploader's."""
        if not token or len(token) > 128:
            raise UnknownUpload(token)
        found = await self._store.find_upload(token_hash(token))
        if found is None:
            raise UnknownUpload(token)
        limit = self._settings.log_upload_max
        if declared_length is not None and declared_length > limit:
            raise TooLarge(limit)
        name = f"{found.id}-{secrets.token_hex(8)}.log"
        stored = await self._files.receive(chunks, limit, name)
        ctype = (content_type or "")[:127] or None
        now = self.now()
        received = dataclasses.replace(
            found,
            stored_as=stored.stored_as,
            size=stored.size,
            sha256=stored.sha256,
            content_type=ctype,
            received_at=now,
            updated_at=now,
        )
        try:
            attached = await self._store.attach_file(
                found.id, stored, ctype, now, [_event(received)]
            )
        except BaseException:
            await self._files.discard(stored.stored_as)  # no file without its record
            raise
        if not attached:
            await self._files.discard(stored.stored_as)  # another upload got there first
            raise UnknownUpload(token)
        return await self._store.get_log_request(found.id) or found

    async def get(self, request_id: int) -> LogRequest | None:
        return await self._store.get_log_request(request_id)

    async def list(
        self, station_id: str | None, with_file: bool | None, limit: int, offset: int
    ) -> Page:
        return await self._store.list_log_requests(station_id, with_file, limit, offset)

    async def delete(self, request_id: int) -> bool:
        """Forget a log request and delete its file."""
        found = await self._store.get_log_request(request_id)
        if found is None or not await self._store.delete_log_request(request_id):
            return False
        if found.stored_as is not None:
            await self._files.discard(found.stored_as)
        return True

    def file_path(self, request: LogRequest) -> str | None:
        if request.stored_as is None:
            return None
        return self._files.path(request.stored_as)
