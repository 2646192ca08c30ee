"""The versions module (OCPI 2.2.1 version_information_endpoint, chapter 6): the version
information endpoint and the 2.2.1 version details, open to any known credentials token
(token A included, transport_and_format 4.1.2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ampyre.api.ocpi.auth import OcpiCaller, partner_service
from ampyre.api.ocpi.envelope import ocpi_response
from ampyre.domain.ocpi import OCPI_VERSION, InterfaceRole, ModuleId

# (identifier, role, party) of every module this server serves: party "" for the
# configuration modules at /ocpi/2.2.1/<identifier>.
Listing = Callable[[], Sequence[tuple[str, InterfaceRole, str]]]


def versions_router(listing: Listing) -> APIRouter:
    router = APIRouter()

    @router.get("/versions")
    async def versions(request: Request, caller: OcpiCaller) -> Response:
        identity = partner_service(request).identity
        return ocpi_response([{"version": OCPI_VERSION, "url": identity.details_url()}])

    @router.get(f"/{OCPI_VERSION}/details")
    @router.get(f"/{OCPI_VERSION}")
    async def details(request: Request, caller: OcpiCaller) -> Response:
        identity = partner_service(request).identity
        endpoints: list[dict[str, Any]] = [
            # 6.2.2 NOTE: "for the credentials module, the role is not relevant"; listing
            # both tells a party looking for either that it is here.
            {
                "identifier": ModuleId.CREDENTIALS.value,
                "role": role.value,
                "url": identity.credentials_url(),
            }
            for role in (InterfaceRole.SENDER, InterfaceRole.RECEIVER)
        ]
        for identifier, role, party in listing():
            endpoints.append(
                {
                    "identifier": identifier,
                    "role": role.value,
                    "url": identity.module_url(party, identifier),
                }
            )
        return ocpi_response({"version": OCPI_VERSION, "endpoints": endpoints})

    return router
