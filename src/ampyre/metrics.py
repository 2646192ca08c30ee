"""Prometheus metrics, in a registry of their own (tests build isolated ones).

The gateway calls these methods for every frame, thousands of times a second: label
children are bound once and kept in dicts, and frame counts are added up in plain ints
and given to the Prometheus counters when the metrics are rendered (a counter's `inc`
takes a lock and costs about ten times a dict update), so the hot path is two dict
lookups. Label values that come from stations (action names, error codes) are capped
so a misbehaving peer cannot grow the series without bound.
"""

from __future__ import annotations

from bisect import bisect_left
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

FrameKey = tuple[str, str, str | None, int | str]  # direction, version, action, type


class LatencyCell:
    """One action's handler-latency histogram as plain numbers: observations per bucket
    (not cumulative, like Prometheus' own) and their sum, handed to the bound Prometheus
    child when the metrics are rendered (`Histogram.observe` takes a lock and walks the
    buckets: several times the cost, for every CALL)."""

    __slots__ = ("child", "counts", "total")

    def __init__(self, child: Histogram) -> None:
        self.child = child
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        # Prometheus buckets are upper bounds, inclusive (le): the first bound >= seconds.
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def fold(self) -> None:
        """Add what was observed since the last fold to the Prometheus child."""
        counts = self.counts
        if not any(counts):
            return
        # prometheus_client has no public "observe n values at once"; its Histogram keeps
        # one value per bucket (_buckets) and the sum (_sum), as observe() updates them
        # (tests/unit/test_api_metrics.py compares the result with observe()).
        buckets = self.child._buckets
        for i, n in enumerate(counts):
            if n:
                buckets[i].inc(n)
        self.child._sum.inc(self.total)
        self.counts = [0] * len(counts)
        self.total = 0.0


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
        # The durable write path (adapters/db/writer.py): how long each group commit took
        # from taking its batch to answering it, and the ops it carried.
        self.group_commit_seconds = Histogram(
            "ampyre_db_group_commit_seconds",
            "Group commits: time from taking a batch of writes to answering every op in it.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.group_commit_ops = Counter(
            "ampyre_db_group_commit_ops",
            "Writes (ops) in group commits, by outcome (committed, or failed: answered "
            "with an error and not acknowledged to the station).",
            ["outcome"],
            registry=self.registry,
        )
        self._gauges: dict[str, Gauge] = {}
        self._messages: dict[tuple[str, str, str | None, int | str], Counter] = {}
        # Frames counted since the last render, per bound child (at most one entry per
        # child: bounded like the children).
        self._uncounted: dict[Counter, int] = {}
        # The sessions' hot path (GatewayObserver.message): frames since the last render
        # by label key, for keys with a bound child (so bounded like the children).
        self.frame_counts: dict[FrameKey, int] = {}
        self._errors: dict[str, Counter] = {}
        self._latency: dict[str, LatencyCell] = {}
        self._other_latency: LatencyCell | None = None
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

    def set_connected_counts(self, counts: dict[str, int]) -> None:
        """Every version's gauge from a census (versions not in it: 0)."""
        for version in set(self._gauges) | set(counts):
            self._gauge(version).set(counts.get(version, 0))

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
        child = self._message(IN, ocpp_version, action, message_type)
        self._uncounted[child] = self._uncounted.get(child, 0) + 1

    def message_out(
        self, ocpp_version: str, action: str | None, message_type: int | str = 2
    ) -> None:
        child = self._message(OUT, ocpp_version, action, message_type)
        self._uncounted[child] = self._uncounted.get(child, 0) + 1

    def frame(self, key: FrameKey) -> None:
        """Count one frame (label key as `message_in` / `message_out` take them). The
        observer adds to `frame_counts` itself when the key is there; this is the rest."""
        child = self._message(*key)
        if key in self._messages:
            self.frame_counts[key] = self.frame_counts.get(key, 0) + 1
        else:  # the capped "other" series
            self._uncounted[child] = self._uncounted.get(child, 0) + 1

    def frames_total(self) -> float:
        """OCPP frames received and sent so far (all series): the dashboard's message
        rate is its change over time. Reads the counters plus the frames not yet handed
        to them (that happens only when /metrics is rendered); nothing on the hot path."""
        counted = sum(
            sample.value
            for family in self.messages.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        return counted + sum(self._uncounted.values()) + sum(self.frame_counts.values())

    def ocpp_error(self, error_code: str) -> None:
        child = self._errors.get(error_code)
        if child is None:
            if len(self._errors) >= self._max_series:
                child = self.ocpp_errors.labels(OTHER)
            else:
                child = self._errors[error_code] = self.ocpp_errors.labels(error_code)
        child.inc()

    def latency(self, action: str) -> LatencyCell:
        """The bound histogram for an action; callers may keep it and `.observe()` on it."""
        cell = self._latency.get(action)
        if cell is None:
            if len(self._latency) >= self._max_series:
                if self._other_latency is None:
                    self._other_latency = LatencyCell(self.handler_latency.labels(OTHER))
                return self._other_latency
            # Bound now, as observe() would: the series (and its _created) starts here.
            cell = self._latency[action] = LatencyCell(self.handler_latency.labels(action))
        return cell

    def observe_handler(self, action: str, seconds: float) -> None:
        cell = self._latency.get(action)
        if cell is None:
            cell = self.latency(action)
        cell.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        cell.total += seconds

    def audit_dropped(self, count: int = 1) -> None:
        self._dropped_seen += count
        self.audit_log_dropped.inc(count)

    def set_audit_dropped_total(self, total: int) -> None:
        """Follow a running total kept elsewhere (e.g. the store's `dropped_messages`)."""
        if total > self._dropped_seen:
            self.audit_log_dropped.inc(total - self._dropped_seen)
            self._dropped_seen = total

    def group_commit(self, ops: int, failed: int, seconds: float) -> None:
        """One group commit of `ops` writes, `failed` of them refused (GroupWriter)."""
        self.group_commit_seconds.observe(seconds)
        if ops > failed:
            self.group_commit_ops.labels("committed").inc(ops - failed)
        if failed:
            self.group_commit_ops.labels("failed").inc(failed)

    def add_collect_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` before each render, to pull values that are cheaper to read than to push
        (e.g. `lambda: metrics.set_audit_dropped_total(store.dropped_messages)`)."""
        self._collect_hooks.append(hook)

    # exposition --------------------------------------------------------------------
    def render(self) -> bytes:
        self._fold()
        for hook in self._collect_hooks:
            hook()
        return generate_latest(self.registry)

    def _fold(self) -> None:
        """Hand the plain counts of the hot path to the Prometheus objects. The dicts are
        emptied in place: the observer keeps a reference to `frame_counts`."""
        uncounted, self._uncounted = self._uncounted, {}
        for key, n in self.frame_counts.items():
            child = self._messages[key]
            uncounted[child] = uncounted.get(child, 0) + n
        self.frame_counts.clear()
        for child, n in uncounted.items():
            child.inc(n)
        for cell in self._latency.values():
            cell.fold()
        if self._other_latency is not None:
            self._other_latency.fold()
