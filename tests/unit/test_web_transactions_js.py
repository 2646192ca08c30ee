"""The transaction pages' pure functions (chart scales and local-time ticks, the list's
filters as API parameters, raw meter values grouped into chart points), run in Node.js
against the very modules the browser loads. Skipped where there is no `node`."""

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from ampyre.web import STATIC_DIR

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js to run the modules")


def run(script: str, tz: str) -> object:
    """Run an ES module script with the static modules importable; it prints JSON."""
    js = STATIC_DIR / "js"
    prelude = (
        f'const chart = await import("{(js / "components" / "chart.js").as_uri()}");\n'
        f'const list = await import("{(js / "pages" / "transactions.js").as_uri()}");\n'
        f'const page = await import("{(js / "pages" / "transaction.js").as_uri()}");\n'
    )
    assert NODE is not None
    out = subprocess.run(
        [
            NODE,
            "--experimental-default-type=module",
            "--input-type=module",
            "-e",
            prelude + textwrap.dedent(script),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "TZ": tz},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_value_axes_end_on_a_nice_number_with_decimals_from_the_step() -> None:
    got = run(
        """
        console.log(JSON.stringify({
          energy: chart.valueScale([0.03, 0.116], {min: 0}),
          power: chart.valueScale([11, 22], {min: 0}),
          soc: chart.valueScale([31], {min: 0, max: 100}),
          flat: chart.valueScale([0, 0], {min: 0}),
          digits: [2.5, 0.025, 20, 0.1, 1].map(chart.stepDigits),
        }));
        """,
        "UTC",
    )
    assert got == {
        "energy": [0, 0.125, 0.025],
        "power": [0, 25, 5],
        "soc": [0, 100, 20],
        "flat": [0, 1, 0.2],
        "digits": [1, 3, 0, 1, 0],
    }


@pytest.mark.parametrize(
    ("tz", "hours", "step_minutes"),
    [
        ("Asia/Kolkata", 10, 60),  # UTC+05:30: whole UTC hours are half past locally
        ("Asia/Kathmandu", 2, 15),  # UTC+05:45
        ("America/New_York", 10, 60),
        ("UTC", 2, 15),
    ],
)
def test_time_ticks_fall_on_local_boundaries(tz: str, hours: int, step_minutes: int) -> None:
    got = run(
        f"""
        const t0 = Date.parse("2026-11-30T10:07:13Z");
        const t1 = t0 + {hours} * 3600e3;
        const {{ticks, step}} = chart.timeTicks(t0, t1, {hours * 60 // step_minutes});
        console.log(JSON.stringify({{
          step,
          minutes: ticks.map((t) => new Date(t).getMinutes()),
          inside: ticks.every((t) => t >= t0 && t <= t1),
        }}));
        """,
        tz,
    )
    assert got["step"] == step_minutes * 60 * 1000
    assert got["inside"] is True
    assert len(got["minutes"]) >= hours * 60 // step_minutes - 1
    assert all(m % step_minutes == 0 for m in got["minutes"]), got["minutes"]


def test_list_filters_become_the_api_parameters_with_an_inclusive_local_end_date() -> None:
    got = run(
        """
        console.log(JSON.stringify([
          list.apiFilters({station_id: "CP-1", id_token: "AB", status: "active",
                           from: "2026-11-30", to: "2026-11-30"}),
          list.apiFilters({status: "all", from: "30.11.2026", to: ""}),
          list.apiFilters({status: "stale"}),
        ]));
        """,
        "Asia/Kolkata",
    )
    assert got == [
        {
            "station_id": "CP-1",
            "id_token": "AB",
            "status": "active",
            "started_from": "2026-11-29T18:30:00.000Z",
            "started_to": "2026-11-30T18:30:00.000Z",
            "stale": None,
        },
        {
            "station_id": None,
            "id_token": None,
            "status": None,
            "started_from": None,
            "started_to": None,
            "stale": None,
        },
        {
            "station_id": None,
            "id_token": None,
            "status": "active",
            "started_from": None,
            "started_to": None,
            "stale": True,
        },
    ]


def test_raw_meter_values_group_into_chart_points() -> None:
    got = run(
        """
        const v = (timestamp, measurand, si_value, extra = {}) => ({
          timestamp, measurand, si_value, location: "Outlet",
          si_unit: measurand.startsWith("Energy") ? "Wh" : measurand === "SoC" ? "Percent" : "W",
          phase: null, ...extra,
        });
        const a = "2026-11-30T10:00:00Z", b = "2026-11-30T10:00:05Z", c = "2026-11-30T10:00:10Z";
        console.log(JSON.stringify(page.pointsFromValues([
          v(a, "Energy.Active.Import.Register", 1000),
          v(a, "Power.Active.Import", 3000, {phase: "L1"}),
          v(a, "Power.Active.Import", 3100, {phase: "L2"}),
          v(b, "Energy.Active.Import.Register", 1010),
          v(b, "Power.Active.Import", 3300, {phase: "L1"}),
          v(b, "Power.Active.Import", 6600),
          v(b, "Power.Active.Import", 500, {location: "Inlet"}),
          v(b, "SoC", 42),
          v(c, "Current.Import", 16),
        ])));
        """,
        "UTC",
    )
    assert got == [
        {
            "timestamp": "2026-11-30T10:00:00Z",
            "power_w": 6100,
            "energy_wh": 1000,
            "soc_percent": None,
        },
        {
            "timestamp": "2026-11-30T10:00:05Z",
            "power_w": 6600,
            "energy_wh": 1010,
            "soc_percent": 42,
        },
    ]
