"""What ChangeAvailability and Reset ask of a simulated station, read from either
version's payload (the station acts on it: simulator/station.py).

OCPP 1.6 5.2 ChangeAvailability: connectorId 0 is the whole Charge Point and all its
connectors; while a transaction runs on a connector the answer is Scheduled and the
change happens when it has finished; the new state is reported with StatusNotification;
Unavailable persists a reboot. OCPP 2.0.1 G03/G04: the same with `evse` (omitted or id 0
= the whole station) and operationalStatus Operative/Inoperative.

OCPP 1.6 5.14 Reset: Soft stops ongoing transactions gracefully (StopTransaction with
reason SoftReset) and restarts; Hard restarts at once, and the StopTransaction (reason
HardReset) follows after the reboot, once the BootNotification is accepted. OCPP 2.0.1
B11/B12: Immediate ends ongoing transactions (TransactionEvent Ended, triggerReason
ResetCommand, stoppedReason ImmediateReset) and resets; OnIdle with a transaction
running answers Scheduled and resets when the transactions have ended; with `evseId`
only that EVSE is reset (its transaction ends; the connection stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ampyre.simulator import messages as m

# Stop reasons of a transaction ended by a reset (1.6 Reason / 2.0.1 ReasonEnumType).
HARD_RESET, SOFT_RESET, IMMEDIATE_RESET = "HardReset", "SoftReset", "ImmediateReset"


def availability_targets(
    protocol: str, payload: dict[str, Any], connectors: list[int]
) -> list[int] | None:
    """The connector (1.6) / EVSE (2.x) ids a ChangeAvailability addresses; None if it
    names one the station does not have (the answer is then Rejected)."""
    if m.is_v16(protocol):
        wanted = payload.get("connectorId")
    else:
        evse = payload.get("evse")
        wanted = evse.get("id", 0) if isinstance(evse, dict) else 0
    if not isinstance(wanted, int):
        return None
    if wanted == 0:
        # The whole station: 0 stands for it (1.6 also has a connector 0).
        return [0, *(c for c in connectors if c != 0)]
    return [wanted] if wanted in connectors and wanted != 0 else None


def wants_inoperative(protocol: str, payload: dict[str, Any]) -> bool:
    key = "type" if m.is_v16(protocol) else "operationalStatus"
    return payload.get(key) == "Inoperative"


@dataclass(slots=True, frozen=True)
class ResetOrder:
    graceful: bool  # end the transactions and send their stops before going down
    on_idle: bool  # 2.x OnIdle: wait until no transaction runs
    stop_reason: str | None  # for transactions ended by the reset; None: none are
    evse_id: int | None = None  # 2.x: reset this EVSE only


def reset_order(protocol: str, payload: dict[str, Any]) -> ResetOrder | None:
    """What a Reset asks for; None for a type the version does not define."""
    kind = payload.get("type")
    if m.is_v16(protocol):
        if kind == "Soft":
            return ResetOrder(graceful=True, on_idle=False, stop_reason=SOFT_RESET)
        if kind == "Hard":
            return ResetOrder(graceful=False, on_idle=False, stop_reason=HARD_RESET)
        return None
    evse_id = payload.get("evseId")
    evse = evse_id if isinstance(evse_id, int) and evse_id > 0 else None
    if kind == "Immediate":
        return ResetOrder(graceful=True, on_idle=False, stop_reason=IMMEDIATE_RESET, evse_id=evse)
    if kind == "OnIdle":
        return ResetOrder(graceful=True, on_idle=True, stop_reason=None, evse_id=evse)
    return None
