"""Alerts, version-neutral (issue 17 part 2): station faults raised, repeated and cleared
from 1.6 StatusNotification error codes and 2.x NotifyEvent, listed and acknowledged by
operators. The rules are in domain/alerts.py; the store writes each change with its
`alert.*` webhook event in the commit of the station message, before its answer.

The status hot path: every StatusNotification of every version passes here (it is the
provisioning service's status writer). One with errorCode NoError for a connector that
has no alert left to clear is written as before, without a statement more: this process
keeps, per station, the connectors with status alerts not cleared yet, learnt from the
first write of the station's status that carries alerts (and forgotten whenever the
station connects or disconnects, so a station that moved to another node and back is
read afresh)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from ampyre.domain.alerts import (
    NO_ERROR,
    Alert,
    AlertKey,
    AlertQuery,
    AlertSource,
    AlertState,
    Sighting,
    severity_16,
)
from ampyre.domain.models import Page, StationReport, StatusReport
from ampyre.services.clock import utcnow


class AlertNotFound(LookupError):
    pass


class AlertAlreadyCleared(Exception):
    """An alert that is over cannot be acknowledged."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(f"alert {alert.id} is cleared already")
        self.alert = alert


class AlertStore(Protocol):
    async def record_status(self, reports: Sequence[StatusReport]) -> None: ...

    async def record_status_alerts(
        self,
        reports: Sequence[StatusReport],
        sightings: Sequence[Sighting],
        load: Iterable[str] = (),
    ) -> dict[str, set[int]]: ...

    async def record_event_alerts(
        self, reports: Sequence[StationReport], sightings: Sequence[Sighting]
    ) -> None: ...

    async def acknowledge_alert(
        self, alert_id: int, by: str, at: datetime
    ) -> tuple[Alert | None, bool]: ...

    async def get_alert(self, alert_id: int) -> Alert | None: ...

    async def prune_cleared(self, older_than: datetime) -> int: ...

    async def list_alerts(self, query: AlertQuery, limit: int, offset: int) -> Page: ...


def status_sighting(report: StatusReport) -> Sighting | None:
    """The alert sighting of a 1.6 StatusNotification: an errorCode other than NoError
    raises (its vendorErrorCode part of what the fault is), NoError clears the
    connector's alerts. 2.x status notifications carry no error code: None."""
    code = report.error_code
    if code is None:
        return None
    # 1.6 has no EVSE level: the handler files connector n as EVSE n; 0 is the station.
    key = AlertKey(
        report.station_id,
        AlertSource.STATUS_NOTIFICATION,
        evse_id=report.evse_id,
        connector_id=report.connector_id,
    )
    at = report.timestamp or report.received_at
    if code == NO_ERROR:
        return Sighting(key, at, clear=True)
    vendor_code = report.vendor_error_code
    return Sighting(
        key,
        at,
        code=f"{code}:{vendor_code}" if vendor_code else code,
        severity=severity_16(code),
        info=report.info,
        vendor_error_code=vendor_code,
        status=report.status,
    )


class AlertService:
    def __init__(self, store: AlertStore, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock
        # station id -> connectors with status alerts not cleared (absent: not known yet)
        self._open: dict[str, set[int]] = {}

    # ------------------------------------------------------------------ station side

    async def record_status(self, reports: Sequence[StatusReport]) -> None:
        """Write status reports with the alerts they raise or clear (durable on return)."""
        sightings: list[Sighting] = []
        load: set[str] = set()
        for report in reports:
            code = report.error_code
            if code is None:
                continue  # 2.x: faults come as NotifyEvent
            known = self._open.get(report.station_id)
            if code == NO_ERROR and known is not None and report.connector_id not in known:
                continue  # the common case: nothing to clear, nothing built
            sighting = status_sighting(report)
            if sighting is None:
                continue
            sightings.append(sighting)
            if known is None:
                load.add(report.station_id)  # may clear an alert raised before a restart
        if not sightings:
            await self._store.record_status(reports)
            return
        self._open.update(await self._store.record_status_alerts(reports, sightings, load))

    async def record_event(self, report: StationReport, sightings: Sequence[Sighting]) -> None:
        """A 2.x NotifyEvent: kept in the station's report history, its alerts applied."""
        await self._store.record_event_alerts([report], sightings)

    async def raise_alerts(self, sightings: Sequence[Sighting]) -> None:
        """Alerts the CSMS raises itself (certificate expiry, a refused handshake, ...):
        applied like a NotifyEvent's, with no report to keep."""
        if sightings:
            await self._store.record_event_alerts((), sightings)

    async def prune(self, older_than: datetime) -> int:
        """Retention: alerts cleared before `older_than` are deleted."""
        return await self._store.prune_cleared(older_than)

    def forget(self, station_id: str) -> None:
        """The station (dis)connected: read its open alerts afresh on its next status."""
        self._open.pop(station_id, None)

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ operator side

    async def get(self, alert_id: int) -> Alert:
        alert = await self._store.get_alert(alert_id)
        if alert is None:
            raise AlertNotFound(f"alert {alert_id} not found")
        return alert

    async def list(self, query: AlertQuery, limit: int, offset: int) -> Page:
        return await self._store.list_alerts(query, limit, offset)

    async def acknowledge(self, alert_id: int, by: str) -> tuple[Alert, bool]:
        """Acknowledge an open alert (who and when kept; `alert.acknowledged` event).
        An acknowledged one is returned unchanged (False); a cleared one refused."""
        alert, changed = await self._store.acknowledge_alert(alert_id, by, self._clock())
        if alert is None:
            raise AlertNotFound(f"alert {alert_id} not found")
        if alert.state is AlertState.CLEARED:
            raise AlertAlreadyCleared(alert)
        return alert, changed
