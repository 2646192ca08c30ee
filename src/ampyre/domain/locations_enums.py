"""The enumerations of OCPI 2.2.1 mod_locations (8.4) and the token type it refers to."""

from __future__ import annotations

import enum
from typing import Final


class EvseStatus(enum.StrEnum):
    """mod_locations 8.4.22 Status: the status of an EVSE."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


EVSE_STATUSES: Final = frozenset(EvseStatus)
CAPABILITIES: Final = frozenset(
    {
        "CHARGING_PROFILE_CAPABLE",
        "CHARGING_PREFERENCES_CAPABLE",
        "CHIP_CARD_SUPPORT",
        "CONTACTLESS_CARD_SUPPORT",
        "CREDIT_CARD_PAYABLE",
        "DEBIT_CARD_PAYABLE",
        "PED_TERMINAL",
        "REMOTE_START_STOP_CAPABLE",
        "RESERVABLE",
        "RFID_READER",
        "START_SESSION_CONNECTOR_REQUIRED",
        "TOKEN_GROUP_CAPABLE",
        "UNLOCK_CAPABLE",
    }
)
CONNECTOR_FORMATS: Final = frozenset({"SOCKET", "CABLE"})
CONNECTOR_TYPES: Final = frozenset(
    {
        "CHADEMO",
        "CHAOJI",
        *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKLMNO"),
        "GBT_AC",
        "GBT_DC",
        "IEC_60309_2_single_16",
        "IEC_60309_2_three_16",
        "IEC_60309_2_three_32",
        "IEC_60309_2_three_64",
        "IEC_62196_T1",
        "IEC_62196_T1_COMBO",
        "IEC_62196_T2",
        "IEC_62196_T2_COMBO",
        "IEC_62196_T3A",
        "IEC_62196_T3C",
        "NEMA_5_20",
        "NEMA_6_30",
        "NEMA_6_50",
        "NEMA_10_30",
        "NEMA_10_50",
        "NEMA_14_30",
        "NEMA_14_50",
        "PANTOGRAPH_BOTTOM_UP",
        "PANTOGRAPH_TOP_DOWN",
        "TESLA_R",
        "TESLA_S",
    }
)
POWER_TYPES: Final = frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"})
PARKING_TYPES: Final = frozenset(
    {
        "ALONG_MOTORWAY",
        "PARKING_GARAGE",
        "PARKING_LOT",
        "ON_DRIVEWAY",
        "ON_STREET",
        "UNDERGROUND_GARAGE",
    }
)
PARKING_RESTRICTIONS: Final = frozenset(
    {"EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"}
)
FACILITIES: Final = frozenset(
    {
        "HOTEL",
        "RESTAURANT",
        "CAFE",
        "MALL",
        "SUPERMARKET",
        "SPORT",
        "RECREATION_AREA",
        "NATURE",
        "MUSEUM",
        "BIKE_SHARING",
        "BUS_STOP",
        "TAXI_STAND",
        "TRAM_STOP",
        "METRO_STATION",
        "TRAIN_STATION",
        "AIRPORT",
        "PARKING_LOT",
        "CARPOOL_PARKING",
        "FUEL_STATION",
        "WIFI",
    }
)
IMAGE_CATEGORIES: Final = frozenset(
    {"CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"}
)
ENERGY_SOURCES: Final = frozenset(
    {"NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"}
)
ENVIRONMENTAL_IMPACTS: Final = frozenset({"NUCLEAR_WASTE", "CARBON_DIOXIDE"})
# mod_tokens 12.4.4 TokenType (PublishTokenType.type).
TOKEN_TYPES: Final = frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"})
