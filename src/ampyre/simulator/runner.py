"""Run many simulated stations in one event loop; entry point for `ampyre simulate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import signal
import sys
import time
from dataclasses import dataclass

from ampyre.simulator import messages as m
from ampyre.simulator.station import Counters, SimulatedStation

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SimulationReport:
    url: str
    protocol: str
    stations: int
    elapsed: float  # seconds from the first connection attempt to shutdown
    connected_at_end: int  # stations with an open connection when the run stopped
    booted: int  # stations whose BootNotification was accepted (at any time)
    connects: int
    connect_failures: int
    disconnects: int
    boots_accepted: int
    boots_pending: int
    boots_rejected: int
    calls_sent: int
    call_results: int
    call_errors: int
    call_timeouts: int
    heartbeats: int
    status_notifications: int
    csms_calls: int
    csms_not_implemented: int
    resets: int

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        return (
            f"{self.stations} {self.protocol} stations against {self.url} for {self.elapsed:.1f}s: "
            f"{self.booted} booted, {self.connected_at_end} connected at end; "
            f"{self.calls_sent} CALLs sent ({self.call_results} results, "
            f"{self.call_errors} errors, {self.call_timeouts} timeouts), "
            f"{self.heartbeats} heartbeats, "
            f"{self.status_notifications} status notifications; "
            f"{self.csms_calls} CSMS calls answered ({self.csms_not_implemented} NotImplemented); "
            f"{self.connect_failures} failed connects, {self.disconnects} disconnects"
        )


def station_id(prefix: str, index: int) -> str:
    return f"{prefix}{index:05d}"


async def run_simulation(
    url: str,
    stations: int,
    protocol: str,
    *,
    prefix: str = "SIM",
    password: str | None = None,
    heartbeat_interval: float | None = None,
    duration: float | None = None,
    status_change_interval: float = 30.0,
    connect_rate: float = 200.0,
    call_timeout: float = 30.0,
    first_index: int = 1,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
) -> SimulationReport:
    """Simulate ``stations`` charging stations until ``duration`` passes or ``stop`` is set.

    Stations start at ``connect_rate`` per second. Cancelling the call closes every
    connection before the cancellation propagates.
    """
    m.check_protocol(protocol)
    if stations < 0:
        raise ValueError("stations must be >= 0")
    counters = Counters()
    rng = random.Random(seed)
    sims = [
        SimulatedStation(
            station_id=station_id(prefix, first_index + i),
            url=url,
            protocol=protocol,
            counters=counters,
            password=password,
            heartbeat_interval=heartbeat_interval,
            status_change_interval=status_change_interval,
            call_timeout=call_timeout,
            rng=random.Random(rng.random()),
        )
        for i in range(stations)
    ]
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def launch() -> None:
        for i, sim in enumerate(sims):
            if connect_rate > 0:
                delay = started + i / connect_rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(sim.run(), name=sim.station_id))

    launcher = asyncio.create_task(launch())
    stop_event = stop or asyncio.Event()
    waiter = asyncio.create_task(stop_event.wait())
    try:
        await asyncio.wait({waiter}, timeout=duration)
    finally:
        waiter.cancel()
        launcher.cancel()
        await asyncio.gather(waiter, launcher, return_exceptions=True)
        connected_at_end = sum(1 for s in sims if s.connected)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return SimulationReport(
        url=url,
        protocol=protocol,
        stations=stations,
        elapsed=loop.time() - started,
        connected_at_end=connected_at_end,
        booted=sum(1 for s in sims if s.booted),
        **dataclasses.asdict(counters),
    )


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp", help="CSMS base URL")
    parser.add_argument("--stations", type=int, default=10, help="number of stations")
    parser.add_argument("--protocol", choices=m.PROTOCOLS, default="ocpp1.6")
    parser.add_argument("--prefix", default="SIM", help="station id prefix (id = PREFIX00001)")
    parser.add_argument("--first-index", type=int, default=1, help="index of the first station")
    parser.add_argument("--password", default=None, help="HTTP Basic password (profile 1)")
    parser.add_argument(
        "--heartbeat-interval",
        type=float,
        default=None,
        help="seconds; overrides the interval from the BootNotification response",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--status-change-interval",
        type=float,
        default=30.0,
        help="mean seconds between status changes of a station",
    )
    parser.add_argument(
        "--connect-rate", type=float, default=200.0, help="new stations started per second"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")


async def main_from_args(args: argparse.Namespace) -> int:
    """Run a simulation from parsed CLI arguments; Ctrl-C / SIGTERM stop it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    print(
        f"simulating {args.stations} {args.protocol} stations against {args.url} (Ctrl-C to stop)",
        file=sys.stderr,
    )
    t0 = time.monotonic()
    try:
        report = await run_simulation(
            args.url,
            args.stations,
            args.protocol,
            prefix=args.prefix,
            password=args.password,
            heartbeat_interval=args.heartbeat_interval,
            duration=args.duration,
            status_change_interval=args.status_change_interval,
            connect_rate=args.connect_rate,
            first_index=args.first_index,
            stop=stop,
            seed=args.seed,
        )
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    log.debug("simulation ran %.1fs", time.monotonic() - t0)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.summary())
    return 0 if args.stations == 0 or report.connects > 0 else 1
