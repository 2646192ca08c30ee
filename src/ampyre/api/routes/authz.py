"""REST routes: authz."""

from fastapi import APIRouter

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps


def authz_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    return APIRouter()
