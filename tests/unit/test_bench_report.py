"""bench.report's ratios: Ampyre against each reference of the same run (issue 15)."""

from __future__ import annotations

from typing import Any

from bench import report


def _row(target: str, msgs_per_s: float, per_cpu: float | None, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario": "throughput",
        "target": target,
        "version": "ocpp1.6",
        "db": "sqlite" if target == "ampyre" else "-",
        "mode": "closed",
        "stations": 1000,
        "rate": None,
        "msgs_per_s": msgs_per_s,
        "msgs_per_server_cpu_s": per_cpu,
    }
    row.update(kw)
    return row


def test_ratio_and_its_format() -> None:
    assert report.ratio(5000.0, 2000.0) == 2.5
    assert report.ratio(None, 2000.0) is None
    assert report.ratio(5000.0, None) is None
    assert report.ratio(5000.0, 0.0) is None
    assert report.fmt_ratio(2.4449) == "2.44x"
    assert report.fmt_ratio(12.0) == "12.00x"
    assert report.fmt_ratio(None) == "n/a"


def test_ampyre_against_every_reference_in_both_measures() -> None:
    rows = [
        _row("echo", 10_000.0, 12_000.0),
        _row("echo-picows", 20_000.0, 40_000.0),
        _row("ocpp-lib", 2_000.0, 2_000.0),
        _row("ampyre", 5_000.0, 5_000.0),
    ]
    report.add_ratios(rows)
    ampyre = rows[3]
    assert ampyre["ratio_vs_ocpp_lib"] == 2.5
    assert ampyre["cpu_ratio_vs_ocpp_lib"] == 2.5
    assert ampyre["ratio_vs_echo"] == 0.5
    assert ampyre["cpu_ratio_vs_echo"] == 5_000 / 12_000
    assert ampyre["ratio_vs_echo_picows"] == 0.25
    assert ampyre["cpu_ratio_vs_echo_picows"] == 0.125
    assert report.ratio_rows(rows) == [ampyre]
    line = report.ratio_line(ampyre)
    assert line.startswith("ampyre ocpp1.6 db=sqlite: ")
    assert "vs ocpp-lib 2.50x per CPU-s, 2.50x msgs/s" in line
    assert "vs echo-picows 0.12x per CPU-s, 0.25x msgs/s" in line


def test_only_references_of_the_same_run_shape_count() -> None:
    rows = [
        _row("echo-picows", 20_000.0, 40_000.0, version="ocpp2.0.1"),  # other version
        _row("ocpp-lib", 2_000.0, 2_000.0, failed="RuntimeError: boom"),  # failed
        _row("ampyre", 5_000.0, None),  # no CPU time measured
    ]
    report.add_ratios(rows)
    ampyre = rows[2]
    for stem in ("ocpp_lib", "echo", "echo_picows"):
        assert ampyre[f"ratio_vs_{stem}"] is None
        assert ampyre[f"cpu_ratio_vs_{stem}"] is None
    assert "failed" in rows[1] and "ratio_vs_echo" not in rows[1]


def test_ratio_table_in_the_throughput_block() -> None:
    rows = [
        _row("echo", 10_000.0, 12_000.0),
        _row("ocpp-lib", 2_000.0, 2_000.0),
        _row("ampyre", 5_000.0, 5_000.0),
    ]
    for r in rows:
        r.update(
            connected=1000,
            connect_rate=500.0,
            p50_ms=1.0,
            p99_ms=2.0,
            max_ms=3.0,
            server_cpu_util=0.99,
            generator_cpu_util=0.5,
            errors=0,
            duration=20.0,
            warmup=3.0,
        )
    report.add_ratios(rows)
    lines = report._block("throughput", rows, {"date": "d", "command": "c"})
    head = next(line for line in lines if line.startswith("| target | version | db | / "))
    assert head.count("|") - 1 == 3 + 6  # target, version, db + 3 references x 2 measures
    ampyre = [line for line in lines if line.startswith("| ampyre |")]
    # the main table's row, then the ratio table's row: no picows echo in this run
    assert ampyre[-1] == "| ampyre | ocpp1.6 | sqlite | 2.50x | 2.50x | 0.42x | 0.50x | n/a | n/a |"
    assert "| vs ocpp-lib | vs echo | vs echo-picows |" in lines[4]
    separator = lines[lines.index(head) + 1]
    assert separator.count("|") == head.count("|")


def test_picows_echo_is_skipped_with_a_reason_when_picows_is_missing(monkeypatch: Any) -> None:
    import sys

    from bench import targets

    monkeypatch.setitem(sys.modules, "picows", None)  # import picows -> ImportError
    reason = targets.picows_available()
    assert reason is not None
    assert "pip install -e '.[bench]'" in reason
    assert "echo-picows" in targets.TARGETS and "echo-picows" in targets.REFERENCE_TARGETS


def test_a_scale_out_run_keeps_the_last_issue_15_verdict() -> None:
    previous = (
        "## Results\n\n- latest run: 2026-01-01T00:00:00+00:00, `python -m bench.run --x`\n\n"
        "### targets (issue 15, this run only)\n\n3 of 4 targets met\n\n"
        "### throughput (closed loop)\n\nold table\n"
    )
    row = _row("ampyre-workers2", 5_000.0, 5_000.0, scenario="scaleout", failed="boom")
    row.update(duration=20.0, warmup=3.0, db="postgres")
    machine = {"nproc": 2, "cpu_model": "m", "kernel": "k", "python": "3.11", "nofile_limit": 1}
    result = {"date": "2026-02-02", "command": "c", "machine": machine, "notes": [], "rows": [row]}
    text = report.results_section(result, previous)
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert [h.split()[1] for h in headings] == ["targets", "throughput", "scaleout"]
    assert "3 of 4 targets met" in text  # not re-judged from scale-out rows
    assert "_run 2026-01-01T00:00:00+00:00: `python -m bench.run --x`_" in text
