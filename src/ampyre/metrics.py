"""Prometheus metrics, in a registry of their own (tests build isolated ones).

The gateway calls these methods for every frame, thousands of times a second: label
children are bound once and kept in dicts, so the hot path is a dict lookup and an
increment. Label values that come from stations (action names, error codes) are capped
so a misbehaving peer cannot grow the series without bound.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# OCPP-J message type ids -> label values.
MESSAGE_TYPES: dict[int, str] = {
    2: "CALL",
    3: "CALLRESULT",
    4: "CALLERROR",
    5: "CALLRESULTERROR",
    6: "SEND",
}

# 0.1 ms .. 1 s: validation + a handler + (group-committed) store write.
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)

OTHER = "other"  # the label value once a label's cap is reached
NONE = "none"  # label value when the action is not known (e.g. an unmatched CALLRESULT)

IN = "in"
OUT = "out"


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None, max_series: int = 2000) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._max_series = max_series
        self.connected_stations = Gauge(
            "ampyre_connected_stations",
            "Stations with an open OCPP WebSocket on this node, by OCPP version.",
            ["ocpp_version"],
            registry=self.registry,
        )
        self.messages = Counter(
            "ampyre_ocpp_messages",
            "OCPP-J frames received (direction=in) and sent (direction=out).",
            ["direction", "ocpp_version", "action", "message_type"],
            registry=self.registry,
        )
        self.ocpp_errors = Counter(
            "ampyre_ocpp_errors",
            "OCPP CALLERRORs sent or received, by error code.",
            ["error_code"],
            registry=self.registry,
        )
        self.handler_latency = Histogram(
            "ampyre_ocpp_handler_seconds",
            "Time from a station's CALL being received to our answer being ready.",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audit_log_dropped = Counter(
            "ampyre_audit_log_dropped",
            "Audit-log (message log) entries dropped because the write queue was full.",
            registry=self.registry,
        )
        self._gauges: dict[str, Gauge] = {}
        self._messages: dict[tuple[str, str, str | None, int | str], Counter] = {}
        self._errors: dict[str, Counter] = {}
        self._latency: dict[str, Histogram] = {}
        self._dropped_seen = 0
        self._collect_hooks: list[Callable[[], None]] = []

    # connections -------------------------------------------------------------------
    def _gauge(self, ocpp_version: str) -> Gauge:
        child = self._gauges.get(ocpp_version)
        if child is None:
            label = ocpp_version if len(self._gauges) < self._max_series else OTHER
            child = self._gauges[ocpp_version] = self.connected_stations.labels(label)
        return child

    def station_connected(self, ocpp_version: str) -> None:
        self._gauge(ocpp_version).inc()

    def station_disconnected(self, ocpp_version: str) -> None:
        self._gauge(ocpp_version).dec()

    def set_connected(self, ocpp_version: str, count: int) -> None:
        self._gauge(ocpp_version).set(count)

    # frames ------------------------------------------------------------------------
    def _message(
        self, direction: str, ocpp_version: str, action: str | None, message_type: int | str
    ) -> Counter:
        key = (direction, ocpp_version, action, message_type)
        child = self._messages.get(key)
        if child is None:
            child = self._bind_message(key)
        return child

    def _bind_message(self, key: tuple[str, str, str | None, int | str]) -> Counter:
        direction, ocpp_version, action, message_type = key
        if isinstance(message_type, int):
            mtype = MESSAGE_TYPES.get(message_type, OTHER)
        else:
            mtype = message_type
        if len(self._messages) >= self._max_series:
            # Do not remember the key either: the dict must stay bounded too.
            return self.messages.labels(direction, OTHER, OTHER, OTHER)
        child = self.messages.labels(direction, ocpp_version, action or NONE, mtype)
        self._messages[key] = child
        return child

    def message_in(
        self, ocpp_version: str, action: str | None, message_type: int | str = 2
    ) -> None:
        self._message(IN, ocpp_version, action, message_type).inc()

    def message_out(
        self, ocpp_version: str, action: str | None, message_type: int | str = 2
    ) -> None:
        self._message(OUT, ocpp_version, action, message_type).inc()

    def frames_total(self) -> float:
        """OCPP frames received and sent so far (all series): the dashboard's message
        rate is its change over time. Reads the counters; nothing on the hot path."""
        return sum(
            sample.value
            for family in self.messages.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )

    def ocpp_error(self, error_code: str) -> None:
        child = self._errors.get(error_code)
        if child is None:
            if len(self._errors) >= self._max_series:
                child = self.ocpp_errors.labels(OTHER)
            else:
                child = self._errors[error_code] = self.ocpp_errors.labels(error_code)
        child.inc()

    def latency(self, action: str) -> Histogram:
        """The bound histogram for an action; callers may keep it and `.observe()` on it."""
        child = self._latency.get(action)
        if child is None:
            if len(self._latency) >= self._max_series:
                return self.handler_latency.labels(OTHER)
            child = self._latency[action] = self.handler_latency.labels(action)
        return child

    def observe_handler(self, action: str, seconds: float) -> None:
        self.latency(action).observe(seconds)

    def audit_dropped(self, count: int = 1) -> None:
        self._dropped_seen += count
        self.audit_log_dropped.inc(count)

    def set_audit_dropped_total(self, total: int) -> None:
        """Follow a running total kept elsewhere (e.g. the store's `dropped_messages`)."""
        if total > self._dropped_seen:
            self.audit_log_dropped.inc(total - self._dropped_seen)
            self._dropped_seen = total

    def add_collect_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` before each render, to pull values that are cheaper to read than to push
        (e.g. `lambda: metrics.set_audit_dropped_total(store.dropped_messages)`)."""
        self._collect_hooks.append(hook)

    # exposition --------------------------------------------------------------------
    def render(self) -> bytes:
        for hook in self._collect_hooks:
            hook()
        return generate_latest(self.registry)
