"""Issue 15's targets: the paced scenario's rate, and each target checked against the rows
of one run (pure functions of the harness rows, so the unit tests need no server).

The targets (default configuration: embedded SQLite, durable before ack, audit log on):

- closed loop, 1,000 stations, no errors (an audit-log frame dropped is an error too):
  ampyre >= 5x the `ocpp`-library CSMS in msgs per server CPU-second and >= 3x its
  msgs/s, for OCPP 1.6 and 2.0.1;
- paced at twice the `ocpp`-library CSMS's own closed-loop msgs/s of the same run and
  version: p99 < 50 ms (from the intended send time) and >= 95 % of the offered load
  served;
- PostgreSQL within 20 % of SQLite on those (msgs/s and per CPU-s >= 0.8x SQLite's in the
  closed loop; paced: p99 < 50 ms + 20 % = 60 ms, >= 95 % served);
- transactions on PostgreSQL: >= 7,000 persisted meter values/s at tx ack p99 < 50 ms;
- idle: 19,900 stations at <= 25 KiB of server RSS each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PACED_FACTOR = 2.0  # the paced load: twice the ocpp-lib CSMS's closed-loop msgs/s
CPU_RATIO = 5.0
MSGS_RATIO = 3.0
P99_MS = 50.0
SERVED_SHARE = 0.95
PG_TOLERANCE = 0.20
TX_VALUES_PER_S = 7000.0
IDLE_STATIONS = 19_900
IDLE_KIB_PER_CONN = 25.0
STATIONS = 1000
VERSIONS = ("ocpp1.6", "ocpp2.0.1")

MET, NOT_MET, MISSING = "met", "NOT met", "not measured"


@dataclass(frozen=True, slots=True)
class Goal:
    name: str  # what is checked, e.g. "closed loop vs ocpp-lib"
    version: str
    db: str
    target: str  # the threshold in words, e.g. ">= 5x per CPU-s, >= 3x msgs/s"
    measured: str  # the values, or why there are none
    status: str  # MET, NOT_MET or MISSING


def _ok(r: dict[str, Any] | None) -> bool:
    return r is not None and "failed" not in r


def find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    """The last row that did not fail and has every field of ``match``."""
    found = None
    for r in rows:
        if "failed" not in r and all(r.get(k) == v for k, v in match.items()):
            found = r
    return found


def closed_reference(
    rows: list[dict[str, Any]], version: str, stations: int = STATIONS
) -> dict[str, Any] | None:
    """The ocpp-lib CSMS's closed-loop throughput row for ``version`` in this run."""
    return find(
        rows,
        scenario="throughput",
        target="ocpp-lib",
        version=version,
        mode="closed",
        stations=stations,
    )


def paced_rate(rows: list[dict[str, Any]], version: str, stations: int = STATIONS) -> float | None:
    """The paced scenario's default rate: twice the ocpp-lib CSMS's own closed-loop msgs/s
    measured in this run for ``version`` (None when that row is missing or served nothing)."""
    ref = closed_reference(rows, version, stations)
    if ref is None or not ref.get("msgs_per_s"):
        return None
    return float(round(PACED_FACTOR * ref["msgs_per_s"]))


def served_share(row: dict[str, Any]) -> float | None:
    """Round trips completed in the window per second / the offered rate (paced rows)."""
    rate, served = row.get("rate"), row.get("served_per_s")
    if not rate or served is None:
        return None
    return float(served / rate)


def errors(row: dict[str, Any]) -> int:
    """A row's errors: failed round trips, and for ampyre frames the audit log dropped
    (the targets hold with the audit log on, so a frame it loses is an error)."""
    return int(row.get("errors", 0) or 0) + int(row.get("audit_dropped", 0) or 0)


