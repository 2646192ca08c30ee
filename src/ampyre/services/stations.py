"""Managing the stations Ampyre knows: registration, credentials, description."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ampyre.domain.dashboard import StationQuery
from ampyre.domain.models import (
    Connector,
    Page,
    RegistrationStatus,
    Station,
    StationUpdate,
)
from ampyre.services import secrets
from ampyre.services.ports import Store

# OCPP 1.6 / 2.0.1 identifierString without ':': the charge point identity is the last
# segment of the WebSocket URL and the HTTP Basic user name, which cannot hold ':' (RFC
# 7617; OCPP 2.0.1 Part 2 A00 security profile 1). "." and ".." are not a path segment.
STATION_ID_MAX = 48
_STATION_ID_RE: Final = re.compile(rf"[A-Za-z0-9*\-_=+|@.]{{1,{STATION_ID_MAX}}}")


def is_station_id(value: str) -> bool:
    """The one rule for station ids (the gateway's URL path and the REST API alike)."""
    return bool(_STATION_ID_RE.fullmatch(value)) and value not in (".", "..")


# OCPP 1.6 Security Whitepaper / 2.0.1 BasicAuthPassword: passwordString of 16..40 chars.
PASSWORD_MIN, PASSWORD_MAX = 16, 40
_PASSWORD_RE: Final = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces

DESCRIPTION_MAX = 500


class StationError(Exception):
    """Base of the station service's refusals."""


class InvalidStationInput(StationError, ValueError):
    """A field has a value the station service refuses; `field` names it."""

    field: str = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidStationId(InvalidStationInput):
    field = "id"


class InvalidPassword(InvalidStationInput):
    field = "password"


class InvalidDescription(InvalidStationInput):
    field = "description"


class StationExists(StationError):
    pass


class StationNotFound(StationError, LookupError):
    pass


@dataclass(frozen=True, slots=True)
class _Unset:
    """Marks 'not given' where None already means 'clear'."""


UNSET: Final = _Unset()


def validate_station_id(station_id: str) -> str:
    if not isinstance(station_id, str) or not is_station_id(station_id):
        raise InvalidStationId(
            f"station id must be 1..{STATION_ID_MAX} characters of A-Z a-z 0-9 * - _ = + | @ ."
            " (not '.' or '..')"
        )
    return station_id


def validate_password(password: str) -> str:
    if not isinstance(password, str) or not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise InvalidPassword(
            f"password must be {PASSWORD_MIN}..{PASSWORD_MAX} characters "
            "(OCPP security profile 1/2 passwordString)"
        )
    if not _PASSWORD_RE.fullmatch(password):
        raise InvalidPassword("password must consist of printable ASCII characters without spaces")
    return password


def _validate_description(description: str | None) -> str | None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise InvalidDescription(f"description must be at most {DESCRIPTION_MAX} characters")
    return description


def _validate_profile(profile: int | None) -> int | None:
    """A configured security profile: 1, 2 or 3 (OCPP 2.0.1 Part 2 A00), or None."""
    if profile is not None and (isinstance(profile, bool) or profile not in (1, 2, 3)):
        raise InvalidSecurityProfile("security_profile must be 1, 2 or 3")
    return profile


class InvalidSecurityProfile(InvalidStationInput):
    field = "security_profile"


async def _hash(password: str) -> str:
    # scrypt takes tens of milliseconds and 16 MiB: keep it off the event loop.
    return await asyncio.to_thread(secrets.hash_password, password)


class StationService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        station_id: str,
        *,
        password: str | None = None,
        registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED,
        description: str | None = None,
        security_profile: int | None = None,
    ) -> Station:
        validate_station_id(station_id)
        _validate_profile(security_profile)
        password_hash = None
        if password is not None:
            password_hash = await _hash(validate_password(password))
        now = datetime.now(UTC)
        station = Station(
            id=station_id,
            registration_status=RegistrationStatus(registration_status),
            description=_validate_description(description),
            password_hash=password_hash,
            security_profile=security_profile,
            created_at=now,
            updated_at=now,
        )
        if await self._store.get_station(station_id) is not None:
            raise StationExists(f"station {station_id!r} already exists")
        try:
            return await self._store.create_station(station)
        except KeyError:  # lost a race with another creator
            raise StationExists(f"station {station_id!r} already exists") from None

    async def get(self, station_id: str) -> Station | None:
        return await self._store.get_station(station_id)

    async def require(self, station_id: str) -> Station:
        station = await self._store.get_station(station_id)
        if station is None:
            raise StationNotFound(f"station {station_id!r} not found")
        return station

    async def connectors(self, station_id: str) -> list[Connector]:
        return await self._store.list_connectors(station_id)

    async def connectors_of(self, station_ids: list[str]) -> dict[str, list[Connector]]:
        return await self._store.list_connectors_of(station_ids)

    async def update(
        self,
        station_id: str,
        *,
        registration_status: RegistrationStatus | None = None,
        description: str | _Unset | None = UNSET,
        password: str | _Unset | None = UNSET,
        security_profile: int | _Unset | None = UNSET,
    ) -> Station:
        """Change what is given. `password=None` removes the password, `description=None`
        clears the description (stored as an empty string: the store reads None as 'keep')."""
        update = StationUpdate(
            registration_status=(
                RegistrationStatus(registration_status) if registration_status else None
            )
        )
        if not isinstance(description, _Unset):
            update.description = _validate_description(description) or ""
        if isinstance(password, str):
            update.password_hash = await _hash(validate_password(password))
        elif password is None:
            update.clear_password = True
        if not isinstance(security_profile, _Unset):
            update.extra["security_profile"] = _validate_profile(security_profile)
        station = await self._store.update_station(station_id, update)
        if station is None:
            raise StationNotFound(f"station {station_id!r} not found")
        return station

    async def delete(self, station_id: str) -> None:
        if not await self._store.delete_station(station_id):
            raise StationNotFound(f"station {station_id!r} not found")

    # Last: inside the class body `list` would shadow the builtin in later annotations.
    async def list(
        self, limit: int = 50, offset: int = 0, query: StationQuery | None = None
    ) -> Page:
        return await self._store.list_stations(limit, offset, query)
