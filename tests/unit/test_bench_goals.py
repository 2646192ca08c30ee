"""bench.goals / bench.profile / the paced rate: issue 15's targets checked from the rows of
one run, without running anything."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from bench import goals, report, run
from bench import profile as pyspy


def _row(scenario: str, target: str, version: str = "ocpp1.6", db: str = "-", **kw: Any) -> dict:
    row: dict[str, Any] = {
        "scenario": scenario,
        "target": target,
        "version": version,
        "db": db,
        "mode": {"throughput": "closed"}.get(scenario, scenario),
        "stations": 1000,
        "rate": None,
        "errors": 0,
    }
    row.update(kw)
    return row


def _closed(target: str, version: str, db: str, msgs: float, per_cpu: float) -> dict:
    return _row("throughput", target, version, db, msgs_per_s=msgs, msgs_per_server_cpu_s=per_cpu)


def _paced(version: str, db: str, rate: float, served: float, p99: float) -> dict:
    return _row("paced", "ampyre", version, db, rate=rate, served_per_s=served, p99_ms=p99)


def _all_met() -> list[dict]:
    rows = []
    for v in goals.VERSIONS:
        rows += [
            _closed("ocpp-lib", v, "-", 6_000.0, 6_000.0),
            _closed("ampyre", v, "sqlite", 18_500.0, 31_000.0),
            _closed("ampyre", v, "postgres", 16_000.0, 26_000.0),
            _paced(v, "sqlite", 12_000.0, 11_990.0, 20.0),
            _paced(v, "postgres", 12_000.0, 11_950.0, 55.0),
            _row(
                "transactions",
                "ampyre",
                v,
                "postgres",
                offered_values_per_s=7_200.0,
                persisted_per_s=7_190.0,
                rate=800.0,
                p99_ms=30.0,
            ),
            _row(
                "idle",
                "ampyre",
                v,
                "sqlite",
                stations=19_900,
                connected=19_900,
                connect_failures=0,
                rss_idle_bytes=100 * 2**20,
                rss_end_bytes=100 * 2**20 + 19_900 * 18 * 1024,
            ),
        ]
    return rows


def test_paced_rate_is_twice_the_ocpp_lib_closed_loop_of_the_same_version() -> None:
    rows = [
        _closed("ocpp-lib", "ocpp1.6", "-", 6_472.4, 6_488.0),
        _closed("ocpp-lib", "ocpp2.0.1", "-", 6_215.0, 6_234.0),
        _closed("ampyre", "ocpp1.6", "sqlite", 15_000.0, 15_000.0),
    ]
    assert goals.paced_rate(rows, "ocpp1.6") == 12_945.0
    assert goals.paced_rate(rows, "ocpp2.0.1") == 12_430.0
    assert goals.paced_rate(rows, "ocpp1.6", stations=500) is None  # other load shape
    rows[0]["failed"] = "RuntimeError: boom"
    assert goals.paced_rate(rows, "ocpp1.6") is None
    paced_ref = _row("paced", "ocpp-lib", rate=3000.0, msgs_per_s=3000.0)
    assert goals.paced_rate([paced_ref], "ocpp1.6") is None  # only a closed loop counts


def test_every_target_met() -> None:
    met = goals.evaluate(_all_met())
    assert [g.status for g in met] == [goals.MET] * len(met)
    assert len(met) == 12  # 2 versions x (closed, paced, pg closed, pg paced, tx, idle)
    closed = met[0]
    assert closed.name == "closed loop vs ocpp-lib" and closed.db == "sqlite"
    assert "5.17x per CPU-s" in closed.measured and "3.08x msgs/s" in closed.measured
    assert "99.9 %" in met[2].measured
    assert goals.summary_line(met) == "12 of 12 targets met"


def test_each_threshold_fails_on_its_own() -> None:
    rows = _all_met()
    rows[1]["msgs_per_server_cpu_s"] = 29_000.0  # 4.83x per CPU-s (1.6)
    rows[3]["served_per_s"] = 11_000.0  # 91.7 % served (1.6 sqlite)
    rows[4]["p99_ms"] = 61.0  # PostgreSQL paced over 50 ms + 20 % (1.6)
    rows[5]["persisted_per_s"] = 6_900.0  # transactions (1.6)
    rows[6]["rss_end_bytes"] = 100 * 2**20 + 19_900 * 26 * 1024  # idle (1.6)
    rows[7 + 2]["msgs_per_s"] = 12_000.0  # PostgreSQL 0.65x SQLite's msgs/s (2.0.1)
    by = {(g.name, g.version, g.db): g.status for g in goals.evaluate(rows)}
    assert by[("closed loop vs ocpp-lib", "ocpp1.6", "sqlite")] == goals.NOT_MET
    assert by[("paced at 2x ocpp-lib", "ocpp1.6", "sqlite")] == goals.NOT_MET
    assert by[("paced at 2x ocpp-lib", "ocpp1.6", "postgres")] == goals.NOT_MET
    assert by[("transactions", "ocpp1.6", "postgres")] == goals.NOT_MET
    assert by[("idle", "ocpp1.6", "sqlite")] == goals.NOT_MET
    assert by[("closed loop, PostgreSQL vs SQLite", "ocpp2.0.1", "postgres")] == goals.NOT_MET
    assert by[("closed loop vs ocpp-lib", "ocpp2.0.1", "sqlite")] == goals.MET


def test_errors_fail_a_target() -> None:
    rows = _all_met()
    rows[1]["errors"] = 3
    assert goals.evaluate(rows)[0].status == goals.NOT_MET


def test_audit_log_drops_fail_every_target_of_their_row() -> None:
    rows = _all_met()
    for i in (1, 2, 3, 4, 5, 6):  # ampyre rows of 1.6: closed, pg closed, paced x2, tx, idle
        rows[i]["audit_dropped"] = 1
    by = {(g.name, g.version, g.db): g for g in goals.evaluate(rows)}
    failed = {k for k, g in by.items() if g.status == goals.NOT_MET}
    assert failed == {k for k in by if k[1] == "ocpp1.6"}
    assert "1 errors" in by[("closed loop vs ocpp-lib", "ocpp1.6", "sqlite")].measured
    rows[1]["audit_dropped"] = 0
    assert goals.evaluate(rows)[0].status == goals.MET


def test_missing_rows_are_not_measured_and_the_table_says_so() -> None:
    rows = [r for r in _all_met() if r["scenario"] == "throughput"]
    met = goals.evaluate(rows)
    assert {g.status for g in met if g.name.startswith("closed")} == {goals.MET}
    missing = [g for g in met if g.status == goals.MISSING]
    assert len(missing) == 2 + 2 + 2 + 1  # paced x2 dbs x2 versions... sqlite+pg paced, tx, idle
    assert goals.summary_line(met).endswith("(7 not measured in this run)")
    table = goals.goals_table(met)
    assert table[0].startswith("| target | version | db | required | measured |")
    assert all(line.count("|") == table[0].count("|") for line in table)
    assert any("| **met** |" in line for line in table)
    assert any("| not measured |" in line for line in table)


def test_results_section_starts_with_the_targets() -> None:
    rows = _all_met()
    for r in rows:
        r.update(
            connected=r.get("connected", 1000), connect_rate=500.0, msgs_per_s=r.get(
                "msgs_per_s", 1.0), msgs_per_server_cpu_s=r.get("msgs_per_server_cpu_s", 1.0),
            p50_ms=1.0, p99_ms=r.get("p99_ms", 2.0), max_ms=3.0, server_cpu_util=0.9,
            generator_cpu_util=0.4, generator_cpu_us_per_msg=20.0, duration=20.0, warmup=3.0,
            rss_idle_bytes=r.get("rss_idle_bytes", 1), rss_end_bytes=r.get("rss_end_bytes", 2),
            rate_basis="2x ocpp-lib closed loop" if r["scenario"] == "paced" else None,
        )  # fmt: skip
    report.add_ratios(rows)
    machine = {"nproc": 2, "cpu_model": "x", "kernel": "k", "python": "3.11", "nofile_limit": 1}
    text = report.results_section(
        {"date": "d", "command": "c", "machine": machine, "notes": [], "rows": rows}
    )
    assert text.index("### targets") < text.index("### throughput") < text.index("### paced")
    assert "12 of 12 targets met" in text
    assert "paced at twice the ocpp-lib CSMS's closed-loop msgs/s of this run: " in text
    lines = text.splitlines()
    paced = next(line for line in lines if "| 12,000 | 11,990 |" in line)
    assert paced.startswith("| ampyre | ocpp1.6 | sqlite | 1,000 | 12,000 | 11,990 | 99.9 % |")
    closed = next(line for line in lines if "| 18,500 | 31,000 |" in line)
    assert "| 40 % | 20.0 | 0 |" in closed  # generator CPU and its µs per message


def test_scenario_mode() -> None:
    assert run.scenario_mode("throughput", None) == "closed"
    assert run.scenario_mode("throughput", 5000.0) == "paced"
    assert run.scenario_mode("paced", 5000.0) == "paced"
    assert run.scenario_mode("idle", 0.0) == "idle"
    assert run.scenario_mode("transactions", 800.0) == "transactions"


def _args(**kw: Any) -> argparse.Namespace:
    args = run.build_parser().parse_args([])
    args.stations, args.duration, args.warmup = 1000, 20.0, 3.0
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_paced_rates_measure_the_missing_reference_first(monkeypatch: Any) -> None:
    calls: list[tuple[str, str, str, str]] = []

    def fake_run_one(scenario: str, target: str, version: str, db: str, args: Any) -> dict:
        calls.append((scenario, target, version, run.scenario_mode(scenario, args.rate)))
        return _closed(target, version, db, 6_000.0, 6_100.0)

    monkeypatch.setattr(run, "run_one", fake_run_one)
    rows = [_closed("ocpp-lib", "ocpp1.6", "-", 7_000.0, 7_000.0)]
    notes: list[str] = []
    args = _args(rate=None, versions=["ocpp1.6", "ocpp2.0.1"], profile=True)
    assert run.paced_rates(args, None, rows, notes) == {"ocpp1.6": 14_000.0, "ocpp2.0.1": 12_000.0}
    assert calls == [("throughput", "ocpp-lib", "ocpp2.0.1", "closed")]
    assert len(rows) == 2 and notes == []
    assert args.profile is True  # the reference row ran on a copy of the options


def test_an_explicit_rate_wins_and_a_failed_reference_falls_back(monkeypatch: Any) -> None:
    def failing(scenario: str, target: str, version: str, db: str, args: Any) -> dict:
        return {**_closed(target, version, db, 0.0, 0.0), "failed": "TimeoutError: x"}

    monkeypatch.setattr(run, "run_one", failing)
    args = _args(versions=["ocpp1.6"])
    assert run.paced_rates(args, 5_000.0, [], []) == {"ocpp1.6": 5_000.0}
    notes: list[str] = []
    assert run.paced_rates(args, None, [], notes) == {"ocpp1.6": run.FALLBACK_PACED_RATE}
    assert "no ocpp-lib closed-loop msgs/s measured" in notes[0]


RAW = """\
<module> (ampyre:6);run (uvloop/__init__.py:92);Gateway._handle (ampyre/gateway/server.py:292) 6
<module> (ampyre:6);run (uvloop/__init__.py:92);Runner.run (asyncio/runners.py:118) 2
_bootstrap (threading.py:1002);Writer._run (ampyre/storage/writer.py:40);\
execute (sqlalchemy/engine/base.py:1) 10
garbage line
"""


def test_profile_summary_by_module_and_function() -> None:
    s = pyspy.summarize(RAW)
    assert s["samples"] == 18
    assert s["modules"][0] == ["sqlalchemy", pytest.approx(10 / 18)]
    assert ["ampyre/gateway", pytest.approx(6 / 18)] in s["modules"]
    # a sample in asyncio plumbing counts for the deepest frame outside it
    assert ["ampyre", pytest.approx(2 / 18)] in s["modules"]
    assert s["functions"][0] == ["execute (sqlalchemy/engine/base.py)", pytest.approx(10 / 18)]
    lines = pyspy.render("ampyre ocpp1.6 sqlite", s)
    assert "18 samples" in lines[0]
    assert lines[4] == "| sqlalchemy | 55.6 % | | `execute (sqlalchemy/engine/base.py)` | 55.6 % |"
    assert pyspy.summarize("") == {"samples": 0, "modules": [], "functions": []}
    assert pyspy.render("x", {"error": "py-spy exited 1"}) == ["Profile of x: py-spy exited 1"]


def test_profile_without_py_spy_says_so(monkeypatch: Any) -> None:
    monkeypatch.setattr(pyspy, "py_spy", lambda: None)
    reason = pyspy.unavailable()
    assert reason is not None and "py-spy is not installed" in reason


def test_profile_plumbing_and_generated_code() -> None:
    raw = (
        "main (ampyre/cli.py:1);_bootstrap (threading.py:1002);run (contextlib.py:3) 2\n"
        "main (ampyre/cli.py:1);validate (<string>:12) 1\n"
    )
    s = pyspy.summarize(raw)
    assert s["modules"] == [
        ["ampyre", pytest.approx(2 / 3)],
        [pyspy.GENERATED, pytest.approx(1 / 3)],
    ]
