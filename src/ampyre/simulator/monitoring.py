"""A simulated station's faults and variable monitoring (issue 17 part 2), as a real
station would do them:

- Faults: 1.6 reports one with StatusNotification Faulted and an errorCode (and a
  vendorErrorCode), and its end with the connector's status and errorCode NoError. 2.x
  reports one with NotifyEvent (the connector's AvailabilityState Faulted, trigger Delta,
  HardWiredNotification, a techCode) and its end with the same event `cleared`; a fault
  on a monitored variable trips the monitor (trigger Alerting, CustomMonitor, its id).
  `fault_every` seconds > 0: a fault on a random connector now and then, over after
  `fault_lasts` seconds (the demo of `make run`).
- 2.x monitoring (OCPP 2.0.1 N02-N06): monitors kept by id; SetVariableMonitoring
  answers per monitor (UnknownComponent for a component the station does not have,
  UnsupportedMonitorType for 2.1's target-delta types, Rejected for a bad value);
  ClearVariableMonitoring Accepted / NotFound; SetMonitoringBase and SetMonitoringLevel
  Accepted (a level outside 0-9 Rejected); GetMonitoringReport Accepted, then the
  monitors as NotifyMonitoringReport parts of two (seqNo from 0, tbc until the last),
  or EmptyResultSet when none match.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Final

from ampyre.simulator import messages as m

Payload = dict[str, Any]
Call = Callable[[str, Payload], Awaitable[Payload | None]]
Later = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]
REPORT_PART: Final = 2  # monitors per NotifyMonitoringReport part
COMPONENTS: Final = frozenset(
    {"ChargingStation", "EVSE", "Connector", "OCPPCommCtrlr", "SampledDataCtrlr"}
)
# Faults the demo raises now and then (1.6 errorCode, its vendor code; 2.x techCode).
FAULTS_16: Final = (("HighTemperature", "T-85"), ("GroundFailure", "RCD-6"), ("OtherError", "E42"))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class MonitoringOps:
    def __init__(
        self,
        station_id: str,
        protocol: str,
        call: Call,
        later: Later,
        statuses: dict[int, str],
        rng: random.Random | None = None,
    ) -> None:
        """`call` sends a CALL (None without an answer); `later` runs a coroutine once
        the current answer has been sent; `statuses` are the station's connector states
        (1.6 faults change them)."""
        self.station_id = station_id
        self.protocol = protocol
        self.v16 = m.is_v16(protocol)
        self._call = call
        self._later = later
        self._statuses = statuses
        self._rng = rng or random.Random()
        self.monitors: dict[int, Payload] = {}  # 2.x: id -> setMonitoringData as kept
        self._next_id = 1
        self.level = 9
        self.base = "All"
        self._event_id = 0
        self.faulted: dict[int, str] = {}  # connector -> the fault's code
        self.fault_every = 0.0
        self.fault_lasts = 20.0

    def handlers(self) -> dict[str, Callable[[Payload], Payload]]:
        if self.v16:
            return {}
        return {
            "SetVariableMonitoring": self._set_monitoring,
            "ClearVariableMonitoring": self._clear_monitoring,
            "SetMonitoringBase": self._set_base,
            "SetMonitoringLevel": self._set_level,
            "GetMonitoringReport": self._get_report,
        }

    # ---- faults -------------------------------------------------------------------

    async def fault(
        self, connector: int, code: str = "GroundFailure", vendor_code: str | None = None
    ) -> bool:
        """Report a fault on `connector` (True if the CSMS acknowledged it)."""
        self.faulted[connector] = code
        if self.v16:
            self._statuses[connector] = "Faulted"
            payload = m.status_notification(self.protocol, connector, "Faulted")
            payload["errorCode"] = code
            if vendor_code:
                payload["vendorErrorCode"] = vendor_code
                payload["info"] = f"simulated {code}"
            return await self._call("StatusNotification", payload) is not None
        return await self._report_2x(connector, code, cleared=False)

    async def clear_fault(self, connector: int) -> bool:
        code = self.faulted.pop(connector, "GroundFailure")
        if self.v16:
            self._statuses[connector] = "Available"
            payload = m.status_notification(self.protocol, connector, "Available")
            return await self._call("StatusNotification", payload) is not None
        return await self._report_2x(connector, code, cleared=True)

    async def _report_2x(self, connector: int, code: str, cleared: bool) -> bool:
        """NotifyEvent, then the connector's status as a 2.x station also reports it."""
        event = self._event(connector, code, cleared)
        if await self._call("NotifyEvent", event) is None:
            return False
        status = "Available" if cleared else "Faulted"
        self._statuses[connector] = status
        await self._call(
            "StatusNotification", m.status_notification(self.protocol, connector, status)
        )
        return True

    def _event(self, connector: int, code: str, cleared: bool) -> Payload:
        self._event_id += 1
        component = {"name": "Connector", "evse": {"id": connector, "connectorId": 1}}
        monitor = self._monitor_on(connector)
        data: Payload = {
            "eventId": self._event_id,
            "timestamp": _now(),
            "component": component,
            "techCode": code,
            "cleared": cleared,
        }
        if monitor is not None:
            # OCPP 2.0.1 N07: a monitor that trips reports with its id and Alerting.
            data.update(
                trigger="Alerting",
                actualValue=str(monitor["value"] + 1),
                eventNotificationType="CustomMonitor",
                variable=monitor["variable"],
                variableMonitoringId=monitor["id"],
            )
        else:
            data.update(
                trigger="Delta",
                actualValue="Available" if cleared else "Faulted",
                eventNotificationType="HardWiredNotification",
                variable={"name": "AvailabilityState"},
            )
        return {"generatedAt": _now(), "seqNo": 0, "eventData": [data]}

    def _monitor_on(self, connector: int) -> Payload | None:
        for monitor in self.monitors.values():
            c = monitor["component"]
            if c.get("name") == "Connector" and (c.get("evse") or {}).get("id") == connector:
                return monitor
        return None

    async def fault_loop(self) -> None:
        """Now and then a fault on a random connector, over after `fault_lasts` s."""
        connectors = [c for c in self._statuses if c != 0]
        while self.fault_every > 0 and connectors:
            await asyncio.sleep(self._rng.uniform(0.5, 1.5) * self.fault_every)
            connector = self._rng.choice(connectors)
            if connector in self.faulted or self._statuses.get(connector) != "Available":
                continue
            code, vendor = self._rng.choice(FAULTS_16)
            await self.fault(connector, code if self.v16 else vendor, vendor)
            await asyncio.sleep(self.fault_lasts)
            await self.clear_fault(connector)

    # ---- 2.x monitoring -----------------------------------------------------------

    def _set_monitoring(self, payload: Payload) -> Payload:
        results = []
        for data in payload.get("setMonitoringData") or ():
            component, variable = data.get("component", {}), data.get("variable", {})
            result: Payload = {
                "type": data.get("type", "UpperThreshold"),
                "severity": data.get("severity", 5),
                "component": component,
                "variable": variable,
            }
            value = data.get("value")
            if component.get("name") not in COMPONENTS:
                result["status"] = "UnknownComponent"
            elif data.get("type") in ("TargetDelta", "TargetDeltaRelative"):
                result["status"] = "UnsupportedMonitorType"
            elif not isinstance(value, int | float) or (
                data.get("type", "").startswith("Periodic") and value <= 0
            ):
                result["status"] = "Rejected"
            else:
                wanted = data.get("id")
                if isinstance(wanted, int) and wanted not in self.monitors:
                    result["status"] = "Rejected"  # N04.FR.xx: an id it does not know
                else:
                    monitor_id = wanted if isinstance(wanted, int) else self._new_id()
                    kept = {k: v for k, v in data.items() if k != "id"}
                    self.monitors[monitor_id] = {"id": monitor_id, **kept}
                    result.update(id=monitor_id, status="Accepted")
            results.append(result)
        return {"setMonitoringResult": results}

    def _new_id(self) -> int:
        while self._next_id in self.monitors:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    def _clear_monitoring(self, payload: Payload) -> Payload:
        results = []
        for monitor_id in payload.get("id") or ():
            found = self.monitors.pop(monitor_id, None)
            results.append({"id": monitor_id, "status": "Accepted" if found else "NotFound"})
        return {"clearMonitoringResult": results}

    def _set_base(self, payload: Payload) -> Payload:
        self.base = str(payload.get("monitoringBase"))
        if self.base == "HardWiredOnly":
            self.monitors.clear()  # N03: custom and preconfigured monitors go away
        return {"status": "Accepted"}

    def _set_level(self, payload: Payload) -> Payload:
        level = payload.get("severity")
        if not isinstance(level, int) or not 0 <= level <= 9:
            return {"status": "Rejected"}
        self.level = level
        return {"status": "Accepted"}

    def _get_report(self, payload: Payload) -> Payload:
        request_id = int(payload.get("requestId", 0))
        wanted = [
            self.monitors[i]
            for i in sorted(self.monitors)
            if self._matches(self.monitors[i], payload)
        ]
        if not wanted:
            return {"status": "EmptyResultSet"}
        chunks = [wanted[i : i + REPORT_PART] for i in range(0, len(wanted), REPORT_PART)]

        async def send() -> None:
            for seq_no, chunk in enumerate(chunks):
                part: Payload = {
                    "requestId": request_id,
                    "seqNo": seq_no,
                    "generatedAt": _now(),
                    "tbc": seq_no < len(chunks) - 1,
                    "monitor": [
                        {
                            "component": mon["component"],
                            "variable": mon["variable"],
                            "variableMonitoring": [
                                {
                                    "id": mon["id"],
                                    "transaction": bool(mon.get("transaction", False)),
                                    "value": mon["value"],
                                    "type": mon["type"],
                                    "severity": mon.get("severity", 5),
                                    **(
                                        {"eventNotificationType": "CustomMonitor"}
                                        if self.protocol == "ocpp2.1"
                                        else {}
                                    ),
                                }
                            ],
                        }
                        for mon in chunk
                    ],
                }
                await self._call("NotifyMonitoringReport", part)

        self._later(send)
        return {"status": "Accepted"}

    @staticmethod
    def _matches(monitor: Payload, payload: Payload) -> bool:
        criteria = set(payload.get("monitoringCriteria") or ())
        kind = monitor.get("type", "")
        if criteria:
            group = (
                "PeriodicMonitoring"
                if kind.startswith("Periodic")
                else "DeltaMonitoring"
                if "Delta" in kind
                else "ThresholdMonitoring"
            )
            if group not in criteria:
                return False
        wanted = payload.get("componentVariable") or []
        if not wanted:
            return True
        for w in wanted:
            if (w.get("component") or {}).get("name") != monitor["component"].get("name"):
                continue
            name = (w.get("variable") or {}).get("name")
            if name is None or name == monitor["variable"].get("name"):
                return True
        return False
