"""Hosted firmware files and firmware updates of stations.

- `POST /firmware?version=...` uploads a file as the raw request body (up to
  AMPYRE_FIRMWARE_UPLOAD_MAX bytes, its own limit instead of AMPYRE_MAX_BODY_SIZE);
  `GET /firmware`, `GET|DELETE /firmware/{id}`, `PUT /firmware/{id}/signature`.
- `GET /firmware/{token}` outside the API (no bearer token: stations download there).
- `POST /stations/{id}/firmware` sends one station an update and waits for its answer:
  409 not connected (nothing stored), 504 no answer in time (the update stays visible as
  timed_out), 502 a CALLERROR; `GET /stations/{id}/firmware-updates`,
  `GET /firmware-updates`, `GET /firmware-updates/{id}`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.types import Scope

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, invalid_request
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import API_PREFIX, INT32_MAX, Limit, Offset, problems
from ampyre.api.routes.stations import StationId
from ampyre.api.schemas_firmware import (
    FirmwareFileOut,
    FirmwareFilePage,
    FirmwareUpdateIn,
    FirmwareUpdateOut,
    FirmwareUpdatePage,
    SignatureIn,
)
from ampyre.domain.firmware import FirmwareFile
from ampyre.domain.models import Role
from ampyre.services.firmware import (
    FileMeta,
    FileTooLarge,
    FirmwareError,
    FirmwareService,
    UnknownFile,
)
from ampyre.services.firmware_ports import FileInUse

UPLOAD_PATH = f"{API_PREFIX}/firmware"
# Download tokens are secrets.token_urlsafe(32): 43 URL-safe characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")

FileId = Annotated[int, Path(ge=1, le=INT32_MAX, description="firmware file id")]
UpdateId = Annotated[int, Path(ge=1, le=INT32_MAX, description="firmware update id")]


def upload_limit(max_bytes: int) -> Callable[[Scope], int | None]:
    """The body limit of the upload route (for BodyLimitMiddleware's `larger`)."""

    def larger(scope: Scope) -> int | None:
        if scope.get("method") == "POST" and scope.get("path") == UPLOAD_PATH:
            return max_bytes
        return None

    return larger


def invalid(exc: FirmwareError) -> NoReturn:
    invalid_request(str(exc), exc.field)


def firmware_service(deps: ApiDeps) -> FirmwareService:
    if deps.firmware is None:
        raise ApiProblem(503, "firmware management is not available")
    return deps.firmware


def firmware_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["firmware"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    admin = [Depends(auth.require(Role.ADMIN))]

    def out(svc: FirmwareService, f: FirmwareFile) -> FirmwareFileOut:
        return FirmwareFileOut.of(f, svc.location(f))

    @router.post(
        "/firmware",
        status_code=201,
        dependencies=admin,
        responses=problems(413, 422, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def upload_firmware(
        request: Request,
        version: Annotated[
            str, Query(min_length=1, max_length=50, description="firmware version it installs")
        ],
        filename: Annotated[str, Query(max_length=255)] = "firmware.bin",
        vendor: Annotated[str | None, Query(max_length=50)] = None,
        model: Annotated[str | None, Query(max_length=50)] = None,
        description: Annotated[str | None, Query(max_length=255)] = None,
    ) -> FirmwareFileOut:
        """Upload a firmware file as the raw request body; its sha256 is recorded."""
        svc = firmware_service(deps)
        meta = FileMeta(version, filename, vendor, model, description)

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    yield chunk

        try:
            stored = await svc.upload(meta, chunks())
        except FileTooLarge as exc:
            raise ApiProblem(413, str(exc), slug="body-too-large") from None
        except FirmwareError as exc:
            invalid(exc)
        return out(svc, stored)

    @router.get("/firmware", dependencies=viewer, responses=problems(503))
    async def list_firmware(limit: Limit = 50, offset: Offset = 0) -> FirmwareFilePage:
        svc = firmware_service(deps)
        page = await svc.list_files(limit, offset)
        return FirmwareFilePage(
            items=[out(svc, f) for f in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get("/firmware/{file_id}", dependencies=viewer, responses=problems(404, 503))
    async def get_firmware(file_id: FileId) -> FirmwareFileOut:
        svc = firmware_service(deps)
        found = await svc.get_file(file_id)
        if found is None:
            raise ApiProblem(404, f"no firmware file {file_id}")
        return out(svc, found)

    @router.put(
        "/firmware/{file_id}/signature", dependencies=admin, responses=problems(404, 422, 503)
    )
    async def sign_firmware(file_id: FileId, body: SignatureIn) -> FirmwareFileOut:
        """Attach the signing certificate and signature of a secure firmware (2.x L01)."""
        svc = firmware_service(deps)
        try:
            signed = await svc.set_signature(file_id, body.signing_certificate, body.signature)
        except UnknownFile:
            raise ApiProblem(404, f"no firmware file {file_id}") from None
        return out(svc, signed)

    @router.delete(
        "/firmware/{file_id}", status_code=204, dependencies=admin, responses=problems(404, 409)
    )
    async def delete_firmware(file_id: FileId) -> Response:
        svc = firmware_service(deps)
        try:
            deleted = await svc.delete_file(file_id)
        except FileInUse as exc:
            raise ApiProblem(409, str(exc), slug="firmware-in-use") from None
        if not deleted:
            raise ApiProblem(404, f"no firmware file {file_id}")
        return Response(status_code=204)

    @router.post(
        "/stations/{station_id}/firmware",
        dependencies=operator,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def update_station_firmware(
        station_id: StationId, body: FirmwareUpdateIn
    ) -> FirmwareUpdateOut:
        """Install a hosted firmware file on one station (1.6 UpdateFirmware, 2.x
        UpdateFirmware with requestId); answers once the station accepted or refused."""
        svc = firmware_service(deps)
        await deps.stations.require(station_id)
        wait = body.timeout if body.timeout is not None else deps.settings.call_timeout
        try:
            update, answer = await svc.update_station(
                station_id,
                body.file_id,
                body.retrieve_at,
                body.install_at,
                body.retries,
                body.retry_interval,
                timeout=wait,
            )
        except FirmwareError as exc:
            invalid(exc)
        check_answer(station_id, "UpdateFirmware", answer, wait)
        assert update is not None  # an answer came: the update was stored
        return FirmwareUpdateOut.of(update)

    @router.get(
        "/stations/{station_id}/firmware-updates",
        dependencies=viewer,
        responses=problems(404, 503),
    )
    async def station_firmware_updates(
        station_id: StationId, limit: Limit = 50, offset: Offset = 0
    ) -> FirmwareUpdatePage:
        svc = firmware_service(deps)
        await deps.stations.require(station_id)
        page = await svc.list_updates(limit, offset, station_id=station_id)
        return _updates(page.items, page.total, page.limit, page.offset)

    @router.get("/firmware-updates", dependencies=viewer, responses=problems(503))
    async def firmware_updates(
        limit: Limit = 50,
        offset: Offset = 0,
        station_id: Annotated[str | None, Query(max_length=255)] = None,
        rollout_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    ) -> FirmwareUpdatePage:
        svc = firmware_service(deps)
        page = await svc.list_updates(limit, offset, station_id, rollout_id)
        return _updates(page.items, page.total, page.limit, page.offset)

    @router.get("/firmware-updates/{update_id}", dependencies=viewer, responses=problems(404, 503))
    async def firmware_update(update_id: UpdateId) -> FirmwareUpdateOut:
        svc = firmware_service(deps)
        found = await svc.get_update(update_id)
        if found is None:
            raise ApiProblem(404, f"no firmware update {update_id}")
        return FirmwareUpdateOut.of(found)

    return router


def _updates(items: list[object], total: int, limit: int, offset: int) -> FirmwareUpdatePage:
    return FirmwareUpdatePage(
        items=[FirmwareUpdateOut.of(u) for u in items],  # type: ignore[arg-type]
        total=total,
        limit=limit,
        offset=offset,
    )


def download_router(deps: ApiDeps) -> APIRouter:
    """`GET /firmware/{token}`: no bearer token (stations cannot send one); the token
    is the secret. Unknown or malformed tokens are 404; the file is streamed from
    disk by the name Ampyre stored it under."""
    router = APIRouter(tags=["firmware"], include_in_schema=False)

    @router.get("/firmware/{token}")
    async def download_firmware(token: str) -> FileResponse:
        if deps.firmware is None or not _TOKEN.fullmatch(token):
            raise ApiProblem(404, "no such firmware")
        found = await deps.firmware.download(token)
        if found is None:
            raise ApiProblem(404, "no such firmware")
        file, path = found
        headers = {"X-Firmware-SHA256": file.sha256, "Cache-Control": "no-store"}
        if file.version.isascii() and file.version.isprintable():
            headers["X-Firmware-Version"] = file.version
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=file.filename,
            headers=headers,
        )

    return router
