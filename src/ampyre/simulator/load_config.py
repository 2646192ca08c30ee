"""The load generator's settings and results (`loadgen.py`): what a run is asked to do,
what it measured, and the latency percentiles the harness reports."""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BENCH_ID_TOKEN = "BENCHTAG"


def bench_id_token(prefix: str, index: int) -> str:
    """Station `index`'s own RFID token: one token charging at 1,000 stations at once
    would be answered ConcurrentTx, as it should be."""
    return f"{prefix}{index:05d}"


@dataclass(slots=True)
class LoadConfig:
    url: str
    protocol: str
    stations: int
    mode: str = "closed"  # closed | paced | idle | transactions
    # paced: msgs/s for all stations of this generator; transactions: meter-value
    # messages/s for all of them
    rate: float = 0.0
    heartbeat_interval: float = 30.0  # idle: seconds between heartbeats of one station
    warmup: float = 2.0
    duration: float = 10.0
    prefix: str = "BENCH"
    first_index: int = 1
    password: str | None = None
    connect_concurrency: int = 100
    connect_attempts: int = 3
    connect_timeout: float = 30.0
    session_samples: int = 12  # transactions: meter-value messages per session
    id_token: str = BENCH_ID_TOKEN
    max_power_kw: float = 22.0
    client: str = "auto"  # auto | picows | websockets (CLIENTS)
    # Local address to connect from (e.g. 127.0.0.2): one source address has about 28,000
    # ephemeral ports towards one server port, so bigger runs spread over several.
    source_address: str | None = None

    def connect_options(self) -> dict[str, Any]:
        """Extra keyword arguments for the event loop's create_connection."""
        return {"local_addr": (self.source_address, 0)} if self.source_address else {}


@dataclass(slots=True)
class LoadResult:
    stations: int = 0
    connected: int = 0
    connect_failures: int = 0
    boot_accepted: int = 0
    boot_other: int = 0
    connect_start: float = 0.0
    connect_end: float = 0.0
    window_start: float = 0.0
    window_end: float = 0.0
    msgs: int = 0  # completed round trips inside the measured window
    msgs_total: int = 0
    # round trips completed inside the measured window whatever their send time (paced:
    # the served load, where `msgs` counts only those also sent in the window)
    served: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # connections lost during the run
    csms_calls: int = 0
    cpu_seconds: float = 0.0  # this process, measured window only
    latencies: array[float] = field(default_factory=lambda: array("d"))
    # transactions mode (inside the window): meter-value messages and their sampled
    # values acked, other transaction messages acked, sessions started/ended, Authorize
    # answers that were not Accepted, meter latencies alone
    meter_msgs: int = 0
    sampled_values: int = 0
    tx_other: int = 0
    sessions_started: int = 0
    sessions_ended: int = 0
    auth_rejected: int = 0
    meter_latencies: array[float] = field(default_factory=lambda: array("d"))
    client: str = "websockets"  # the WebSocket client that carried the load

    @property
    def connect_seconds(self) -> float:
        return max(self.connect_end - self.connect_start, 1e-9)

    @property
    def connect_rate(self) -> float:
        return self.connected / self.connect_seconds

    @property
    def window(self) -> float:
        return max(self.window_end - self.window_start, 1e-9)

    @property
    def msgs_per_s(self) -> float:
        return self.msgs / self.window

    def summary(self) -> dict[str, Any]:
        pct = percentiles(self.latencies)
        return {
            "stations": self.stations,
            "connected": self.connected,
            "connect_failures": self.connect_failures,
            "boot_accepted": self.boot_accepted,
            "boot_other": self.boot_other,
            "connect_start": self.connect_start,
            "connect_end": self.connect_end,
            "connect_rate": self.connect_rate,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "msgs": self.msgs,
            "msgs_total": self.msgs_total,
            "served": self.served,
            "msgs_per_s": self.msgs_per_s,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "dropped": self.dropped,
            "csms_calls": self.csms_calls,
            "cpu_seconds": self.cpu_seconds,
            "cpu_utilisation": self.cpu_seconds / self.window,
            "meter_msgs": self.meter_msgs,
            "sampled_values": self.sampled_values,
            "tx_other": self.tx_other,
            "sessions_started": self.sessions_started,
            "sessions_ended": self.sessions_ended,
            "auth_rejected": self.auth_rejected,
            "meter_p99_ms": percentiles(self.meter_latencies)["p99_ms"],
            "client": self.client,
            **pct,
        }


def percentiles(samples: array[float]) -> dict[str, float | None]:
    """p50/p90/p99/max in milliseconds (None without samples)."""
    if not samples:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(samples)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] * 1000.0

    return {
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] * 1000.0,
        "mean_ms": sum(ordered) / n * 1000.0,
    }
