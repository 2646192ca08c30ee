"""Turn harness rows into the Markdown results section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import goals
from bench import profile as pyspy

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
BUSY = 0.9  # a process above 90 % of its core is the bottleneck

HEADER = f"""# Benchmarks

How fast is Ampyre's OCPP gateway compared with what a Python CSMS is usually
built from? `make bench` (`python -m bench.run`, options: `--help`) measures it
on one machine, with the server under test pinned to CPU 0 and the load
generator (`ampyre.simulator.loadgen`, uvloop, pre-encoded frames) pinned to
CPU 1, all over 127.0.0.1. The generator's WebSocket client is `picows` when it
is installed (`make bench` installs it), else `websockets`, the same for every
target of a run (`--client`); the transactions scenario always uses `websockets`.
With picows it spends about 13 µs of CPU per round trip (websockets: about 41),
so one generator core carries some 70,000 msgs/s; the *gen µs/msg* column shows
it for every row.

The results start with a **targets** table: each target of issue 15 checked
against this run's rows, the measured values, met or not:

- closed loop, 1,000 stations, no errors: ampyre (SQLite) >= 5x the ocpp-lib
  CSMS in msgs per server CPU-second and >= 3x its msgs/s, for 1.6 and 2.0.1;
- paced at twice the ocpp-lib CSMS's closed-loop msgs/s of the same run and
  version: p99 < 50 ms (from the intended send time) and >= 95 % served;
- PostgreSQL within 20 % of SQLite: closed-loop msgs/s and per CPU-s >= 0.8x
  SQLite's; paced p99 < 60 ms (50 ms + 20 %) and >= 95 % served;
- transactions on PostgreSQL: >= 7,000 persisted meter values/s at tx ack p99
  < 50 ms;
- idle: 19,900 stations connected at <= 25 KiB of server RSS each.

Targets:

- **echo** / **echo-asyncio**: a raw `websockets` echo server (`bench/ref_echo.py`)
  on uvloop / the default asyncio loop: the ceiling for any Python server
  built on `websockets`; it does no OCPP work at all.
- **echo-picows**: the same echo on `picows` (Cython WebSocket framing,
  `bench/ref_echo_picows.py`, uvloop; installed by `make bench` from the `bench`
  extra, skipped with a note without it): the ceiling when the WebSocket
  library is not the limit.
- **ocpp-lib**: a minimal CSMS on the `ocpp` PyPI library's `ChargePoint`
  (`bench/ref_ocpp_lib.py`, uvloop, schema validation on, no storage): what
  a user would otherwise write.
- **ampyre**: `ampyre serve` with `AMPYRE_AUTO_REGISTER=true` on a fresh
  SQLite file (or PostgreSQL database), defaults otherwise.

Scenarios:

- **throughput**: N stations (default 1,000) connect and send a
  BootNotification, then each runs a closed loop (next CALL as soon as the
  answer arrived) of 80 % Heartbeat / 20 % StatusNotification for the measured
  window after a warm-up. With `--rate R` the loop is paced at R msgs/s in
  total instead, and latency is measured from the intended send time.
- **paced**: the same stations and messages, each station sending on its own
  schedule so that all together offer twice the ocpp-lib CSMS's closed-loop
  msgs/s measured in the same run for the same version (the closed loop of
  ocpp-lib is run first when the run has no throughput row for it; `--rate`
  overrides). The ocpp-lib CSMS runs at that rate too, a load it cannot carry.
  Columns: *offered* msgs/s, *served* msgs/s (round trips completed in the
  window) and its share of the offered rate, p50/p99 from each CALL's intended
  send time (a server that falls behind shows its backlog there).
- **idle**: many stations (default 19,900: one process may hold at most
  20,000 open files and the server needs a few of its own) connect, boot and
  heartbeat every 60 s; reports connect rate and server memory.
- **transactions** (ampyre only): 1,000 stations run charging sessions back to
  back (Authorize, StartTransaction / TransactionEvent Started, 12 meter-value
  messages of 9 sampled values each, StopTransaction / Ended), the meter values
  paced so that all stations together offer `--mv-rate` sampled values per
  second (default 7,200: one message every 1.25 s per station). Reports the
  values persisted per second (rows added to `meter_values`, counted with SQL),
  the values acknowledged, meter-value messages per second and the ack latency
  of transaction messages.

