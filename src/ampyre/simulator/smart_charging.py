"""A simulated station's smart charging (issue 18): it keeps the charging profiles the
CSMS sets, answers for them as a real station would, and its EVs charge within the
composite schedule those profiles make.

- SetChargingProfile (1.6 5.16, 2.0.1 K01): checked with the spec's rules
  (domain/profile_rules.py) against what is installed and the transaction running on
  the EVSE; Rejected when a rule is broken (e.g. a TxProfile for no running
  transaction), otherwise installed (same id, and in 1.6 the same stack level and
  purpose, replaced) and the EVs' power follows at once.
- ClearChargingProfile: by id, or by EVSE / purpose / stack level; Unknown when nothing
  matched (1.6 5.4, 2.0.1 K10).
- GetCompositeSchedule (1.6 5.7, 2.0.1 K08): computed with domain/composite_schedule.py
  over what is installed; periods no profile limits report the station's own maximum.
- 2.x GetChargingProfiles (K09): Accepted or NoProfiles, then ReportChargingProfiles
  per EVSE (tbc on all but the last).
- A remote start with a charging profile installs it for the new transaction; a
  transaction's TxProfiles go when it ends (1.6 3.13.1, 2.0.1 K01.FR.xx).
- The EV's power cap: the composite limit at this moment on its EVSE, as W for the
  car's phases; below 6 A per phase an AC car cannot charge (IEC 61851-1), so it pauses.
- 2.x ISO 15118 cars (an option): NotifyEVChargingNeeds after the transaction starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositeSchedule,
    InstalledProfile,
    ProfileSource,
    Purpose,
    RateUnit,
)
from ampyre.domain.composite_schedule import composite_schedule
from ampyre.domain.models import OcppVersion
from ampyre.domain.profile_rules import remote_start_violations, replaced_by, violations
from ampyre.simulator import messages as m
from ampyre.simulator import profile_wire as wire
from ampyre.simulator.power import NOMINAL_VOLTAGE_AC, Charge

log = logging.getLogger(__name__)

Payload = dict[str, Any]
MIN_AC_CURRENT = 6.0  # A per phase: below this an AC EV cannot charge (IEC 61851-1)
HORIZON = 86_400  # seconds of composite looked at for the EV's cap
REPORT_PART = 1  # EVSEs per ReportChargingProfiles message


class ChargingSession(Protocol):
    """What the smart-charging logic needs of a running session (session.Session)."""

    @property
    def transaction_id(self) -> int | str | None: ...

    @property
    def ended(self) -> bool: ...

    @property
    def charge(self) -> Charge: ...


@dataclass(slots=True, frozen=True)
class Cap:
    """The EV's limit now and how long it holds (None: until a profile changes)."""

    watts: float | None
    seconds: float | None


