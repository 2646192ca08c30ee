"""Retention: every table that grows with traffic is pruned by its own setting.

Pruned (each `*_RETENTION_*` setting; 0 keeps everything):

* the audit log (`message_log_retention_days`, default 7), and its Heartbeat round trips
  sooner (`message_log_heartbeat_retention_hours`, default 24): they are most of the
  log and say little after a day;
* status history and station reports (`status_history_retention_days`,
  `station_reports_retention_days`, default 90);
* the operator audit trail of REST writes (`operator_audit_retention_days`, default 365);
* the outbox of domain events (`outbox_retention_days`, default 1): its consumers (the
  webhook deliveries) read it within seconds; the deliveries keep their own copy;
* alerts once cleared (`alert_retention_days`, default 90; open and acknowledged alerts
  stay);
* security events, the stations' and the CSMS's own (`security_event_retention_days`,
  default 365: an incident may be looked into long after).

Not pruned by default: transactions, their events and meter values. Billing and disputes
need them (a charging session may be contested months later, and the law may require
keeping it longer), so deleting them is the operator's decision:
`transaction_data_retention_days` (default 0) deletes the meter values and events of
transactions that ended that long ago, and meter values outside transactions; the
transactions themselves stay, with their start/stop readings and energy.

The store deletes in short batches (one transaction each, with a pause between), so
pruning never holds the database long enough to stall the OCPP path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ampyre.config import Settings
from ampyre.services.clock import utcnow
from ampyre.services.periodic import Periodic

log = logging.getLogger(__name__)

RUN_EVERY = 3600.0  # seconds between runs (the first runs at start-up)
HEARTBEAT = "Heartbeat"


class RetentionStore(Protocol):
    async def prune_messages(self, older_than: datetime, action: str | None = None) -> int: ...
    async def prune_status_history(self, older_than: datetime) -> int: ...
    async def prune_reports(self, older_than: datetime) -> int: ...
    async def prune_transaction_data(self, older_than: datetime) -> int: ...
    async def prune_events(self, older_than: datetime) -> int: ...


def _age(amount: float, unit: timedelta) -> timedelta | None:
    return amount * unit if amount > 0 else None


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long rows are kept; None keeps them forever."""

    messages: timedelta | None = timedelta(days=7)
    heartbeats: timedelta | None = timedelta(hours=24)
    status_history: timedelta | None = timedelta(days=90)
    reports: timedelta | None = timedelta(days=90)
    transaction_data: timedelta | None = None
    operator_audit: timedelta | None = timedelta(days=365)
    outbox: timedelta | None = timedelta(days=1)
    cleared_alerts: timedelta | None = timedelta(days=90)
    security_events: timedelta | None = timedelta(days=365)

    @classmethod
    def from_settings(cls, s: Settings) -> RetentionPolicy:
        return cls(
            messages=_age(s.message_log_retention_days, timedelta(days=1)),
            heartbeats=_age(s.message_log_heartbeat_retention_hours, timedelta(hours=1)),
            status_history=_age(s.status_history_retention_days, timedelta(days=1)),
            reports=_age(s.station_reports_retention_days, timedelta(days=1)),
            transaction_data=_age(s.transaction_data_retention_days, timedelta(days=1)),
            operator_audit=_age(s.operator_audit_retention_days, timedelta(days=1)),
            outbox=_age(s.outbox_retention_days, timedelta(days=1)),
            cleared_alerts=_age(s.alert_retention_days, timedelta(days=1)),
            security_events=_age(s.security_event_retention_days, timedelta(days=1)),
        )


class RetentionService:
    """Runs the pruning once at start-up and then every `interval` seconds."""

    def __init__(
        self,
        store: RetentionStore,
        policy: RetentionPolicy,
        clock: Callable[[], datetime] = utcnow,
        interval: float = RUN_EVERY,
        prune_operator_audit: Callable[[datetime], Awaitable[int]] | None = None,
        leads: Callable[[], bool] = lambda: True,
        prune_alerts: Callable[[datetime], Awaitable[int]] | None = None,
        prune_security_events: Callable[[datetime], Awaitable[int]] | None = None,
    ) -> None:
        self._store = store
        self._prune_operator_audit = prune_operator_audit
        self._prune_alerts = prune_alerts
        self._prune_security_events = prune_security_events
        self._policy = policy
        self._clock = clock
        # In a cluster only the leading node prunes (services/cluster.py); the others
        # look again each interval and take over when the leader is gone.
        self._loop = Periodic("retention", self.run_once, interval, log=log, leads=leads)

    def _jobs(self) -> list[tuple[str, timedelta, Callable[[datetime], Awaitable[int]]]]:
        p, store = self._policy, self._store
        # Heartbeats only when sooner than the log's own retention (else it changes nothing).
        heartbeats = p.heartbeats
        if heartbeats is not None and p.messages is not None and heartbeats >= p.messages:
            heartbeats = None
        jobs: list[tuple[str, timedelta | None, Callable[[datetime], Awaitable[int]]]] = [
            ("message-log entries", p.messages, store.prune_messages),
            (
                "Heartbeat message-log entries",
                heartbeats,
                lambda before: store.prune_messages(before, action=HEARTBEAT),
            ),
            ("status-history rows", p.status_history, store.prune_status_history),
            ("station reports", p.reports, store.prune_reports),
            (
                "meter values and events of ended transactions",
                p.transaction_data,
                store.prune_transaction_data,
            ),
            ("outbox events", p.outbox, store.prune_events),
        ]
        if self._prune_operator_audit is not None:
            jobs.append(("operator-audit entries", p.operator_audit, self._prune_operator_audit))
        if self._prune_alerts is not None:
            jobs.append(("cleared alerts", p.cleared_alerts, self._prune_alerts))
        if self._prune_security_events is not None:
            jobs.append(("security events", p.security_events, self._prune_security_events))
        return [(name, age, prune) for name, age, prune in jobs if age is not None]

    async def run_once(self) -> dict[str, int]:
        """Prune every table once; what was deleted, by table. A table that fails is
        logged and retried next run; the others are still pruned."""
        now = self._clock()
        deleted: dict[str, int] = {}
        for name, age, prune in self._jobs():
            try:
                deleted[name] = n = await prune(now - age)
            except Exception:
                log.warning("pruning %s failed; will retry", name, exc_info=True)
                continue
            if n:
                log.info("pruned %d %s older than %s", n, name, age)
        return deleted

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.close()
