"""Site balancing benchmark (issue 18): `python -m bench.balancing` (part of `make bench`).

Times what the balancer (services/balancer.py) does for a site on each event or tick:
recompute the allocation (domain/balancer.py) and dispatch the changed limits, for

- one site of 500 EVSEs (10 feeders under the grid connection, a quarter of the cars
  single-phase on rotated phases), and
- 100 sites of 20 EVSEs each, all recomputed in one step of the balancer.

Every EVSE charges with a confirmed profile; before each measured round a tenth of the
cars report a new draw (meter values), so each round changes allocations and sends
profiles. Dispatch goes to an in-process installer that accepts at once (the time on
the wire and in the station is not the balancer's), decisions to an in-memory store.
One process pinned to one CPU. Target: < 50 ms per site recompute. Writes
bench/results/balancing-<time>.json and docs/benchmarks-balancing.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ampyre.config import Settings
from ampyre.domain.balancer import allocate
from ampyre.domain.charging_profiles import ChargingProfile, ProfileSource
from ampyre.domain.events import DomainEvent, OutboxEvent
from ampyre.domain.site_records import AllocationRecord, SiteSample
from ampyre.domain.sites import ROTATIONS, Circuit, GridLimit, GridUnit, Member, Site
from ampyre.services.balancer import Balancer
from ampyre.services.balancer_parts import SiteRun
from ampyre.services.events import EventBus
from ampyre.services.sites_port import ActiveSession
from ampyre.services.station_port import Answer

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
DOCS_REPORT = ROOT / "docs" / "benchmarks-balancing.md"
TARGET_MS = 50.0


class MemoryStore:
    """The SiteStore port in memory."""

    def __init__(self, sites: list[Site], sessions: list[ActiveSession]) -> None:
        self.sites = sites
        self.sessions = sessions
        self.records = 0

    async def list_sites(self) -> list[Site]:
        return list(self.sites)

    async def connected_stations(self, station_ids: Collection[str]) -> set[str]:
        return set(station_ids)

    async def active_sessions(self, station_ids: Collection[str]) -> list[ActiveSession]:
        return list(self.sessions)

    async def record_allocation(
        self, record: AllocationRecord, events: Sequence[DomainEvent] = ()
    ) -> None:
        self.records += 1

    async def add_samples(self, samples: Sequence[SiteSample]) -> None:
        return None

    async def meter_currents(self, *args: Any) -> None:
        return None

    async def prune(self, older_than: dt.datetime) -> int:
        return 0


class NoOutbox:
    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        return []

    async def outbox_head(self) -> int:
        return 0


class AcceptAll:
    def __init__(self) -> None:
        self.sent = 0

    async def install(
        self,
        station_id: str,
        evse_id: int,
        profile: ChargingProfile,
        source: ProfileSource = ProfileSource.OPERATOR,
        timeout: float | None = None,
    ) -> Answer:
        self.sent += 1
        return Answer("accepted")


def make_sites(count: int, evses: int, seed: int) -> tuple[list[Site], list[ActiveSession]]:
    rng = random.Random(seed)
    sites: list[Site] = []
    sessions: list[ActiveSession] = []
    now = dt.datetime.now(dt.UTC)
    feeders = max(1, evses // 50)
    for s in range(1, count + 1):
        circuits = tuple(Circuit(f"f{k}", f"feeder {k}", 16.0 * 50 / 3) for k in range(feeders))
        members: list[Member] = []
        for i in range(evses):
            sid = f"S{s}-CS{i}"
            single = i % 4 == 0
            members.append(
                Member(
                    sid,
                    1,
                    f"f{i % feeders}",
                    ROTATIONS[i % 6],
                    1 if single else 3,
                    6.0,
                    rng.choice((16.0, 32.0)),
                    rng.choice((0, 0, 0, 1)),
                )
            )
            sessions.append(ActiveSession(sid, 1, f"T{s}-{i}", None, now))
        # The grid connection: about 12 A per EVSE per phase (well below their maxima).
        limit = GridLimit(GridUnit.AMPS, 12.0 * evses)
        sites.append(Site(s, f"site {s}", limit, circuits=circuits, members=tuple(members)))
    return sites, sessions


async def measure(count: int, evses: int, rounds: int, seed: int) -> dict[str, Any]:
    sites, sessions = make_sites(count, evses, seed)
    store, installer = MemoryStore(sites, sessions), AcceptAll()
    settings = Settings(balancer_min_interval=0.0, balancer_settle=0.0, balancer_tick=3600.0)
    b = Balancer(store, NoOutbox(), EventBus(), installer, settings)  # type: ignore[arg-type]
    for _ in range(4):  # build the picture, first profiles, settle
        await b.step(wait=True)
        for run in b.runs.values():
            b.rebalance(run.site.id, "warm-up")
    rng = random.Random(seed + 1)
    per_site: list[float] = []
    per_site_cpu: list[float] = []
    per_step: list[float] = []
    alloc_only: list[float] = []
    sent_before = installer.sent
    lives = list(b.live.values())
    for _ in range(rounds):
        for live in rng.sample(lives, max(1, len(lives) // 10)):
            draw = rng.uniform(2.0, 20.0)
            live.measured = (draw, draw, draw)
            live.measured_under = live.confirmed
        runs: list[SiteRun] = list(b.runs.values())
        t0 = time.perf_counter()
        for run in runs:
            s0, c0 = time.perf_counter(), time.thread_time()
            round_ = await b.balance(run)
            if round_ is not None:
                await b._dispatch(run, round_)
            per_site_cpu.append((time.thread_time() - c0) * 1000)
            per_site.append((time.perf_counter() - s0) * 1000)
        per_step.append((time.perf_counter() - t0) * 1000)
        # The allocation alone, for comparison.
        run = runs[0]
        safe, _ = b.inputs(run, b._clock())

        a0 = time.perf_counter()
        allocate(run.site, safe, (0.0, 0.0, 0.0), b._clock())
        alloc_only.append((time.perf_counter() - a0) * 1000)
    return {
        "sites": count,
        "evses_per_site": evses,
        "rounds": rounds,
        "site_recompute_cpu_ms_median": round(statistics.median(per_site_cpu), 2),
        "site_recompute_cpu_ms_p95": round(_p95(per_site_cpu), 2),
        "site_recompute_ms_median": round(statistics.median(per_site), 2),
        "site_recompute_ms_p95": round(_p95(per_site), 2),
        "site_recompute_ms_max": round(max(per_site), 2),
        "allocation_only_ms_median": round(statistics.median(alloc_only), 2),
        "step_all_sites_ms_median": round(statistics.median(per_step), 2),
        "profiles_sent_per_round": round((installer.sent - sent_before) / rounds, 1),
        "decisions_recorded": store.records,
        "load_average": os.getloadavg()[0],
        "met": _p95(per_site_cpu) < TARGET_MS,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Site balancing benchmark",
        "",
        f"`python -m bench.balancing` (part of `make bench`), {dt.datetime.now(dt.UTC):%Y-%m-%d}, "
        f"Python {platform.python_version()}, one process on one CPU. Per site: recompute the "
        "allocation and dispatch the changed limits (an in-process installer that accepts at "
        "once; decisions to memory). Before each round a tenth of the cars report a new draw.",
        "",
        "| case | site recompute + dispatch, CPU median | CPU p95 | wall median | wall p95 "
        "| wall max | allocation alone (wall) | all sites, one step (wall) "
        "| profiles sent per round | target < 50 ms (CPU p95) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sites']} site(s) x {r['evses_per_site']} EVSEs "
            f"| {r['site_recompute_cpu_ms_median']} ms | {r['site_recompute_cpu_ms_p95']} ms "
            f"| {r['site_recompute_ms_median']} ms | {r['site_recompute_ms_p95']} ms "
            f"| {r['site_recompute_ms_max']} ms | {r['allocation_only_ms_median']} ms "
            f"| {r['step_all_sites_ms_median']} ms | {r['profiles_sent_per_round']} "
            f"| {'met' if r['met'] else 'NOT met'} |"
        )
    lines += [
        "",
        f"Load average during the run: {rows[0]['load_average']:.1f} (wall times grow with it; "
        "CPU times are the process's own).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: no pinning)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.cpu >= 0:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setaffinity(0, {args.cpu})
    rows = [
        asyncio.run(measure(1, 500, args.rounds, args.seed)),
        asyncio.run(measure(100, 20, args.rounds, args.seed)),
    ]
    text = report(rows)
    print(text)
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / f"balancing-{stamp}.json").write_text(json.dumps(rows, indent=2))
        DOCS_REPORT.write_text(text)


if __name__ == "__main__":
    main()
