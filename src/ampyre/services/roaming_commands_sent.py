"""OCPI 2.2.1 commands sent as an eMSP (mod_commands, Sender interface): an operator
asks a CPO partner to start or stop a session, reserve, cancel a reservation or unlock a
connector for one of Ampyre's own id tokens. The CPO answers a CommandResponse at once;
its CommandResult arrives later at the response_url Ampyre gives, which names the
command (`{commands}/{COMMAND}/{uid}`, 13.2.2.1: "advised to make this URL unique for
every request"). Only the partner the command was sent to may post its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from ampyre.domain.authz import same_value
from ampyre.domain.ocpi import InterfaceRole, OcpiRole, ocpi_time
from ampyre.domain.ocpi_commands import (
    CommandDirection,
    CommandRecord,
    CommandResponseType,
    CommandType,
)
from ampyre.domain.ocpi_tokens import (
    OcpiToken,
    publish,
    token_to_json,
)
from ampyre.domain.ocpi_tokens_parse import (
    InvalidObject,
    check,
    check_command,
    choice,
    parse_command_result,
)
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_port import OcpiCallFailed, OcpiClient
from ampyre.services.ports import AuthStore
from ampyre.services.roaming_ports import PartnersPort, RoamingCommandStore
from ampyre.services.roaming_publish import TokenPublisher

log = logging.getLogger(__name__)

WAIT_MAX: Final = 60.0
POLL: Final = 0.25  # seconds between looks for a result another node received


class CommandNotSent(Exception):
    """The command cannot be sent (no such partner, no commands interface, no such
    token); `status` is the HTTP status the REST API answers."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class SentCommands:
    def __init__(
        self,
        store: RoamingCommandStore,
        partners: PartnersPort,
        client: OcpiClient,
        auth_store: AuthStore,
        publisher: TokenPublisher,
        commands_url: Callable[[], str],  # our emsp commands module URL
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._partners = partners
        self._client = client
        self._auth_store = auth_store
        self._publisher = publisher
        self._commands_url = commands_url
        self._clock = clock
        self._waiting: dict[str, asyncio.Event] = {}

    async def send(
        self, partner_id: int, command: CommandType, fields: Mapping[str, Any], wait: float = 0
    ) -> CommandRecord:
        """Send a command; with `wait`, wait up to that many seconds for its result.
        Raises CommandNotSent, InvalidObject (a field breaks the spec: 422)."""
        partner = await self._partners.get(partner_id)
        if partner is None:
            raise CommandNotSent(f"no OCPI partner {partner_id}", 404)
        url = partner.endpoint("commands", InterfaceRole.RECEIVER)
        if not partner.registered or url is None:
            raise CommandNotSent(f"partner {partner_id} has no commands Receiver interface")
        uid = uuid.uuid4().hex
        body = await self._body(command, fields, uid)
        check_command(command, body)  # our own request keeps the spec's limits too
        now = self._clock()
        me = self._publisher.identity()
        record = CommandRecord(
            uid=uid,
            direction=CommandDirection.SENT,
            command=command,
            request=body,
            created_at=now,
            updated_at=now,
            partner_id=partner.id,
            country_code=me.country_code,
            party_id=me.party_id,
            location_id=body.get("location_id"),
            ocpi_reservation_id=body.get("reservation_id"),
        )
        await self._store.add_command(record)
        event = self._waiting.setdefault(uid, asyncio.Event()) if wait > 0 else None
        try:
            try:
                reply = await self._client.request(
                    partner,
                    "POST",
                    f"{url.rstrip('/')}/{command.value}",
                    body=body,
                    party_role=OcpiRole.EMSP,
                )
            except OcpiCallFailed as exc:
                record.response_message = f"not delivered: {exc.message}"[:512]
            else:
                self._take_response(record, reply.ok, reply.data, reply.describe())
            record.updated_at = self._clock()
            await self._store.update_command(record)
            if event is not None and record.response is CommandResponseType.ACCEPTED:
                await self._wait(record, event, min(wait, WAIT_MAX))
        finally:
            self._waiting.pop(uid, None)
        return await self._store.get_command(record.id or 0) or record

    def _take_response(self, record: CommandRecord, ok: bool, data: Any, described: str) -> None:
        if not ok:
            record.response_message = f"refused: {described}"[:512]
            return
        try:
            answer = check(data, (choice("result", CommandResponseType),))
        except InvalidObject as exc:
            record.response_message = f"invalid CommandResponse: {exc}"[:512]
            return
        record.response = answer["result"]
        timeout = data.get("timeout") if isinstance(data, Mapping) else None
        if isinstance(timeout, int) and not isinstance(timeout, bool) and 0 < timeout < 86400:
            record.timeout_at = self._clock() + timedelta(seconds=timeout)
        texts = data.get("message") if isinstance(data, Mapping) else None
        if isinstance(texts, list) and texts and isinstance(texts[0], Mapping):
            record.response_message = str(texts[0].get("text", ""))[:512] or None

    async def _wait(self, record: CommandRecord, event: asyncio.Event, wait: float) -> None:
        deadline = asyncio.get_running_loop().time() + wait
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, POLL)):
                    await event.wait()
            current = await self._store.get_command(record.id or 0)
            if current is not None and current.result is not None:
                return

    async def _body(
        self, command: CommandType, fields: Mapping[str, Any], uid: str
    ) -> dict[str, Any]:
        """The OCPI request object (13.3) for the operator's fields."""
        body: dict[str, Any] = {"response_url": f"{self._commands_url()}/{command.value}/{uid}"}
        if command in (CommandType.START_SESSION, CommandType.RESERVE_NOW):
            body["token"] = token_to_json(await self._token(str(fields.get("id_token") or "")))
            body["location_id"] = fields.get("location_id")
            for key in ("evse_uid", "connector_id", "authorization_reference"):
                if fields.get(key) is not None:
                    body[key] = fields[key]
            if command is CommandType.RESERVE_NOW:
                expiry = fields.get("expiry_date")
                body["expiry_date"] = ocpi_time(expiry) if isinstance(expiry, datetime) else expiry
                # Our own reservation id: the command's uid, so a cancel can name it.
                body["reservation_id"] = fields.get("reservation_id") or uid
        elif command is CommandType.STOP_SESSION:
            body["session_id"] = fields.get("session_id")
        elif command is CommandType.CANCEL_RESERVATION:
            body["reservation_id"] = fields.get("reservation_id")
        else:
            for key in ("location_id", "evse_uid", "connector_id"):
                body[key] = fields.get(key)
        return body

    async def _token(self, value: str) -> OcpiToken:
        """One of Ampyre's id tokens as published (13.3.6: the eMSP's own token)."""
        now = self._clock()
        me = self._publisher.identity()
        for token in await self._auth_store.find_id_tokens(value):
            if not same_value(token.id_token, value):
                continue
            published = publish(token, me, now, token.updated_at or now)
            if published is not None:
                return published
        raise CommandNotSent(f"no id token {value!r} that can be sent over OCPI", 422)

    # ------------------------------------------------------------------ results

    async def result(
        self, partner_id: int, command: str, uid: str, body: Mapping[str, Any]
    ) -> bool:
        """A CommandResult at our response_url; False if no command of this partner has
        that URL. Raises InvalidObject (2001). A repeated result is accepted once."""
        record = await self._store.get_command_by_uid(uid)
        if (
            record is None
            or record.direction is not CommandDirection.SENT
            or record.partner_id != partner_id
            or record.command.value != command
        ):
            return False
        result, message = parse_command_result(body)
        assert record.id is not None
        if await self._store.finish_command(record.id, result, message, self._clock()):
            log.info("OCPI %s %s: the CPO reports %s", command, uid, result)
        event = self._waiting.get(uid)
        if event is not None:
            event.set()
        return True
