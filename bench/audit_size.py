"""Bytes per audited OCPP frame, measured offline: `python -m bench.audit_size`.

Writes a realistic stream of frames (the throughput scenario's 80 % Heartbeat / 20 %
StatusNotification exchanges, or charging sessions with 3-phase meter values) through
the store's public audit-log API (`log_messages`, `flush`) into a fresh, migrated
database and divides the size of the audit log (table, indexes, TOAST) by the frames
the API reports. Format-agnostic: it measures whatever the store writes. `make bench`
measures the same thing under live load (bench/run.py); this one is quick and exact.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from ampyre.adapters.db.migrate import migrate
from ampyre.adapters.db.store import SqlStore
from ampyre.config import Settings
from ampyre.domain.models import MessageLogEntry
from bench import targets

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PROFILES = ("throughput", "sessions")


def _ts(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _exchange(
    station: str, uid: str, action: str, request: object, answer: object, at: datetime
) -> tuple[MessageLogEntry, MessageLogEntry]:
    call = orjson.dumps([2, uid, action, request]).decode()
    result = orjson.dumps([3, uid, answer]).decode()
    return (
        MessageLogEntry(station, "in", 2, uid, action, call, at),
        MessageLogEntry(station, "out", 3, uid, action, result, at + timedelta(milliseconds=2)),
    )


def _meter_values(at: datetime, register: float) -> list[dict[str, object]]:
    values: list[dict[str, object]] = [
        {
            "value": f"{register:.1f}",
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
            "location": "Outlet",
        },
        {"value": "11040.0", "measurand": "Power.Active.Import", "unit": "W"},
    ]
    for phase in ("L1", "L2", "L3"):
        values.append({"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": phase})
        values.append({"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": phase})
    values.append({"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"})
    return [{"timestamp": _ts(at), "sampledValue": values}]


def frames(profile: str, n_exchanges: int, stations: int = 200) -> Iterator[MessageLogEntry]:
    """`n_exchanges` request/answer pairs of `profile`, stations taking turns."""
    at = T0
    for i in range(n_exchanges):
        station = f"BENCH{i % stations + 1:05d}"
        uid = str(1_000_000 + i)
        at += timedelta(microseconds=500)
        if profile == "throughput":
            if i % 5:
                pair = _exchange(station, uid, "Heartbeat", {}, {"currentTime": _ts(at)}, at)
            else:
                status = {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": "Available" if i % 2 else "Preparing",
                    "timestamp": _ts(at),
                }
                pair = _exchange(station, uid, "StatusNotification", status, {}, at)
        else:
            k = i % 14
            tx = 10_000 + i // 14
            if k == 0:
                request: dict[str, object] = {
                    "connectorId": 1,
                    "idTag": "BENCHTAG00042",
                    "meterStart": 1000 * tx,
                    "timestamp": _ts(at),
                }
                answer: dict[str, object] = {
                    "transactionId": tx,
                    "idTagInfo": {"status": "Accepted"},
                }
                pair = _exchange(station, uid, "StartTransaction", request, answer, at)
            elif k == 13:
                request = {"transactionId": tx, "meterStop": 1000 * tx + 9000, "timestamp": _ts(at)}
                answer = {"idTagInfo": {"status": "Accepted"}}
                pair = _exchange(station, uid, "StopTransaction", request, answer, at)
            else:
                request = {
                    "connectorId": 1,
                    "transactionId": tx,
                    "meterValue": _meter_values(at, 1000.0 * tx + 700 * k),
                }
                pair = _exchange(station, uid, "MeterValues", request, {}, at)
        yield from pair


async def audit_bytes(database_url: str) -> int | None:
    """Bytes the audit log occupies (table + indexes + TOAST); None if unknown."""
    return await asyncio.to_thread(targets.audit_log_bytes, database_url)


async def measure(database_url: str, profile: str, n_exchanges: int) -> dict[str, float]:
    await migrate(database_url)
    store = SqlStore(Settings(database_url=database_url))
    await store.start()
    try:
        before = await audit_bytes(database_url) or 0
        raw = 0
        started = time.perf_counter()
        cpu = time.process_time()  # all threads: SQLite writes in a writer thread
        batch: list[MessageLogEntry] = []
        for entry in frames(profile, n_exchanges):
            raw += len(entry.payload.encode())
            batch.append(entry)
            if len(batch) >= 1000:
                store.log_messages(batch)
                batch = []
                await store.flush()
        store.log_messages(batch)
        await store.flush()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        total = (await store.list_messages(None, 0, 0)).total
    finally:
        await store.close()
    after = await audit_bytes(database_url) or 0
    return {
        "frames": total,
        "bytes": after - before,
        "bytes_per_frame": (after - before) / total if total else float("nan"),
        "raw_bytes_per_frame": raw / total if total else float("nan"),
        "frames_per_s": total / seconds if seconds > 0 else float("nan"),
        "cpu_us_per_frame": cpu / total * 1e6 if total else float("nan"),
    }


async def _main(args: argparse.Namespace) -> None:
    for db in args.db:
        for profile in args.profile:
            with targets.scratch_database(db, "audit") as url:
                result = await measure(url, profile, args.exchanges)
            print(
                f"{db:8} {profile:10} {result['frames']:>8,.0f} frames  "
                f"{result['bytes_per_frame']:7.1f} B/frame stored  "
                f"({result['raw_bytes_per_frame']:.1f} B/frame of JSON)  "
                f"{result['frames_per_s']:,.0f} frames/s written, "
                f"{result['cpu_us_per_frame']:.1f} us CPU per frame in Ampyre",
                flush=True,
            )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.audit_size", description=__doc__)
    p.add_argument("--db", type=lambda v: v.split(","), default=["sqlite", "postgres"])
    p.add_argument("--profile", type=lambda v: v.split(","), default=list(PROFILES))
    p.add_argument("--exchanges", type=int, default=20_000, help="request/answer pairs")
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