Columns: *msgs/s* = completed request/response round trips per second;
*per CPU-s* = round trips per second of server CPU time (utime + stime from
/proc, so it is comparable even when the server is not saturated); *srv CPU* /
*gen CPU* = share of one core used by server / generator in the window (a
generator at >= 90 % is marked *(bound)*: the generator, not the server, was the
limit); *gen µs/msg* = generator CPU per round trip;
ratios compare msgs/s with the ocpp-lib CSMS and the uvloop echo servers for
the same OCPP version; a table below each run gives the ampyre rows' ratios to each
reference in msgs/s and in msgs per server CPU-s.

With `--profile` (on in `make bench`) py-spy samples the ampyre server during the
measured window of each ampyre row but the idle ones (`--nonblocking`, 100 Hz, pinned to
the generator's CPU) and each scenario's block lists the share of samples by module and
the top functions; without py-spy installed the run says so in a note. py-spy counts a
thread waiting in C (a blocking queue get, an fsync) as busy: shares are of samples, not
of CPU time.

The ampyre rows also report the **audit log's size**: bytes per audited frame (growth
of the `message_log` table with its indexes over the measured window, divided by the
frames added as `GET /api/v1/messages` counts them; a round trip is two frames), the
database's growth in MB/min and the audit log's share of it.
`python -m bench.audit_size` measures the same offline, exactly, for a fixed stream of
frames (`--profile throughput` or `sessions`).

{START}
{END}
"""


def _f(value: Any, digits: int = 0, scale: float = 1.0) -> str:
    if value is None:
        return "n/a"
    return f"{value * scale:,.{digits}f}"


def one_line(row: dict[str, Any]) -> str:
    if row.get("mode") == "transactions":
        return (
            f"{row['connected']}/{row['stations']} connected, offered "
            f"{_f(row.get('offered_values_per_s'))} values/s, persisted "
            f"{_f(row.get('persisted_per_s'))}/s, acked {_f(row.get('acked_values_per_s'))}/s "
            f"({_f(row.get('meter_msgs_per_s'))} meter msgs/s x "
            f"{_f(row.get('values_per_msg'), 1)}), tx ack p50 {_f(row['p50_ms'], 2)} ms, "
            f"p99 {_f(row['p99_ms'], 2)} ms, sessions {row.get('sessions_ended')}, "
            f"server CPU {_f(row['server_cpu_util'], 0, 100)} %, generator CPU "
            f"{_f(row['generator_cpu_util'], 0, 100)} %, errors {row['errors']} "
            f"{row.get('error_kinds') or ''}"
        )
    return (
        f"{row['connected']}/{row['stations']} connected at {_f(row['connect_rate'])}/s, "
        f"{_f(row['msgs_per_s'])} msgs/s, {_f(row['msgs_per_server_cpu_s'])} per server CPU-s, "
        f"p50 {_f(row['p50_ms'], 2)} ms, p99 {_f(row['p99_ms'], 2)} ms, "
        f"server CPU {_f(row['server_cpu_util'], 0, 100)} %, "
        f"generator CPU {_f(row['generator_cpu_util'], 0, 100)} % "
        f"({_f(row.get('generator_cpu_us_per_msg'), 1)} µs/msg), errors {row['errors']}, "
        + (
            f"offered {_f(row.get('rate'))}/s, served {_f(row.get('served_per_s'))}/s, "
            if row.get("mode") == "paced"
            else ""
        )
        + f"RSS {_f(row['rss_end_bytes'], 1, 1 / 2**20)} MiB, other load "
        + ", ".join(f"{k} {v * 100:.0f} %" for k, v in row.get("other_cpu_load", {}).items())
    )


# The references every other row is compared with, in the same invocation: the `ocpp`
# library's CSMS (what a user would otherwise write) and the two raw echo servers (the
# ceiling of a Python server on `websockets` / on `picows`). (target, ratio field stem)
RATIO_REFERENCES = (
    ("ocpp-lib", "ocpp_lib"),
    ("echo", "echo"),
    ("echo-picows", "echo_picows"),
)
# (row field, ratio field prefix, label): msgs/s as measured, and msgs per server CPU-s
# (comparable even when a server is not saturated).
RATIO_MEASURES = (
    ("msgs_per_s", "ratio_vs_", "msgs/s"),
    ("msgs_per_server_cpu_s", "cpu_ratio_vs_", "per CPU-s"),
)


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, None when either is missing or the base is not positive."""
    if value is None or base is None or base <= 0:
        return None
    return value / base


