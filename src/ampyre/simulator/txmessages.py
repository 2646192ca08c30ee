"""Transaction payloads a simulated station sends (OCPP 1.6J and 2.0.1 / 2.1).

Pure functions over plain values, checked against the official schemas by the unit
tests. 2.1 uses the 2.0.1-shaped TransactionEvent (every field used here exists in
both versions with the same meaning).
"""

from __future__ import annotations

from typing import Any

from ampyre.simulator.messages import Payload, is_v16
from ampyre.simulator.power import Sample

# ReadingContext values (1.6 and 2.x spell them the same way).
BEGIN = "Transaction.Begin"
PERIODIC = "Sample.Periodic"
END = "Transaction.End"
TRIGGER = "Trigger"

ID_TOKEN_TYPE = "ISO14443"  # RFID cards
CENTRAL_TYPE = "Central"


def _sv16(value: float | int, measurand: str, unit: str, context: str, **extra: str) -> Payload:
    item: Payload = {
        "value": str(value),
        "context": context,
        "format": "Raw",
        "measurand": measurand,
        "location": "Outlet",
        "unit": unit,
    }
    item.update(extra)
    return item


def _sv2x(value: float | int, measurand: str, unit: str, context: str, **extra: str) -> Payload:
    item: Payload = {
        "value": value,
        "context": context,
        "measurand": measurand,
        "location": "Outlet",
        "unitOfMeasure": {"unit": unit, "multiplier": 0},
    }
    item.update(extra)
    return item


def sampled_values(
    protocol: str, sample: Sample, context: str, *, full: bool = True
) -> list[Payload]:
    """The sampled values of one reading: the energy register always; with ``full`` also
    power, current and voltage per phase, and the EV's state of charge."""
    sv = _sv16 if is_v16(protocol) else _sv2x
    out = [sv(sample.register_wh, "Energy.Active.Import.Register", "Wh", context)]
    if not full:
        return out
    out.append(sv(sample.power_w, "Power.Active.Import", "W", context))
    if sample.dc:  # DC: one current, one voltage (a single-phase AC car reports L1)
        out.append(sv(sample.currents_a[0], "Current.Import", "A", context))
        out.append(sv(sample.voltages_v[0], "Voltage", "V", context))
    else:
        for i, amps in enumerate(sample.currents_a, start=1):
            out.append(sv(amps, "Current.Import", "A", context, phase=f"L{i}"))
        for i, volts in enumerate(sample.voltages_v, start=1):
            out.append(sv(volts, "Voltage", "V", context, phase=f"L{i}-N"))
    out.append(sv(sample.soc, "SoC", "Percent", context, location="EV"))
    return out


def meter_value(
    protocol: str, timestamp: str, sample: Sample, context: str, *, full: bool = True
) -> Payload:
    return {
        "timestamp": timestamp,
        "sampledValue": sampled_values(protocol, sample, context, full=full),
    }


# ---- OCPP 1.6 ------------------------------------------------------------------------


def authorize(protocol: str, id_token: str, token_type: str = ID_TOKEN_TYPE) -> Payload:
    if is_v16(protocol):
        return {"idTag": id_token}
    return {"idToken": {"idToken": id_token, "type": token_type}}


def start_transaction(connector_id: int, id_tag: str, meter_start: int, timestamp: str) -> Payload:
    return {
        "connectorId": connector_id,
        "idTag": id_tag,
        "meterStart": meter_start,
        "timestamp": timestamp,
    }


def meter_values_16(connector_id: int, transaction_id: int | None, values: Payload) -> Payload:
    payload: Payload = {"connectorId": connector_id, "meterValue": [values]}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


def stop_transaction(
    transaction_id: int | None,
    meter_stop: int,
    timestamp: str,
    reason: str,
    *,
    id_tag: str | None = None,
    transaction_data: list[Payload] | None = None,
) -> Payload:
    # transactionId is filled in by the outbox when the station was offline at the start
    # and did not know the id yet (-1 never reaches the wire: see session.Outbox).
    payload: Payload = {
        "transactionId": transaction_id if transaction_id is not None else -1,
        "meterStop": meter_stop,
        "timestamp": timestamp,
        "reason": reason,
    }
    if id_tag is not None:
        payload["idTag"] = id_tag
    if transaction_data:
        payload["transactionData"] = transaction_data
    return payload


# ---- OCPP 2.0.1 / 2.1 ------------------------------------------------------------------


def transaction_event(
    event_type: str,
    timestamp: str,
    trigger_reason: str,
    seq_no: int,
    transaction_id: str,
    *,
    charging_state: str | None = None,
    stopped_reason: str | None = None,
    remote_start_id: int | None = None,
    time_spent_charging: int | None = None,
    evse_id: int | None = None,
    connector_id: int | None = None,
    id_token: str | None = None,
    token_type: str = ID_TOKEN_TYPE,
    meter_values: list[Payload] | None = None,
    offline: bool = False,
    phases: int | None = None,
) -> Payload:
    info: Payload = {"transactionId": transaction_id}
    if charging_state is not None:
        info["chargingState"] = charging_state
    if time_spent_charging is not None:
        info["timeSpentCharging"] = time_spent_charging
    if stopped_reason is not None:
        info["stoppedReason"] = stopped_reason
    if remote_start_id is not None:
        info["remoteStartId"] = remote_start_id
    payload: Payload = {
        "eventType": event_type,
        "timestamp": timestamp,
        "triggerReason": trigger_reason,
        "seqNo": seq_no,
        "transactionInfo": info,
    }
    if offline:
        payload["offline"] = True
    if phases:
        payload["numberOfPhasesUsed"] = phases
    if evse_id is not None:
        evse: dict[str, Any] = {"id": evse_id}
        if connector_id is not None:
            evse["connectorId"] = connector_id
        payload["evse"] = evse
    if id_token is not None:
        payload["idToken"] = {"idToken": id_token, "type": token_type}
    if meter_values:
        payload["meterValue"] = meter_values
    return payload


def meter_values_2x(evse_id: int, values: Payload) -> Payload:
    """2.x MeterValues (outside transactions, or answering TriggerMessage MeterValues)."""
    return {"evseId": evse_id, "meterValue": [values]}
