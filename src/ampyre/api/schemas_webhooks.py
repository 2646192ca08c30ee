"""JSON shapes of the webhook routes (the OpenAPI document describes them)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ampyre.domain.events import Delivery, DeliveryStatus, EventType, Webhook
from ampyre.services import webhook_rules as rules

_URL = Field(
    max_length=rules.URL_MAX,
    description="http:// or https:// URL that receives a POST per event; redirects are "
    "not followed",
    examples=["https://example.com/ampyre-events"],
)
_EVENT_TYPES_DOC = "event types to deliver; empty means every type"
_SECRET_DOC = (
    f"HMAC-SHA256 key for X-Ampyre-Signature, {rules.SECRET_MIN}..{rules.SECRET_MAX} "
    "printable characters without whitespace"
)


def _url(value: str) -> str:
    return rules.validate_url(value)  # InvalidWebhookInput is a ValueError -> 422


def _secret(value: str | None) -> str | None:
    return None if value is None else rules.validate_secret(value)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = _URL
    secret: str | None = Field(
        None, description=_SECRET_DOC + "; leave it out to have a strong one generated"
    )
    event_types: list[EventType] = Field(
        default_factory=list, max_length=len(EventType), description=_EVENT_TYPES_DOC
    )
    enabled: bool = True
    description: str | None = Field(None, max_length=rules.DESCRIPTION_MAX)

    @field_validator("url")
    @classmethod
    def check_url(cls, value: str) -> str:
        return _url(value)

    @field_validator("secret")
    @classmethod
    def check_secret(cls, value: str | None) -> str | None:
        return _secret(value)


class WebhookPatch(BaseModel):
    """Fields left out are kept."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=rules.URL_MAX)
    secret: str | None = Field(None, description=_SECRET_DOC + " (replaces the secret)")
    event_types: list[EventType] | None = Field(
        None, max_length=len(EventType), description=_EVENT_TYPES_DOC
    )
    enabled: bool | None = None
    description: str | None = Field(
        None, max_length=rules.DESCRIPTION_MAX, description="null clears it"
    )

    @field_validator("url")
    @classmethod
    def check_url(cls, value: str | None) -> str | None:
        return None if value is None else _url(value)

    @model_validator(mode="after")
    def check_nulls(self) -> "WebhookPatch":
        for name in ("url", "secret", "event_types", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (leave it out to keep it)")
        return self

    @field_validator("secret")
    @classmethod
    def check_secret(cls, value: str | None) -> str | None:
        return _secret(value)


class WebhookOut(BaseModel):
    id: int
    url: str
    event_types: list[str] = Field(description=_EVENT_TYPES_DOC)
    enabled: bool
    description: str | None = None
    has_secret: bool = Field(description="the secret itself is only shown when generated")
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def build(cls, hook: Webhook) -> "WebhookOut":
        return cls(
            id=hook.id or 0,
            url=hook.url,
            event_types=list(hook.event_types),
            enabled=hook.enabled,
            description=hook.description,
            has_secret=bool(hook.secret),
            created_at=hook.created_at,
            updated_at=hook.updated_at,
        )


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        None,
        description="the generated secret, shown this once; null when you supplied one",
    )


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    total: int
    limit: int
    offset: int


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = Field(None, description="HTTP status of the last attempt")
    last_error: str | None = Field(None, description="why the last attempt failed")
    next_attempt_at: datetime | None = Field(None, description="when pending: next attempt")
    created_at: datetime | None = None
    delivered_at: datetime | None = None
    payload: dict[str, Any] = Field(description="the JSON body POSTed to the URL")

    @classmethod
    def build(cls, d: Delivery) -> "DeliveryOut":
        return cls(
            id=d.id,
            webhook_id=d.webhook_id,
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            payload=rules.delivery_body(d),
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


class PingQueued(BaseModel):
    status: str = Field(default="queued", examples=["queued"])
