"""Roaming tokens as a CPO (OCPI 2.2.1 mod_tokens, Receiver interface) and the roaming
authorization of an id token that is not one of Ampyre's own.

eMSPs push their tokens (PUT/PATCH, or Ampyre pulls them with the Sender GET); they are
held per (owner, uid, type). When a station presents an id token Ampyre does not know,
`AuthService.authorize` asks `authorize` here (the RoamingAuthorizer port):

1. a grant: a START_SESSION / RESERVE_NOW of the token's eMSP at this station within 15
   minutes (mod_commands 13.3.5/13.3.6), or an accepted real-time answer of the last
   `ocpi_realtime_auth_cache` seconds (a session authorizes twice: Authorize, then the
   start) -> Accepted without asking again;
2. a held token -> its whitelist type decides (domain.ocpi_tokens.plan_for): from the
   token itself, or by real-time authorization (POST {tokens}/{uid}/authorize) at its
   eMSP with at most `ocpi_realtime_auth_timeout` seconds, falling back on the token
   (ALLOWED_OFFLINE) or on `ocpi_realtime_auth_fallback` (NEVER) without an answer;
3. no held token -> not a roaming token (None), unless `ocpi_realtime_auth_unknown`:
   then every eMSP partner with a tokens Sender interface is asked at once.

Every decision is recorded (ocpi_authorizations) so sessions and CDRs can name how the
token was authorized and the eMSP's authorization_reference. The eMSP side (our own
tokens published, real-time answers) is services/roaming_publish.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from ampyre.config import Settings
from ampyre.domain.authz import AuthDecision, AuthStatus
from ampyre.domain.models import Page
from ampyre.domain.ocpi import InterfaceRole, OcpiRole, Partner
from ampyre.domain.ocpi_tokens import (
    COMMAND_GRANT_SECONDS,
    UID_MAX,
    AllowedType,
    AuthorizationInfo,
    AuthorizationKind,
    AuthorizationRecord,
    LocationReferences,
    OcpiToken,
    Plan,
    StoredToken,
    TokenSource,
    TokenType,
    WhitelistType,
    location_to_json,
    ocpi_types_for,
    plan_for,
    status_of_answer,
    whitelisted_status,
)
from ampyre.domain.ocpi_tokens_parse import (
    InvalidObject,
    check_token_patch,
    parse_authorization_info,
    parse_token,
    patched_token,
)
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiClient
from ampyre.services.roaming_ports import LocationsPort, PartnersPort, RoamingTokenStore

log = logging.getLogger(__name__)

TOKENS: Final = "tokens"
ASK_UNKNOWN_MAX: Final = 20  # eMSP partners asked at once about a token none pushed


class TokenMismatch(InvalidObject):
    """A pushed token whose owner, uid or type differ from its URL (mod_tokens
    12.2.1.2: they SHALL be the same)."""


class RoamingTokens:
    def __init__(
        self,
        store: RoamingTokenStore,
        partners: PartnersPort,
        client: OcpiClient,
        settings: Settings,
        locations: LocationsPort | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._partners = partners
        self._client = client
        self._settings = settings
        self.locations = locations
        self._clock = clock

    # ------------------------------------------------------------------ receiver

    async def get(
        self, country_code: str, party_id: str, uid: str, type_: TokenType
    ) -> OcpiToken | None:
        stored = await self._store.get_token(country_code, party_id, uid, type_)
        return None if stored is None else stored.token

    async def put(
        self,
        partner: Partner,
        country_code: str,
        party_id: str,
        uid: str,
        type_: TokenType,
        body: Mapping[str, Any],
    ) -> OcpiToken:
        """Store a pushed Token. Raises InvalidObject (2001)."""
        token = parse_token(body)
        for name, expected, got in (
            ("country_code", country_code, token.country_code),
            ("party_id", party_id, token.party_id),
            ("uid", uid, token.uid),
        ):
            if expected.lower() != got.lower():
                raise TokenMismatch(f"{name} {got!r} differs from the URL's {expected!r}", name)
        if token.type is not type_:
            raise TokenMismatch(
                f"type {token.type.value} differs from the URL's {type_.value}", "type"
            )
        await self._store.save_token(
            StoredToken(token, TokenSource.PUSH, partner.id, self._clock())
        )
        return token

    async def patch(
        self,
        partner: Partner,
        country_code: str,
        party_id: str,
        uid: str,
        type_: TokenType,
        body: Mapping[str, Any],
    ) -> OcpiToken | None:
        """Apply a PATCH to a held token (None: unknown). Raises InvalidObject (2001)."""
        changes = check_token_patch(body)
        stored = await self._store.get_token(country_code, party_id, uid, type_)
        if stored is None:
            return None
        token = patched_token(stored.token, changes)
        await self._store.save_token(
            StoredToken(token, TokenSource.PUSH, partner.id, self._clock())
        )
        return token

    async def hold_command_token(self, partner: Partner, token: OcpiToken) -> None:
        """Keep the token of a START_SESSION / RESERVE_NOW (mod_commands 13.3.6: its
        information SHALL be in the Session and CDR); a pushed token is not replaced."""
        await self._store.save_token(
            StoredToken(token, TokenSource.COMMAND, partner.id, self._clock())
        )

    async def grant(
        self,
        partner: Partner,
        token: OcpiToken,
        station_id: str,
        evse_id: int | None,
        location_id: str,
        authorization_reference: str | None,
    ) -> None:
        """A command of the token's eMSP authorizes it at this station for 15 minutes:
        no real-time authorization meanwhile (mod_commands 13.3.5 / 13.3.6)."""
        now = self._clock()
        await self._store.add_authorization(
            AuthorizationRecord(
                kind=AuthorizationKind.COMMAND,
                uid=token.uid,
                created_at=now,
                token_type=token.type.value,
                country_code=token.country_code,
                party_id=token.party_id,
                partner_id=partner.id,
                station_id=station_id,
                evse_id=evse_id,
                location_id=location_id,
                outcome=AuthStatus.ACCEPTED.value,
                authorization_reference=authorization_reference,
                valid_until=now + timedelta(seconds=COMMAND_GRANT_SECONDS),
            )
        )

    # ------------------------------------------------------------------ reads

    async def lookup(self, uid: str, type_: TokenType | None = None) -> OcpiToken | None:
        """The roaming token with this uid (case insensitive), pushed before carried by a
        command; None for a token of no partner."""
        held = await self._store.find_tokens(uid)
        if type_ is not None:
            held = [s for s in held if s.token.type is type_]
        if not held:
            return None
        held.sort(key=lambda s: (s.source is not TokenSource.PUSH, s.token.uid != uid))
        return held[0].token

    async def authorization(self, station_id: str, uid: str) -> AuthorizationRecord | None:
        """The latest accepted roaming authorization of the token at the station (kind:
        whitelist / realtime / command, and the eMSP's authorization_reference)."""
        return await self._store.latest_accepted(station_id, uid)

    async def authorization_reference(self, station_id: str, uid: str) -> str | None:
        return await self._store.latest_reference(station_id, uid)

    async def list_received(
        self,
        limit: int,
        offset: int,
        country_code: str | None = None,
        party_id: str | None = None,
        uid: str | None = None,
    ) -> Page:
        return await self._store.list_tokens(limit, offset, country_code, party_id, uid)

    async def get_received(self, token_id: int) -> StoredToken | None:
        return await self._store.get_token_by_id(token_id)

    async def list_authorizations(self, limit: int, offset: int) -> Page:
        return await self._store.list_authorizations(limit, offset)

    # ------------------------------------------------------------------ OCPP side

    async def authorize(
        self, station_id: str, id_token: str, type_: str | None, evse_id: int | None
    ) -> AuthDecision | None:
        """The RoamingAuthorizer port (see the module's docstring)."""
        if not 1 <= len(id_token) <= UID_MAX:
            return None  # OCPI uids have at most 36 characters: no roaming token
        now = self._clock()
        grant = await self._store.active_grant(station_id, id_token, now)
        if grant is not None:
            held = await self.lookup(id_token)
            return AuthDecision(
                AuthStatus.ACCEPTED, group_id=None if held is None else held.group_id
            )
        token = _pick(await self._store.find_tokens(id_token), id_token, type_)
        if token is None:
            if self._settings.ocpi_realtime_auth_unknown:
                return await self._ask_everyone(station_id, id_token, type_, evse_id)
            return None
        plan = plan_for(token.token.whitelist)
        if plan is Plan.WHITELIST:
            status = whitelisted_status(token.token)
            await self._record(AuthorizationKind.WHITELIST, token, station_id, evse_id, status)
            return self._decision(token.token, status, "whitelist")
        partner = await self._owner(token)
        info, why = await self._ask(partner, token.token, station_id, evse_id)
        if info is not None and info.token is _UNKNOWN_MARK:
            await self._record(
                AuthorizationKind.REALTIME,
                token,
                station_id,
                evse_id,
                AuthStatus.INVALID,
                reason=why,
            )
            return self._decision(token.token, AuthStatus.INVALID, why)
        if info is not None:
            status = status_of_answer(info, self._evse_uid(station_id, evse_id))
            await self._record(
                AuthorizationKind.REALTIME, token, station_id, evse_id, status, info=info
            )
            return self._decision(token.token, status, f"eMSP answered {info.allowed.value}")
        if plan is Plan.REALTIME_OR_TOKEN:
            # ALLOWED_OFFLINE: "when the CPO cannot get a response from the eMSP ... the
            # CPO shall allow this Token to be used": as its pushed state says.
            status = whitelisted_status(token.token)
            reason = f"{why}; ALLOWED_OFFLINE: the pushed token decides"
        else:
            accept = self._settings.ocpi_realtime_auth_fallback == "accept"
            status = AuthStatus.ACCEPTED if accept else AuthStatus.INVALID
            reason = f"{why}; fallback {self._settings.ocpi_realtime_auth_fallback}"
        log.warning("%s: real-time authorization of %s: %s", station_id, _mask(id_token), reason)
        await self._record(
            AuthorizationKind.REALTIME, token, station_id, evse_id, status, reason=reason
        )
        return self._decision(token.token, status, reason)

    def _decision(self, token: OcpiToken, status: AuthStatus, why: str) -> AuthDecision:
        return AuthDecision(
            status,
            group_id=token.group_id,
            reason=None if status is AuthStatus.ACCEPTED else f"roaming token: {why}",
        )

    async def _owner(self, stored: StoredToken) -> Partner | None:
        """The eMSP to ask: the partner that pushed the token, else the registered
        partner with the token's party."""
        if stored.partner_id is not None:
            partner = await self._partners.get(stored.partner_id)
            if partner is not None and partner.registered:
                return partner
        cc, pid = stored.token.owner
        return await self._partners.by_party(cc, pid, OcpiRole.EMSP)

    def _evse_uid(self, station_id: str, evse_id: int | None) -> str | None:
        if self.locations is None or not evse_id:
            return None
        return self.locations.evse_uid(station_id, evse_id)

    async def _location(self, station_id: str, evse_id: int | None) -> LocationReferences | None:
        if self.locations is None:
            return None
        location_id = await self.locations.location_of(station_id)
        if location_id is None:
            return None  # a private charger: no LocationReferences (mod_tokens 12.1.3)
        evse_uid = self._evse_uid(station_id, evse_id)
        return LocationReferences(location_id, (evse_uid,) if evse_uid else ())

    async def _ask(
        self, partner: Partner | None, token: OcpiToken, station_id: str, evse_id: int | None
    ) -> tuple[AuthorizationInfo | None, str]:
        """Real-time authorization (mod_tokens 12.2.2.2): the answer, or None and why
        there is none. An unknown token (HTTP 404 / 2004) is an answer: not allowed
        (`_unknown`, its token marked invalid)."""
        if partner is None:
            return None, "no registered eMSP partner owns the token"
        url = partner.endpoint(TOKENS, InterfaceRole.SENDER)
        if url is None:
            return None, f"partner {partner.id} has no tokens Sender interface"
        location = await self._location(station_id, evse_id)
        limit = self._settings.ocpi_realtime_auth_timeout
        try:
            async with asyncio.timeout(limit):
                reply = await self._client.request(
                    partner,
                    "POST",
                    f"{url.rstrip('/')}/{quote(token.uid, safe='')}/authorize",
                    body=None if location is None else location_to_json(location),
                    params={"type": token.type.value},
                    attempts=1,
                    timeout=limit,
                    party_role=OcpiRole.CPO,
                )
        except TimeoutError:
            return None, f"no answer from partner {partner.id} within {limit:g} s"
        except OcpiCallFailed as exc:
            return None, f"partner {partner.id} could not be reached: {exc.message}"
        if reply.http_status == 404 or reply.status_code == 2004:
            return _unknown(token), f"partner {partner.id} does not know the token"
        if not reply.ok:
            return None, f"partner {partner.id} answered {reply.describe()}"
        try:
            return parse_authorization_info(reply.data, token), ""
        except InvalidObject as exc:
            return None, f"partner {partner.id} answered an invalid AuthorizationInfo: {exc}"

    async def _ask_everyone(
        self, station_id: str, id_token: str, type_: str | None, evse_id: int | None
    ) -> AuthDecision | None:
        """A token no eMSP pushed: ask the eMSP partners at once (each within the
        timeout); the first that knows it decides. None if none does."""
        partners = await self._partners.registered_with(TOKENS, InterfaceRole.SENDER, OcpiRole.EMSP)
        if not partners:
            return None
        kind = ocpi_types_for(type_)[0]
        probes = [
            (p, _probe_token(p, id_token, kind, self._clock())) for p in partners[:ASK_UNKNOWN_MAX]
        ]
        answers = await asyncio.gather(
            *(self._ask(p, t, station_id, evse_id) for p, t in probes), return_exceptions=True
        )
        for (partner, probe), answer in zip(probes, answers, strict=True):
            if isinstance(answer, BaseException) or answer[0] is None:
                continue
            info = answer[0]
            if info.token is _UNKNOWN_MARK or info.token.uid.lower() != id_token.lower():
                continue  # this partner does not know it
            stored = StoredToken(info.token, TokenSource.PUSH, partner.id, self._clock())
            if info.token is not probe and partner.has_party(
                info.token.country_code, info.token.party_id
            ):
                await self._store.save_token(stored)  # now it is a known roaming token
            status = status_of_answer(info, self._evse_uid(station_id, evse_id))
            await self._record(
                AuthorizationKind.REALTIME, stored, station_id, evse_id, status, info=info
            )
            return self._decision(info.token, status, f"eMSP answered {info.allowed.value}")
        return None

    async def _record(
        self,
        kind: AuthorizationKind,
        stored: StoredToken,
        station_id: str,
        evse_id: int | None,
        status: AuthStatus,
        *,
        info: AuthorizationInfo | None = None,
        reason: str | None = None,
    ) -> None:
        now = self._clock()
        # Only an eMSP's own "allowed" is reused (Authorize, then the start); a fallback
        # is decided again.
        reusable = (
            kind is AuthorizationKind.REALTIME
            and status is AuthStatus.ACCEPTED
            and info is not None
        )
        ttl = self._settings.ocpi_realtime_auth_cache
        token = stored.token
        record = AuthorizationRecord(
            kind=kind,
            uid=token.uid,
            created_at=now,
            token_type=token.type.value,
            country_code=token.country_code,
            party_id=token.party_id,
            partner_id=stored.partner_id,
            station_id=station_id,
            evse_id=evse_id,
            location_id=None
            if info is None or info.location is None
            else info.location.location_id,
            allowed=None if info is None else info.allowed,
            outcome=status.value,
            reason=reason,
            authorization_reference=None if info is None else info.authorization_reference,
            valid_until=now + timedelta(seconds=ttl) if reusable and ttl > 0 else None,
        )
        try:
            await self._store.add_authorization(record)
        except Exception:  # the station still gets its answer
            log.warning("could not record a roaming authorization", exc_info=True)


def _pick(held: list[StoredToken], uid: str, type_: str | None) -> StoredToken | None:
    """The held token a presented (value, OCPP type) is: by OCPI type preference for the
    OCPP type, pushed before command-carried, exact spelling first."""
    if not held:
        return None
    order = {t: i for i, t in enumerate(ocpi_types_for(type_))}
    return min(
        held,
        key=lambda s: (
            order.get(s.token.type, len(order)),
            s.source is not TokenSource.PUSH,
            s.token.uid != uid,
        ),
    )


# The token of an answer "unknown token" (HTTP 404 / 2004): told Invalid.
_UNKNOWN_MARK: Final = OcpiToken(
    "", "", "", TokenType.OTHER, "", "", False, WhitelistType.NEVER, datetime.min
)


def _unknown(token: OcpiToken) -> AuthorizationInfo:
    """The eMSP does not know the token (told Invalid by the caller)."""
    return AuthorizationInfo(AllowedType.NOT_ALLOWED, _UNKNOWN_MARK)


def _probe_token(partner: Partner, uid: str, kind: TokenType, now: datetime) -> OcpiToken:
    """A stand-in for a token not held, to ask a partner about it."""
    party = partner.party(OcpiRole.EMSP)
    return OcpiToken(
        country_code=party.country_code if party else "",
        party_id=party.party_id if party else "",
        uid=uid,
        type=kind,
        contract_id=uid,
        issuer="",
        valid=False,
        whitelist=WhitelistType.NEVER,
        last_updated=now,
    )


def _mask(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:]
