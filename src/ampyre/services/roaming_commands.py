"""OCPI 2.2.1 commands received as a CPO (mod_commands, Receiver interface), mapped onto
Ampyre's version-neutral station services:

- START_SESSION -> TransactionService.remote_start (1.6 RemoteStartTransaction / 2.x
  RequestStartTransaction) with the eMSP's token, which is first held (its information
  goes into the Session and CDR) and granted at that station for 15 minutes, so the
  station's Authorize / transaction start needs no real-time authorization (13.3.6);
- STOP_SESSION -> TransactionService.remote_stop; the session id is the transaction's id
  (Session.id = str(transaction pk)); only the token owner's eMSP may stop it;
- RESERVE_NOW -> AuthService.reserve (a ReserveNow with Ampyre's own reservation id:
  13.3.5 "the CPO SHALL make sure the Reservation ID sent to the Charge Point is unique");
  the same reservation_id of the same eMSP replaces the earlier reservation;
- CANCEL_RESERVATION -> ReservationService.cancel of the reservation that eMSP made;
- UNLOCK_CONNECTOR -> StationControl.unlock.

The CommandResponse is answered at once (13.2.1.1.3): REJECTED when the command cannot
reach a Charge Point (unknown location/EVSE/connector, station offline, a token of
another eMSP), UNKNOWN_SESSION for a session Ampyre does not know; else ACCEPTED with the
timeout `ocpi_command_timeout`, and the CommandResult (the station's answer, or TIMEOUT)
is POSTed to the eMSP's response_url through the durable push queue. A command whose
result was never sent (the process stopped) gets TIMEOUT when Ampyre starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from ampyre.config import Settings
from ampyre.domain.authz import IdTokenType, Reservation
from ampyre.domain.models import Page
from ampyre.domain.ocpi import OcpiRole, Partner
from ampyre.domain.ocpi_commands import (
    CommandDirection,
    CommandRecord,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    CommandType,
    result_of,
)
from ampyre.domain.ocpi_tokens import (
    OcpiToken,
    ocpp_type_for,
)
from ampyre.domain.ocpi_tokens_parse import check_command
from ampyre.domain.transactions import TransactionStatus
from ampyre.domain.versions import traits
from ampyre.services.authz import AuthService
from ampyre.services.clock import utcnow
from ampyre.services.commands import CommandError, CommandTimeout, StationNotConnected
from ampyre.services.ocpi_port import PushPort
from ampyre.services.reservations import ReservationError, ReservationNotActive
from ampyre.services.roaming_ports import LocationsPort, RoamingCommandStore
from ampyre.services.roaming_tokens import RoamingTokens
from ampyre.services.station_control import InvalidCommand, StationControl
from ampyre.services.station_port import NotAddressable
from ampyre.services.transactions import (
    TransactionNotActive,
    TransactionNotFound,
    TransactionService,
)

log = logging.getLogger(__name__)

SWEEP_INTERVAL: Final = 30.0  # seconds between looks for results never sent


@dataclass(slots=True)
class _Target:
    """Where a command goes, as decided when it was accepted."""

    station_id: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    transaction_id: int | None = None
    reservation_id: int | None = None  # Ampyre reservation to cancel / to replace


class _Refused(Exception):
    def __init__(self, response: CommandResponseType, message: str) -> None:
        super().__init__(message)
        self.response = response
        self.message = message


class RoamingCommands:
    def __init__(
        self,
        store: RoamingCommandStore,
        tokens: RoamingTokens,
        push: PushPort,
        transactions: TransactionService,
        auth: AuthService,
        station_control: StationControl,
        settings: Settings,
        locations: LocationsPort | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._push = push
        self._transactions = transactions
        self._auth = auth
        self._control = station_control
        self._settings = settings
        self.locations = locations
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="ampyre-ocpi-commands")

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._sweeper] if self._sweeper else [])]
        self._sweeper = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not look for unanswered OCPI commands", exc_info=True)
            await asyncio.sleep(SWEEP_INTERVAL)

    async def sweep(self) -> int:
        """TIMEOUT for accepted commands whose result was never sent (the node handling
        them stopped); a running command sets its result first (set once)."""
        count = 0
        for record in await self._store.unfinished(self._clock() - timedelta(seconds=5)):
            if await self._finish(record, CommandResult(CommandResultType.TIMEOUT, "no result")):
                count += 1
        return count

    # ------------------------------------------------------------------ receiving

    async def receive(
        self, partner: Partner, command: CommandType, body: Mapping[str, Any]
    ) -> CommandResponse:
        """Answer a command at once and carry it out in the background. Raises
        InvalidObject for a body that breaks the spec (2001)."""
        request = check_command(command, body)
        now = self._clock()
        party = partner.party(OcpiRole.EMSP) or partner.party()
        timeout = self._settings.ocpi_command_timeout
        record = CommandRecord(
            uid=uuid.uuid4().hex,
            direction=CommandDirection.RECEIVED,
            command=command,
            request=dict(body),
            created_at=now,
            updated_at=now,
            partner_id=partner.id,
            country_code=None if party is None else party.country_code,
            party_id=None if party is None else party.party_id,
            response_url=request["response_url"],
            location_id=request.get("location_id"),
            ocpi_reservation_id=request.get("reservation_id"),
        )
        try:
            target = await self._target(partner, command, request)
        except _Refused as refused:
            record.response, record.response_message = refused.response, refused.message
            await self._store.add_command(record)
            log.info("OCPI %s from partner %s refused: %s", command, partner.id, refused)
            return CommandResponse(refused.response, timeout, refused.message)
        record.response = CommandResponseType.ACCEPTED
        record.timeout_at = now + timedelta(seconds=timeout)
        record.station_id, record.evse_id = target.station_id, target.evse_id
        record.connector_id, record.transaction_id = target.connector_id, target.transaction_id
        if command is CommandType.CANCEL_RESERVATION:
            record.reservation_id = target.reservation_id
        await self._store.add_command(record)
        task = asyncio.create_task(
            self._execute(partner, record, request, target), name=f"ocpi-{command}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return CommandResponse(CommandResponseType.ACCEPTED, timeout)

    async def _target(
        self, partner: Partner, command: CommandType, request: dict[str, Any]
    ) -> _Target:
        token: OcpiToken | None = request.get("token")
        if token is not None and not partner.has_party(token.country_code, token.party_id):
            # 13.3.5 / 13.3.6: an eMSP SHALL only use Tokens it owns.
            raise _Refused(CommandResponseType.REJECTED, "the token is not owned by this eMSP")
        if command is CommandType.STOP_SESSION:
            return await self._session_target(partner, request["session_id"])
        if command is CommandType.CANCEL_RESERVATION:
            return await self._reservation_target(partner, request["reservation_id"])
        target = await self._place(command, request)
        assert target.station_id is not None
        version = self._control.connected_version(target.station_id)
        if version is None:
            raise _Refused(CommandResponseType.REJECTED, "the Charge Point is offline")
        if token is not None and len(token.uid) > traits(version).id_token_max:
            raise _Refused(
                CommandResponseType.REJECTED,
                f"the token uid is too long for an OCPP {version.removeprefix('ocpp')} station",
            )
        if command is CommandType.RESERVE_NOW:
            if request["expiry_date"] <= self._clock():
                raise _Refused(CommandResponseType.REJECTED, "expiry_date is in the past")
            earlier = await self._store.find_reservation(
                *_party(partner), request["reservation_id"]
            )
            target.reservation_id = None if earlier is None else earlier.reservation_id
        return target

    async def _place(self, command: CommandType, request: dict[str, Any]) -> _Target:
        """The station (and EVSE, connector) of a location-addressed command."""
        if self.locations is None:
            raise _Refused(CommandResponseType.NOT_SUPPORTED, "no locations are published")
        location_id: str = request["location_id"]
        evse_uid: str | None = request.get("evse_uid")
        if command is CommandType.UNLOCK_CONNECTOR or request.get("connector_id") is not None:
            assert evse_uid is not None
            found = await self.locations.resolve_connector(
                location_id, evse_uid, request["connector_id"]
            )
            if found is None:
                raise _Refused(CommandResponseType.REJECTED, "unknown location, EVSE or connector")
            return _Target(found[0], found[1], found[2])
        if evse_uid is None:
            evse_uid = await self._free_evse(location_id)
        place = (
            None if evse_uid is None else await self.locations.resolve_evse(location_id, evse_uid)
        )
        if place is None:
            raise _Refused(CommandResponseType.REJECTED, "unknown location or EVSE")
        station_id, evse_id = place
        if command is CommandType.RESERVE_NOW and request.get("evse_uid") is None:
            return _Target(station_id, None)  # 13.3.5: the Charge Point keeps one EVSE free
        return _Target(station_id, evse_id)

    async def _free_evse(self, location_id: str) -> str | None:
        """No EVSE named (13.3.5 / 13.3.6): an AVAILABLE one of the location, else any."""
        assert self.locations is not None
        location = await self.locations.ocpi_location(location_id)
        evses = [] if location is None else list(location.get("evses") or [])
        evses.sort(key=lambda e: e.get("status") != "AVAILABLE")
        return str(evses[0]["uid"]) if evses else None

    async def _session_target(self, partner: Partner, session_id: str) -> _Target:
        pk = int(session_id) if session_id.isdigit() and len(session_id) < 19 else None
        tx = None if pk is None else await self._transactions.get(pk)
        if tx is None or tx.status is TransactionStatus.ENDED:
            raise _Refused(CommandResponseType.UNKNOWN_SESSION, "no such ongoing session")
        token = None if tx.id_token is None else await self._tokens.lookup(tx.id_token)
        if token is None or not partner.has_party(token.country_code, token.party_id):
            raise _Refused(
                CommandResponseType.REJECTED, "the session is not of a customer of this eMSP"
            )
        if self._control.connected_version(tx.station_id) is None:
            raise _Refused(CommandResponseType.REJECTED, "the Charge Point is offline")
        return _Target(tx.station_id, tx.evse_id, tx.connector_id, transaction_id=tx.id)

    async def _reservation_target(self, partner: Partner, reservation_id: str) -> _Target:
        found = await self._store.find_reservation(*_party(partner), reservation_id)
        if found is None or found.reservation_id is None:
            raise _Refused(CommandResponseType.REJECTED, "unknown reservation")
        return _Target(found.station_id, found.evse_id, reservation_id=found.reservation_id)

    # ------------------------------------------------------------------ carrying out

    async def _execute(
        self, partner: Partner, record: CommandRecord, request: dict[str, Any], target: _Target
    ) -> None:
        limit = min(self._settings.ocpi_command_timeout, self._settings.call_timeout + 5)
        try:
            async with asyncio.timeout(limit):
                result = await self._carry_out(partner, record, request, target)
        except TimeoutError:
            result = CommandResult(CommandResultType.TIMEOUT, "no answer from the Charge Point")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never leave the eMSP without a result
            log.exception("OCPI %s %s failed", record.command, record.uid)
            result = CommandResult(CommandResultType.FAILED, str(exc)[:200] or "failed")
        with contextlib.suppress(Exception):
            await self._store.update_command(record)  # the ids learned on the way
        await self._finish(record, result)

    async def _carry_out(
        self, partner: Partner, record: CommandRecord, request: dict[str, Any], target: _Target
    ) -> CommandResult:
        command = record.command
        station_id = target.station_id
        assert station_id is not None
        try:
            if command is CommandType.START_SESSION:
                return await self._start(partner, record, request, target)
            if command is CommandType.STOP_SESSION:
                assert target.transaction_id is not None
                _, outcome = await self._transactions.remote_stop(target.transaction_id)
                return _result(command, outcome.status, outcome.error_code)
            if command is CommandType.RESERVE_NOW:
                return await self._reserve(partner, record, request, target)
            if command is CommandType.CANCEL_RESERVATION:
                assert target.reservation_id is not None
                _, delivery = await self._auth.reservations.cancel(target.reservation_id)
                return _result(command, delivery.status, delivery.station_answer)
            assert target.evse_id is not None and target.connector_id is not None
            answer = await self._control.unlock(station_id, target.evse_id, target.connector_id)
            return _result(command, answer.status, answer.station_answer)
        except CommandTimeout:
            return CommandResult(CommandResultType.TIMEOUT, "no answer from the Charge Point")
        except StationNotConnected:
            return CommandResult(CommandResultType.FAILED, "the Charge Point went offline")
        except (NotAddressable, InvalidCommand) as exc:
            return CommandResult(CommandResultType.NOT_SUPPORTED, str(exc)[:200])
        except TransactionNotFound:
            return CommandResult(CommandResultType.FAILED, "the session is gone")
        except TransactionNotActive:
            return CommandResult(CommandResultType.REJECTED, "the session has ended")
        except ReservationNotActive as exc:
            return CommandResult(CommandResultType.UNKNOWN_RESERVATION, str(exc)[:200])
        except (ReservationError, CommandError) as exc:
            return CommandResult(CommandResultType.FAILED, str(exc)[:200])

    async def _start(
        self, partner: Partner, record: CommandRecord, request: dict[str, Any], target: _Target
    ) -> CommandResult:
        token: OcpiToken = request["token"]
        assert target.station_id is not None
        # Before the command: the station may authorize or start before it answers.
        await self._tokens.hold_command_token(partner, token)
        await self._tokens.grant(
            partner,
            token,
            target.station_id,
            target.evse_id,
            request["location_id"],
            request.get("authorization_reference"),
        )
        started = await self._transactions.remote_start(
            target.station_id, token.uid, target.evse_id, ocpp_type_for(token.type), wait=0
        )
        if started.transaction is not None:  # 2.x F01: it was running already
            record.transaction_id = started.transaction.id
        outcome = started.outcome
        return _result(CommandType.START_SESSION, outcome.status, outcome.error_code)

    async def _reserve(
        self, partner: Partner, record: CommandRecord, request: dict[str, Any], target: _Target
    ) -> CommandResult:
        token: OcpiToken = request["token"]
        assert target.station_id is not None
        if target.reservation_id is not None:
            # 13.3.5: the same reservation_id replaces the earlier reservation.
            with contextlib.suppress(ReservationError, CommandError):
                await self._auth.reservations.cancel(target.reservation_id)
        await self._tokens.hold_command_token(partner, token)
        await self._tokens.grant(
            partner,
            token,
            target.station_id,
            target.evse_id,
            request["location_id"],
            request.get("authorization_reference"),
        )
        reservation, delivery = await self._auth.reservations.create(
            Reservation(
                id=0,
                station_id=target.station_id,
                id_token=token.uid,
                id_token_type=IdTokenType(ocpp_type_for(token.type)),
                expires_at=request["expiry_date"],
                evse_id=target.evse_id,
                group_id=token.group_id,
            )
        )
        record.reservation_id = reservation.id
        return _result(CommandType.RESERVE_NOW, delivery.status, delivery.station_answer)

    async def _finish(self, record: CommandRecord, result: CommandResult) -> bool:
        """Store the result (once) and POST it to the eMSP's response_url."""
        assert record.id is not None
        now = self._clock()
        if not await self._store.finish_command(record.id, result.result, result.message, now):
            return False
        record.result, record.result_message, record.result_at = result.result, result.message, now
        if record.partner_id is not None and record.response_url:
            await self._push.enqueue(
                record.partner_id,
                "POST",
                record.response_url,
                result.to_json(),
                f"command:{record.uid}",
            )
        log.info("OCPI %s %s: %s", record.command, record.uid, result.result)
        return True

    # ------------------------------------------------------------------ reads

    async def list(
        self,
        limit: int,
        offset: int,
        direction: CommandDirection | None = None,
        partner_id: int | None = None,
        command: CommandType | None = None,
    ) -> Page:
        return await self._store.list_commands(
            limit, offset, direction, partner_id, None if command is None else command.value
        )

    async def get(self, command_id: int) -> CommandRecord | None:
        return await self._store.get_command(command_id)


def _party(partner: Partner) -> tuple[str, str]:
    party = partner.party(OcpiRole.EMSP) or partner.party()
    return ("", "") if party is None else (party.country_code, party.party_id)


def _result(command: CommandType, status: str, error_code: str | None) -> CommandResult:
    result = result_of(command, status, error_code)
    message = (
        None if result is CommandResultType.ACCEPTED else f"the Charge Point answered {status}"
    )
    return CommandResult(result, message)