class SmartCharging:
    def __init__(
        self,
        station_id: str,
        protocol: str,
        *,
        evse_ids: list[int],
        sessions: Mapping[int, ChargingSession],
        started_at: Callable[[int], datetime | None],
        on_change: Callable[[int], None],
        report: Callable[[list[tuple[str, Payload]]], None],
        max_current_a: float | None,
        max_power_w: float,
    ) -> None:
        """`sessions` are the running sessions by EVSE; `started_at(evse)` when its
        transaction began; `on_change(evse)` (0: all) re-evaluates the EVs' caps;
        `report` sends CALLs after the current answer, in order."""
        self.station_id = station_id
        self.protocol = protocol
        self.version = OcppVersion(protocol)
        self.v16 = m.is_v16(protocol)
        self.v21 = self.version is OcppVersion.V21
        self.evse_ids = evse_ids
        self.sessions = sessions
        self.started_at = started_at
        self.on_change = on_change
        self.report = report
        self.max_current_a = max_current_a
        self.max_power_w = max_power_w
        self.installed: list[InstalledProfile] = []
        self.voltage = NOMINAL_VOLTAGE_AC

    def handlers(self) -> dict[str, Callable[[Payload], Payload]]:
        out: dict[str, Callable[[Payload], Payload]] = {
            "SetChargingProfile": self._set,
            "ClearChargingProfile": self._clear,
            "GetCompositeSchedule": self._composite,
        }
        if not self.v16:
            out["GetChargingProfiles"] = self._get_profiles
        return out

    # ---- what applies -----------------------------------------------------------------

    def _transaction(self, evse_id: int) -> tuple[str | None, datetime | None]:
        session = self.sessions.get(evse_id)
        if session is None or session.ended:
            return None, None
        # 1.6 before the StartTransaction answer the id is not known yet ("" matches
        # only a remote start's TxProfile, which has no transaction id).
        tid = "" if session.transaction_id is None else str(session.transaction_id)
        return tid, self.started_at(evse_id)

    def composite(
        self,
        evse_id: int,
        duration: int,
        unit: RateUnit,
        phases: int = 3,
        at: datetime | None = None,
    ) -> CompositeSchedule:
        tid, started = self._transaction(evse_id)
        if started is not None:
            started = started.replace(microsecond=0)  # whole seconds, like the start
        return composite_schedule(
            self.installed,
            evse_id=evse_id,
            start=(at or datetime.now(UTC)).replace(microsecond=0),
            duration=duration,
            rate_unit=unit,
            transaction_id=tid,
            tx_started_at=started,
            voltage=self.voltage,
            phases=phases,
        )

    def cap(self, evse_id: int, charge: Charge, at: datetime | None = None) -> Cap:
        """The power the EV on `evse_id` may draw now, from the composite schedule."""
        model = charge.model
        if model.dc:
            schedule = self.composite(evse_id, HORIZON, RateUnit.WATTS, at=at)
        else:
            schedule = self.composite(evse_id, HORIZON, RateUnit.AMPS, phases=model.phases, at=at)
        first = schedule.periods[0]
        until = float(schedule.periods[1].start) if len(schedule.periods) > 1 else None
        if first.limit is None:
            return Cap(None, until)
        if model.dc:
            return Cap(max(first.limit, 0.0), until)
        used = min(model.phases, first.number_phases or model.phases)
        per_phase = [first.limit, first.limit_l2, first.limit_l3][:used]
        amps = [first.limit if a is None else a for a in per_phase]
        if min(amps) < MIN_AC_CURRENT:
            return Cap(0.0, until)
        return Cap(sum(amps) * self.voltage, until)

    def transaction_ended(self, evse_id: int) -> None:
        """1.6 3.13.1 / 2.0.1 K01: a TxProfile lives as long as its transaction."""
        self.installed = [
            ip
            for ip in self.installed
            if not (ip.evse_id == evse_id and ip.profile.purpose is Purpose.TX)
        ]

    def remote_start_profile(self, evse_id: int, raw: object) -> bool:
        """A profile sent with a remote start: install it for the coming transaction;
        False when it is not a valid remote-start TxProfile (answer Rejected)."""
        try:
            profile = wire.decode_profile(raw, self.v16, self.v21)
        except (ValueError, TypeError) as exc:
            log.info("%s: unreadable remote start profile: %s", self.station_id, exc)
            return False
        found = remote_start_violations(profile, self.version, evse_id=evse_id)
        if found:
            log.info("%s: remote start profile refused: %s", self.station_id, found)
            return False
        self._install(evse_id, profile, ProfileSource.REMOTE_START)
        return True

    def _install(self, evse_id: int, profile: ChargingProfile, source: ProfileSource) -> None:
        gone = replaced_by(profile, self.version, evse_id=evse_id, installed=self.installed)
        self.installed = [ip for ip in self.installed if ip not in gone]
        self.installed.append(
            InstalledProfile(
                self.station_id, evse_id, profile, source=source, installed_at=datetime.now(UTC)
            )
        )
        self.on_change(evse_id)

    # ---- CSMS calls -----------------------------------------------------------------

    def _rejected(self, reason: str, info: str) -> Payload:
        if self.v16:
            return {"status": "Rejected"}
        return {
            "status": "Rejected",
            "statusInfo": {"reasonCode": reason, "additionalInfo": info[:512]},
        }

    def _set(self, payload: Payload) -> Payload:
        evse_id = payload.get("connectorId" if self.v16 else "evseId")
        raw = payload.get("csChargingProfiles" if self.v16 else "chargingProfile")
        if not isinstance(evse_id, int) or evse_id not in (0, *self.evse_ids):
            return self._rejected("UnknownEvse", f"no EVSE {evse_id}")
        try:
            profile = wire.decode_profile(raw, self.v16, self.v21)
        except (ValueError, TypeError) as exc:
            return self._rejected("InvalidValue", str(exc))
        session = self.sessions.get(evse_id)
        running: set[str] | None = set()
        if session is not None and not session.ended:
            # 1.6: the CSMS may send the TxProfile right after answering StartTransaction,
            # before this station has read the id from the answer: not checked then.
            tid = session.transaction_id
            running = None if tid is None else {str(tid)}
        found = violations(
            profile,
            self.version,
            evse_id=evse_id,
            installed=self.installed,
            transaction_ids=running,
            now=datetime.now(UTC),
        )
        if found:
            # 1.6 5.16 / 2.0.1 K01.FR.09 etc.: a profile the station cannot use is Rejected.
            first = found[0]
            return self._rejected("InvalidProfile", f"{first.path}: {first.message}")
        self._install(evse_id, profile, ProfileSource.OPERATOR)
        return {"status": "Accepted"}

    def _clear(self, payload: Payload) -> Payload:
        if self.v16:
            pid = payload.get("id")
            evse, purpose_raw, level = (
                payload.get("connectorId"),
                payload.get("chargingProfilePurpose"),
                payload.get("stackLevel"),
            )
        else:
            pid = payload.get("chargingProfileId")
            criteria = payload.get("chargingProfileCriteria") or {}
            evse, purpose_raw, level = (
                criteria.get("evseId"),
                criteria.get("chargingProfilePurpose"),
                criteria.get("stackLevel"),
            )
        try:
            purpose = wire.purpose_of(purpose_raw, self.v16)
        except ValueError:
            return {"status": "Unknown"}

        def matches(ip: InstalledProfile) -> bool:
            if ip.profile.purpose is Purpose.EXTERNAL:
                return False  # 2.0.1 K10: the CSMS cannot clear external constraints
            if pid is not None:
                return bool(ip.profile.id == pid)  # 2.0.1 K10.FR.02: the id alone decides
            return (
                (evse is None or ip.evse_id == evse)
                and (purpose is None or ip.profile.purpose is purpose)
                and (level is None or ip.profile.stack_level == level)
            )

        gone = [ip for ip in self.installed if matches(ip)]
        if not gone:
            return {"status": "Unknown"}
        self.installed = [ip for ip in self.installed if ip not in gone]
        for evse_id in {ip.evse_id for ip in gone}:
            self.on_change(evse_id)
        return {"status": "Accepted"}

    def _composite(self, payload: Payload) -> Payload:
        evse_id = payload.get("connectorId" if self.v16 else "evseId")
        duration = payload.get("duration")
        unit_raw = payload.get("chargingRateUnit") or "A"
        if (
            not isinstance(evse_id, int)
            or evse_id not in (0, *self.evse_ids)
            or not isinstance(duration, int)
            or duration < 0
            or unit_raw not in ("A", "W")
        ):
            return self._rejected("InvalidValue", "unknown EVSE or bad duration")
        unit = RateUnit(unit_raw)
        session = self.sessions.get(evse_id)
        phases = 3
        if session is not None and not session.ended and session.charge.model.phases == 1:
            phases = 1
        schedule = self.composite(evse_id, duration, unit, phases=phases)
        fill = self._hardware_limit(unit, phases)
        body = wire.encode_composite(schedule, fill, self.v16)
        if self.v16:
            return {
                "status": "Accepted",
                "connectorId": evse_id,
                "scheduleStart": body["startSchedule"],
                "chargingSchedule": body,
            }
        return {"status": "Accepted", "schedule": body}

    def _hardware_limit(self, unit: RateUnit, phases: int) -> float:
        amps = self.max_current_a
        if amps is None:
            amps = self.max_power_w / (self.voltage * 3)
        if unit is RateUnit.AMPS:
            return amps
        return min(amps * self.voltage * phases, self.max_power_w)

    def _get_profiles(self, payload: Payload) -> Payload:
        request_id = payload.get("requestId")
        criteria = payload.get("chargingProfile") or {}
        evse = payload.get("evseId")
        ids = criteria.get("chargingProfileId")
        sources = criteria.get("chargingLimitSource")
        level = criteria.get("stackLevel")
        try:
            purpose = wire.purpose_of(criteria.get("chargingProfilePurpose"), False)
        except ValueError:
            return {"status": "NoProfiles"}
        if not isinstance(request_id, int):
            return {"status": "NoProfiles"}

        def matches(ip: InstalledProfile) -> bool:
            if sources is not None and "CSO" not in sources:
                return False  # everything here came from the CSMS (CSO)
            if evse is not None and ip.evse_id != evse:
                return False
            if ids:
                return ip.profile.id in ids
            return (purpose is None or ip.profile.purpose is purpose) and (
                level is None or ip.profile.stack_level == level
            )

        found = [ip for ip in self.installed if matches(ip)]
        if not found:
            return {"status": "NoProfiles"}
        by_evse: dict[int, list[InstalledProfile]] = {}
        for ip in found:
            by_evse.setdefault(ip.evse_id, []).append(ip)
        calls: list[tuple[str, Payload]] = []
        items = sorted(by_evse.items())
        for i, (evse_id, profiles) in enumerate(items):
            msg: Payload = {
                "requestId": request_id,
                "chargingLimitSource": "CSO",
                "evseId": evse_id,
                "chargingProfile": [
                    wire.encode_profile_2x(ip.profile, self.v21) for ip in profiles
                ],
            }
            if i < len(items) - 1:
                msg["tbc"] = True
            calls.append(("ReportChargingProfiles", msg))
        self.report(calls)
        return {"status": "Accepted"}


