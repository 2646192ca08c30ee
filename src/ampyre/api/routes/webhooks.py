"""REST routes: webhooks."""

from fastapi import APIRouter

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps


def webhooks_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    return APIRouter()
