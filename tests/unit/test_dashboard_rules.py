"""Pure rules of the dashboard: LIKE escaping, sort keys, chart points, CSV cells."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from ampyre.api.csv_export import cell, lines
from ampyre.domain.dashboard import (
    StationSort,
    chart_points,
    like_pattern,
    parse_sort,
)
from ampyre.domain.transactions import ENERGY_REGISTER, SampledValue
from ampyre.services.dashboard import utc_day_start

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_like_pattern_escapes_wildcards() -> None:
    assert like_pattern("AbC") == "%AbC%"
    assert like_pattern("50%_x\\y") == "%50\\%\\_x\\\\y%"


def test_parse_sort() -> None:
    assert parse_sort("vendor") == (StationSort.VENDOR, False)
    assert parse_sort("-last_seen") == (StationSort.LAST_SEEN, True)
    with pytest.raises(ValueError):
        parse_sort("password_hash")


def test_utc_day_start() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # 23:30 UTC
    assert utc_day_start(local) == datetime(2026, 11, 30, tzinfo=UTC)


def _v(measurand: str, si: float, unit: str, phase: str | None = None, **kw: str) -> SampledValue:
    return SampledValue(
        value=si,
        raw_value=str(si),
        measurand=measurand,
        phase=phase,
        si_value=si,
        si_unit=unit,
        **kw,  # type: ignore[arg-type]
    )


def test_chart_points_one_per_timestamp() -> None:
    t1 = T0 + timedelta(minutes=1)
    points = chart_points(
        [
            (T0, _v(ENERGY_REGISTER, 1000.0, "Wh")),
            (T0, _v("Power.Active.Import", 7200.0, "W")),
            (T0, _v("SoC", 40.0, "Percent")),
            (T0, _v("Current.Import", 32.0, "A")),  # not charted
            (t1, _v(ENERGY_REGISTER, 1120.0, "Wh")),
            # per-phase power only: summed
            (t1, _v("Power.Active.Import", 2000.0, "W", phase="L1")),
            (t1, _v("Power.Active.Import", 2100.0, "W", phase="L2")),
            (t1, _v("Power.Active.Import", 2200.0, "W", phase="L3")),
            # an EV-side register is another meter
            (t1, _v(ENERGY_REGISTER, 5.0, "Wh", location="EV")),
            (t1 + timedelta(minutes=1), _v("Voltage", 230.0, "V")),  # no point at all
        ]
    )
    assert [(p.timestamp, p.power_w, p.energy_wh, p.soc_percent) for p in points] == [
        (T0, 7200.0, 1000.0, 40.0),
        (t1, 6300.0, 1120.0, None),
    ]


def test_chart_total_power_wins_over_phases() -> None:
    points = chart_points(
        [
            (T0, _v("Power.Active.Import", 100.0, "W", phase="L1")),
            (T0, _v("Power.Active.Import", 7000.0, "W")),
        ]
    )
    assert points[0].power_w == 7000.0


@pytest.mark.parametrize("text", ["=1+2", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_would_be_formulas_are_quoted(text: str) -> None:
    assert cell(text) == "'" + text


def test_csv_cells() -> None:
    assert cell(None) == ""
    assert cell(True) == "true"
    assert cell(-5) == "-5"  # our numbers stay numbers
    assert cell(12.5) == "12.5"
    assert cell(T0) == "2026-11-30T12:00:00+00:00"
    assert cell("TAG-1") == "TAG-1"


def test_csv_lines_are_rfc_4180() -> None:
    data = lines([["a,b", 'say "hi"', "two\nlines", "plain"]])
    assert data == b'"a,b","say ""hi""","two\nlines",plain\r\n'
    assert list(csv.reader(io.StringIO(data.decode(), newline=""))) == [
        ["a,b", 'say "hi"', "two\nlines", "plain"]
    ]


def test_sse_encoding_keeps_data_on_one_line() -> None:
    from ampyre.api.sse import encode, parse_last_event_id
    from ampyre.services.live import LiveMessage

    message = LiveMessage("station.status_changed", {"info": "a\nb\r\ndata: x", "s": "<é>"}, 7)
    wire = encode(message)
    assert wire == (
        b'id: 7\nevent: station.status_changed\ndata: {"info":"a\\nb\\r\\ndata: x",'
        b'"s":"<\xc3\xa9>"}\n\n'
    )
    assert encode(message) is wire  # encoded once for every stream
    assert encode(LiveMessage("stats", {"n": 1})) == b'event: stats\ndata: {"n":1}\n\n'
    assert parse_last_event_id(None) is None
    assert parse_last_event_id("42") == 42
    assert parse_last_event_id("-1") == -1
    assert parse_last_event_id("1e3") == -1
