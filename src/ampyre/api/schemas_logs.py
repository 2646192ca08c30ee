"""Request and response bodies of log uploads, display messages and customer
information (issue 17 parts 5-7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, model_validator

from ampyre.api.routes._common import INT32_MAX
from ampyre.services.display import MessageFormat, MessageState, Priority
from ampyre.services.display_requests import PartRequest
from ampyre.services.logs import LogRequest, LogType


class LogRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_type: LogType = Field(
        LogType.DIAGNOSTICS,
        description="diagnostics (1.6 GetDiagnostics, 2.x DiagnosticsLog) or security "
        "(2.x SecurityLog; 1.6: GetLog of the security extension)",
    )
    oldest: AwareDatetime | None = Field(
        None, description="oldest entries to include (1.6 startTime, 2.x oldestTimestamp)"
    )
    latest: AwareDatetime | None = Field(
        None, description="latest entries to include (1.6 stopTime, 2.x latestTimestamp)"
    )
    retries: int | None = Field(None, ge=0, le=INT32_MAX, description="upload attempts")
    retry_interval: int | None = Field(
        None, ge=0, le=INT32_MAX, description="seconds between upload attempts"
    )

    @model_validator(mode="after")
    def _ordered(self) -> LogRequestIn:
        if self.oldest is not None and self.latest is not None and self.oldest > self.latest:
            raise ValueError("oldest must not be after latest")
        return self


class LogRequestOut(BaseModel):
    id: int = Field(description="the request's id (2.x: the requestId sent to the station)")
    station_id: str
    ocpp_version: str
    log_type: str
    status: str = Field(
        description="requested, accepted, rejected, no_data, not_connected, timed_out, "
        "error, uploading, uploaded, upload_failed or canceled"
    )
    station_status: str | None = Field(None, description="the last upload status notified")
    station_answer: str | None = None
    filename: str | None = Field(None, description="the file name the station announced")
    detail: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    requested_at: datetime
    updated_at: datetime
    has_file: bool
    size: int | None = Field(None, description="bytes received")
    sha256: str | None = None
    content_type: str | None = None
    received_at: datetime | None = None

    @classmethod
    def of(cls, r: LogRequest) -> LogRequestOut:
        return cls(
            id=r.id,
            station_id=r.station_id,
            ocpp_version=r.ocpp_version,
            log_type=r.log_type.value,
            status=r.status.value,
            station_status=r.station_status,
            station_answer=r.station_answer,
            filename=r.filename,
            detail=r.detail,
            params=r.params,
            requested_at=r.requested_at,
            updated_at=r.updated_at,
            has_file=r.has_file,
            size=r.size,
            sha256=r.sha256,
            content_type=r.content_type,
            received_at=r.received_at,
        )


class LogRequestPage(BaseModel):
    items: list[LogRequestOut]
    total: int
    limit: int
    offset: int


class DisplayMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0, le=INT32_MAX, description="the message id (replaces one with it)")
    priority: Priority = Priority.NORMAL_CYCLE
    state: MessageState | None = Field(None, description="show only in this station state")
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    transaction_id: str | None = Field(None, min_length=1, max_length=36)
    format: MessageFormat = MessageFormat.UTF8
    language: str | None = Field(None, min_length=1, max_length=8, pattern=r"^[A-Za-z-]+$")
    content: str = Field(min_length=1, max_length=512)

    @model_validator(mode="after")
    def _ordered(self) -> DisplayMessageIn:
        if self.start_at is not None and self.end_at is not None and self.start_at >= self.end_at:
            raise ValueError("start_at must be before end_at")
        return self


class DisplayMessageOut(BaseModel):
    id: int
    priority: str
    state: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    transaction_id: str | None = None
    format: str
    language: str | None = None
    content: str
    source: str = Field(description="csms: set through Ampyre; station: reported by it")
    updated_at: datetime | None = None


class DisplayCommandOut(BaseModel):
    status: str = Field(description="the station's answer in lower case")
    response: dict[str, Any] = Field(default_factory=dict)
    message: DisplayMessageOut | None = None


class PartRequestOut(BaseModel):
    id: int = Field(description="the request's id (the requestId sent to the station)")
    station_id: str
    status: str = Field(
        description="requested, accepted (waiting for parts), rejected, unknown, "
        "not_connected, timed_out, error, complete or incomplete"
    )
    station_answer: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    parts: int
    requested_at: datetime
    last_part_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str | None = None

    @classmethod
    def of(cls, r: PartRequest) -> PartRequestOut:
        return cls(
            id=r.id,
            station_id=r.station_id,
            status=r.status.value,
            station_answer=r.station_answer,
            params=r.params,
            parts=r.parts,
            requested_at=r.requested_at,
            last_part_at=r.last_part_at,
            finished_at=r.finished_at,
            detail=r.detail,
        )


class CertificateHashIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash_algorithm: str = Field(pattern=r"^(SHA256|SHA384|SHA512)$")
    issuer_name_hash: str = Field(min_length=1, max_length=128)
    issuer_key_hash: str = Field(min_length=1, max_length=128)
    serial_number: str = Field(min_length=1, max_length=40)


class CustomerRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_ids: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        min_length=1, max_length=100
    )
    report: StrictBool = Field(True, description="ask for the data the station holds")
    clear: StrictBool = Field(False, description="ask the station to delete it")
    id_token: str | None = Field(None, min_length=1, max_length=36)
    id_token_type: str = Field("ISO14443", min_length=1, max_length=20)
    customer_identifier: str | None = Field(None, min_length=1, max_length=64)
    certificate: CertificateHashIn | None = None


class CustomerResultOut(BaseModel):
    request: PartRequestOut
    answer: str = Field(description="the answer's status (or not_connected, timeout, error)")
    detail: str | None = None
