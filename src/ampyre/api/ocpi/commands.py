"""The OCPI 2.2.1 Commands module (mod_commands), both interfaces.

- cpo RECEIVER `POST /ocpi/cpo/2.2.1/commands/{command}`: the command object of that
  type; answered at once with a CommandResponse (13.2.1.1); the CommandResult follows
  at the body's response_url. A command Ampyre does not know is NOT_SUPPORTED; a body
  that breaks the spec 2001.
- emsp SENDER `POST /ocpi/emsp/2.2.1/commands/{command}/{uid}`: the response_url Ampyre
  gives with every command it sends; the CPO posts the CommandResult there (13.2.2.1).
  Only the partner the command went to may; otherwise, or for an unknown uid, 404 / 2004.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from ampyre.api.ocpi.app import ModuleSpec
from ampyre.api.ocpi.auth import OcpiParty
from ampyre.api.ocpi.envelope import OcpiError, ocpi_response, unknown_object
from ampyre.api.ocpi.tokens import bad_object, json_object
from ampyre.domain.ocpi import InterfaceRole
from ampyre.domain.ocpi_commands import (
    CommandResponse,
    CommandResponseType,
    CommandType,
)
from ampyre.domain.ocpi_tokens_parse import InvalidObject
from ampyre.services.roaming_commands import RoamingCommands
from ampyre.services.roaming_commands_sent import SentCommands

MODULE = "commands"

CommandPath = Annotated[str, Path(min_length=1, max_length=32)]
UidPath = Annotated[str, Path(min_length=1, max_length=36)]


def _received(request: Request) -> RoamingCommands:
    service = getattr(request.app.state.deps, "roaming_commands", None)
    if not isinstance(service, RoamingCommands):
        raise OcpiError(3000, "OCPI commands are not available", http_status=503)
    return service


def _sent(request: Request) -> SentCommands:
    service = getattr(request.app.state.deps, "sent_commands", None)
    if not isinstance(service, SentCommands):
        raise OcpiError(3000, "OCPI commands are not available", http_status=503)
    return service


def receiver_router() -> APIRouter:
    router = APIRouter()

    @router.post("/{command}")
    async def command(request: Request, partner: OcpiParty, command: CommandPath) -> Response:
        service = _received(request)
        body = await json_object(request)
        try:
            kind = CommandType(command)
        except ValueError:
            timeout = request.app.state.deps.settings.ocpi_command_timeout
            unsupported = CommandResponse(
                CommandResponseType.NOT_SUPPORTED, timeout, f"unknown command {command[:32]}"
            )
            return ocpi_response(unsupported.to_json())
        try:
            response = await service.receive(partner, kind, body)
        except InvalidObject as exc:
            raise bad_object(exc) from None
        return ocpi_response(response.to_json())

    return router


def sender_router() -> APIRouter:
    router = APIRouter()

    @router.post("/{command}/{uid}")
    async def result(
        request: Request, partner: OcpiParty, command: CommandPath, uid: UidPath
    ) -> Response:
        service = _sent(request)
        body = await json_object(request)
        try:
            known = await service.result(partner.id, command, uid, body)
        except InvalidObject as exc:
            raise bad_object(exc) from None
        if not known:
            raise unknown_object("command")
        return ocpi_response(None)

    return router


def command_modules() -> list[ModuleSpec]:
    return [
        ModuleSpec(MODULE, InterfaceRole.RECEIVER, "cpo", receiver_router()),
        ModuleSpec(MODULE, InterfaceRole.SENDER, "emsp", sender_router()),
    ]
