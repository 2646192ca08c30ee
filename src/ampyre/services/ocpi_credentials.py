"""The OCPI 2.2.1 credentials handshake (credentials module, chapter 7), both ways.

We initiate (`register`): with the partner's token A and versions URL (given offline) we
GET their versions and the 2.2.1 details, offer a new token B by POSTing our Credentials
to their credentials endpoint, and keep the token C of their answer. While the POST is
open they call our versions/details with token B: B is our "next" token until then.

They initiate (`accept_registration`): a POST with our token A and their token B: we GET
their versions and details with B, answer our Credentials with a new token C (A is gone).

`update` / `accept_update` (PUT) renew the token and endpoints of a registered
connection; `unregister` / `accept_unregister` (DELETE) end it.

`on_registered` listeners hear of a partner that became REGISTERED, or whose endpoints,
roles or version a credentials update changed (both directions): the publishers queue
the full current state of what they send it (locations, tariffs, tokens: wired in
roaming.py), since pushes otherwise follow changes only. They run in a task of their own
after the partner row is saved, so neither their time nor their errors (logged) touch
the handshake. When THEY initiated, they learn our token from our answer and may refuse
their new token until they stored it: what the listeners queue then waits `accepted_hold`
seconds in the (durable) push queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ampyre.domain.ocpi import (
    SUPPORTED_VERSIONS,
    Endpoint,
    InterfaceRole,
    ModuleId,
    OcpiRole,
    Partner,
    PartnerStatus,
    PartyRole,
)
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_partners import (
    PartnerConflict,
    PartnerService,
    new_credentials_token,
    token_hash,
)
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiClient, OcpiReply, PartnerUpdate

log = logging.getLogger(__name__)

# OCPI 2.2.1 status_codes 5.3.
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003
ERROR_MAX = 500
# Seconds pushes to a partner that registered with us (or updated its credentials) wait:
# they may accept their new token only after our answer reached them and was stored.
ACCEPTED_HOLD = 3.0

# `listener(partner, hold)`: the partner is REGISTERED anew (or its endpoints changed);
# pushes queued for it should wait `hold` seconds.
RegisteredListener = Callable[[Partner, float], Awaitable[object]]


class RegistrationFailed(Exception):
    """The handshake could not be completed; `status_code` is the OCPI status that says
    why (3001 their API failed, 3002 no common version, 3003 no credentials endpoint;
    or the status they answered)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True, slots=True)
class CredentialsIn:
    """A Credentials object (credentials 7.3.1) as another platform sent it."""

    token: str
    url: str
    roles: tuple[PartyRole, ...]


@dataclass(frozen=True, slots=True)
class Discovery:
    version: str
    endpoints: tuple[Endpoint, ...]


def parse_credentials(data: Any) -> CredentialsIn:
    """The Credentials in a partner's answer; ValueError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError("the answer holds no Credentials object")
    token, url, roles = data.get("token"), data.get("url"), data.get("roles")
    if not isinstance(token, str) or not 0 < len(token) <= 64 or not token.isascii():
        raise ValueError("Credentials.token must be ASCII text of 1 to 64 characters")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("Credentials.url must be an http(s) URL")
    if not isinstance(roles, list) or not roles:
        raise ValueError("Credentials.roles must list at least one role")
    parsed: list[PartyRole] = []
    for role in roles:
        if not isinstance(role, Mapping):
            raise ValueError("a CredentialsRole is not an object")
        details = role.get("business_details")
        name = details.get("name") if isinstance(details, Mapping) else None
        website = details.get("website") if isinstance(details, Mapping) else None
        try:
            kind = OcpiRole(str(role.get("role")))
        except ValueError:
            raise ValueError(f"unknown role {role.get('role')!r}") from None
        cc, pid = role.get("country_code"), role.get("party_id")
        if not (isinstance(cc, str) and len(cc) == 2 and isinstance(pid, str) and len(pid) == 3):
            raise ValueError("a CredentialsRole needs country_code (2) and party_id (3)")
        parsed.append(
            PartyRole(
                kind,
                cc.upper(),
                pid.upper(),
                name if isinstance(name, str) else None,
                website if isinstance(website, str) else None,
            )
        )
    return CredentialsIn(token, url, tuple(parsed))


def parse_endpoints(data: Any) -> tuple[Endpoint, ...]:
    """The endpoints of a version details answer (6.2.2); malformed entries are skipped
    (logged), unknown module identifiers kept (custom modules are allowed)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("endpoints"), list):
        raise ValueError("the version details hold no endpoints")
    found: list[Endpoint] = []
    for item in data["endpoints"]:
        try:
            identifier, url = item["identifier"], item["url"]
            role = InterfaceRole(item.get("role") or InterfaceRole.SENDER.value)
        except (KeyError, TypeError, ValueError):
            log.warning("OCPI details: endpoint skipped: %.200r", item)
            continue
        if isinstance(identifier, str) and isinstance(url, str) and url.startswith("http"):
            found.append(Endpoint(identifier, role, url))
    return tuple(found)


