"""The rest of roaming as OCPI Sessions and CDRs see it (the RoamingLinks port): token
owners and grants (tokens), places (locations), prices (tariffs) and pushes
(partners and the push queue). Each collaborator is optional where roaming can do
without it: without locations a session's place is named after the station, without
tariffs nothing is priced, without tokens nothing roams."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ampyre.domain.cdrs import CdrLocation, ConnectorKind, cdr_location_of, pricing_of
from ampyre.domain.ocpi import OcpiRole, Partner
from ampyre.domain.ocpi_sessions import AuthMethod, CdrToken, Pricing, TokenGrant
from ampyre.domain.ocpi_tokens import AuthorizationKind, AuthorizationRecord, OcpiToken, TokenType
from ampyre.domain.pricing import PricedSession
from ampyre.services.ocpi_port import PushPort
from ampyre.services.roaming_port import Party, Place

UID_MAX = 36
DEFAULT_CONNECTOR = ConnectorKind("IEC_62196_T2", "SOCKET", "AC_3_PHASE")


class PartnerLookup(Protocol):
    async def by_party(
        self, country_code: str, party_id: str, role: OcpiRole | None = None
    ) -> Partner | None: ...


class PriceSource(Protocol):
    async def price_transaction(
        self, transaction_pk: int, until: datetime | None = None
    ) -> PricedSession | None: ...


class LocationSource(Protocol):
    def evse_uid(self, station_id: str, evse_id: int) -> str: ...
    async def location_of(self, station_id: str) -> str | None: ...
    async def cdr_location(
        self, station_id: str, evse_id: int, connector_id: int
    ) -> dict[str, Any] | None: ...


class TokenSource(Protocol):
    async def lookup(self, uid: str, type_: TokenType | None = None) -> OcpiToken | None: ...
    async def authorization(self, station_id: str, uid: str) -> AuthorizationRecord | None: ...


# How a roaming authorization came about, as mod_cdrs AuthMethod.
_METHODS = {
    AuthorizationKind.WHITELIST: AuthMethod.WHITELIST,
    AuthorizationKind.REALTIME: AuthMethod.AUTH_REQUEST,
    AuthorizationKind.COMMAND: AuthMethod.COMMAND,
}


class Links:
    """RoamingLinks over the roaming services (built in roaming.py)."""

    def __init__(
        self,
        our_party: Callable[[], Party],
        partners: PartnerLookup | None,
        push: PushPort | None,
        *,
        tokens: Callable[[], TokenSource | None] = lambda: None,
        locations: Callable[[], LocationSource | None] = lambda: None,
        tariffs: Callable[[], PriceSource | None] = lambda: None,
        currency: str = "EUR",
        connector: ConnectorKind = DEFAULT_CONNECTOR,
    ) -> None:
        """`tokens`, `locations` and `tariffs` are looked up at each use (roaming builds
        them in any order; a part that is not there is done without)."""
        self._our_party = our_party
        self._partners = partners
        self._push = push
        self._tokens = tokens
        self._locations = locations
        self._tariffs = tariffs
        self._currency = currency
        self._connector = connector

    @property
    def our_party(self) -> Party:
        cc, pid = self._our_party()
        return (cc.upper(), pid.upper())

    async def roaming_token(
        self, uid: str, station_id: str, remote_start: bool
    ) -> TokenGrant | None:
        tokens = self._tokens()
        if tokens is None:
            return None
        token = await tokens.lookup(uid)
        if token is None:
            return None
        record = await tokens.authorization(station_id, token.uid)
        if record is not None:
            method = _METHODS.get(record.kind, AuthMethod.WHITELIST)
            reference = record.authorization_reference
        else:
            method = AuthMethod.COMMAND if remote_start else AuthMethod.WHITELIST
            reference = None
        cdr_token = CdrToken(
            country_code=token.country_code,
            party_id=token.party_id,
            uid=token.uid[:UID_MAX],
            type=token.type.value,
            contract_id=token.contract_id[:UID_MAX],
        )
        return TokenGrant(cdr_token, method, reference)

    async def place(self, station_id: str, evse_id: int | None, connector_id: int | None) -> Place:
        evse = evse_id if evse_id is not None else (connector_id or 1)
        connector = str(connector_id if connector_id is not None else 1)
        locations = self._locations()
        if locations is None:
            return Place(station_id[:36], f"{station_id}*{evse}"[:36], connector)
        location = await locations.location_of(station_id)
        uid = locations.evse_uid(station_id, evse)
        return Place(location or station_id[:36], uid, connector)

    async def cdr_location(
        self, station_id: str, evse_id: int | None, connector_id: int | None
    ) -> CdrLocation:
        place = await self.place(station_id, evse_id, connector_id)
        obj = None
        locations = self._locations()
        if locations is not None:
            evse = evse_id if evse_id is not None else (connector_id or 1)
            obj = await locations.cdr_location(station_id, evse, int(place.connector_id))
        return cdr_location_of(
            obj,
            location_id=place.location_id,
            evse_uid=place.evse_uid,
            connector_id=place.connector_id,
            kind=self._connector,
        )

    async def price(self, transaction_pk: int, until: datetime | None = None) -> Pricing | None:
        tariffs = self._tariffs()
        if tariffs is None:
            return None
        priced = await tariffs.price_transaction(transaction_pk, until)
        return None if priced is None else pricing_of(priced)

    def default_currency(self) -> str:
        return self._currency

    async def partner_of(self, owner: Party) -> int | None:
        if self._partners is None:
            return None
        partner = await self._partners.by_party(owner[0], owner[1], OcpiRole.EMSP)
        return None if partner is None else partner.id

    async def push(
        self, owner: Party, module: str, method: str, path: str, body: Any, object_key: str
    ) -> int | None:
        if self._partners is None or self._push is None:
            return None
        partner = await self._partners.by_party(owner[0], owner[1], OcpiRole.EMSP)
        if partner is None:
            return None
        if not await self._push.to_partner(partner, module, method, path, body, object_key):
            return None
        return partner.id