def fmt_ratio(value: float | None) -> str:
    """A ratio as the tables print it: "2.44x", or "n/a" when it could not be measured."""
    return "n/a" if value is None else f"{value:,.2f}x"


def _ratio_key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["scenario"], r["version"], r["mode"], r.get("stations"), r.get("rate"))


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """ratio_vs_<ref> (msgs/s) and cpu_ratio_vs_<ref> (msgs per server CPU-s) on every
    row that did not fail, against each reference of RATIO_REFERENCES measured in the
    same run with the same scenario, version, mode, stations and rate (None without)."""
    refs: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    names = {name for name, _ in RATIO_REFERENCES}
    for r in rows:
        if "failed" not in r and r["target"] in names:
            refs.setdefault(_ratio_key(r), {})[r["target"]] = r
    for r in rows:
        if "failed" in r:
            continue
        same = refs.get(_ratio_key(r), {})
        for name, stem in RATIO_REFERENCES:
            base = same.get(name, {})
            for measure, prefix, _label in RATIO_MEASURES:
                r[prefix + stem] = ratio(r.get(measure), base.get(measure))


def ratio_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows the ratio table is about: those of targets that are not references."""
    names = {name for name, _ in RATIO_REFERENCES}
    return [r for r in rows if "failed" not in r and r["target"] not in names]


def ratio_line(row: dict[str, Any]) -> str:
    """One row's ratios for the console, e.g. "vs ocpp-lib 2.44x per CPU-s, 2.33x msgs/s"."""
    parts = [
        f"vs {name} "
        + ", ".join(
            f"{fmt_ratio(row.get(prefix + stem))} {label}"
            for _measure, prefix, label in reversed(RATIO_MEASURES)
        )
        for name, stem in RATIO_REFERENCES
    ]
    return f"{row['target']} {row['version']} db={row['db']}: " + "; ".join(parts)


def _ratio_table(rows: list[dict[str, Any]]) -> list[str]:
    chosen = ratio_rows(rows)
    if not chosen:
        return []
    head = "| target | version | db"
    for name, _ in RATIO_REFERENCES:
        head += "".join(f" | / {name} {label}" for _m, _p, label in reversed(RATIO_MEASURES))
    out = [head + " |", "|---|---|---" + "|---:" * (len(head.split("|")) - 4) + "|"]
    for r in chosen:
        cells = [
            fmt_ratio(r.get(prefix + stem))
            for _name, stem in RATIO_REFERENCES
            for _m, prefix, _label in reversed(RATIO_MEASURES)
        ]
        out.append(f"| {r['target']} | {r['version']} | {r['db']} | " + " | ".join(cells) + " |")
    return out


def _throughput_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| target | version | db | stations | msgs/s | per CPU-s | p50 ms | p99 ms | max ms "
        "| srv CPU | gen CPU | gen µs/msg | errors | vs ocpp-lib | vs echo | vs echo-picows |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r:
            out.append(
                f"| {r['target']} | {r['version']} | {r['db']} | | failed: "
                f"{r['failed'][:80]} | | | | | | | | | | | |"
            )
            continue
        gen = _f(r["generator_cpu_util"], 0, 100) + " %"
        if r["generator_cpu_util"] >= BUSY:
            gen += " (bound)"
        out.append(
            f"| {r['target']} | {r['version']} | {r['db']} | {r['connected']:,} "
            f"| {_f(r['msgs_per_s'])} | {_f(r['msgs_per_server_cpu_s'])} "
            f"| {_f(r['p50_ms'], 2)} | {_f(r['p99_ms'], 2)} | {_f(r['max_ms'], 1)} "
            f"| {_f(r['server_cpu_util'], 0, 100)} % | {gen} "
            f"| {_f(r.get('generator_cpu_us_per_msg'), 1)} | {r['errors']} "
            f"| {fmt_ratio(r.get('ratio_vs_ocpp_lib'))} | {fmt_ratio(r.get('ratio_vs_echo'))} "
            f"| {fmt_ratio(r.get('ratio_vs_echo_picows'))} |"
        )
    return out


