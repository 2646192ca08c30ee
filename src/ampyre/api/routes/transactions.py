"""REST routes: transactions."""

from fastapi import APIRouter

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps


def transactions_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    return APIRouter()
