"""JSON shapes of the station security routes (issue 19): security profile, password
rotation, profile upgrade, and the credential changes tracked until reconnection."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ampyre.api.routes._common import INT32_MAX
from ampyre.services.station_security import SecurityOverview
from ampyre.services.station_security_port import SecurityChange


class SecurityChangeOut(BaseModel):
    id: int | None
    kind: str = Field(description="password | profile")
    target_profile: int | None = Field(description="kind profile: the profile asked for")
    status: str = Field(
        description="sent, accepted, rejected (the station's answer), completed (it "
        "reconnected with the new credentials) or failed (no answer, superseded)"
    )
    station_status: str | None = Field(description="the station's answer as it sent it")
    detail: str | None
    requested_by: str | None
    requested_at: datetime
    answered_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, c: SecurityChange) -> SecurityChangeOut:
        return cls(
            id=c.id,
            kind=c.kind.value,
            target_profile=c.target_profile,
            status=c.status.value,
            station_status=c.station_status,
            detail=c.detail,
            requested_by=c.requested_by,
            requested_at=c.requested_at,
            answered_at=c.answered_at,
            completed_at=c.completed_at,
        )


class StationSecurityOut(BaseModel):
    station_id: str
    configured_profile: int | None = Field(
        description="1..3; null: a password asks for profile 1, none for no credentials"
    )
    connection_profile: int | None = Field(
        description="the profile of the current (or last) connection: 0 none, 1..3"
    )
    connected: bool
    has_password: bool
    pending_password: bool = Field(description="a rotated password not used by the station yet")
    tls_url: str | None = Field(description="wss:// URL of this server's TLS listener")
    pending: list[SecurityChangeOut] = Field(description="changes not complete yet")
    history: list[SecurityChangeOut] = Field(description="the latest changes, newest first")
    history_total: int

    @classmethod
    def of(cls, o: SecurityOverview, tls_url: str | None) -> StationSecurityOut:
        history = o.history.items if o.history is not None else []
        return cls(
            station_id=o.station_id,
            configured_profile=o.configured_profile,
            connection_profile=o.connection_profile,
            connected=o.connected,
            has_password=o.has_password,
            pending_password=o.pending_password,
            tls_url=tls_url,
            pending=[SecurityChangeOut.of(c) for c in o.open_changes],
            history=[SecurityChangeOut.of(c) for c in history],
            history_total=o.history.total if o.history is not None else 0,
        )


class PasswordRotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        None,
        max_length=40,
        description="the new password (2.x: 16..40 printable ASCII; 1.6: 16..20); "
        "absent: a random one is generated",
    )


class PasswordRotationOut(BaseModel):
    change: SecurityChangeOut
    password: str | None = Field(
        description="the new password, shown this once (null when the station did not accept it)"
    )


class ProfileUpgradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: int = Field(ge=1, le=3, description="the security profile to move to (higher)")
    csms_url: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="2.x: the URL in the new network profile (default: this server's "
        "wss:// TLS listener, or ws:// for profile 1)",
    )
    slot: int | None = Field(
        None, ge=0, le=INT32_MAX, description="2.x: the configuration slot to use"
    )


class ProfileUpgradeOut(BaseModel):
    change: SecurityChangeOut