def _paced_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| target | version | db | stations | offered msgs/s | served msgs/s | served "
        "| p50 ms | p99 ms | max ms | per CPU-s | srv CPU | gen CPU | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r:
            out.append(
                f"| {r['target']} | {r['version']} | {r['db']} | | failed: "
                f"{r['failed'][:80]} | | | | | | | | | |"
            )
            continue
        gen = _f(r["generator_cpu_util"], 0, 100) + " %"
        if r["generator_cpu_util"] >= BUSY:
            gen += " (bound)"
        out.append(
            f"| {r['target']} | {r['version']} | {r['db']} | {r['connected']:,} "
            f"| {_f(r.get('rate'))} | {_f(r.get('served_per_s'))} "
            f"| {_f(goals.served_share(r), 1, 100)} % "
            f"| {_f(r['p50_ms'], 2)} | {_f(r['p99_ms'], 2)} | {_f(r['max_ms'], 1)} "
            f"| {_f(r['msgs_per_server_cpu_s'])} | {_f(r['server_cpu_util'], 0, 100)} % "
            f"| {gen} | {r['errors']} |"
        )
    return out


def _idle_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| target | version | db | connected | connect+boot/s | RSS before | RSS connected "
        "| KiB/conn | srv / gen CPU while connecting | srv CPU idle | heartbeat p99 ms | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r:
            out.append(
                f"| {r['target']} | {r['version']} | {r['db']} | failed: "
                f"{r['failed'][:80]} | | | | | | | | |"
            )
            continue
        per_conn = (r["rss_end_bytes"] - r["rss_idle_bytes"]) / max(r["connected"], 1) / 1024
        out.append(
            f"| {r['target']} | {r['version']} | {r['db']} "
            f"| {r['connected']:,}/{r['stations']:,} | {_f(r['connect_rate'])} "
            f"| {_f(r['rss_idle_bytes'], 0, 1 / 2**20)} MiB "
            f"| {_f(r['rss_end_bytes'], 0, 1 / 2**20)} MiB | {_f(per_conn, 1)} "
            f"| {_f(r.get('server_cpu_connect_util'), 0, 100)} % / "
            f"{_f(r.get('generator_cpu_connect_util'), 0, 100)} % "
            f"| {_f(r['server_cpu_util'], 1, 100)} % | {_f(r['p99_ms'], 2)} "
            f"| {r['errors'] + r['connect_failures']} |"
        )
    return out


def _transactions_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| version | db | stations | offered values/s | persisted values/s | acked values/s "
        "| meter msgs/s | values/msg | sessions | tx ack p50 ms | tx ack p99 ms | max ms "
        "| srv CPU | gen CPU | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r:
            out.append(
                f"| {r['version']} | {r['db']} | failed: {r['failed'][:80]} "
                "| | | | | | | | | | | | |"
            )
            continue
        gen = _f(r["generator_cpu_util"], 0, 100) + " %"
        if r["generator_cpu_util"] >= BUSY:
            gen += " (bound)"
        out.append(
            f"| {r['version']} | {r['db']} | {r['connected']:,} "
            f"| {_f(r.get('offered_values_per_s'))} | {_f(r.get('persisted_per_s'))} "
            f"| {_f(r.get('acked_values_per_s'))} | {_f(r.get('meter_msgs_per_s'))} "
            f"| {_f(r.get('values_per_msg'), 1)} | {r.get('sessions_ended', 0):,} "
            f"| {_f(r['p50_ms'], 2)} | {_f(r['p99_ms'], 2)} | {_f(r['max_ms'], 1)} "
            f"| {_f(r['server_cpu_util'], 0, 100)} % | {gen} | {r['errors']} |"
        )
    return out


