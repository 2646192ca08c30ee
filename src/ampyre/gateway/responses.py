"""The gateway's small pieces around the handshake: password checks off the event loop,
the offered subprotocols, and the HTTP refusals (401, 403, 404, 429, ...)."""

from __future__ import annotations

import asyncio
import math
from http import HTTPStatus

from ampyre.gateway.upgrade import Refusal, UpgradeRequest
from ampyre.services import secrets


async def password_ok(password: str, stored: str) -> bool:
    if secrets.known_password(password, stored):
        return True
    # scrypt takes tens of milliseconds: keep it off the event loop.
    if await asyncio.to_thread(secrets.password_matches, password, stored):
        secrets.remember_password(password, stored)
        return True
    return False


_DUMMY_HASH: list[str] = []


async def dummy_hash() -> str:
    """A password hash no password matches, for unknown stations (made once, off the loop)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(await asyncio.to_thread(secrets.hash_password, "-unknown-station-"))
    return _DUMMY_HASH[0]


def offered_subprotocols(request: UpgradeRequest) -> list[str]:
    offered: list[str] = []
    for value in request.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def refuse(status: HTTPStatus, text: str) -> Refusal:
    return Refusal(status, text + "\n")


def too_many(wait: float) -> Refusal:
    return Refusal(
        HTTPStatus.TOO_MANY_REQUESTS,
        "Too many failed logins; try again later\n",
        (("Retry-After", str(max(1, math.ceil(wait)))),),
    )


def unauthorized(text: str) -> Refusal:
    return Refusal(
        HTTPStatus.UNAUTHORIZED,
        text + "\n",
        (("WWW-Authenticate", 'Basic realm="OCPP", charset="UTF-8"'),),
    )


def url_host(host: str) -> str:
    """A listening host as stations on this machine reach it."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