def ev_charging_needs(
    evse_id: int, charge: Charge, departure: datetime, max_current_a: float | None
) -> Payload:
    """2.0.1 K15 NotifyEVChargingNeeds of an ISO 15118 car: what it wants by when."""
    model = charge.model
    energy = int(max(0.0, 100.0 - charge.soc) / 100.0 * model.capacity_wh)
    needs: Payload = {"departureTime": wire.iso(departure)}
    if model.dc:
        needs["requestedEnergyTransfer"] = "DC"
        needs["dcChargingParameters"] = {
            "evMaxCurrent": int(model.ev_max_w / 400.0),
            "evMaxVoltage": 450,
            "evMaxPower": int(model.ev_max_w),
            "energyAmount": energy,
            "stateOfCharge": int(charge.soc),
        }
    else:
        phases = model.phases
        top = model.plateau_w / (NOMINAL_VOLTAGE_AC * phases)
        if max_current_a is not None:
            top = min(top, max_current_a)
        needs["requestedEnergyTransfer"] = "AC_single_phase" if phases == 1 else "AC_three_phase"
        needs["acChargingParameters"] = {
            "energyAmount": energy,
            "evMinCurrent": int(MIN_AC_CURRENT),
            "evMaxCurrent": max(int(MIN_AC_CURRENT), int(top)),
            "evMaxVoltage": 250,
        }
    return {"evseId": evse_id, "chargingNeeds": needs}


def departure_at(seconds_from_now: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=max(seconds_from_now, 0))