def _audit_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| version | db | msgs/s | frames audited/s | bytes per audited frame "
        "| DB growth MB/min | of it audit log | frames dropped (run) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r or r.get("audit_bytes_per_frame") is None:
            continue
        out.append(
            f"| {r['version']} | {r['db']} | {_f(r['msgs_per_s'])} "
            f"| {_f(r.get('audited_frames_per_s'))} | {_f(r['audit_bytes_per_frame'], 1)} "
            f"| {_f(r.get('db_growth_mb_per_min'), 1)} | {_f(r.get('audit_share'), 0, 100)} % "
            f"| {_f(r.get('audit_dropped'))} |"
        )
    return out


ISSUE_15_SCENARIOS = ("throughput", "paced", "idle", "transactions")
SCENARIOS = (*ISSUE_15_SCENARIOS, "scaleout", "scaleout-idle")


def _how(scenario: str, first: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    if scenario == "paced" and first.get("rate_basis", "").startswith("2x"):
        rates = {r["version"]: r["rate"] for r in rows if r.get("rate")}
        each = ", ".join(f"{v} {rate:,.0f}" for v, rate in rates.items())
        return (
            f"paced at twice the ocpp-lib CSMS's closed-loop msgs/s of this run: {each} "
            f"msgs/s total, {first['duration']:g} s measured"
        )
    if scenario == "scaleout":
        return (
            f"one `ampyre serve` against `--workers 2`, PostgreSQL and NATS, server pinned to "
            f"CPU 0, closed loop, {first['warmup']:g} s warm-up, {first['duration']:g} s measured"
        )
    if scenario in ("throughput", "paced"):
        if first["mode"] == "closed":
            return f"closed loop, {first['warmup']:g} s warm-up, {first['duration']:g} s measured"
        return f"paced at {first['rate']:g} msgs/s total, {first['duration']:g} s measured"
    if scenario == "transactions":
        return (
            f"charging sessions of {first.get('session_samples', '?')} meter-value messages, "
            f"paced at {first['rate']:g} meter-value msgs/s total, {first['warmup']:g} s "
            f"warm-up, {first['duration']:g} s measured"
        )
    return (
        f"heartbeat every {first.get('heartbeat_interval', 60):g} s per station, "
        f"held {first['duration']:g} s"
    )


def _block(scenario: str, rows: list[dict[str, Any]], result: dict[str, Any]) -> list[str]:
    table = {
        "paced": _paced_table,
        "idle": _idle_table,
        "scaleout-idle": _idle_table,
        "transactions": _transactions_table,
    }.get(scenario, _throughput_table)
    first = next((r for r in rows if "failed" not in r), rows[0])
    lines = [
        f"### {scenario} ({_how(scenario, first, rows)})",
        "",
        f"_run {result['date']}: `{result['command']}`_",
        "",
        *table(rows),
    ]
    noisy = [
        r
        for r in rows
        if "failed" not in r and max(r.get("other_cpu_load", {}).values(), default=0) > 0.1
    ]
    if noisy:
        lines += [
            "",
            "Other processes used more than 10 % of CPU 0 or 1 during "
            + ", ".join(f"{r['target']} {r['version']} {r['db']}" for r in noisy)
            + " (shared machine; see `other_cpu_load` in the raw JSON; PostgreSQL itself "
            "is not pinned): those rows may understate what the server can do.",
        ]
    if any("failed" not in r and r["generator_cpu_util"] >= BUSY for r in rows):
        lines += [
            "",
            "Rows marked *(bound)* had the load generator at >= 90 % of its core: the "
            "server could go faster than shown there.",
        ]
    ratios = _ratio_table(rows) if table is _throughput_table else []
    if ratios:
        lines += [
            "",
            "Ratios of the rows above to the references measured in this run (same "
            "version, stations and load): *msgs/s* as measured, *per CPU-s* = msgs per "
            "server CPU-second; n/a where that reference was not run.",
            "",
            *ratios,
        ]
    if scenario == "paced":
        lines += [
            "",
            "*offered*: the paced rate (each station sends on its own schedule); *served*: "
            "round trips completed in the measured window per second, and their share of "
            "the offered rate (*per CPU-s* and the ratios use the served round trips); "
            "latency is measured from each CALL's intended send time, so a server that "
            "falls behind shows its backlog in p50/p99.",
        ]
    for r in rows:
        if "failed" not in r and r.get("profile"):
            label = f"{r['target']} {r['version']} {r['db']}"
            lines += ["", *pyspy.render(label, r["profile"])]
    audit = _audit_table(rows)
    if len(audit) > 2:
        lines += [
            "",
            "Audit log of the ampyre rows (measured window): *bytes per audited frame* = "
            "growth of the `message_log` table with its indexes (SQLite: `dbstat`; "
            "PostgreSQL: `pg_total_relation_size`) / frames added (`total` of "
            "`GET /api/v1/messages`); a round trip is two frames. *Frames dropped*: "
            "`ampyre_audit_log_dropped_total` grew by this much over the whole run "
            "(frames logged faster than written overflow the bounded buffer); the "
            "targets count them as errors.",
            "",
            *audit,
        ]
    if scenario == "transactions":
        lines += [
            "",
            "*persisted values/s*: rows added to the `meter_values` table during the "
            "measured window, counted with SQL on the bench database; *acked*: sampled "
            "values in meter-value messages the server acknowledged in the window; "
            "*tx ack*: round trip of StartTransaction / MeterValues / StopTransaction "
            "(2.x: TransactionEvent), meter values from their intended send time.",
        ]
    return lines


def _previous_blocks(section: str) -> dict[str, str]:
    """The per-scenario blocks of an earlier results section, keyed by scenario; blocks
    written before the per-block run line get the earlier run's date and command."""
    date = command = None
    for line in section.splitlines():
        if line.startswith("- date: "):
            date = line[len("- date: ") :].strip()
        elif line.startswith("- command: "):
            command = line[len("- command: ") :].strip()
        elif line.startswith("- latest run: ") and date is None:
            date, _, command = line[len("- latest run: ") :].partition(", ")
    blocks: dict[str, str] = {}
    parts = section.split("\n### ")
    for part in parts[1:]:
        name = part.split(None, 1)[0]
        body = "### " + part.rstrip()
        if "\n_run " not in body and date is not None:
            head, _, rest = body.partition("\n")
            body = f"{head}\n\n_run {date}: {command or ''}_\n{rest}"
        blocks[name] = body
    return blocks


def results_section(result: dict[str, Any], previous: str = "") -> str:
    """This run's scenarios, and the blocks of scenarios it did not run from
    ``previous`` (the section as it was), so a partial run keeps the other results."""
    m = result["machine"]
    rows = result["rows"]
    lines = [
        "## Results",
        "",
        f"- latest run: {result['date']}, `{result['command']}`",
        f"- machine: {m['nproc']} CPUs, {m['cpu_model']}, Linux {m['kernel']}, "
        f"Python {m['python']}, open-file limit {m['nofile_limit']:,}",
    ]
    lines += [f"- note: {n}" for n in result["notes"]]
    old = _previous_blocks(previous)
    if any(r["scenario"] in ISSUE_15_SCENARIOS for r in rows):
        met = goals.evaluate(rows)
        lines += [
            "",
            "### targets (issue 15, this run only)",
            "",
            f"{goals.summary_line(met)}; each scenario's table below has the details.",
            "",
            *goals.goals_table(met),
        ]
    elif "targets" in old:  # a run of other scenarios (scale-out) keeps the last verdict
        lines += ["", old["targets"]]
    for scenario in SCENARIOS:
        chosen = [r for r in rows if r["scenario"] == scenario]
        if chosen:
            lines += ["", *_block(scenario, chosen, result)]
        elif scenario in old:
            lines += ["", old[scenario]]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, result: dict[str, Any]) -> None:
    text = path.read_text() if path.exists() else HEADER
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    previous, tail = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{START}\n{results_section(result, previous)}{END}{tail}")
