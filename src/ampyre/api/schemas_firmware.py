"""Request and response bodies of the firmware routes: hosted files, station updates
and fleet rollouts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ampyre.api.routes._common import INT32_MAX
from ampyre.domain.firmware import FirmwareFile, FirmwareUpdate, Rollout
from ampyre.services.firmware_rollouts import MAX_BATCH

_TIMEOUT = "seconds to wait for the station's answer (default AMPYRE_CALL_TIMEOUT)"


class FirmwareFileOut(BaseModel):
    id: int
    version: str
    vendor: str | None
    model: str | None
    description: str | None
    filename: str
    size: int
    sha256: str
    signed: bool = Field(description="has a signing certificate and signature (2.x secure)")
    created_at: datetime
    download_url: str = Field(description="where stations fetch it (unguessable token)")

    @classmethod
    def of(cls, f: FirmwareFile, url: str) -> FirmwareFileOut:
        return cls(
            id=f.id,
            version=f.version,
            vendor=f.vendor,
            model=f.model,
            description=f.description,
            filename=f.filename,
            size=f.size,
            sha256=f.sha256,
            signed=bool(f.signing_certificate and f.signature),
            created_at=f.created_at,
            download_url=url,
        )


class FirmwareFilePage(BaseModel):
    items: list[FirmwareFileOut]
    total: int
    limit: int
    offset: int


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signing_certificate: str = Field(
        min_length=1,
        max_length=5500,
        description="PEM X.509 certificate the firmware was signed with",
    )
    signature: str = Field(min_length=1, max_length=800, description="base64 signature")


class FirmwareUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: int = Field(ge=1, le=INT32_MAX, description="the hosted firmware file to install")
    retrieve_at: AwareDatetime | None = Field(
        None, description="when to download it (default: now)"
    )
    install_at: AwareDatetime | None = Field(
        None, description="2.x: when to install it (default: once downloaded)"
    )
    retries: int | None = Field(None, ge=0, le=INT32_MAX, description="download attempts")
    retry_interval: int | None = Field(
        None, ge=0, le=INT32_MAX, description="seconds between download attempts"
    )
    timeout: float | None = Field(None, gt=0, le=300, description=_TIMEOUT)


class FirmwareUpdateOut(BaseModel):
    id: int = Field(description="also the requestId of 2.x notifications")
    station_id: str
    file_id: int | None
    rollout_id: int | None
    target_version: str
    state: str = Field(
        description="pending, sending, in_progress, installed, failed, rejected, "
        "timed_out or cancelled"
    )
    status: str | None = Field(description="the last firmware status the station reported")
    detail: str | None
    ocpp_version: str | None
    retrieve_at: datetime | None
    install_at: datetime | None
    retries: int | None
    retry_interval: int | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None
    history: list[dict[str, Any]]

    @classmethod
    def of(cls, u: FirmwareUpdate) -> FirmwareUpdateOut:
        return cls(
            id=u.id,
            station_id=u.station_id,
            file_id=u.file_id,
            rollout_id=u.rollout_id,
            target_version=u.target_version,
            state=u.state.value,
            status=u.status,
            detail=u.detail,
            ocpp_version=u.ocpp_version,
            retrieve_at=u.retrieve_at,
            install_at=u.install_at,
            retries=u.retries,
            retry_interval=u.retry_interval,
            created_at=u.created_at,
            updated_at=u.updated_at,
            sent_at=u.sent_at,
            finished_at=u.finished_at,
            history=u.history,
        )


class FirmwareUpdatePage(BaseModel):
    items: list[FirmwareUpdateOut]
    total: int
    limit: int
    offset: int


class TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_ids: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=MAX_BATCH, description="any of these stations"
    )
    vendor: str | None = Field(None, max_length=255)
    model: str | None = Field(None, max_length=255)
    firmware_version: str | None = Field(
        None, max_length=255, description="stations that now run this version"
    )


class RolloutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: int = Field(ge=1, le=INT32_MAX)
    name: str = Field("", max_length=100)
    targets: TargetsIn
    batch_size: int = Field(10, ge=1, le=MAX_BATCH, description="stations per batch")
    pause_seconds: float = Field(
        0, ge=0, le=30 * 86400, description="wait after a batch has finished"
    )
    abort_threshold: int = Field(
        1, ge=0, le=INT32_MAX, description="abort once this many stations failed (0: never)"
    )
    retries: int | None = Field(None, ge=0, le=INT32_MAX)
    retry_interval: int | None = Field(None, ge=0, le=INT32_MAX)


class RolloutOut(BaseModel):
    id: int
    name: str
    file_id: int
    state: str = Field(description="running, paused, aborted or finished")
    batch_size: int
    pause_seconds: float
    abort_threshold: int
    targets: dict[str, Any]
    retries: int | None
    retry_interval: int | None
    batches_sent: int
    next_batch_at: datetime | None
    detail: str | None
    counts: dict[str, int] = Field(description="stations per update state")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    stations: list[FirmwareUpdateOut] | None = Field(
        None, description="per-station progress (GET /rollouts/{id} only)"
    )

    @classmethod
    def of(cls, r: Rollout, stations: list[FirmwareUpdate] | None = None) -> RolloutOut:
        return cls(
            id=r.id,
            name=r.name,
            file_id=r.file_id,
            state=r.state.value,
            batch_size=r.batch_size,
            pause_seconds=r.pause_seconds,
            abort_threshold=r.abort_threshold,
            targets=r.targets.as_json(),
            retries=r.retries,
            retry_interval=r.retry_interval,
            batches_sent=r.batches_sent,
            next_batch_at=r.next_batch_at,
            detail=r.detail,
            counts=r.counts,
            created_at=r.created_at,
            updated_at=r.updated_at,
            finished_at=r.finished_at,
            stations=None if stations is None else [FirmwareUpdateOut.of(u) for u in stations],
        )


class RolloutPage(BaseModel):
    items: list[RolloutOut]
    total: int
    limit: int
    offset: int
