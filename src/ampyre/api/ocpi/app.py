"""The OCPI 2.2.1 server: a FastAPI app mounted at /ocpi by `create_api` (api/app.py),
with its own envelope, error handlers and credentials-token auth.

Layout: /ocpi/versions, /ocpi/2.2.1/details, /ocpi/2.2.1/credentials, and each
functional module at /ocpi/{party}/2.2.1/{identifier} where party is "cpo" or "emsp",
the role in which we implement it. Each roaming part adds its modules as `ModuleSpec`s
in its own block of `ocpi_modules()`; a module of a party role we do not take
(setting ocpi_roles) is neither mounted nor listed in the version details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, FastAPI

from ampyre.api.ocpi.credentials import credentials_router
from ampyre.api.ocpi.envelope import install_handlers
from ampyre.api.ocpi.middleware import OcpiMiddleware
from ampyre.api.ocpi.versions import versions_router
from ampyre.domain.ocpi import OCPI_VERSION, InterfaceRole, OcpiRole

if TYPE_CHECKING:
    from ampyre.api.deps import ApiDeps

OCPI_PREFIX = "/ocpi"
_PARTY_ROLE = {"cpo": OcpiRole.CPO, "emsp": OcpiRole.EMSP}


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """One module interface we serve: its router's paths are relative to
    /ocpi/{party}/2.2.1/{identifier}."""

    identifier: str
    role: InterfaceRole
    party: Literal["cpo", "emsp"]
    router: APIRouter


def ocpi_modules() -> list[ModuleSpec]:
    modules: list[ModuleSpec] = []
    from ampyre.api.ocpi.tariffs import tariff_modules

    modules += tariff_modules()
    from ampyre.api.ocpi.locations import location_modules

    modules += location_modules()
    from ampyre.api.ocpi.cdrs import cdr_modules
    from ampyre.api.ocpi.sessions import session_modules

    modules += session_modules() + cdr_modules()
    from ampyre.api.ocpi.commands import command_modules
    from ampyre.api.ocpi.tokens import token_modules

    modules += token_modules() + command_modules()
    return modules


def create_ocpi_app(deps: ApiDeps, modules: list[ModuleSpec] | None = None) -> FastAPI:
    roles = {OcpiRole(r.upper()) for r in deps.settings.ocpi_roles}
    served = [
        m for m in (ocpi_modules() if modules is None else modules) if _PARTY_ROLE[m.party] in roles
    ]
    app = FastAPI(
        title="Ampyre OCPI 2.2.1",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.deps = deps
    install_handlers(app)
    listing = [(m.identifier, m.role, m.party) for m in served]
    app.include_router(versions_router(lambda: listing))
    app.include_router(credentials_router())
    for module in served:
        app.include_router(
            module.router, prefix=f"/{module.party}/{OCPI_VERSION}/{module.identifier}"
        )
    partners = getattr(deps, "ocpi_partners", None)
    app.add_middleware(
        OcpiMiddleware,
        identity=None if partners is None else partners.identity,
        exchanges=getattr(deps, "ocpi_exchanges", None),
    )
    return app
