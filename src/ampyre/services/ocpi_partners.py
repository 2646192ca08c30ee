"""Our OCPI identity, and the partners we roam with: who they are, which of their
endpoints we may push to, and which partner a credentials token belongs to.

Tokens: each partner presents a token we issued (token A before the handshake, then B or
C); we keep only its SHA-256 (services/secrets.py). A token of a partner that is not
REGISTERED, or one still being handed over, opens only versions, details and credentials
(OCPI 2.2.1 transport_and_format 4.1.2). Lookups are cached for TOKEN_CACHE_TTL seconds;
a change made on this process clears the cache at once (other nodes see it within the TTL).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ampyre.config import Settings
from ampyre.domain.ocpi import (
    OCPI_VERSION,
    InterfaceRole,
    OcpiRole,
    Partner,
    PartyRole,
)
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_port import PartnerStore, PartnerUpdate
from ampyre.services.secrets import hash_api_token

TOKEN_CACHE_TTL = 5.0
TOKEN_CACHE_MAX = 10_000
# The partner list behind registered_with / by_party (asked on every push): re-read at
# most this often; a change on this process drops it at once.
LIST_CACHE_TTL = 2.0


class PartnerConflict(Exception):
    """The partner is not in the state the action needs (e.g. already registered)."""


def new_credentials_token() -> str:
    # 256 random bits in 43 URL-safe ASCII characters (Credentials.token is string(64),
    # "ASCII only", credentials 7.3.1).
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hash_api_token(token)


class OcpiIdentity:
    """Our party: country code, party id, business details and roles (settings), and the
    URLs of our OCPI server (the public base URL is known once the HTTP server listens)."""

    def __init__(self, settings: Settings, base_url: Callable[[], str]) -> None:
        self.country_code = settings.ocpi_country_code.upper()
        self.party_id = settings.ocpi_party_id.upper()
        self.business_name = settings.ocpi_business_name
        self.website = settings.ocpi_business_website or None
        self.roles: tuple[OcpiRole, ...] = tuple(
            dict.fromkeys(OcpiRole(r.upper()) for r in settings.ocpi_roles)
        )
        self._configured = settings.ocpi_base_url.rstrip("/")
        self._base_url = base_url

    def base_url(self) -> str:
        return self._configured or self._base_url().rstrip("/") + "/ocpi"

    def versions_url(self) -> str:
        return f"{self.base_url()}/versions"

    def details_url(self) -> str:
        return f"{self.base_url()}/{OCPI_VERSION}/details"

    def credentials_url(self) -> str:
        return f"{self.base_url()}/{OCPI_VERSION}/credentials"

    def module_url(self, party: str, identifier: str) -> str:
        return f"{self.base_url()}/{party}/{OCPI_VERSION}/{identifier}"

    def serves(self, role: OcpiRole) -> bool:
        return role in self.roles

    def party(self, role: OcpiRole | None = None) -> PartyRole:
        chosen = role if role is not None and role in self.roles else self.roles[0]
        return PartyRole(chosen, self.country_code, self.party_id, self.business_name, self.website)

    def credentials_roles(self) -> list[dict[str, Any]]:
        """Our CredentialsRole list (credentials 7.4.1)."""
        details: dict[str, Any] = {"name": self.business_name}
        if self.website:
            details["website"] = self.website
        return [
            {
                "role": role.value,
                "business_details": details,
                "party_id": self.party_id,
                "country_code": self.country_code,
            }
            for role in self.roles
        ]

    def credentials(self, token: str) -> dict[str, Any]:
        """Our Credentials object (credentials 7.3.1) carrying `token` for the other side."""
        return {"token": token, "url": self.versions_url(), "roles": self.credentials_roles()}


@dataclass(frozen=True, slots=True)
class TokenMatch:
    partner: Partner
    # The token is the partner's current one and the partner is REGISTERED: every module
    # is open. False: only versions, details and credentials (token A, or one being handed
    # over).
    full: bool


class PartnerService:
    def __init__(
        self,
        store: PartnerStore,
        identity: OcpiIdentity,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.identity = identity
        self._clock = clock
        self._cache: dict[str, tuple[float, TokenMatch]] = {}
        self._listed: tuple[float, list[Partner]] | None = None

    def forget(self) -> None:
        """Drop cached token lookups and the partner list (after a change to a partner)."""
        self._cache.clear()
        self._listed = None

    async def _recent(self) -> list[Partner]:
        now = time.monotonic()
        if self._listed is not None and self._listed[0] > now:
            return self._listed[1]
        partners = await self.store.list_partners()
        self._listed = (now + LIST_CACHE_TTL, partners)
        return partners

    async def by_token(self, token: str) -> TokenMatch | None:
        digest = token_hash(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.store.partner_by_token_hash(digest)
        if found is None:
            return None
        partner, current = found
        match = TokenMatch(partner, current and partner.registered)
        if len(self._cache) >= TOKEN_CACHE_MAX:
            self._cache.clear()
        self._cache[digest] = (now + TOKEN_CACHE_TTL, match)
        return match

    async def get(self, partner_id: int) -> Partner | None:
        return await self.store.get_partner(partner_id)

    async def registered_with(
        self, module: str, role: InterfaceRole, party_role: OcpiRole | None = None
    ) -> list[Partner]:
        """REGISTERED partners with an endpoint (module, role), and a party of
        `party_role` when given."""
        return [
            p
            for p in await self._recent()
            if p.registered
            and p.endpoint(module, role) is not None
            and (party_role is None or p.has_role(party_role))
        ]

    async def by_party(
        self, country_code: str, party_id: str, role: OcpiRole | None = None
    ) -> Partner | None:
        """The REGISTERED partner that has this party (of this role, when given)."""
        for partner in await self._recent():
            if not partner.registered:
                continue
            for party in partner.roles:
                if party.same_party(country_code, party_id) and (
                    role is None or party.role is role
                ):
                    return partner
        return None

    async def create(
        self, name: str, versions_url: str | None = None, token: str | None = None
    ) -> tuple[Partner, str]:
        """A new PENDING partner and our token A for it (shown once). With their
        `versions_url` and token A, we can register ourselves (OcpiCredentials.register);
        with our token A and versions URL, they can."""
        token_a = new_credentials_token()
        partner = await self.store.add_partner(
            name, versions_url, token, token_hash(token_a), self._clock()
        )
        self.forget()
        return partner, token_a

    async def new_token_a(self, partner_id: int) -> str | None:
        """A new token A for a partner that is not registered (the old one stops working);
        None: no such partner. PartnerConflict if it is registered."""
        partner = await self.store.get_partner(partner_id)
        if partner is None:
            return None
        if partner.registered:
            raise PartnerConflict("the partner is registered: update its credentials instead")
        token_a = new_credentials_token()
        await self.update(
            partner_id,
            PartnerUpdate(
                token_in_hash=token_hash(token_a), clear=frozenset({"token_in_next_hash"})
            ),
        )
        return token_a

    async def set_remote(
        self, partner_id: int, versions_url: str | None, token: str | None
    ) -> Partner | None:
        """Their versions URL and token A (for us to register with them); PartnerConflict
        if registered."""
        partner = await self.store.get_partner(partner_id)
        if partner is None:
            return None
        if partner.registered:
            raise PartnerConflict("the partner is registered: update its credentials instead")
        return await self.update(
            partner_id, PartnerUpdate(versions_url=versions_url, token_out=token)
        )

    async def update(self, partner_id: int, change: PartnerUpdate) -> Partner | None:
        updated = await self.store.update_partner(partner_id, change, self._clock())
        self.forget()
        return updated

    async def delete(self, partner_id: int) -> bool:
        deleted = await self.store.delete_partner(partner_id)
        self.forget()
        return deleted

    # Last: below it, `list` in this class body would name this method.
    async def list(self) -> list[Partner]:
        return await self.store.list_partners()
