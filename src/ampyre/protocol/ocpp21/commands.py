"""OCPP 2.1 encodings of the commands Ampyre gives a station. RequestStart/Stop-
Transaction, SendLocalList, ReserveNow, CancelReservation, GetTransactionStatus,
TriggerMessage, Reset, ChangeAvailability and UnlockConnector keep their 2.0.1 fields in
2.1 (2.1 only adds optional ones and values, e.g. Reset ImmediateAndResume, and widens
idToken to 255 characters and connectorType to a free string); so the 2.0.1 codec
encodes them, under 2.1's name."""

from __future__ import annotations

from typing import Final

from ampyre.domain.models import OcppVersion
from ampyre.protocol.ocpp201.commands import TRIGGERS_201, Codec201
from ampyre.services.station_port import Trigger

# 2.1 MessageTriggerEnumType adds SignV2G20Certificate and CustomTrigger (the latter
# needs a vendor's customTrigger name: only through the raw endpoint).
TRIGGERS_21: Final = (*TRIGGERS_201, Trigger.SIGN_V2G20_CERTIFICATE)


class Codec21(Codec201):
    version = OcppVersion.V21
    trigger_set = TRIGGERS_21
