"""OCPI 2.2.1 Locations objects checked against the specification's types and field
limits (mod_locations 8.3 objects, 8.4 data types; types 16.x): what a partner pushes to
us (PUT/PATCH of a Location, EVSE or Connector) and what the operator describes.

Each check returns the object cleaned (known fields only, nulls dropped, timestamps as
UTC `...Z` text) or raises LocationInvalid with the JSON path of the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from ampyre.domain.locations_enums import (
    CAPABILITIES,
    CONNECTOR_FORMATS,
    CONNECTOR_TYPES,
    ENERGY_SOURCES,
    ENVIRONMENTAL_IMPACTS,
    EVSE_STATUSES,
    FACILITIES,
    IMAGE_CATEGORIES,
    PARKING_RESTRICTIONS,
    PARKING_TYPES,
    POWER_TYPES,
    TOKEN_TYPES,
)

MAX_LIST = 1000  # items in any list of one object (a bound, not a spec rule)


class LocationInvalid(ValueError):
    """An object breaks a rule; `field` is the JSON path of the offending value."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


Check = Callable[[Any, str], Any]
StrCheck = Callable[[Any, str], str]

# ------------------------------------------------------------------ types (OCPI 16.x)

_PRINTABLE_ASCII: Final = re.compile(r"[\x20-\x7e]*")
# 2.2.1 string: printable UTF-8, no control characters (C0, DEL, C1).
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# mod_locations GeoLocation: -?[0-9]{1,2}\.[0-9]{5,7} and -?[0-9]{1,3}\.[0-9]{5,7}.
_LATITUDE: Final = re.compile(r"-?[0-9]{1,2}\.[0-9]{5,7}")
_LONGITUDE: Final = re.compile(r"-?[0-9]{1,3}\.[0-9]{5,7}")
# mod_locations RegularHours period_begin/period_end: 24h "HH:MM" with leading zeros.
_HOUR_MINUTE: Final = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]")


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}.{key}" if path else str(key)
    return f"{path}.{key}" if path else key


