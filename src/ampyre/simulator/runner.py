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
from ampyre.simulator import plug_and_charge as pnc
from ampyre.simulator.connection_security import ConnectionSecurity
from ampyre.simulator.session import DEFAULT_ID_TOKENS, SessionConfig
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
    sessions_started: int = 0
    sessions_completed: int = 0
    sessions_rejected: int = 0
    remote_starts: int = 0
    remote_stops: int = 0
    authorizations: int = 0
    tx_messages_acked: int = 0
    meter_values_acked: int = 0
    sampled_values_acked: int = 0
    tx_messages_discarded: int = 0
    replayed: int = 0
    queue_dropped: int = 0
    queue_peak: int = 0
    duplicates_sent: int = 0
    duplicate_mismatches: int = 0
    offline_windows: int = 0
    energy_wh: int = 0
    queued_at_end: int = 0  # transaction messages still unacknowledged at shutdown

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
            + (
                f"; sessions: {self.sessions_started} started, {self.sessions_completed} "
                f"completed, {self.sessions_rejected} rejected, {self.remote_starts} remote "
                f"starts, {self.remote_stops} remote stops, {self.energy_wh / 1000:.1f} kWh; "
                f"{self.tx_messages_acked} transaction messages acked "
                f"({self.meter_values_acked} with meter values, {self.replayed} replayed "
                f"after offline, {self.queued_at_end} still queued)"
                if self.sessions_started or self.remote_starts
                else ""
            )
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
    sessions: SessionConfig | None = None,
    offline_windows: tuple[tuple[float, float], ...] = (),
    stations_out: list[SimulatedStation] | None = None,
    fault_interval: float = 0.0,
    plug_and_charge: str | None = None,  # a vehicle directory (--plug-and-charge)
    security: ConnectionSecurity | None = None,  # security profile 1-3 and credentials
    sign_at_boot: bool = False,  # a new station certificate (SignCertificate) at boot
    certificate_organisation: str | None = None,  # the O of the stations' CSRs
) -> SimulationReport:
    """Simulate ``stations`` charging stations until ``duration`` passes or ``stop`` is set.

    Stations start at ``connect_rate`` per second. Cancelling the call closes every
    connection before the cancellation propagates. With ``sessions`` the stations charge
    EVs (RFID sessions); remote starts are answered either way. ``offline_windows``
    ((after, duration) seconds) take every station offline for a while. The station
    objects are appended to ``stations_out`` when given (tests inspect them).
    ``fault_interval`` > 0: each station reports a fault about that often (seconds), over
    a little later (alerts; simulator/monitoring.py).
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
            sessions=sessions,
            offline_windows=offline_windows,
            token_index=first_index + i - 1,
        )
        for i in range(stations)
    ]
    for sim in sims:
        sim.monitoring.fault_every = fault_interval
    if security is not None:
        security.check()
        for sim in sims:
            sim.conn.configure(security)
    if plug_and_charge is not None:
        pnc.attach(sims, plug_and_charge)
    for sim in sims:
        sim.certificates.sign_at_boot = sign_at_boot
        sim.certificates.organisation = certificate_organisation
    if stations_out is not None:
        stations_out.extend(sims)
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
        queued_at_end=sum(sum(1 for q in s.outbox if q.transactional) for s in sims),
        **dataclasses.asdict(counters),
    )


def parse_offline_window(text: str) -> tuple[float, float]:
    """``AFTER:DURATION`` in seconds, e.g. ``30:20``."""
    after, sep, duration = text.partition(":")
    try:
        if not sep:
            raise ValueError
        window = (float(after), float(duration))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"offline window {text!r} must be AFTER:DURATION in seconds, e.g. 30:20"
        ) from None
    if window[0] < 0 or window[1] <= 0:
        raise argparse.ArgumentTypeError(
            f"offline window {text!r}: AFTER must be >= 0 and DURATION > 0"
        )
    return window


def parse_id_tokens(text: str) -> tuple[str, ...]:
    tokens = tuple(t.strip() for t in text.split(",") if t.strip())
    if not tokens:
        raise argparse.ArgumentTypeError("--id-tokens needs at least one token")
    for token in tokens:
        if len(token) > 20:
            raise argparse.ArgumentTypeError(
                f"id token {token!r} is longer than 20 characters (OCPP 1.6 idTag)"
            )
    return tokens


def parse_currents(text: str) -> tuple[float, ...]:
    """``16,32`` -> (16.0, 32.0): station k gets the k-th value, cycling."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be amps, e.g. 16,32") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give one or more currents > 0")
    return values


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be within 0..1")
    return value


