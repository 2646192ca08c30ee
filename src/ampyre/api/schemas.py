"""JSON shapes of the REST API (they are what the OpenAPI document describes)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ampyre.domain.models import (
    ApiToken,
    Connector,
    Direction,
    MessageLogEntry,
    RegistrationStatus,
    Role,
    Station,
    StationReport,
    StatusReport,
)


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add members (errors, error_code, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:ampyre:problem:station-not-connected", "about:blank"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(Problem):
    errors: list[FieldError]


# stations ------------------------------------------------------------------------------
class ConnectorOut(BaseModel):
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_timestamp: datetime | None = Field(None, description="the station's clock")
    updated_at: datetime | None = Field(None, description="when Ampyre received it")


class EvseOut(BaseModel):
    evse_id: int = Field(description="OCPP 1.6: equals the connector id (0 = whole station)")
    connectors: list[ConnectorOut]


class StationOut(BaseModel):
    id: str
    ocpp_version: str | None = Field(
        None, description="live subprotocol if connected, else the last one negotiated"
    )
    registration_status: RegistrationStatus
    connected: bool
    connected_node: str | None = None
    remote_address: str | None = None
    last_seen: datetime | None = None
    last_boot: datetime | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    boot_reason: str | None = None
    description: str | None = None
    has_password: bool
    security_profile: int | None = Field(
        None, description="configured security profile 1..3; null: a password asks for 1"
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    evses: list[EvseOut] = Field(default_factory=list)

    @classmethod
    def build(
        cls, station: Station, connectors: list[Connector], live_version: str | None
    ) -> "StationOut":
        evses: dict[int, list[ConnectorOut]] = {}
        for c in sorted(connectors, key=lambda c: (c.evse_id, c.connector_id)):
            evses.setdefault(c.evse_id, []).append(
                ConnectorOut(
                    connector_id=c.connector_id,
                    status=c.status,
                    error_code=c.error_code,
                    info=c.info,
                    vendor_id=c.vendor_id,
                    vendor_error_code=c.vendor_error_code,
                    status_timestamp=c.status_timestamp,
                    updated_at=c.updated_at,
                )
            )
        return cls(
            id=station.id,
            ocpp_version=live_version or station.ocpp_version,
            registration_status=station.registration_status,
            # The router knows about live sockets anywhere in the cluster; the store's flag
            # can be stale after a node crash.
            connected=live_version is not None,
            connected_node=station.connected_node if live_version else None,
            remote_address=station.remote_address,
            last_seen=station.last_seen,
            last_boot=station.last_boot,
            vendor=station.vendor,
            model=station.model,
            serial_number=station.serial_number,
            firmware_version=station.firmware_version,
            iccid=station.iccid,
            imsi=station.imsi,
            meter_type=station.meter_type,
            meter_serial_number=station.meter_serial_number,
            boot_reason=station.boot_reason,
            description=station.description or None,
            has_password=bool(station.password_hash),
            security_profile=station.security_profile,
            created_at=station.created_at,
            updated_at=station.updated_at,
            evses=[EvseOut(evse_id=k, connectors=v) for k, v in evses.items()],
        )


class StationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        max_length=48,
        description="charge point identity: A-Z a-z 0-9 * - _ = + | @ . (no ':')",
        examples=["CP-0001"],
    )
    password: str | None = Field(
        None,
        description="Basic auth password (security profile 1/2), 16..40 printable characters",
    )
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    description: str | None = Field(None, max_length=500)
    security_profile: int | None = Field(
        None,
        ge=1,
        le=3,
        description="1 Basic over ws, 2 TLS + Basic, 3 TLS client certificate; the station "
        "may not connect with a lower one",
    )


class StationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration_status: RegistrationStatus | None = None
    description: str | None = Field(None, max_length=500, description="null clears it")
    password: str | None = Field(
        None, description="a string sets the password, null removes it, absent keeps it"
    )
    security_profile: int | None = Field(
        None, ge=1, le=3, description="1..3 sets the configured profile, null clears it"
    )


class StationPage(BaseModel):
    items: list[StationOut]
    total: int
    limit: int
    offset: int


class StatusReportOut(BaseModel):
    station_id: str
    evse_id: int
    connector_id: int
    status: str
    timestamp: datetime | None = None
    received_at: datetime
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None

    @classmethod
    def build(cls, r: StatusReport) -> "StatusReportOut":
        return cls(
            station_id=r.station_id,
            evse_id=r.evse_id,
            connector_id=r.connector_id,
            status=r.status,
            timestamp=r.timestamp,
            received_at=r.received_at,
            error_code=r.error_code,
            info=r.info,
            vendor_id=r.vendor_id,
            vendor_error_code=r.vendor_error_code,
        )


class StatusHistoryPage(BaseModel):
    items: list[StatusReportOut]
    total: int
    limit: int
    offset: int


class StationReportOut(BaseModel):
    station_id: str
    action: str
    payload: dict[str, Any]
    received_at: datetime
    request_id: int | None = None
    seq_no: int | None = None

    @classmethod
    def build(cls, r: StationReport) -> "StationReportOut":
        return cls(
            station_id=r.station_id,
            action=r.action,
            payload=r.payload,
            received_at=r.received_at,
            request_id=r.request_id,
            seq_no=r.seq_no,
        )


class StationReportPage(BaseModel):
    items: list[StationReportOut]
    total: int
    limit: int
    offset: int


class MessageOut(BaseModel):
    station_id: str
    direction: Direction
    message_type: int = Field(
        description="2 CALL, 3 CALLRESULT, 4 CALLERROR, 5 CALLRESULTERROR, 6 SEND"
    )
    unique_id: str
    action: str | None = None
    payload: str = Field(description="the frame's JSON text exactly as sent or received")
    created_at: datetime

    @classmethod
    def build(cls, m: MessageLogEntry) -> "MessageOut":
        return cls(
            station_id=m.station_id,
            direction=Direction(m.direction),
            message_type=m.message_type,
            unique_id=m.unique_id,
            action=m.action,
            payload=m.payload,
            created_at=m.created_at,
        )


class MessagePage(BaseModel):
    items: list[MessageOut]
    total: int
    limit: int
    offset: int


# commands ------------------------------------------------------------------------------
class CommandResult(BaseModel):
    status: str = Field(
        description="the reply's status in lower case ('accepted', 'rejected', ...), "
        "or 'ok' when the reply has no status",
        examples=["accepted"],
    )
    response: dict[str, Any] = Field(description="the station's CALLRESULT payload")


# tokens --------------------------------------------------------------------------------
class TokenOut(BaseModel):
    id: int | None
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None = Field(
        default=None, description="last request made with it (written at most once a minute)"
    )
    revoked: bool

    @classmethod
    def build(cls, t: ApiToken) -> "TokenOut":
        return cls(
            id=t.id,
            name=t.name,
            role=t.role,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked=t.revoked,
        )


class TokenPage(BaseModel):
    items: list[TokenOut]
    total: int
    limit: int
    offset: int


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: Role


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown this once, only its hash is stored")


# health --------------------------------------------------------------------------------
class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ok"])
    checks: dict[str, str]