def _n(value: float | None, digits: int = 0, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _status(*conditions: bool | None) -> str:
    if any(c is None for c in conditions):
        return MISSING
    return MET if all(conditions) else NOT_MET


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _closed(rows: list[dict[str, Any]], version: str, db: str) -> dict[str, Any] | None:
    return find(rows, scenario="throughput", target="ampyre", version=version, db=db, mode="closed")


def _paced(rows: list[dict[str, Any]], version: str, db: str) -> dict[str, Any] | None:
    return find(rows, scenario="paced", target="ampyre", version=version, db=db, mode="paced")


def closed_goal(rows: list[dict[str, Any]], version: str) -> Goal:
    target = f">= {CPU_RATIO:g}x per CPU-s, >= {MSGS_RATIO:g}x msgs/s, 0 errors"
    name = "closed loop vs ocpp-lib"
    ref, amp = closed_reference(rows, version), _closed(rows, version, "sqlite")
    if ref is None or amp is None or amp.get("stations") != STATIONS:
        return Goal(name, version, "sqlite", target, "rows missing", MISSING)
    cpu = _div(amp.get("msgs_per_server_cpu_s"), ref.get("msgs_per_server_cpu_s"))
    msgs = _div(amp.get("msgs_per_s"), ref.get("msgs_per_s"))
    errors_ = errors(amp) + errors(ref)
    measured = (
        f"{_x(cpu)} per CPU-s ({_n(amp.get('msgs_per_server_cpu_s'))} / "
        f"{_n(ref.get('msgs_per_server_cpu_s'))}), {_x(msgs)} msgs/s "
        f"({_n(amp.get('msgs_per_s'))} / {_n(ref.get('msgs_per_s'))}), {errors_} errors"
    )
    status = _status(
        None if cpu is None else cpu >= CPU_RATIO,
        None if msgs is None else msgs >= MSGS_RATIO,
        errors_ == 0,
    )
    return Goal(name, version, "sqlite", target, measured, status)


def paced_goal(rows: list[dict[str, Any]], version: str, db: str, p99_limit: float) -> Goal:
    target = f"p99 < {p99_limit:g} ms, >= {SERVED_SHARE * 100:g} % served"
    name = f"paced at {PACED_FACTOR:g}x ocpp-lib"
    amp = _paced(rows, version, db)
    if amp is None:
        return Goal(name, version, db, target, "row missing", MISSING)
    share, p99 = served_share(amp), amp.get("p99_ms")
    measured = (
        f"offered {_n(amp.get('rate'))}/s, served {_n(amp.get('served_per_s'))}/s "
        f"({_pct(share)}), p99 {_n(p99, 1)} ms, {errors(amp)} errors"
    )
    status = _status(
        None if p99 is None else p99 < p99_limit,
        None if share is None else share >= SERVED_SHARE,
        errors(amp) == 0,
    )
    return Goal(name, version, db, target, measured, status)


def postgres_closed_goal(rows: list[dict[str, Any]], version: str) -> Goal:
    floor = 1.0 - PG_TOLERANCE
    target = f"msgs/s and per CPU-s >= {floor:g}x SQLite's, 0 errors"
    name = "closed loop, PostgreSQL vs SQLite"
    pg, lite = _closed(rows, version, "postgres"), _closed(rows, version, "sqlite")
    if pg is None or lite is None:
        return Goal(name, version, "postgres", target, "rows missing", MISSING)
    cpu = _div(pg.get("msgs_per_server_cpu_s"), lite.get("msgs_per_server_cpu_s"))
    msgs = _div(pg.get("msgs_per_s"), lite.get("msgs_per_s"))
    measured = f"{_x(cpu)} per CPU-s, {_x(msgs)} msgs/s, {errors(pg)} errors"
    status = _status(
        None if cpu is None else cpu >= floor,
        None if msgs is None else msgs >= floor,
        errors(pg) == 0,
    )
    return Goal(name, version, "postgres", target, measured, status)


def transactions_goal(rows: list[dict[str, Any]], version: str) -> Goal:
    target = f">= {TX_VALUES_PER_S:,.0f} persisted values/s, tx ack p99 < {P99_MS:g} ms"
    name = "transactions"
    r = find(rows, scenario="transactions", target="ampyre", version=version, db="postgres")
    if r is None:
        return Goal(name, version, "postgres", target, "row missing", MISSING)
    persisted, p99 = r.get("persisted_per_s"), r.get("p99_ms")
    measured = (
        f"offered {_n(r.get('offered_values_per_s'))}/s, persisted {_n(persisted)}/s, "
        f"p99 {_n(p99, 1)} ms, {errors(r)} errors"
    )
    status = _status(
        None if persisted is None else persisted >= TX_VALUES_PER_S,
        None if p99 is None else p99 < P99_MS,
        errors(r) == 0,
    )
    return Goal(name, version, "postgres", target, measured, status)


def kib_per_connection(row: dict[str, Any]) -> float | None:
    """Server RSS added per connected station, KiB (idle rows)."""
    if not row.get("connected") or row.get("rss_end_bytes") is None:
        return None
    return float((row["rss_end_bytes"] - row["rss_idle_bytes"]) / row["connected"] / 1024)


def idle_goals(rows: list[dict[str, Any]]) -> list[Goal]:
    target = f"{IDLE_STATIONS:,} connected, <= {IDLE_KIB_PER_CONN:g} KiB each"
    idle = [r for r in rows if r["scenario"] == "idle" and r["target"] == "ampyre"]
    if not idle:
        return [Goal("idle", "-", "-", target, "rows missing", MISSING)]
    out = []
    for r in idle:
        if not _ok(r):
            out.append(Goal("idle", r["version"], r["db"], target, "failed", MISSING))
            continue
        kib = kib_per_connection(r)
        failures = errors(r) + r.get("connect_failures", 0)
        measured = f"{r['connected']:,} connected, {_n(kib, 1)} KiB each, {failures} errors"
        status = _status(
            r["connected"] >= IDLE_STATIONS,
            None if kib is None else kib <= IDLE_KIB_PER_CONN,
            failures == 0,
        )
        out.append(Goal("idle", r["version"], r["db"], target, measured, status))
    return out


def evaluate(rows: list[dict[str, Any]]) -> list[Goal]:
    """Every target of issue 15 against the rows of one run."""
    goals = [closed_goal(rows, v) for v in VERSIONS]
    goals += [paced_goal(rows, v, "sqlite", P99_MS) for v in VERSIONS]
    goals += [postgres_closed_goal(rows, v) for v in VERSIONS]
    pg_p99 = P99_MS * (1.0 + PG_TOLERANCE)
    goals += [paced_goal(rows, v, "postgres", pg_p99) for v in VERSIONS]
    goals += [transactions_goal(rows, v) for v in VERSIONS]
    goals += idle_goals(rows)
    return goals


def goals_table(goals: list[Goal]) -> list[str]:
    """The Markdown table at the top of the results."""
    out = [
        "| target | version | db | required | measured | |",
        "|---|---|---|---|---|---|",
    ]
    for g in goals:
        mark = {MET: "**met**", NOT_MET: "**NOT met**"}.get(g.status, g.status)
        out.append(f"| {g.name} | {g.version} | {g.db} | {g.target} | {g.measured} | {mark} |")
    return out


def summary_line(goals: list[Goal]) -> str:
    met = sum(g.status == MET for g in goals)
    missing = sum(g.status == MISSING for g in goals)
    text = f"{met} of {len(goals)} targets met"
    return text + (f" ({missing} not measured in this run)" if missing else "")
