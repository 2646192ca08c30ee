"""REST API (FastAPI): stations, commands, message log, tokens, health and metrics."""

from ampyre.api.app import create_api
from ampyre.api.deps import ApiDeps
from ampyre.api.routes._common import API_PREFIX

__all__ = ["API_PREFIX", "ApiDeps", "create_api"]
