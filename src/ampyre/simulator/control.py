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

OCPP 1.6 5.18 / 2.0.1 F05 UnlockConnector: a 1.6 station ends a transaction running on
the connector first (StopTransaction reason UnlockCommand) and unlocks; a 2.x one answers
OngoingAuthorizedTransaction instead (F05.FR.02), UnknownConnector for a connector it
does not have. OCPP 1.6 5.17 / 2.0.1 F06 TriggerMessage: answer first, then send the
message; NotImplemented for one the simulator cannot send (certificates, ...).
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
        if isinstance(evse, dict) and evse.get("connectorId", 1) != 1:
            return None  # each simulated EVSE has one connector, number 1
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


@dataclass(slots=True, frozen=True)
class Unlock:
    status: str  # the UnlockConnector answer
    stop_connector: int | None = None  # 1.6: end the transaction here first


def unlock(
    protocol: str, payload: dict[str, Any], connectors: list[int], charging: set[int]
) -> Unlock:
    """What an UnlockConnector does; `connectors` are the ones with a cable (1.6
    connector ids, 2.x EVSE ids whose connector is 1), `charging` the ones with a
    transaction running."""
    if m.is_v16(protocol):
        connector = payload.get("connectorId")
        if connector not in connectors:
            return Unlock("UnlockFailed")  # connector 0 or one it does not have
        assert isinstance(connector, int)
        if connector in charging:
            return Unlock("Unlocked", stop_connector=connector)
        return Unlock("Unlocked")
    evse, connector = payload.get("evseId"), payload.get("connectorId")
    if evse not in connectors or connector != 1:
        return Unlock("UnknownConnector")
    if evse in charging:
        return Unlock("OngoingAuthorizedTransaction")
    return Unlock("Unlocked")


# What the simulator can send when triggered, per dialect.
TRIGGERS_16 = frozenset(
    {
        "BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
        "FirmwareStatusNotification", "DiagnosticsStatusNotification",
    }
)  # fmt: skip
TRIGGERS_2X = frozenset(
    {
        "BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
        "TransactionEvent", "FirmwareStatusNotification", "LogStatusNotification",
    }
)  # fmt: skip


@dataclass(slots=True, frozen=True)
class TriggerPlan:
    status: str  # the TriggerMessage answer
    message: str = ""  # what to send after answering (when Accepted)
    target: int | None = None  # 1.6 connector / 2.x EVSE it is for; None: all


def trigger(
    protocol: str, payload: dict[str, Any], connectors: list[int], booted: bool
) -> TriggerPlan:
    """What a TriggerMessage makes the station send; `connectors` as it reports status
    (1.6 with connector 0, 2.x EVSE ids)."""
    requested = str(payload.get("requestedMessage", ""))
    if m.is_v16(protocol):
        known = TRIGGERS_16
        target = payload.get("connectorId")
    else:
        known = TRIGGERS_2X
        evse = payload.get("evse")
        target = evse.get("id") if isinstance(evse, dict) else None
        if target == 0:
            target = None  # EVSE 0 is the whole station
        if isinstance(evse, dict) and evse.get("connectorId", 1) != 1:
            return TriggerPlan("Rejected")
    if requested not in known:
        return TriggerPlan("NotImplemented")
    if target is not None and (not isinstance(target, int) or target not in connectors):
        return TriggerPlan("Rejected")
    if requested == "BootNotification" and booted and not m.is_v16(protocol):
        # 2.0.1 F06.FR.17: no BootNotification on request once accepted.
        return TriggerPlan("Rejected")
    return TriggerPlan("Accepted", requested, target)
