"""The closed-loop ratio of Ampyre to the ocpp-lib CSMS, from back-to-back pairs:
`python -m bench.run`'s throughput rows, alternated, `python -m bench.ratio`.

`make bench` runs each target once, minutes apart; on a shared machine whose speed drifts
(several per cent within minutes, 2-3x from day to day) one pair of rows can put the
issue-15 ratio a few tenths off either way. This runs the two targets in pairs, each pair
back to back and every other pair in the opposite order (A B, B A, ...), so that a drift
weighs on both, and reports each pair's ratio of msgs per server CPU-second and of
msgs/s, and their medians. Nothing is written to docs/benchmarks.md; the raw rows go to
bench/results/ as with `bench.run`.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import signal
import statistics
import sys
from typing import Any

from bench import proc, run


def pair_ratios(ampyre: dict[str, Any], reference: dict[str, Any]) -> dict[str, float] | None:
    """Ampyre's row over the reference's: msgs per server CPU-s and msgs/s; None when
    either row failed, served nothing or had errors (a ratio of those means nothing)."""
    for row in (ampyre, reference):
        if "failed" in row or row.get("errors") or not row.get("msgs_per_s"):
            return None
        if not row.get("msgs_per_server_cpu_s"):
            return None
    return {
        "per_cpu_s": ampyre["msgs_per_server_cpu_s"] / reference["msgs_per_server_cpu_s"],
        "msgs_per_s": ampyre["msgs_per_s"] / reference["msgs_per_s"],
    }


def summary(ratios: list[dict[str, float] | None]) -> dict[str, Any]:
    """The medians (and ranges) over the pairs that gave a ratio."""
    good = [r for r in ratios if r is not None]
    out: dict[str, Any] = {"pairs": len(ratios), "valid_pairs": len(good)}
    for key in ("per_cpu_s", "msgs_per_s"):
        values = [r[key] for r in good]
        if values:
            out[key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ratio", description=__doc__)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--versions", type=lambda v: v.split(","), default=["ocpp1.6", "ocpp2.0.1"])
    p.add_argument("--db", default="sqlite", help="ampyre's database: sqlite or postgres")
    p.add_argument("--reference", default="ocpp-lib", help="the other target of each pair")
    p.add_argument("--duration", type=float, default=15.0, help="measured seconds per row")
    p.add_argument("--stations", type=int, default=1000)
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error("--pairs must be >= 1")
    # The row settings of `bench.run`'s closed-loop throughput scenario, defaults and all.
    row_args = run.build_parser().parse_args(
        ["--duration", str(args.duration), "--stations", str(args.stations)]
    )
    row_args.server_env = {}
    row_args.rate = 0.0
    row_args.warmup = row_args.warmup or 3.0
    info = run.machine_info()  # also raises the open-file limit the generator inherits
    atexit.register(run._kill_live)
    signal.signal(signal.SIGTERM, run._on_signal)
    proc.pin(os.getpid(), run.GENERATOR_CPU)  # as bench.run: CPU 0 stays the server's
    started = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    try:
        for version in args.versions:
            ratios: list[dict[str, float] | None] = []
            for i in range(args.pairs):
                order = ["ampyre", args.reference] if i % 2 == 0 else [args.reference, "ampyre"]
                pair = {
                    target: run.run_one(
                        "throughput",
                        target,
                        version,
                        args.db if target == "ampyre" else "-",
                        row_args,
                    )
                    for target in order
                }
                rows.extend(pair.values())
                ratio = pair_ratios(pair["ampyre"], pair[args.reference])
                ratios.append(ratio)
                if ratio is not None:
                    print(
                        f"pair {i + 1} {version}: {ratio['per_cpu_s']:.2f}x per CPU-s, "
                        f"{ratio['msgs_per_s']:.2f}x msgs/s",
                        flush=True,
                    )
                else:
                    print(f"pair {i + 1} {version}: no ratio (a row failed or had errors)")
            results[version] = summary(ratios)
    finally:
        run._kill_live()
    for version, s in results.items():
        cpu, rate = s.get("per_cpu_s"), s.get("msgs_per_s")
        if cpu is None or rate is None:
            print(f"{version}: no valid pair")
            continue
        print(
            f"{version} ampyre/{args.reference} ({args.db}), median of {s['valid_pairs']} "
            f"pairs: {cpu['median']:.2f}x per CPU-s ({cpu['min']:.2f}-{cpu['max']:.2f}), "
            f"{rate['median']:.2f}x msgs/s ({rate['min']:.2f}-{rate['max']:.2f})"
        )
    run.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    raw = run.RESULTS_DIR / f"ratio-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    command = "python -m bench.ratio " + " ".join(argv if argv is not None else sys.argv[1:])
    raw.write_text(
        json.dumps(
            {
                "date": started.isoformat(timespec="seconds"),
                "command": command.strip(),
                "machine": info,
                "summary": results,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"raw results: {raw.relative_to(run.ROOT)}")
    return 0 if results and all("per_cpu_s" in s for s in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
