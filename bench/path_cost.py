"""CPU per OCPP message on Ampyre's own path, without sockets: `python -m bench.path_cost`.

`make bench` measures the whole server through real WebSockets, where the kernel's share
(each reply's send system call alone costs several µs on loopback) and the machine's
mood (2-3x from day to day) blur differences of a few per cent. This runs the part that
is Ampyre's own: the gateway's sessions as `Gateway.session` wires them (frame parsing,
schema validation both ways, handlers, services, metrics, the audit log) over the real
store and its group-commit writer, into a fresh, migrated database, fed the throughput
scenario's mix (80 % Heartbeat, 20 % StatusNotification) by N stations in a closed loop
(each sends its next message once the previous one is answered). It reports µs of CPU
per message for the whole process and for the event-loop thread; the rest is the SQLite
writer thread (PostgreSQL's own CPU, in its processes, is not counted). `--profile`
adds cProfile's top functions of the event-loop thread. Compare runs of one invocation,
or alternate two trees, not figures from different days.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import time
from collections.abc import Iterator

import uvloop

from ampyre.adapters.db.migrate import migrate
from ampyre.bootstrap import build
from ampyre.config import Settings
from ampyre.domain.models import OcppVersion
from ampyre.services.clock import utcnow
from bench import targets

STATUSES = {
    OcppVersion.V16: ("Available", "Preparing", "Charging", "Finishing"),
    OcppVersion.V201: ("Available", "Occupied"),
}


class _Replies:
    """The session's transport: counts what would have been sent."""

    __slots__ = ("errors", "results")

    def __init__(self) -> None:
        self.results = 0
        self.errors = 0

    async def send(self, data: bytes) -> None:
        if data.startswith(b"[3,"):
            self.results += 1
        else:
            self.errors += 1


def _frames(version: OcppVersion, rng: random.Random) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        uid = f"{n:x}"
        if rng.random() >= 0.2:
            yield f'[2,"{uid}","Heartbeat",{{}}]'
            continue
        status = rng.choice(STATUSES[version])
        at = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if version is OcppVersion.V16:
            body = (
                f'{{"connectorId":1,"errorCode":"NoError","status":"{status}","timestamp":"{at}"}}'
            )
        else:
            body = f'{{"timestamp":"{at}","connectorStatus":"{status}","evseId":1,"connectorId":1}}'
        yield f'[2,"{uid}","StatusNotification",{body}]'


async def measure(
    database_url: str, version: OcppVersion, stations: int, rounds: int, profile: bool
) -> dict[str, object]:
    await migrate(database_url)
    settings = Settings(database_url=database_url)
    app = build(settings)
    await app.store.start()
    try:
        sessions = []
        replies = []
        for i in range(stations):
            station_id = f"PC-{i:06d}"
            await app.store.record_connection(
                station_id, True, utcnow(), version.value, "bench", "127.0.0.1", auto_register=True
            )
            replies.append(_Replies())
            sessions.append(app.gateway.session(station_id, version, replies[-1]))
        frames = _frames(version, random.Random(15))

        async def station(index: int, n: int) -> None:
            on_frame = sessions[index].on_frame
            for _ in range(n):
                await on_frame(next(frames))

        await asyncio.gather(*(station(i, 3) for i in range(stations)))  # warm-up
        prof = cProfile.Profile() if profile else None
        cpu0, main0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
        if prof is not None:
            prof.enable()
        await asyncio.gather(*(station(i, rounds) for i in range(stations)))
        if prof is not None:
            prof.disable()
        cpu, main, wall = (
            time.process_time() - cpu0,
            time.thread_time() - main0,
            time.perf_counter() - wall0,
        )
    finally:
        await app.store.close()
    n = stations * rounds
    return {
        "messages": n,
        "cpu_us": cpu / n * 1e6,
        "main_us": main / n * 1e6,
        "msgs_per_s": n / wall,
        "answered": sum(r.results for r in replies) - 3 * stations,  # less the warm-up's
        "errors": sum(r.errors for r in replies),
        "profile": prof,
    }


async def _main(args: argparse.Namespace) -> None:
    for db in args.db:
        for name in args.versions:
            version = OcppVersion(name)
            with targets.scratch_database(db, "path") as url:
                result = await measure(url, version, args.stations, args.rounds, args.profile)
            print(
                f"{db:8} {name:9} {result['messages']:>8,} msgs  "
                f"{result['cpu_us']:6.2f} us CPU per message "
                f"(event loop {result['main_us']:.2f}, other threads "
                f"{result['cpu_us'] - result['main_us']:.2f})  "  # type: ignore[operator]
                f"{result['msgs_per_s']:,.0f} msgs/s, {result['errors']} errors",
                flush=True,
            )
            prof = result["profile"]
            if isinstance(prof, cProfile.Profile):
                pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.path_cost", description=__doc__)
    p.add_argument("--db", type=lambda v: v.split(","), default=["sqlite"])
    p.add_argument("--versions", type=lambda v: v.split(","), default=["ocpp1.6", "ocpp2.0.1"])
    p.add_argument("--stations", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=30, help="messages per station, measured")
    p.add_argument("--profile", action="store_true", help="cProfile the event-loop thread")
    p.add_argument("--top", type=int, default=30, help="functions listed with --profile")
    uvloop.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
