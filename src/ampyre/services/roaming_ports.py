"""Ports of roaming tokens and commands (OCPI 2.2.1, issue 20).

- `RoamingAuthorizer`: what `AuthService.authorize` consults for an id token Ampyre does
  not know (a roaming token); None when it is no roaming token either.
- `RoamingTokenStore` / `RoamingCommandStore`: their storage (adapters/db/ocpi_tokens.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from ampyre.domain.authz import AuthDecision
from ampyre.domain.models import Page
from ampyre.domain.ocpi import InterfaceRole, OcpiRole, Partner
from ampyre.domain.ocpi_commands import (
    CommandDirection,
    CommandRecord,
    CommandResultType,
)
from ampyre.domain.ocpi_tokens import (
    AuthorizationRecord,
    OcpiToken,
    StoredToken,
    TokenType,
)


class RoamingAuthorizer(Protocol):
    async def authorize(
        self, station_id: str, id_token: str, type_: str | None, evse_id: int | None
    ) -> AuthDecision | None:
        """The answer for an id token that is not one of Ampyre's own, or None if it is
        no roaming token either (the caller keeps its Unknown)."""
        ...


class RoamingTokenStore(Protocol):
    # CPO: roaming tokens held.
    async def get_token(
        self, country_code: str, party_id: str, uid: str, type_: TokenType
    ) -> StoredToken | None: ...

    async def get_token_by_id(self, token_id: int) -> StoredToken | None: ...

    async def save_token(self, stored: StoredToken) -> StoredToken:
        """Insert or replace (owner, uid ignoring case, type). A token carried by a
        command never replaces a pushed one."""
        ...

    async def find_tokens(self, uid: str) -> list[StoredToken]:
        """Every held token with this uid (ignoring case), oldest first."""
        ...

    async def list_tokens(
        self,
        limit: int,
        offset: int,
        country_code: str | None = None,
        party_id: str | None = None,
        uid: str | None = None,
    ) -> Page: ...

    async def count_tokens_of(self, partner_id: int) -> int: ...

    # eMSP: Ampyre's own tokens as published.
    async def id_tokens_fingerprint(self) -> tuple[datetime | None, int]:
        """(latest updated_at, count) of Ampyre's id tokens: unchanged -> nothing to do."""
        ...

    async def published(self) -> list[tuple[int | None, OcpiToken]]:
        """Every published token with the id of the Ampyre id token it was made from."""
        ...

    async def save_published(self, tokens: Sequence[tuple[int | None, OcpiToken]]) -> None: ...

    async def list_published(
        self,
        limit: int,
        offset: int,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> Page: ...

    # Roaming authorizations.
    async def add_authorization(self, record: AuthorizationRecord) -> AuthorizationRecord: ...

    async def active_grant(
        self, station_id: str, uid: str, now: datetime
    ) -> AuthorizationRecord | None:
        """The latest accepted authorization of this token at this station whose
        `valid_until` is after `now`."""
        ...

    async def latest_accepted(self, station_id: str, uid: str) -> AuthorizationRecord | None:
        """The latest accepted authorization of this token at this station."""
        ...

    async def latest_reference(self, station_id: str, uid: str) -> str | None: ...

    async def list_authorizations(self, limit: int, offset: int) -> Page: ...

    async def prune_authorizations(self, before: datetime) -> int: ...


class RoamingCommandStore(Protocol):
    async def add_command(self, record: CommandRecord) -> CommandRecord: ...

    async def update_command(self, record: CommandRecord) -> None: ...

    async def finish_command(
        self, command_id: int, result: CommandResultType, message: str | None, at: datetime
    ) -> bool:
        """Set the result once: False if the command already has one."""
        ...

    async def get_command(self, command_id: int) -> CommandRecord | None: ...

    async def get_command_by_uid(self, uid: str) -> CommandRecord | None: ...

    async def list_commands(
        self,
        limit: int,
        offset: int,
        direction: CommandDirection | None = None,
        partner_id: int | None = None,
        command: str | None = None,
    ) -> Page: ...

    async def find_reservation(
        self, country_code: str, party_id: str, ocpi_reservation_id: str
    ) -> CommandRecord | None:
        """The latest RESERVE_NOW received from this eMSP with this reservation_id
        (CiString: ignoring case) that made an Ampyre reservation."""
        ...

    async def unfinished(self, before: datetime) -> list[CommandRecord]:
        """Received commands whose result was never sent and whose timeout is before."""
        ...


class PartnersPort(Protocol):
    """What roaming tokens and commands need of PartnerService."""

    async def get(self, partner_id: int) -> Partner | None: ...

    async def by_party(
        self, country_code: str, party_id: str, role: OcpiRole | None = None
    ) -> Partner | None: ...

    async def registered_with(
        self, module: str, role: InterfaceRole, party_role: OcpiRole | None = None
    ) -> list[Partner]: ...


class LocationsPort(Protocol):
    """What they need of LocationService (Ampyre's stations as OCPI locations)."""

    def evse_uid(self, station_id: str, evse_id: int) -> str: ...

    async def location_of(self, station_id: str) -> str | None: ...

    async def resolve_evse(self, location_id: str, evse_uid: str) -> tuple[str, int] | None: ...

    async def resolve_connector(
        self, location_id: str, evse_uid: str, connector_id: str
    ) -> tuple[str, int, int] | None: ...

    async def ocpi_location(self, location_id: str) -> dict[str, Any] | None: ...
