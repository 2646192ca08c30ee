"""The REST API application: `create_api(deps)`."""

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from ampyre import __version__ as _version
from ampyre.api.auth import Auth
from ampyre.api.body_limit import BodyLimitMiddleware
from ampyre.api.deps import ApiDeps
from ampyre.api.docs import install_docs
from ampyre.api.guard import WriteGuard, write_rules
from ampyre.api.log_uploads import LogUploads
from ampyre.api.ocpi.app import OCPI_PREFIX, create_ocpi_app
from ampyre.api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from ampyre.api.routes._common import API_PREFIX
from ampyre.api.routes.alerts import alerts_router
from ampyre.api.routes.audit import audit_router
from ampyre.api.routes.authz import authz_router
from ampyre.api.routes.cdrs import cdrs_router
from ampyre.api.routes.certificates import certificates_router
from ampyre.api.routes.charging_profiles import charging_profiles_router
from ampyre.api.routes.commands import commands_router
from ampyre.api.routes.configuration import configuration_router
from ampyre.api.routes.customer import customer_router
from ampyre.api.routes.dashboard import dashboard_router
from ampyre.api.routes.display import display_router
from ampyre.api.routes.firmware import download_router, firmware_router, upload_limit
from ampyre.api.routes.firmware_rollouts import rollouts_router
from ampyre.api.routes.health import health_router
from ampyre.api.routes.locations import locations_router
from ampyre.api.routes.logs import logs_router
from ampyre.api.routes.messages import messages_router
from ampyre.api.routes.monitoring import monitoring_router
from ampyre.api.routes.network_profiles import network_profiles_router
from ampyre.api.routes.nodes import nodes_router
from ampyre.api.routes.ocpi_commands import ocpi_commands_router
from ampyre.api.routes.ocpi_partners import ocpi_partners_router
from ampyre.api.routes.ocsp import ocsp_router
from ampyre.api.routes.pki import pki_router
from ampyre.api.routes.plug_and_charge import plug_and_charge_router
from ampyre.api.routes.session import session_router
from ampyre.api.routes.sites import sites_router
from ampyre.api.routes.station_control import station_control_router
from ampyre.api.routes.station_security import station_security_router
from ampyre.api.routes.station_tariffs import station_tariffs_router
from ampyre.api.routes.stations import stations_router
from ampyre.api.routes.tariffs import tariffs_router
from ampyre.api.routes.tokens import tokens_router
from ampyre.api.routes.transactions import transactions_router
from ampyre.api.routes.users import users_router
from ampyre.api.routes.webhooks import webhooks_router

DESCRIPTION = """\
Ampyre's REST API. Authenticate with `Authorization: Bearer <token>`, or sign in with
`POST /api/v1/session` (dashboard users): the session cookie then works too, and writes
made with it need the header `X-CSRF-Token` (the session's `csrf_token`).
Roles: **viewer** may read, **operator** may also send commands to stations,
**admin** may do everything (stations, tokens, the audit trail). Errors are
`application/problem+json` (RFC 9457). Lists take `limit` (1..500, default 50) and
`offset` and return a `total`. Request bodies are limited to AMPYRE_MAX_BODY_SIZE (413).
"""


def create_api(deps: ApiDeps) -> FastAPI:
    app = FastAPI(
        title="Ampyre",
        version=_version,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by install_docs, from installed assets
        redoc_url=None,
    )
    app.state.deps = deps
    install_problem_handlers(app)
    install_docs(app, API_PREFIX)
    auth = Auth(deps.tokens, deps.users)
    method_table: list[tuple[re.Pattern[str], set[str]]] = []
    routers = [(health_router(deps, auth), "")]
    routers += [
        (make(deps, auth), API_PREFIX)
        for make in (
            stations_router,
            commands_router,
            station_control_router,
            messages_router,
            tokens_router,
            transactions_router,
            authz_router,
            webhooks_router,
            audit_router,
            session_router,
            users_router,
            dashboard_router,
            nodes_router,
            configuration_router,
            network_profiles_router,
            firmware_router,
            rollouts_router,
            logs_router,
            display_router,
            customer_router,
            alerts_router,
            monitoring_router,
            charging_profiles_router,
            sites_router,
            plug_and_charge_router,
            certificates_router,
            pki_router,
            station_security_router,
        )
    ]
    # Roaming and pricing (issue 20): operator routes under /api/v1.
    routers += [
        (make(deps, auth), API_PREFIX)
        for make in (
            ocpi_partners_router,
            tariffs_router,
            locations_router,
            cdrs_router,
            ocpi_commands_router,
            station_tariffs_router,
        )
    ]
    routers.append((download_router(deps), ""))  # stations fetch firmware without a token
    routers.append((ocsp_router(deps), ""))
    for router, prefix in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                regex, _, _ = compile_path(prefix + route.path)
                method_table.append((regex, set(route.methods or ())))
        app.include_router(router, prefix=prefix)
    app.state.method_table = method_table
    # The OCPI server itself: its own envelope, and partners' credentials tokens.
    app.mount(OCPI_PREFIX, create_ocpi_app(deps))
    _document_problems(app)
    # Starlette puts the last added outermost: the size limit, then the write guard.
    app.add_middleware(
        WriteGuard, auth=auth, rules=write_rules(routers, auth), audit=deps.operator_audit
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=deps.settings.max_body_size,
        larger=upload_limit(deps.settings.firmware_upload_max),
    )
    # Outermost: stations' log uploads have a limit of their own (api/log_uploads.py).
    app.add_middleware(LogUploads, logs=deps.logs)
    return app


def _document_problems(app: FastAPI) -> None:
    """Describe every error response as application/problem+json in the OpenAPI document
    (FastAPI files them under application/json and adds its own 422 shape)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path_item in spec.get("paths", {}).values():
                for operation in path_item.values():
                    for code, response in operation.get("responses", {}).items():
                        if code.isdigit() and int(code) >= 400:
                            ref = "ValidationProblem" if code == "422" else "Problem"
                            schema = {"$ref": f"#/components/schemas/{ref}"}
                            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
            schemas = spec.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
