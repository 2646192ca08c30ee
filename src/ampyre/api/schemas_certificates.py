"""JSON shapes of certificate management and security events (issue 19 part 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ampyre.domain.certificates import (
    CertificateRequest,
    HashData,
    InstalledCertificate,
    SecurityEvent,
)

_INT32_MAX = 2**31 - 1

InstallUse = Literal[
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
    "OEMRootCertificate",
]
RenewUse = Literal["ChargingStationCertificate", "V2GCertificate", "V2G20Certificate"]
ExtendedTrigger = Literal[
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargePointCertificate",
    "StatusNotification",
]


class HashDataOut(BaseModel):
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    @classmethod
    def of(cls, h: HashData) -> HashDataOut:
        return cls(
            hash_algorithm=h.hash_algorithm,
            issuer_name_hash=h.issuer_name_hash,
            issuer_key_hash=h.issuer_key_hash,
            serial_number=h.serial_number,
        )


class CertificateOut(BaseModel):
    id: int
    station_id: str
    use: str = Field(description="CertificateUse: CSMSRootCertificate, V2GCertificateChain, ...")
    source: str = Field(description="reported | installed | signed")
    hash_data: HashDataOut
    subject: str | None
    issuer: str | None
    not_after: datetime | None
    expired: bool | None = Field(description="None when the expiry is not known")
    child_of_serial: str | None = Field(description="a V2G chain's sub-CA: the leaf's serial")
    pem: str | None
    updated_at: datetime

    @classmethod
    def of(cls, c: InstalledCertificate, now: datetime) -> CertificateOut:
        assert c.id is not None
        return cls(
            id=c.id,
            station_id=c.station_id,
            use=c.use.value,
            source=c.source,
            hash_data=HashDataOut.of(c.hash_data),
            subject=c.subject,
            issuer=c.issuer,
            not_after=c.not_after,
            expired=None if c.not_after is None else c.not_after <= now,
            child_of_serial=None if c.child_of is None else c.child_of.serial_number,
            pem=c.pem,
            updated_at=c.updated_at,
        )


class CertificatePage(BaseModel):
    items: list[CertificateOut]
    total: int
    limit: int
    offset: int


class InstallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use: InstallUse
    certificate: str = Field(max_length=10000, description="one PEM X.509 root certificate")
    timeout: float | None = Field(default=None, gt=0, le=300)


class TimeoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout: float | None = Field(default=None, gt=0, le=300)


class RenewIn(TimeoutIn):
    use: RenewUse = "ChargingStationCertificate"


class ExtendedTriggerIn(TimeoutIn):
    requested_message: ExtendedTrigger
    connector_id: int | None = Field(default=None, ge=0, le=_INT32_MAX)


class CommandOut(BaseModel):
    status: str = Field(description="the station's answer in lower case, or not_supported")
    response: dict[str, Any]
    detail: str | None = None


class RefreshOut(CommandOut):
    reported: int
    items: list[CertificateOut]


class RequestOut(BaseModel):
    id: int
    station_id: str
    use: str | None
    status: str = Field(
        description="rejected | signing | sent | installed | station_rejected | failed"
    )
    error: str | None
    subject: str | None
    serial_number: str | None
    not_after: datetime | None
    request_id: int | None
    via: str
    created_at: datetime
    updated_at: datetime
    csr: str | None = None
    certificate: str | None = None

    @classmethod
    def of(cls, r: CertificateRequest, full: bool = False) -> RequestOut:
        assert r.id is not None
        return cls(
            id=r.id,
            station_id=r.station_id,
            use=None if r.use is None else r.use.value,
            status=r.status.value,
            error=r.error,
            subject=r.subject,
            serial_number=r.serial_number,
            not_after=r.not_after,
            request_id=r.request_id,
            via=r.via,
            created_at=r.created_at,
            updated_at=r.updated_at,
            csr=r.csr if full else None,
            certificate=r.certificate if full else None,
        )


class RequestPage(BaseModel):
    items: list[RequestOut]
    total: int
    limit: int
    offset: int


class SecurityEventOut(BaseModel):
    id: int
    station_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    source: str = Field(description="station | csms")
    tech_info: str | None
    critical: bool

    @classmethod
    def of(cls, e: SecurityEvent) -> SecurityEventOut:
        assert e.id is not None
        return cls(
            id=e.id,
            station_id=e.station_id,
            type=e.type,
            timestamp=e.timestamp,
            received_at=e.received_at,
            source=e.source,
            tech_info=e.tech_info,
            critical=e.critical,
        )


class SecurityEventPage(BaseModel):
    items: list[SecurityEventOut]
    total: int
    limit: int
    offset: int
