"""Schemas of the OCPI partner routes (api/routes/ocpi_partners.py): partners, our
identity, the exchange log and the push queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ampyre.domain.ocpi import Partner
from ampyre.services.ocpi_port import Exchange, PushItem


def _url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


def _token(value: str | None) -> str | None:
    # credentials 7.3.1: string(64), ASCII only.
    if value is not None and (not value.isascii() or not value.isprintable() or " " in value):
        raise ValueError("must be printable ASCII without spaces")
    return value


class PartnerIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    versions_url: str | None = Field(
        None, max_length=255, description="their versions endpoint (for us to register)"
    )
    token: str | None = Field(
        None, min_length=1, max_length=64, description="their token A (for us to register)"
    )

    _check_url = field_validator("versions_url")(_url)
    _check_token = field_validator("token")(_token)


class PartnerPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    versions_url: str | None = Field(None, max_length=255)
    token: str | None = Field(None, min_length=1, max_length=64)

    _check_url = field_validator("versions_url")(_url)
    _check_token = field_validator("token")(_token)


class RoleOut(BaseModel):
    role: str
    country_code: str
    party_id: str
    name: str | None = None
    website: str | None = None


class EndpointOut(BaseModel):
    identifier: str
    role: str
    url: str


class PartnerOut(BaseModel):
    id: int
    name: str
    status: str = Field(description="PENDING, REGISTERED or UNREGISTERED")
    versions_url: str | None
    version: str | None
    has_token: bool = Field(description="whether we hold a token to call them")
    roles: list[RoleOut]
    endpoints: list[EndpointOut]
    created_at: datetime
    updated_at: datetime
    registered_at: datetime | None
    last_error: str | None
    pending_pushes: int = 0
    failed_pushes: int = 0

    @classmethod
    def of(cls, p: Partner, counts: tuple[int, int] = (0, 0)) -> PartnerOut:
        return cls(
            id=p.id,
            name=p.name,
            status=p.status.value,
            versions_url=p.versions_url,
            version=p.version,
            has_token=bool(p.token_out),
            roles=[
                RoleOut(
                    role=r.role.value,
                    country_code=r.country_code,
                    party_id=r.party_id,
                    name=r.name,
                    website=r.website,
                )
                for r in p.roles
            ],
            endpoints=[
                EndpointOut(identifier=e.identifier, role=e.role.value, url=e.url)
                for e in p.endpoints
            ],
            created_at=p.created_at,
            updated_at=p.updated_at,
            registered_at=p.registered_at,
            last_error=p.last_error,
            pending_pushes=counts[0],
            failed_pushes=counts[1],
        )


class PartnerCreated(PartnerOut):
    token_a: str = Field(
        description="our token A for this partner, shown this once: give it to them with "
        "our versions URL so that they can register"
    )
    our_versions_url: str


class PartnerPage(BaseModel):
    items: list[PartnerOut]
    total: int
    limit: int
    offset: int


class TokenA(BaseModel):
    token_a: str
    our_versions_url: str


class IdentityOut(BaseModel):
    country_code: str
    party_id: str
    business_name: str
    website: str | None
    roles: list[str]
    versions_url: str


class ExchangeOut(BaseModel):
    id: int
    partner_id: int | None
    direction: str = Field(description="out: our request; in: theirs")
    method: str
    url: str
    http_status: int | None
    status_code: int | None = Field(description="the OCPI status_code of the answer")
    duration_ms: int
    error: str | None
    request_id: str | None
    correlation_id: str | None
    request_body: str | None
    response_body: str | None
    created_at: datetime

    @classmethod
    def of(cls, x: Exchange) -> ExchangeOut:
        return cls(
            id=x.id or 0,
            partner_id=x.partner_id,
            direction=x.direction,
            method=x.method,
            url=x.url,
            http_status=x.http_status,
            status_code=x.status_code,
            duration_ms=x.duration_ms,
            error=x.error,
            request_id=x.request_id,
            correlation_id=x.correlation_id,
            request_body=x.request_body,
            response_body=x.response_body,
            created_at=x.created_at,
        )


class ExchangePage(BaseModel):
    items: list[ExchangeOut]
    total: int
    limit: int
    offset: int


class PushOut(BaseModel):
    id: int
    partner_id: int
    method: str
    url: str
    object_key: str
    status: str = Field(description="pending or failed")
    attempts: int
    next_attempt_at: datetime
    last_http_status: int | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    body: Any = None

    @classmethod
    def of(cls, item: PushItem) -> PushOut:
        return cls(
            id=item.id,
            partner_id=item.partner_id,
            method=item.method,
            url=item.url,
            object_key=item.object_key,
            status=item.status.value,
            attempts=item.attempts,
            next_attempt_at=item.next_attempt_at,
            last_http_status=item.last_http_status,
            last_status_code=item.last_status_code,
            last_error=item.last_error,
            created_at=item.created_at,
            body=item.body,
        )


class PushPage(BaseModel):
    items: list[PushOut]
    total: int
    limit: int
    offset: int