def session_config_from_args(args: argparse.Namespace) -> SessionConfig:
    """The SessionConfig the options describe. With --no-sessions no EV arrives by
    itself (local_sessions off), but remote-started sessions still charge with the
    given meter interval, duration and power, and send their meter values."""
    return SessionConfig(
        local_sessions=args.sessions,
        id_tokens=args.id_tokens,
        meter_interval=args.meter_interval,
        session_duration=args.session_duration,
        idle_time=args.idle_time,
        target_soc=args.target_soc,
        max_power_kw=args.max_power_kw,
        duplicate_rate=args.duplicate_rate,
        max_currents_a=args.max_current,
        single_phase_share=args.single_phase_share,
        ev_charging_needs=args.ev_charging_needs,
    )


def connection_security(args: argparse.Namespace) -> ConnectionSecurity | None:
    """The security profile options, or None when none is given."""
    profile = args.security_profile
    if profile is None and not (args.cert or args.tls_url or args.ca):
        return None
    return ConnectionSecurity(
        profile=profile if profile is not None else (1 if args.password else 0),
        password=args.password,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        tls_url=args.tls_url,
    )


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Simulated charging stations: boot, heartbeats, status, answers to CSMS calls, "
        "and charging sessions (plug in, RFID Authorize or remote start, meter values "
        "with a ramp-up / plateau / taper power curve, stop). Transaction messages are "
        "queued while a station is offline and replayed in order on reconnect."
    )
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp", help="CSMS base URL")
    parser.add_argument("--stations", type=int, default=10, help="number of stations")
    parser.add_argument("--protocol", choices=m.PROTOCOLS, default="ocpp1.6")
    parser.add_argument("--prefix", default="SIM", help="station id prefix (id = PREFIX00001)")
    parser.add_argument("--first-index", type=int, default=1, help="index of the first station")
    parser.add_argument("--password", default=None, help="HTTP Basic password (profile 1)")
    parser.add_argument(
        "--security-profile",
        type=int,
        choices=(0, 1, 2, 3),
        default=None,
        help="1 Basic over ws, 2 TLS + Basic, 3 TLS client certificate (default: 1 with "
        "--password, else none); 2 and 3 connect to --tls-url, or to a wss:// --url",
    )
    parser.add_argument(
        "--cert", default=None, help="client certificate chain (PEM) for profile 3; {id} = id"
    )
    parser.add_argument("--key", default=None, help="its private key (PEM); {id} = station id")
    parser.add_argument("--ca", default=None, help="CA bundle to verify the CSMS's certificate")
    parser.add_argument(
        "--tls-url",
        default=None,
        help="wss:// base URL for profiles 2 and 3 (e.g. wss://127.0.0.1:9443/ocpp)",
    )
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
    parser.add_argument(
        "--fault-interval",
        type=float,
        default=0.0,
        help="seconds: each station reports a fault about this often, cleared a little "
        "later (alerts); 0 = never",
    )
    group = parser.add_argument_group("charging sessions")
    group.add_argument(
        "--sessions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="EVs arrive at every connector, authorize with an RFID id token and charge "
        "(default on; remote starts are answered either way and charge with the options "
        "below)",
    )
    group.add_argument(
        "--id-tokens",
        type=parse_id_tokens,
        default=DEFAULT_ID_TOKENS,
        metavar="A,B,C",
        help="RFID id tokens the EVs present (the CSMS must accept them); connector j of "
        "station k uses token number (k * connectors + j) mod count, so give one per "
        "connector to keep a token out of two transactions at once; default "
        + ",".join(DEFAULT_ID_TOKENS),
    )
    group.add_argument(
        "--meter-interval",
        type=_positive,
        default=60.0,
        help="seconds between periodic meter values of a session (1.6 MeterValues, "
        "2.x TransactionEvent Updated); default 60",
    )
    group.add_argument(
        "--session-duration",
        type=_positive,
        default=300.0,
        help="mean seconds of charging before the driver stops (0.5x..1.5x); default 300",
    )
    group.add_argument(
        "--idle-time",
        type=float,
        default=60.0,
        help="mean seconds a connector stays free between sessions; default 60",
    )
    group.add_argument(
        "--target-soc",
        type=float,
        default=None,
        help="stop when the EV reaches this state of charge (percent); default off",
    )
    group.add_argument(
        "--max-power-kw",
        type=_positive,
        default=22.0,
        help="station power limit; up to 22 kW is 3-phase AC, above DC; default 22",
    )
    group.add_argument(
        "--offline-window",
        type=parse_offline_window,
        action="append",
        default=[],
        metavar="AFTER:DURATION",
        help="take every station offline AFTER seconds from its start for DURATION "
        "seconds (repeatable); sessions go on and their messages are replayed on "
        "reconnect (2.x with offline=true)",
    )
    group.add_argument(
        "--duplicate-rate",
        type=_rate,
        default=0.0,
        help="share (0..1) of acknowledged transaction messages sent a second time with "
        "the same unique id and payload (idempotency check); default 0",
    )
    smart = parser.add_argument_group("smart charging")
    smart.add_argument(
        "--max-current",
        type=parse_currents,
        default=(),
        metavar="A[,B...]",
        help="per-phase maximum current of the stations (A); with several values station k "
        "gets value k mod count (e.g. 16,32); default: from --max-power-kw only",
    )
    smart.add_argument(
        "--single-phase-share",
        type=_rate,
        default=0.0,
        help="share (0..1) of AC cars that charge on one phase and report only L1; default 0",
    )
    smart.add_argument(
        "--ev-charging-needs",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="2.x: cars are ISO 15118 cars that send NotifyEVChargingNeeds (departure time, "
        "energy, min/max current) once the transaction starts; default off",
    )
    group.add_argument(
        "--plug-and-charge",
        metavar="DIR",
        default=None,
        help="ISO 15118 Plug & Charge on each station's first connector: the vehicle "
        f"(DIR/{pnc.OEM_CERT}, {pnc.OEM_KEY}, {pnc.V2G_ROOT}) gets a contract certificate "
        "through the CSMS (Get15118EVCertificate; 1.6: DataTransfer "
        f"{pnc.VENDOR_ID}) and authorizes with it; needs java for the EXI codec",
    )
    certs = parser.add_argument_group("certificates (security extension / OCPP 2.x block A)")
    certs.add_argument(
        "--sign-certificate-at-boot",
        action="store_true",
        help="each station sends a CSR (SignCertificate, EC P-256, CN = station id) after "
        "every accepted boot and keeps the certificate the CSMS signs",
    )
    certs.add_argument(
        "--certificate-organisation",
        metavar="O",
        default=None,
        help="the organisation (O) in the stations' CSRs (the CSMS may require one)",
    )
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")


async def main_from_args(args: argparse.Namespace) -> int:
    """Run a simulation from parsed CLI arguments; Ctrl-C / SIGTERM stop it cleanly."""
    try:
        sessions = session_config_from_args(args)
    except ValueError as exc:
        print(f"ampyre simulate: {exc}", file=sys.stderr)
        return 2
    if args.plug_and_charge is not None:
        try:
            pnc.vehicle_from_dir(args.plug_and_charge)
        except ValueError as exc:
            print(f"ampyre simulate: --plug-and-charge: {exc}", file=sys.stderr)
            return 2
    security = connection_security(args)
    if security is not None:
        try:
            security.check()
        except ValueError as exc:
            print(f"ampyre simulate: {exc}", file=sys.stderr)
            return 2
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
            sessions=sessions,
            offline_windows=tuple(args.offline_window),
            fault_interval=args.fault_interval,
            plug_and_charge=args.plug_and_charge,
            security=security,
            sign_at_boot=args.sign_certificate_at_boot,
            certificate_organisation=args.certificate_organisation,
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
