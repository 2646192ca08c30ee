"""Security events, version-neutral (issue 19 part 3; OCPP 2.0.1 A04, the 1.6 security
whitepaper edition 3 use case A04): what stations report with SecurityEventNotification
and what the CSMS itself saw about a station (a refused TLS handshake, a downgrade, a bad
client certificate: `record_csms_event`, called by the gateway). Each is stored; the
critical ones (domain/certificates.py CRITICAL_EVENTS, and every CSMS-seen one) raise an
operator alert. A station's own notification is also kept in its report history, as
before this service existed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ampyre.domain.alerts import AlertKey, AlertSource, Sighting
from ampyre.domain.certificates import SecurityEvent, SecurityEventQuery, is_critical
from ampyre.domain.models import Page, StationReport
from ampyre.services.alerts import AlertService
from ampyre.services.certificates_port import SecurityEventStore
from ampyre.services.clock import utcnow

log = logging.getLogger(__name__)

SEVERITY_STATION_CRITICAL = 3  # OCPP 2.0.1 severity "Critical"
SEVERITY_CSMS = 4  # "Error": someone was refused at the door
_TYPE_MAX = 50  # SecurityEventNotification type maxLength
_TECH_MAX = 255


def _key(station_id: str, event_type: str) -> AlertKey:
    return AlertKey(
        station_id, AlertSource.SECURITY_EVENT, component="SecurityEvent", variable=event_type
    )


class SecurityEventService:
    def __init__(
        self,
        store: SecurityEventStore,
        alerts: AlertService | None,
        report: Callable[[StationReport], Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`report` keeps a station's notification in its report history when there is
        no alert to raise with it (the alert service writes the report with its alert)."""
        self._store = store
        self._alerts = alerts
        self._report = report
        self._clock = clock
        self.recorded = 0  # CSMS-seen events recorded by this process (metrics, tests)

    def now(self) -> datetime:
        return self._clock()

    async def notification(
        self,
        station_id: str,
        event_type: str,
        timestamp: datetime | None,
        tech_info: str | None,
        payload: dict[str, Any],
    ) -> SecurityEvent:
        """A station's SecurityEventNotification: stored (durable on return)."""
        now = self._clock()
        event = SecurityEvent(
            station_id=station_id,
            type=event_type[:_TYPE_MAX],
            timestamp=timestamp or now,
            received_at=now,
            tech_info=tech_info[:_TECH_MAX] if tech_info else None,
            critical=is_critical(event_type),
        )
        stored = await self._store.add_event(event)
        report = StationReport(station_id, "SecurityEventNotification", payload, now)
        if event.critical and self._alerts is not None:
            await self._alerts.record_event(
                report, [self._sighting(stored, SEVERITY_STATION_CRITICAL)]
            )
        elif self._report is not None:
            await self._report(report)
        return stored

    async def record_csms_event(
        self, station_id: str, event_type: str, tech_info: str | None = None
    ) -> SecurityEvent | None:
        """An event the CSMS saw about `station_id` (the gateway's handshake refusals).
        Never raises: the caller is refusing a connection and must go on doing so. An
        unknown station id (no row to file it under) is logged only."""
        now = self._clock()
        event = SecurityEvent(
            station_id=station_id,
            type=event_type[:_TYPE_MAX],
            timestamp=now,
            received_at=now,
            source="csms",
            tech_info=tech_info[:_TECH_MAX] if tech_info else None,
            critical=True,
        )
        try:
            stored = await self._store.add_event(event)
        except LookupError:
            log.info(
                "security event %s for unknown station %r: %s", event_type, station_id, tech_info
            )
            return None
        except Exception:
            log.exception("security event %s of %r not stored", event_type, station_id)
            return None
        self.recorded += 1
        if self._alerts is not None:
            try:
                await self._alerts.raise_alerts([self._sighting(stored, SEVERITY_CSMS)])
            except Exception:
                log.exception("security alert of %r not raised", station_id)
        return stored

    def _sighting(self, event: SecurityEvent, severity: int) -> Sighting:
        return Sighting(
            _key(event.station_id, event.type),
            event.received_at,
            code=event.type,
            severity=severity,
            info=event.tech_info,
            tech_info=event.tech_info,
        )

    async def prune(self, older_than: datetime) -> int:
        """Retention: events received before `older_than` are deleted."""
        return await self._store.prune_security_events(older_than)

    async def list(self, query: SecurityEventQuery, limit: int, offset: int) -> Page:
        return await self._store.list_events(query, limit, offset)