class OcpiCredentials:
    def __init__(
        self,
        partners: PartnerService,
        client: OcpiClient,
        *,
        accepted_hold: float = ACCEPTED_HOLD,
    ) -> None:
        self.partners = partners
        self.client = client
        self.identity = partners.identity
        self.accepted_hold = accepted_hold
        self._locks: dict[int, asyncio.Lock] = {}
        self._listeners: list[RegisteredListener] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ listeners

    def on_registered(self, listener: RegisteredListener) -> None:
        """`listener(partner, hold)` after a partner became REGISTERED or a credentials
        update changed its endpoints, roles or version (see the module text)."""
        self._listeners.append(listener)

    def _announce(self, before: Partner, after: Partner, hold: float) -> None:
        if not self._listeners or not after.registered:
            return
        if before.registered and (
            set(before.endpoints) == set(after.endpoints)
            and set(before.roles) == set(after.roles)
            and before.version == after.version
        ):
            return  # a token renewal only: the partner has what it had
        task = asyncio.create_task(
            self._tell_listeners(after, hold), name=f"ocpi-registered-{after.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tell_listeners(self, partner: Partner, hold: float) -> None:
        for listener in self._listeners:
            try:
                await listener(partner, hold)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("OCPI partner %d: a registration listener failed", partner.id)

    async def settle(self) -> None:
        """Wait until the listeners of past registrations are done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop listeners still running (shutdown; what they queued stays queued)."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _lock(self, partner_id: int) -> asyncio.Lock:
        return self._locks.setdefault(partner_id, asyncio.Lock())

    # ------------------------------------------------------------------ discovery

    async def discover(self, token: str, versions_url: str, partner_id: int) -> Discovery:
        """Their versions and our common version's details (6.1, 6.2), with `token`."""
        versions = await self._get(token, versions_url, partner_id, "versions")
        offered: dict[str, str] = {}
        if isinstance(versions.data, list):
            for item in versions.data:
                if isinstance(item, Mapping) and isinstance(item.get("url"), str):
                    offered[str(item.get("version"))] = item["url"]
        common = next((v for v in SUPPORTED_VERSIONS if v in offered), None)
        if common is None:
            raise RegistrationFailed(
                UNSUPPORTED_VERSION,
                f"no OCPI version in common (they offer {sorted(offered) or 'none'}, "
                f"we speak {list(SUPPORTED_VERSIONS)})",
            )
        details = await self._get(token, offered[common], partner_id, "version details")
        try:
            endpoints = parse_endpoints(details.data)
        except ValueError as exc:
            raise RegistrationFailed(UNABLE_TO_USE_CLIENT_API, str(exc)) from None
        if not any(e.identifier == ModuleId.CREDENTIALS for e in endpoints):
            raise RegistrationFailed(
                NO_MATCHING_ENDPOINTS, "their version details list no credentials endpoint"
            )
        return Discovery(common, endpoints)

    async def _get(self, token: str, url: str, partner_id: int, what: str) -> OcpiReply:
        try:
            reply = await self.client.call(token, "GET", url, partner_id=partner_id)
        except OcpiCallFailed as exc:
            raise RegistrationFailed(
                UNABLE_TO_USE_CLIENT_API, f"GET {what} failed: {exc.message}"
            ) from None
        if not reply.ok:
            raise RegistrationFailed(
                UNABLE_TO_USE_CLIENT_API, f"GET {what} answered {reply.describe()}"
            )
        return reply

    # ------------------------------------------------------------------ we initiate

    async def register(self, partner_id: int) -> Partner:
        """Register with the partner (we are the client of 7.1.1). PartnerConflict if
        registered or without their versions URL and token A; RegistrationFailed else."""
        async with self._lock(partner_id):
            partner = await self._existing(partner_id)
            if partner.registered:
                raise PartnerConflict("the partner is already registered")
            if not partner.versions_url or not partner.token_out:
                raise PartnerConflict("set the partner's versions URL and token A first")
            try:
                return await self._register(partner, partner.versions_url, partner.token_out)
            except RegistrationFailed as exc:
                await self._failed(partner, exc)
                raise

    async def _register(self, partner: Partner, versions_url: str, token_a: str) -> Partner:
        found = await self.discover(token_a, versions_url, partner.id)
        token_b = new_credentials_token()
        # Their GETs of our versions/details during the POST come with token B.
        await self.partners.update(
            partner.id, PartnerUpdate(token_in_next_hash=token_hash(token_b))
        )
        url = _credentials_url(found)
        answer = await self._send(token_a, "POST", url, token_b, partner.id)
        return await self._connected(partner, found, answer, token_b)

    async def update(self, partner_id: int) -> Partner:
        """Renew the connection (credentials PUT, 7.2.3): a new token for them, their new
        token and endpoints for us. PartnerConflict if not registered."""
        async with self._lock(partner_id):
            partner = await self._existing(partner_id)
            if not partner.registered or not partner.token_out or not partner.versions_url:
                raise PartnerConflict("the partner is not registered")
            try:
                found = await self.discover(partner.token_out, partner.versions_url, partner.id)
                token = new_credentials_token()
                await self.partners.update(
                    partner.id, PartnerUpdate(token_in_next_hash=token_hash(token))
                )
                answer = await self._send(
                    partner.token_out, "PUT", _credentials_url(found), token, partner.id
                )
                return await self._connected(partner, found, answer, token)
            except RegistrationFailed as exc:
                await self._failed(partner, exc)
                raise

    async def unregister(self, partner_id: int) -> str | None:
        """Tell a registered partner that its token is no longer valid (DELETE, 7.2.4)
        and mark it UNREGISTERED; the partner's error text when it could not be told."""
        async with self._lock(partner_id):
            partner = await self._existing(partner_id)
            problem = None
            url = partner.endpoint(ModuleId.CREDENTIALS, InterfaceRole.RECEIVER)
            if partner.registered and partner.token_out and url:
                try:
                    reply = await self.client.call(
                        partner.token_out, "DELETE", url, partner_id=partner.id
                    )
                    problem = None if reply.ok else reply.describe()
                except OcpiCallFailed as exc:
                    problem = exc.message
            await self._ended(partner)
            return problem

    async def _send(
        self, token: str, method: str, url: str, ours: str, partner_id: int
    ) -> CredentialsIn:
        try:
            reply = await self.client.call(
                token, method, url, body=self.identity.credentials(ours), partner_id=partner_id
            )
        except OcpiCallFailed as exc:
            raise RegistrationFailed(
                UNABLE_TO_USE_CLIENT_API, f"{method} credentials failed: {exc.message}"
            ) from None
        if not reply.ok:
            raise RegistrationFailed(
                reply.status_code or UNABLE_TO_USE_CLIENT_API,
                f"{method} credentials answered {reply.describe()}",
            )
        try:
            return parse_credentials(reply.data)
        except ValueError as exc:
            raise RegistrationFailed(UNABLE_TO_USE_CLIENT_API, str(exc)) from None

    async def _connected(
        self, partner: Partner, found: Discovery, answer: CredentialsIn, ours: str
    ) -> Partner:
        if answer.url != partner.versions_url:
            # They may move their versions endpoint; the details we have are the ones we
            # were given, fetched again on the next update.
            log.info("OCPI partner %d moved its versions URL to %s", partner.id, answer.url)
        updated = await self.partners.update(
            partner.id,
            PartnerUpdate(
                status=PartnerStatus.REGISTERED,
                versions_url=answer.url,
                version=found.version,
                endpoints=found.endpoints,
                roles=answer.roles,
                registered_at=partner.registered_at if partner.registered else utcnow(),
                token_out=answer.token,
                token_in_hash=token_hash(ours),
                clear=frozenset({"token_in_next_hash", "last_error"}),
            ),
        )
        if updated is None:
            raise RegistrationFailed(UNABLE_TO_USE_CLIENT_API, "the partner was deleted meanwhile")
        log.info(
            "OCPI partner %d (%s) registered, version %s", partner.id, partner.name, found.version
        )
        # They stored their token C before answering (7.2.2): pushes may start at once.
        self._announce(partner, updated, 0.0)
        return updated

    async def _failed(self, partner: Partner, exc: RegistrationFailed) -> None:
        log.warning("OCPI handshake with partner %d failed: %s", partner.id, exc.message)
        await self.partners.update(
            partner.id,
            PartnerUpdate(
                last_error=f"{exc.status_code}: {exc.message}"[:ERROR_MAX],
                clear=frozenset({"token_in_next_hash"}),
            ),
        )

    async def _ended(self, partner: Partner) -> None:
        await self.partners.update(
            partner.id,
            PartnerUpdate(
                status=PartnerStatus.UNREGISTERED,
                clear=frozenset({"token_in_hash", "token_in_next_hash", "token_out"}),
            ),
        )

    async def _existing(self, partner_id: int) -> Partner:
        partner = await self.partners.get(partner_id)
        if partner is None:
            raise KeyError(partner_id)
        return partner

    # ------------------------------------------------------------------ they initiate

    async def accept_registration(self, partner: Partner, given: CredentialsIn) -> dict[str, Any]:
        """A POST with our token A (7.2.2): our Credentials with their new token C.
        PartnerConflict (HTTP 405) if already registered; RegistrationFailed else."""
        async with self._lock(partner.id):
            current = await self._existing(partner.id)
            if current.registered:
                raise PartnerConflict("already registered: use PUT to update")
            return await self._accept(current, given)

    async def accept_update(self, partner: Partner, given: CredentialsIn) -> dict[str, Any]:
        """A PUT with their current token (7.2.3): new endpoints, a new token for them."""
        async with self._lock(partner.id):
            current = await self._existing(partner.id)
            if not current.registered:
                raise PartnerConflict("not registered: use POST to register")
            return await self._accept(current, given)

    async def _accept(self, partner: Partner, given: CredentialsIn) -> dict[str, Any]:
        found = await self.discover(given.token, given.url, partner.id)
        token_c = new_credentials_token()
        updated = await self.partners.update(
            partner.id,
            PartnerUpdate(
                status=PartnerStatus.REGISTERED,
                versions_url=given.url,
                version=found.version,
                endpoints=found.endpoints,
                roles=given.roles,
                registered_at=partner.registered_at if partner.registered else utcnow(),
                token_out=given.token,
                token_in_hash=token_hash(token_c),
                clear=frozenset({"token_in_next_hash", "last_error"}),
            ),
        )
        log.info("OCPI partner %d (%s) registered with us", partner.id, partner.name)
        if updated is not None:
            self._announce(partner, updated, self.accepted_hold)
        return self.identity.credentials(token_c)

    async def accept_unregister(self, partner: Partner) -> None:
        """A DELETE with their current token (7.2.4). PartnerConflict if not registered."""
        async with self._lock(partner.id):
            current = await self._existing(partner.id)
            if not current.registered:
                raise PartnerConflict("not registered")
            await self._ended(current)
            log.info("OCPI partner %d (%s) unregistered itself", partner.id, partner.name)


def _credentials_url(found: Discovery) -> str:
    for endpoint in found.endpoints:
        if endpoint.identifier == ModuleId.CREDENTIALS:
            return endpoint.url
    raise RegistrationFailed(NO_MATCHING_ENDPOINTS, "no credentials endpoint")


def roles_text(roles: Sequence[PartyRole]) -> str:
    return ", ".join(f"{r.role.value} {r.country_code}/{r.party_id}" for r in roles)
