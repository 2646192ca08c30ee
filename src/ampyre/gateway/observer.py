"""Per-frame hooks of the OCPP sessions: Prometheus metrics and the buffered audit log;
the gateway's security events (counted in `ampyre_security_events_total{event}`)."""

from __future__ import annotations

from prometheus_client import Counter

from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion
from ampyre.metrics import Metrics
from ampyre.services.ports import Store


class GatewayObserver:
    __slots__ = ("_metrics", "_security", "_security_children", "_store")

    def __init__(self, metrics: Metrics, store: Store) -> None:
        self._metrics = metrics
        self._store = store
        self._security = Counter(
            "ampyre_security_events",
            "Gateway security events: auth_failed (wrong or unknown credentials on the "
            "handshake), auth_throttled (a handshake refused with 429).",
            ["event"],
            registry=metrics.registry,
        )
        self._security_children: dict[str, Counter] = {}

    def security_event(self, event: str) -> None:
        child = self._security_children.get(event)
        if child is None:
            child = self._security_children[event] = self._security.labels(event)
        child.inc()

    def message(
        self, version: OcppVersion, direction: Direction, mtype: int, action: str | None
    ) -> None:
        if direction is Direction.IN:
            self._metrics.message_in(version.value, action, mtype)
        else:
            self._metrics.message_out(version.value, action, mtype)

    def error(self, version: OcppVersion, code: str) -> None:
        self._metrics.ocpp_error(code)

    def handled(self, action: str, seconds: float) -> None:
        self._metrics.observe_handler(action, seconds)

    def audit(self, entry: MessageLogEntry) -> None:
        self._store.log_messages((entry,))
