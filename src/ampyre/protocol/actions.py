"""Which actions a station initiates (station -> CSMS), per version. A CSMS never sends
them: the raw command endpoint refuses them. DataTransfer goes both ways and is not
listed. (OCPP 1.6 section 4 / 5 and the security whitepaper; OCPP 2.0.1 and 2.1 Part 2,
the "messages" of each use case, from the station's side.)"""

from __future__ import annotations

from typing import Final

from ampyre.domain.models import OcppVersion

_V16: Final = frozenset(
    {
        "Authorize", "BootNotification", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
        "StatusNotification", "StopTransaction",
        # security extension
        "LogStatusNotification", "SecurityEventNotification", "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)  # fmt: skip

_V201: Final = frozenset(
    {
        "Authorize", "BootNotification", "ClearedChargingLimit", "FirmwareStatusNotification",
        "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification",
        "MeterValues", "NotifyChargingLimit", "NotifyCustomerInformation",
        "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
        "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles",
        "ReservationStatusUpdate", "SecurityEventNotification", "SignCertificate",
        "StatusNotification", "TransactionEvent",
    }
)  # fmt: skip

_V21: Final = _V201 | frozenset(
    {
        "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus",
        "NotifyDERAlarm", "NotifyDERStartStop", "NotifyPeriodicEventStream",
        "NotifyPriorityCharging", "NotifySettlement",
        "OpenPeriodicEventStream", "PullDynamicScheduleUpdate", "ReportDERControl",
        "VatNumberValidation",
    }
)  # fmt: skip

STATION_INITIATED: Final = {OcppVersion.V16: _V16, OcppVersion.V201: _V201, OcppVersion.V21: _V21}
# In no version can a CSMS send these.
ANY_VERSION_STATION_INITIATED: Final = _V16 | _V21


def station_initiated(action: str, version: str | None = None) -> bool:
    """True if `action` is one only a station sends (in `version`, or in every version
    that has it when None)."""
    if version is None:
        return action in ANY_VERSION_STATION_INITIATED
    return action in STATION_INITIATED.get(OcppVersion(version), frozenset())
