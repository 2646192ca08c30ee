"""Bringing one eMSP partner up to date with our Locations (CPO role, mod_locations).

Pushes otherwise follow changes (services/locations.py, services/locations_feed.py), so:
- `sync_partner`: a partner that just registered (or whose endpoints changed) gets every
  roaming Location as a PUT, to it alone, page by page (OCPI 2.2.1 mod_locations 8.1: an
  eMSP needs the whole Location before EVSE or Connector updates mean anything);
- `resend`: a receiver that answers a push about one of our Locations with 2003 "Unknown
  Location" / HTTP 404 (e.g. an EVSE status PATCH for a Location it never got) gets the
  whole Location as a PUT instead. It is the push queue's fallback for `location:` keys
  (services/ocpi_push.py `on_unknown_object`): only the delivery loop sees the answer, and
  only the location service can build the Location.

Both queue under the object key the location service uses (`location:{id}`), so the
PATCHes queued after them are sent after them, and a PUT still queued supersedes them.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from ampyre.domain.ocpi import OcpiRole, Partner
from ampyre.services.locations import KEY_PREFIX, MODULE, LocationService
from ampyre.services.ocpi_port import PushItem, PushPort

SYNC_PAGE: Final = 50  # Locations built (and held) at a time for a new partner


class LocationSync:
    def __init__(self, locations: LocationService, push: PushPort) -> None:
        self._locations = locations
        self._push = push

    async def sync_partner(self, partner: Partner, hold: float = 0.0) -> int:
        """PUT every roaming Location to this partner, `hold` seconds from now; how many
        were queued. The EVSE states the location service keeps (what the receivers were
        last told) are left alone: a status PATCH that follows carries the same or newer."""
        if not partner.registered or not partner.has_role(OcpiRole.EMSP):
            return 0
        queued, offset = 0, 0
        while True:
            objects, total = await self._locations.sender_page(None, None, offset, SYNC_PAGE)
            for obj in objects:
                location_id = str(obj["id"])
                if not await self._push.to_partner(
                    partner,
                    MODULE,
                    "PUT",
                    self._locations.path(location_id),
                    obj,
                    KEY_PREFIX + location_id,
                    delay=hold,
                ):
                    return queued  # no locations Receiver endpoint
                queued += 1
            offset += len(objects)
            if not objects or offset >= total:
                return queued

    async def resend(self, partner: Partner, item: PushItem) -> bool:
        """Queue the whole Location `item` was about as a PUT to `partner`. False when
        `item` was that PUT already (so this happens once; then the request fails as
        usual), was no PUT or PATCH, or the Location is no longer offered."""
        if item.method not in ("PUT", "PATCH") or not item.object_key.startswith(KEY_PREFIX):
            return False
        location = await self._locations.get(item.object_key.removeprefix(KEY_PREFIX))
        if location is None or not location.roaming:
            return False
        path = self._locations.path(location.id)
        sent = urlsplit(item.url).path.rstrip("/")
        if item.method == "PUT" and sent.lower().endswith(path.lower()):
            return False
        obj = await self._locations.build(location)
        return await self._push.to_partner(
            partner, MODULE, "PUT", path, obj, KEY_PREFIX + location.id
        )