def ci_string(max_len: int) -> StrCheck:
    """CiString(n): case-insensitive, printable ASCII, 1..n characters."""

    def check(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise LocationInvalid("must be a string", path)
        if not value or len(value) > max_len:
            raise LocationInvalid(f"must be 1..{max_len} characters", path)
        if not _PRINTABLE_ASCII.fullmatch(value):
            raise LocationInvalid("must be printable ASCII (CiString)", path)
        return value

    return check


def string(max_len: int) -> StrCheck:
    """string(n): case-sensitive printable UTF-8 of at most n characters."""

    def check(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise LocationInvalid("must be a string", path)
        if len(value) > max_len:
            raise LocationInvalid(f"must be at most {max_len} characters", path)
        if _CONTROL.search(value):
            raise LocationInvalid("must not contain control characters", path)
        return value

    return check


def url(value: Any, path: str) -> str:
    """URL: string(255), an absolute http(s) URL."""
    text = string(255)(value, path)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise LocationInvalid("must be a URL", path) from None
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise LocationInvalid("must be an absolute http(s) URL", path)
    return text


def ocpi_time(at: datetime) -> str:
    """DateTime as OCPI wants it: UTC, RFC 3339 with a 'Z' (types 16.2), milliseconds."""
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return at.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_time(value: Any, path: str) -> datetime:
    """DateTime: RFC 3339; no designator means UTC (types 16.2). An explicit offset is
    accepted and converted (implementations in the field send +00:00)."""
    if not isinstance(value, str) or not 10 < len(value) <= 35:
        raise LocationInvalid("must be an RFC 3339 date-time", path)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise LocationInvalid("must be an RFC 3339 date-time", path) from None
    if "T" not in value.upper():
        raise LocationInvalid("must be an RFC 3339 date-time", path)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def date_time(value: Any, path: str) -> str:
    return ocpi_time(parse_time(value, path))


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise LocationInvalid("must be true or false", path)
    return value


def integer(low: int, high: int) -> Check:
    def check(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise LocationInvalid("must be an integer", path)
        if not low <= value <= high:
            raise LocationInvalid(f"must be {low}..{high}", path)
        return value

    return check


def number(low: float, high: float) -> Check:
    def check(value: Any, path: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LocationInvalid("must be a number", path)
        if not low <= value <= high:
            raise LocationInvalid(f"must be {low:g}..{high:g}", path)
        return value

    return check


def enum_of(values: frozenset[str]) -> Check:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str) or value not in values:
            shown = ", ".join(sorted(values)) if len(values) <= 12 else "the enum's values"
            raise LocationInvalid(f"must be one of {shown}", path)
        return value

    return check


def list_of(item: Check, *, unique: bool = False, min_items: int = 0) -> Check:
    def check(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise LocationInvalid("must be a list", path)
        if len(value) > MAX_LIST:
            raise LocationInvalid(f"must have at most {MAX_LIST} items", path)
        if len(value) < min_items:
            raise LocationInvalid(f"must have at least {min_items} item(s)", path)
        out = [item(v, _at(path, i)) for i, v in enumerate(value)]
        if unique:
            seen: set[str] = set()
            for i, v in enumerate(out):
                key = str(v).upper()
                if key in seen:
                    raise LocationInvalid("duplicate value", _at(path, i))
                seen.add(key)
        return out

    return check


def fields(
    spec: Mapping[str, tuple[Check, bool]],
    rule: Callable[[dict[str, Any], str], None] | None = None,
) -> Check:
    """An object: each field's check and whether it is required (card. 1 or +)."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise LocationInvalid("must be an object", path)
        out: dict[str, Any] = {}
        for name, (sub, required) in spec.items():
            raw = value.get(name)
            if raw is None:
                if required:
                    raise LocationInvalid("is required", _at(path, name))
                continue
            out[name] = sub(raw, _at(path, name))
        if rule is not None:
            rule(out, path)
        return out

    return check


# ------------------------------------------------------------------ classes (8.4)

display_text = fields({"language": (string(2), True), "text": (string(512), True)})


def _latitude(value: Any, path: str) -> str:
    text = string(10)(value, path)
    if not _LATITUDE.fullmatch(text) or abs(float(text)) > 90:
        raise LocationInvalid("must be a latitude like 51.047599 (5 to 7 decimals)", path)
    return text


def _longitude(value: Any, path: str) -> str:
    text = string(11)(value, path)
    if not _LONGITUDE.fullmatch(text) or abs(float(text)) > 180:
        raise LocationInvalid("must be a longitude like 3.729944 (5 to 7 decimals)", path)
    return text


geo_location = fields({"latitude": (_latitude, True), "longitude": (_longitude, True)})
additional_geo_location = fields(
    {"latitude": (_latitude, True), "longitude": (_longitude, True), "name": (display_text, False)}
)
image = fields(
    {
        "url": (url, True),
        "thumbnail": (url, False),
        "category": (enum_of(IMAGE_CATEGORIES), True),
        "type": (ci_string(4), True),
        "width": (integer(0, 99_999), False),
        "height": (integer(0, 99_999), False),
    }
)
business_details = fields(
    {"name": (string(100), True), "website": (url, False), "logo": (image, False)}
)
energy_mix = fields(
    {
        "is_green_energy": (boolean, True),
        "energy_sources": (
            list_of(
                fields(
                    {
                        "source": (enum_of(ENERGY_SOURCES), True),
                        "percentage": (number(0, 100), True),
                    }
                )
            ),
            False,
        ),
        "environ_impact": (
            list_of(
                fields(
                    {
                        "category": (enum_of(ENVIRONMENTAL_IMPACTS), True),
                        "amount": (number(0, 1e9), True),
                    }
                )
            ),
            False,
        ),
        "supplier_name": (string(64), False),
        "energy_product_name": (string(64), False),
    }
)


def _period_rule(obj: dict[str, Any], path: str) -> None:
    if "period_end" in obj and obj["period_end"] <= obj["period_begin"]:
        raise LocationInvalid("must be later than period_begin", _at(path, "period_end"))


def _hour_minute(value: Any, path: str) -> str:
    text = string(5)(value, path)
    if not _HOUR_MINUTE.fullmatch(text):
        raise LocationInvalid('must be a 24h time like "08:00"', path)
    return text


regular_hours = fields(
    {
        "weekday": (integer(1, 7), True),
        "period_begin": (_hour_minute, True),
        "period_end": (_hour_minute, True),
    },
    _period_rule,
)
exceptional_period = fields(
    {"period_begin": (date_time, True), "period_end": (date_time, True)}, _period_rule
)


def _hours_rule(obj: dict[str, Any], path: str) -> None:
    # mod_locations Hours: regular_hours only when twentyfourseven=false, then at least one.
    if obj["twentyfourseven"] and obj.get("regular_hours"):
        raise LocationInvalid("only allowed when twentyfourseven is false", f"{path}.regular_hours")
    if not obj["twentyfourseven"] and not obj.get("regular_hours"):
        raise LocationInvalid(
            "needs at least one entry when twentyfourseven is false", f"{path}.regular_hours"
        )


hours = fields(
    {
        "twentyfourseven": (boolean, True),
        "regular_hours": (list_of(regular_hours), False),
        "exceptional_openings": (list_of(exceptional_period), False),
        "exceptional_closings": (list_of(exceptional_period), False),
    },
    _hours_rule,
)


def _publish_token_rule(obj: dict[str, Any], path: str) -> None:
    # mod_locations PublishTokenType: one of uid/visual_number/group_id; uid needs type;
    # visual_number needs issuer.
    if not any(k in obj for k in ("uid", "visual_number", "group_id")):
        raise LocationInvalid("needs uid, visual_number or group_id", path)
    if "uid" in obj and "type" not in obj:
        raise LocationInvalid("is required when uid is set", f"{path}.type")
    if "visual_number" in obj and "issuer" not in obj:
        raise LocationInvalid("is required when visual_number is set", f"{path}.issuer")


publish_token = fields(
    {
        "uid": (ci_string(36), False),
        "type": (enum_of(TOKEN_TYPES), False),
        "visual_number": (string(64), False),
        "issuer": (string(64), False),
        "group_id": (ci_string(36), False),
    },
    _publish_token_rule,
)
status_schedule = fields(
    {
        "period_begin": (date_time, True),
        "period_end": (date_time, False),
        "status": (enum_of(EVSE_STATUSES), True),
    },
    _period_rule,
)

# ------------------------------------------------------------------ objects (8.3)

CONNECTOR_FIELDS: Final[dict[str, tuple[Check, bool]]] = {
    "id": (ci_string(36), True),
    "standard": (enum_of(CONNECTOR_TYPES), True),
    "format": (enum_of(CONNECTOR_FORMATS), True),
    "power_type": (enum_of(POWER_TYPES), True),
    "max_voltage": (integer(0, 1_000_000), True),
    "max_amperage": (integer(0, 1_000_000), True),
    "max_electric_power": (integer(0, 2_000_000_000), False),
    "tariff_ids": (list_of(ci_string(36), unique=True), False),
    "terms_and_conditions": (url, False),
    "last_updated": (date_time, True),
}
connector = fields(CONNECTOR_FIELDS)

EVSE_FIELDS: Final[dict[str, tuple[Check, bool]]] = {
    "uid": (ci_string(36), True),
    "evse_id": (ci_string(48), False),
    "status": (enum_of(EVSE_STATUSES), True),
    "status_schedule": (list_of(status_schedule), False),
    "capabilities": (list_of(enum_of(CAPABILITIES), unique=True), False),
    "connectors": (list_of(connector, min_items=1), True),
    "floor_level": (string(4), False),
    "coordinates": (geo_location, False),
    "physical_reference": (string(16), False),
    "directions": (list_of(display_text), False),
    "parking_restrictions": (list_of(enum_of(PARKING_RESTRICTIONS), unique=True), False),
    "images": (list_of(image), False),
    "last_updated": (date_time, True),
}


def _evse_rule(obj: dict[str, Any], path: str) -> None:
    _unique_ids(obj.get("connectors", []), "id", f"{path}.connectors")


evse = fields(EVSE_FIELDS, _evse_rule)

# The fields of a Location that describe the place (what the operator edits).
PLACE_FIELDS: Final[dict[str, tuple[Check, bool]]] = {
    "publish": (boolean, True),
    "publish_allowed_to": (list_of(publish_token), False),
    "name": (string(255), False),
    "address": (string(45), True),
    "city": (string(45), True),
    "postal_code": (string(10), False),
    "state": (string(20), False),
    "country": (string(3), True),
    "coordinates": (geo_location, True),
    "related_locations": (list_of(additional_geo_location), False),
    "parking_type": (enum_of(PARKING_TYPES), False),
    "directions": (list_of(display_text), False),
    "operator": (business_details, False),
    "suboperator": (business_details, False),
    "owner": (business_details, False),
    "facilities": (list_of(enum_of(FACILITIES), unique=True), False),
    "time_zone": (string(255), True),
    "opening_times": (hours, False),
    "charging_when_closed": (boolean, False),
    "images": (list_of(image), False),
    "energy_mix": (energy_mix, False),
}
LOCATION_FIELDS: Final[dict[str, tuple[Check, bool]]] = {
    "country_code": (ci_string(2), True),
    "party_id": (ci_string(3), True),
    "id": (ci_string(36), True),
    **PLACE_FIELDS,
    "evses": (list_of(evse), False),
    "last_updated": (date_time, True),
}
_COUNTRY: Final = re.compile(r"[A-Z]{3}")


def _place_rule(obj: dict[str, Any], path: str) -> None:
    if not _COUNTRY.fullmatch(obj.get("country", "XXX")):
        raise LocationInvalid("must be an ISO 3166-1 alpha-3 code like NLD", _at(path, "country"))
    # mod_locations Location: publish_allowed_to only when publish is false.
    if obj.get("publish") and obj.get("publish_allowed_to"):
        raise LocationInvalid(
            "may only be used when publish is false", _at(path, "publish_allowed_to")
        )


def _location_rule(obj: dict[str, Any], path: str) -> None:
    _place_rule(obj, path)
    _unique_ids(obj.get("evses", []), "uid", _at(path, "evses"))


location = fields(LOCATION_FIELDS, _location_rule)
place = fields(PLACE_FIELDS, _place_rule)


def _unique_ids(items: list[dict[str, Any]], key: str, path: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        ident = str(item[key]).upper()  # CiString: compared case-insensitively
        if ident in seen:
            raise LocationInvalid(f"duplicate {key} {item[key]!r}", f"{path}.{i}.{key}")
        seen.add(ident)


def partial(spec: Mapping[str, tuple[Check, bool]], value: Any, path: str = "") -> dict[str, Any]:
    """A PATCH body: only the fields present are checked, `last_updated` is required
    (mod_locations 8.2.2.3: "Any request to the PATCH method SHALL contain the
    last_updated field"). Nulls are refused: PATCH cannot remove information."""
    if not isinstance(value, dict):
        raise LocationInvalid("must be an object", path or None)
    if value.get("last_updated") is None:
        raise LocationInvalid("is required in a PATCH", _at(path, "last_updated"))
    out: dict[str, Any] = {}
    for name, raw in value.items():
        if name not in spec:
            continue  # a field of a later version: ignored
        if raw is None:
            raise LocationInvalid("cannot be null in a PATCH", _at(path, name))
        out[name] = spec[name][0](raw, _at(path, name))
    return out
