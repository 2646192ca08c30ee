"""OCPP 2.1 encodings of the commands Ampyre gives a station. RequestStart/Stop-
Transaction, SendLocalList, ReserveNow, CancelReservation, GetTransactionStatus and
TriggerMessage keep their 2.0.1 fields in 2.1 (2.1 only adds optional ones, and widens
idToken to 255 characters and connectorType to a free string); so the 2.0.1 codec
encodes them, under 2.1's name."""

from __future__ import annotations

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp201.commands import Codec201


class Codec21(Codec201):
    version = OcppVersion.V21
