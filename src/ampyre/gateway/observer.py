"""Per-frame hooks of the OCPP sessions: Prometheus metrics and the buffered audit log;
the gateway's security events (counted in `ampyre_security_events_total{event}`)."""

from __future__ import annotations

from prometheus_client import Counter

from ampyre.domain.models import Direction, MessageLogEntry, OcppVersion
from ampyre.metrics import IN, OUT, Metrics
from ampyre.services.ports import Store

_IN = Direction.IN


class GatewayObserver:
    __slots__ = ("_counts", "_metrics", "_security", "_security_children", "_store")

    def __init__(self, metrics: Metrics, store: Store) -> None:
        self._metrics = metrics
        self._counts = metrics.frame_counts  # emptied in place by each render
        self._store = store
        self._security = Counter(
            "ampyre_security_events",
            "Gateway security events: auth_failed (wrong or unknown credentials on the "
            "handshake), auth_throttled (a handshake refused with 429), cert_refused (a "
            "client certificate not the station's, expired or untrusted), downgrade (a "
            "lower security profile than configured), tls_failed (a TLS handshake failed).",
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
        # Metrics.message_in / message_out, inlined: a frame is one dict update here.
        # (`_value_` is the member's plain attribute; `.value` is a property.)
        key = (IN if direction is _IN else OUT, version._value_, action, mtype)
        counts = self._counts
        n = counts.get(key)
        if n is None:
            self._metrics.frame(key)
        else:
            counts[key] = n + 1

    def error(self, version: OcppVersion, code: str) -> None:
        self._metrics.ocpp_error(code)

    def handled(self, action: str, seconds: float) -> None:
        self._metrics.observe_handler(action, seconds)

    def audit(self, entry: MessageLogEntry) -> None:
        self._store.log_messages((entry,))
