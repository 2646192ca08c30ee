"""Ports of OCPI roaming's core: the outgoing OCPI client, and the stores of partners,
the exchange log and the push queue (adapters/db/ocpi.py implements the stores,
adapters/ocpi/client.py the client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from ampyre.domain.models import Page
from ampyre.domain.ocpi import Endpoint, InterfaceRole, OcpiRole, Partner, PartnerStatus, PartyRole


@dataclass(frozen=True, slots=True)
class OcpiReply:
    """One answer of another platform: the HTTP status and, when the body was an OCPI
    envelope, its status_code, status_message and data."""

    http_status: int
    status_code: int | None
    status_message: str | None
    data: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        # OCPI 2.2.1 status_codes 5.1: 1xxx is success.
        return (
            200 <= self.http_status < 300
            and self.status_code is not None
            and 1000 <= self.status_code < 2000
        )

    def describe(self) -> str:
        parts = [f"HTTP {self.http_status}"]
        if self.status_code is not None:
            parts.append(f"OCPI {self.status_code}")
        if self.status_message:
            parts.append(self.status_message[:200])
        return ", ".join(parts)


class OcpiCallFailed(Exception):
    """A call that got no usable answer after its attempts (network error, timeout,
    HTTP 5xx/408/429, or a body that was not an OCPI envelope)."""

    def __init__(
        self, message: str, *, http_status: int | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.status_code = status_code


class OcpiClient(Protocol):
    async def request(
        self,
        partner: Partner,
        method: str,
        url: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
        party_role: OcpiRole | None = None,
    ) -> OcpiReply:
        """A call to a functional module of a partner with its credentials token and the
        routing headers. Retries network errors and HTTP 5xx/408/429 with backoff, then
        raises OcpiCallFailed; any other answer is returned (check `.ok`)."""
        ...

    def get_all(
        self, partner: Partner, url: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every object of a paginated Sender GET, following the Link rel="next" headers."""
        ...

    async def call(
        self,
        token: str,
        method: str,
        url: str,
        *,
        body: object = None,
        partner_id: int | None = None,
    ) -> OcpiReply:
        """A call to a configuration module (versions, details, credentials) with this
        token: no routing headers (transport_and_format 4.1.5)."""
        ...


# ------------------------------------------------------------------ partners


@dataclass(slots=True)
class PartnerUpdate:
    """Changes to a partner row: a None field is left as it is; names in `clear` are
    set to NULL (tokens, errors) or emptied (endpoints, roles)."""

    name: str | None = None
    status: PartnerStatus | None = None
    versions_url: str | None = None
    version: str | None = None
    endpoints: tuple[Endpoint, ...] | None = None
    roles: tuple[PartyRole, ...] | None = None
    registered_at: datetime | None = None
    token_out: str | None = None
    token_in_hash: str | None = None
    token_in_next_hash: str | None = None
    last_error: str | None = None
    clear: frozenset[str] = frozenset()


class PartnerStore(Protocol):
    async def add_partner(
        self,
        name: str,
        versions_url: str | None,
        token_out: str | None,
        token_in_hash: str,
        now: datetime,
    ) -> Partner: ...

    async def get_partner(self, partner_id: int) -> Partner | None: ...

    async def list_partners(self) -> list[Partner]: ...

    async def partner_by_token_hash(self, token_hash: str) -> tuple[Partner, bool] | None:
        """The partner whose current (True) or next (False: being handed over) incoming
        token this is."""
        ...

    async def update_partner(
        self, partner_id: int, change: PartnerUpdate, now: datetime
    ) -> Partner | None: ...

    async def delete_partner(self, partner_id: int) -> bool: ...


# ------------------------------------------------------------------ exchange log


@dataclass(frozen=True, slots=True)
class Exchange:
    """One OCPI request and its answer, ours ("out") or a partner's ("in")."""

    partner_id: int | None
    direction: str  # "out" | "in"
    method: str
    url: str
    http_status: int | None  # None: no answer (network error, timeout)
    status_code: int | None  # the envelope's OCPI status_code
    duration_ms: int
    error: str | None
    request_id: str | None
    correlation_id: str | None
    request_body: str | None
    response_body: str | None
    created_at: datetime
    id: int | None = None


class ExchangeStore(Protocol):
    async def add_exchanges(self, exchanges: Sequence[Exchange]) -> None: ...

    async def list_exchanges(self, partner_id: int | None, limit: int, offset: int) -> Page:
        """Newest first."""
        ...

    async def prune_exchanges(self, older_than: datetime) -> int: ...


# ------------------------------------------------------------------ push queue


class PushStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt, or being sent
    FAILED = "failed"  # attempts exhausted or refused by the partner: kept for the operator


@dataclass(frozen=True, slots=True)
class PushItem:
    id: int
    partner_id: int
    method: str
    url: str
    body: Any
    object_key: str
    status: PushStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_http_status: int | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What an attempt left: `retry_at` None with `failed` True ends the row as failed."""

    attempts: int
    failed: bool
    retry_at: datetime | None
    http_status: int | None
    status_code: int | None
    error: str | None


class PushPort(Protocol):
    """What services need of the durable OCPI push queue (OcpiPush)."""

    async def enqueue(
        self,
        partner_id: int,
        method: str,
        url: str,
        body: object | None,
        object_key: str,
        *,
        delay: float = 0.0,
    ) -> None: ...

    async def to_receivers(
        self,
        module: str,
        method: str,
        path: str,
        body: object | None,
        object_key: str,
        party_role: OcpiRole = OcpiRole.EMSP,
    ) -> int: ...

    async def to_partner(
        self,
        partner: Partner,
        module: str,
        method: str,
        path: str,
        body: object | None,
        object_key: str,
        role: InterfaceRole = InterfaceRole.RECEIVER,
        *,
        delay: float = 0.0,
    ) -> bool: ...


class PushStore(Protocol):
    async def add_push(
        self,
        partner_id: int,
        method: str,
        url: str,
        body: Any,
        object_key: str,
        now: datetime,
        *,
        supersede: bool,
        due: datetime | None = None,
    ) -> int:
        """Queue one request (after the others of its (partner, object_key)); with
        `supersede`, the pending PUT/PATCH rows of that pair no one is sending are dropped
        first (a full PUT or a DELETE makes them moot). `due`: not sent before then
        (default `now`); the later rows of its object wait behind it."""
        ...

    async def claim_pushes(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[PushItem]:
        """Due pending rows that are first of their (partner, object_key), claimed by
        `owner` until now + lease (order per object holds across processes)."""
        ...

    async def push_delivered(self, item_id: int, owner: str) -> bool: ...

    async def push_attempted(self, item_id: int, owner: str, outcome: PushOutcome) -> bool: ...

    async def release_pushes(self, owner: str) -> None: ...

    async def get_push(self, item_id: int) -> PushItem | None: ...

    async def list_pushes(
        self, partner_id: int | None, status: PushStatus | None, limit: int, offset: int
    ) -> Page: ...

    async def retry_push(self, item_id: int, now: datetime) -> PushItem | None: ...

    async def delete_push(self, item_id: int) -> bool: ...

    async def drop_partner_pushes(self, partner_id: int) -> int: ...

    async def push_counts(self) -> dict[int, tuple[int, int]]:
        """Per partner id: (pending, failed)."""
        ...
