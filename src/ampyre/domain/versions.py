"""What the services need to know about an OCPP version without knowing its wire format:
the limits a value must fit and which features the version has. The encodings themselves
live in protocol/ocpp16, protocol/ocpp201 and protocol/ocpp21."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ampyre.domain.models import OcppVersion

# 1.6 IdToken is CiString20Type (1.6 section 7.28); 2.0.1 IdTokenType.idToken is
# string(36); 2.1 allows string(255).
ID_TAG_MAX_16: Final = 20
ID_TOKEN_MAX_201: Final = 36
ID_TOKEN_MAX_21: Final = 255

# 2.0.1 ConnectorEnumType (2.1 makes it a free string of up to 20 characters).
CONNECTOR_TYPES_201: Final = frozenset(
    {
        "cCCS1", "cCCS2", "cG105", "cTesla", "cType1", "cType2", "s309-1P-16A",
        "s309-1P-32A", "s309-3P-16A", "s309-3P-32A", "sBS1361", "sCEE-7-7", "sType2",
        "sType3", "Other1PhMax16A", "Other1PhOver16A", "Other3Ph", "Pan", "wInductive",
        "wResonant", "Undetermined", "Unknown",
    }
)  # fmt: skip
CONNECTOR_TYPE_MAX: Final = 20


@dataclass(slots=True, frozen=True)
class VersionTraits:
    version: OcppVersion
    id_token_max: int  # longest id token a station of this version can be sent
    id_token_term: str  # what the version's specification calls an id token
    # Reservations: whether a connector type can be named, and from which values (None:
    # any string up to CONNECTOR_TYPE_MAX).
    reserve_connector_type: bool
    connector_types: frozenset[str] | None
    # Whether the station's transaction messages carry the remoteStartId of a remote
    # start (2.x F01/F02); 1.6 stations are matched by idTag and connector instead.
    echoes_remote_start_id: bool
    # Whether the station can be asked about one transaction (2.x GetTransactionStatus).
    transaction_status: bool


_TRAITS: Final = {
    OcppVersion.V16: VersionTraits(
        OcppVersion.V16, ID_TAG_MAX_16, "idTag", False, None, False, False
    ),
    OcppVersion.V201: VersionTraits(
        OcppVersion.V201,
        ID_TOKEN_MAX_201,
        "idToken",
        True,
        CONNECTOR_TYPES_201,
        True,
        True,
    ),
    OcppVersion.V21: VersionTraits(
        OcppVersion.V21, ID_TOKEN_MAX_21, "idToken", True, None, True, True
    ),
}


def traits(version: str) -> VersionTraits:
    """The traits of `version` (an OcppVersion value); ValueError if unknown."""
    return _TRAITS[OcppVersion(version)]
