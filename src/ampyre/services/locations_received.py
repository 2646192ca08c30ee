"""Locations our CPO partners push to us (eMSP role, mod_locations 8.2.2 Receiver
interface): GET, PUT and PATCH of a Location, an EVSE or a Connector under the CPO's
country code and party id. Bodies are checked with the specification's field limits
(domain/locations_validate.py); the stored Location is always a whole, valid object."""

from __future__ import annotations

from typing import Any

from ampyre.domain import locations_merge as merge
from ampyre.domain import locations_validate as v
from ampyre.domain.locations import ReceivedLocation
from ampyre.domain.locations_merge import UnknownObject, same_id
from ampyre.domain.locations_validate import LocationInvalid
from ampyre.domain.models import Page
from ampyre.services.locations_port import LocationStore

__all__ = ["LocationInvalid", "ReceivedLocations", "UnknownObject"]


class ReceivedLocations:
    def __init__(self, store: LocationStore) -> None:
        self._store = store

    async def get(
        self,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> dict[str, Any]:
        """The object as we store it; UnknownObject if there is none."""
        found = await self._store.get_received(country_code, party_id, location_id)
        if found is None:
            raise UnknownObject("Location")
        return merge.select(found.data, evse_uid, connector_id)

    async def put(
        self,
        partner_id: int | None,
        country_code: str,
        party_id: str,
        location_id: str,
        body: Any,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> bool:
        """Store a pushed Location, EVSE or Connector; True if it is new (HTTP 201)."""
        if evse_uid is None:
            data = v.location(body, "")
            same_id(country_code, data["country_code"], "country_code")
            same_id(party_id, data["party_id"], "party_id")
            same_id(location_id, data["id"], "id")
            at = v.parse_time(data["last_updated"], "last_updated")
            return await self._store.put_received(
                partner_id, country_code, party_id, data["id"], data, at
            )
        created = False
        if connector_id is None:
            evse = v.evse(body, "")
            same_id(evse_uid, evse["uid"], "uid")

            def change(stored: dict[str, Any]) -> tuple[dict[str, Any], Any]:
                nonlocal created
                data, created = merge.put_evse(stored, evse)
                return data, v.parse_time(data["last_updated"], "last_updated")

        else:
            connector = v.connector(body, "")
            same_id(connector_id, connector["id"], "id")

            def change(stored: dict[str, Any]) -> tuple[dict[str, Any], Any]:
                nonlocal created
                data, created = merge.put_connector(stored, evse_uid, connector)
                return data, v.parse_time(data["last_updated"], "last_updated")

        found = await self._store.update_received(country_code, party_id, location_id, change)
        if found is None:
            raise UnknownObject("Location")
        return created

    async def patch(
        self,
        country_code: str,
        party_id: str,
        location_id: str,
        body: Any,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> None:
        """Change the fields a PATCH carries (last_updated required)."""
        if evse_uid is None:
            patch = v.partial(v.LOCATION_FIELDS, body)
            same_id(country_code, patch.get("country_code"), "country_code")
            same_id(party_id, patch.get("party_id"), "party_id")
            same_id(location_id, patch.get("id"), "id")
        elif connector_id is None:
            patch = v.partial(v.EVSE_FIELDS, body)
            same_id(evse_uid, patch.get("uid"), "uid")
        else:
            patch = v.partial(v.CONNECTOR_FIELDS, body)
            same_id(connector_id, patch.get("id"), "id")

        def change(stored: dict[str, Any]) -> tuple[dict[str, Any], Any]:
            if evse_uid is None:
                data = merge.patch_location(stored, patch)
            elif connector_id is None:
                data = merge.patch_evse(stored, evse_uid, patch)
            else:
                data = merge.patch_connector(stored, evse_uid, connector_id, patch)
            return data, v.parse_time(data["last_updated"], "last_updated")

        found = await self._store.update_received(country_code, party_id, location_id, change)
        if found is None:
            raise UnknownObject("Location")

    # ------------------------------------------------------------------ operator reads

    async def page(
        self,
        limit: int,
        offset: int,
        partner_id: int | None = None,
        country_code: str | None = None,
        party_id: str | None = None,
    ) -> Page:
        return await self._store.list_received(limit, offset, partner_id, country_code, party_id)

    async def one(
        self, country_code: str, party_id: str, location_id: str
    ) -> ReceivedLocation | None:
        return await self._store.get_received(country_code, party_id, location_id)
