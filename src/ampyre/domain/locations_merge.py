"""How a Location pushed to us (eMSP role) changes with each PUT or PATCH of it, of one of
its EVSEs or of one Connector (mod_locations 8.2.2): objects are found by their ids
compared case-insensitively (CiString), a PUT of an EVSE or Connector replaces or adds it,
a PATCH changes only the fields it carries, and the new `last_updated` is set on the
parent EVSE and Location too ("the Receiver SHALL also set the new last_updated value on
the parent"). Plain functions over the OCPI JSON; the result is checked again whole."""

from __future__ import annotations

import copy
from typing import Any

from ampyre.domain.locations_validate import LocationInvalid, location


class UnknownObject(LookupError):
    """The Location, EVSE or Connector the URL names does not exist."""

    def __init__(self, what: str) -> None:
        super().__init__(f"unknown {what}")
        self.what = what


def index_of(items: list[dict[str, Any]], key: str, ident: str) -> int | None:
    wanted = ident.upper()
    for i, item in enumerate(items):
        if str(item.get(key, "")).upper() == wanted:
            return i
    return None


def same_id(expected: str, given: Any, field: str) -> None:
    """An id in the body must name the object of the URL (case-insensitively)."""
    if given is not None and str(given).upper() != expected.upper():
        raise LocationInvalid(f"does not match the URL ({expected!r})", field)


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = location(data, "")
    return checked


def _evse(data: dict[str, Any], evse_uid: str) -> dict[str, Any]:
    evses: list[dict[str, Any]] = data.setdefault("evses", [])
    i = index_of(evses, "uid", evse_uid)
    if i is None:
        raise UnknownObject("EVSE")
    return evses[i]


def put_evse(stored: dict[str, Any], evse: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The Location with `evse` replacing the one of its uid or added; and if it was new."""
    data = copy.deepcopy(stored)
    evses: list[dict[str, Any]] = data.setdefault("evses", [])
    i = index_of(evses, "uid", evse["uid"])
    if i is None:
        evses.append(evse)
    else:
        evses[i] = evse
    data["last_updated"] = evse["last_updated"]
    return _checked(data), i is None


def put_connector(
    stored: dict[str, Any], evse_uid: str, connector: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    data = copy.deepcopy(stored)
    evse = _evse(data, evse_uid)
    connectors: list[dict[str, Any]] = evse.setdefault("connectors", [])
    i = index_of(connectors, "id", connector["id"])
    if i is None:
        connectors.append(connector)
    else:
        connectors[i] = connector
    evse["last_updated"] = data["last_updated"] = connector["last_updated"]
    return _checked(data), i is None


def _merge_children(
    target: dict[str, Any], patch: dict[str, Any], name: str, key: str
) -> dict[str, Any]:
    """A PATCH carrying a list of child objects (`evses`, `connectors`) changes or adds
    those children; the others stay (a PATCH cannot remove information)."""
    rest = dict(patch)
    children = rest.pop(name, None)
    if children is not None:
        current: list[dict[str, Any]] = target.setdefault(name, [])
        for child in children:
            i = index_of(current, key, str(child.get(key, "")))
            if i is None:
                current.append(child)
            else:
                current[i] = {**current[i], **child}
    return rest


def patch_location(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(stored)
    data.update(_merge_children(data, patch, "evses", "uid"))
    return _checked(data)


def patch_evse(stored: dict[str, Any], evse_uid: str, patch: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(stored)
    evse = _evse(data, evse_uid)
    evse.update(_merge_children(evse, patch, "connectors", "id"))
    data["last_updated"] = evse["last_updated"]
    return _checked(data)


def patch_connector(
    stored: dict[str, Any], evse_uid: str, connector_id: str, patch: dict[str, Any]
) -> dict[str, Any]:
    data = copy.deepcopy(stored)
    evse = _evse(data, evse_uid)
    connectors: list[dict[str, Any]] = evse.setdefault("connectors", [])
    i = index_of(connectors, "id", connector_id)
    if i is None:
        raise UnknownObject("Connector")
    connectors[i].update(patch)
    evse["last_updated"] = data["last_updated"] = patch["last_updated"]
    return _checked(data)


def select(
    data: dict[str, Any], evse_uid: str | None = None, connector_id: str | None = None
) -> dict[str, Any]:
    """The Location, one of its EVSEs or one Connector (UnknownObject if missing)."""
    if evse_uid is None:
        return data
    evse = _evse(copy.deepcopy(data), evse_uid)
    if connector_id is None:
        return evse
    connectors: list[dict[str, Any]] = evse.get("connectors", [])
    i = index_of(connectors, "id", connector_id)
    if i is None:
        raise UnknownObject("Connector")
    return connectors[i]
