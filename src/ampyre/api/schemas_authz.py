"""JSON shapes of the authorization API: id tokens, local lists, reservations."""

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ampyre.domain.authz import (
    IdToken,
    IdTokenType,
    LocalListState,
    Reservation,
    ReservationStatus,
    Restriction,
    TokenStatus,
)
from ampyre.protocol.ocpp16.authorization import ID_TAG_MAX
from ampyre.services.authz import DESCRIPTION_MAX, GROUP_ID_MAX, ID_TOKEN_MAX, RESTRICTIONS_MAX
from ampyre.services.local_lists import DEFAULT_CHUNK, MAX_CHUNK, PushResult, status_of
from ampyre.services.reservations import Delivery

STATION_ID_MAX = 48
PUSH_STATIONS_MAX = 1000


def _utc(value: datetime | None) -> datetime | None:
    """Naive date-times are taken to be UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# id tokens -----------------------------------------------------------------------------
class RestrictionModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(min_length=1, max_length=STATION_ID_MAX)
    evse_id: int | None = Field(
        None, ge=0, description="only this EVSE (1.6: connector) of the station; null = any"
    )


_ID_TOKEN_DOC = (
    f"the token value (case insensitive), 1..{ID_TOKEN_MAX} characters. OCPP 1.6 idTags "
    f"have at most {ID_TAG_MAX} characters and 2.0.1 idTokens at most 36: a longer token "
    "is never sent in local lists to such stations and cannot be presented by them"
)


class IdTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(
        min_length=1, max_length=ID_TOKEN_MAX, description=_ID_TOKEN_DOC, examples=["04A2B3C4"]
    )
    type: IdTokenType = Field(
        IdTokenType.ISO14443,
        description="2.0.1 IdTokenEnumType; RFID cards are ISO14443 or ISO15693",
    )
    status: TokenStatus = TokenStatus.ACCEPTED
    expires_at: datetime | None = Field(
        None, description="after this the token is answered Expired (naive = UTC)"
    )
    group_id: str | None = Field(
        None,
        min_length=1,
        max_length=GROUP_ID_MAX,
        description="1.6 parentIdTag (sent if <= 20 chars) / 2.0.1 groupIdToken (<= 36)",
    )
    restrictions: list[RestrictionModel] = Field(
        default_factory=list,
        max_length=RESTRICTIONS_MAX,
        description="where the token may be used; empty = anywhere",
    )
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)

    _utc_expiry = field_validator("expires_at")(_utc)

    def to_domain(self) -> IdToken:
        return IdToken(
            id_token=self.id_token,
            type=self.type,
            status=self.status,
            expires_at=self.expires_at,
            group_id=self.group_id,
            restrictions=[Restriction(r.station_id, r.evse_id) for r in self.restrictions],
            description=self.description,
        )


class IdTokenPatch(BaseModel):
    """Fields left out are kept; null clears expires_at, group_id, description."""

    model_config = ConfigDict(extra="forbid")

    id_token: str | None = Field(None, min_length=1, max_length=ID_TOKEN_MAX)
    type: IdTokenType | None = None
    status: TokenStatus | None = None
    expires_at: datetime | None = None
    group_id: str | None = Field(None, min_length=1, max_length=GROUP_ID_MAX)
    restrictions: list[RestrictionModel] | None = Field(None, max_length=RESTRICTIONS_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)

    _utc_expiry = field_validator("expires_at")(_utc)

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "restrictions":
                value = [Restriction(r.station_id, r.evse_id) for r in value or []]
            out[name] = value
        return out


class IdTokenOut(BaseModel):
    id: int
    id_token: str
    type: IdTokenType
    status: TokenStatus
    expires_at: datetime | None = None
    group_id: str | None = None
    restrictions: list[RestrictionModel]
    description: str | None = None
    ocpp16_usable: bool = Field(
        description=f"false if longer than {ID_TAG_MAX} characters (1.6 idTag limit)"
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def build(cls, t: IdToken) -> "IdTokenOut":
        return cls(
            id=t.id or 0,
            id_token=t.id_token,
            type=t.type,
            status=t.status,
            expires_at=t.expires_at,
            group_id=t.group_id,
            restrictions=[
                RestrictionModel(station_id=r.station_id, evse_id=r.evse_id) for r in t.restrictions
            ],
            description=t.description,
            ocpp16_usable=len(t.id_token) <= ID_TAG_MAX,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )


class IdTokenPage(BaseModel):
    items: list[IdTokenOut]
    total: int
    limit: int
    offset: int


# local lists ---------------------------------------------------------------------------
class LocalListPush(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_ids: list[str] | None = Field(
        None, min_length=1, max_length=PUSH_STATIONS_MAX, description="the stations to update"
    )
    all_connected: bool = Field(False, description="every station connected now instead")
    update_type: Literal["full", "differential"] = Field(
        "full",
        description="differential sends what changed since the last accepted push (full "
        "if nothing was pushed before); a refused differential update is retried once full",
    )
    chunk_size: int = Field(
        DEFAULT_CHUNK,
        ge=1,
        le=MAX_CHUNK,
        description="entries per SendLocalList message (the station's SendLocalListMaxLength"
        " / ItemsPerMessageSendLocalList); each message takes the next list version",
    )

    @model_validator(mode="after")
    def _one_target(self) -> "LocalListPush":
        if bool(self.station_ids) == self.all_connected:
            raise ValueError("give either station_ids or all_connected: true")
        if self.station_ids is not None:
            for sid in self.station_ids:
                if not 1 <= len(sid) <= STATION_ID_MAX:
                    raise ValueError(f"station ids have 1..{STATION_ID_MAX} characters")
        return self


class PushResultOut(BaseModel):
    station_id: str
    status: str = Field(
        description="accepted, failed, versionmismatch, notsupported (the station's answer "
        "in lower case) or not_connected, timeout, error, unknown_station"
    )
    station_answer: str | None = Field(None, description="SendLocalList status as sent")
    update_type: str | None = None
    version: int | None = Field(None, description="the list version the station holds")
    entries: int = Field(0, description="entries sent")
    messages: int = Field(0, description="SendLocalList messages sent")
    retried_full: bool = False
    detail: str | None = None

    @classmethod
    def build(cls, r: PushResult) -> "PushResultOut":
        return cls(
            station_id=r.station_id,
            status=r.status,
            station_answer=r.station_answer,
            update_type=r.update_type,
            version=r.version,
            entries=r.entries,
            messages=r.messages,
            retried_full=r.retried_full,
            detail=r.detail,
        )


class LocalListPushOut(BaseModel):
    results: list[PushResultOut]


class LocalListEntryOut(BaseModel):
    id_token: str
    type: str
    status: str = Field(description="the status sent to the station")


class LocalListOut(BaseModel):
    station_id: str
    version: int = Field(description="the version Ampyre last pushed (0: never)")
    last_status: str | None = None
    updated_at: datetime | None = None
    entries: list[LocalListEntryOut]
    live_version: int | None = Field(
        default=None,
        description="with ?live=true: the station's own answer (0: empty, -1: unsupported)",
    )
    live_status: str | None = Field(
        default=None, description="with ?live=true: ok, or not_connected / timeout / error"
    )
    live_detail: str | None = None

    @classmethod
    def build(cls, station_id: str, s: LocalListState | None) -> "LocalListOut":
        if s is None:
            return cls(station_id=station_id, version=0, entries=[])
        return cls(
            station_id=station_id,
            version=s.version,
            last_status=s.last_status,
            updated_at=s.updated_at,
            entries=[
                LocalListEntryOut(id_token=k, type=v[0], status=status_of(v[1]))
                for k, v in sorted(s.entries.items())
            ],
        )


class StationAnswer(BaseModel):
    status: str = Field(description="the answer's status in lower case ('accepted', ...)")
    response: dict[str, Any] = Field(description="the station's CALLRESULT payload")


# reservations --------------------------------------------------------------------------
class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(min_length=1, max_length=STATION_ID_MAX)
    evse_id: int | None = Field(
        None, ge=0, description="1.6: the connectorId; null or 0 = any (if the station allows)"
    )
    id_token: str = Field(min_length=1, max_length=ID_TOKEN_MAX)
    id_token_type: IdTokenType | None = Field(
        None, description="default: the stored token's type, else ISO14443"
    )
    expires_at: datetime = Field(description="must be in the future (naive = UTC)")
    connector_type: str | None = Field(
        None, min_length=1, max_length=20, description="2.x only, e.g. cType2"
    )
    group_id: str | None = Field(
        None,
        min_length=1,
        max_length=GROUP_ID_MAX,
        description="1.6 parentIdTag / 2.x groupIdToken; default: the stored token's group",
    )

    _utc_expiry = field_validator("expires_at")(_utc)


class DeliveryOut(BaseModel):
    status: str = Field(
        description="the station's answer in lower case, or not_connected/timeout/error"
    )
    station_answer: str | None = None
    detail: str | None = None

    @classmethod
    def build(cls, d: Delivery) -> "DeliveryOut":
        return cls(status=d.status, station_answer=d.station_answer, detail=d.detail)


class ReservationOut(BaseModel):
    id: int = Field(description="also the reservationId sent to the station")
    station_id: str
    evse_id: int | None = None
    connector_type: str | None = None
    id_token: str
    id_token_type: IdTokenType
    group_id: str | None = None
    expires_at: datetime
    status: ReservationStatus
    station_answer: str | None = Field(None, description="the ReserveNow status as sent")
    transaction_id: int | None = Field(None, description="the Ampyre transaction that used it")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    delivery: DeliveryOut | None = Field(
        None, description="on create / cancel: how the command to the station went"
    )

    @classmethod
    def build(cls, r: Reservation, delivery: Delivery | None = None) -> "ReservationOut":
        return cls(
            id=r.id,
            station_id=r.station_id,
            evse_id=r.evse_id,
            connector_type=r.connector_type,
            id_token=r.id_token,
            id_token_type=r.id_token_type,
            group_id=r.group_id,
            expires_at=r.expires_at,
            status=r.status,
            station_answer=r.station_answer,
            transaction_id=r.transaction_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
            delivery=None if delivery is None else DeliveryOut.build(delivery),
        )


class ReservationPage(BaseModel):
    items: list[ReservationOut]
    total: int
    limit: int
    offset: int
