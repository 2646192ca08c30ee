"""What a transaction.updated event says the EV draws (domain/events.py latest_draw),
which the site balancer reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ampyre.domain.events import latest_draw
from ampyre.domain.transactions import MeterReading, SampledValue

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


def sv(
    value: float, measurand: str, unit: str, phase: str | None = None, **kw: str
) -> SampledValue:
    return SampledValue(
        value=value,
        raw_value=str(value),
        measurand=measurand,
        phase=phase,
        unit=unit,
        si_value=value,
        si_unit=unit,
        **kw,  # type: ignore[arg-type]
    )


def test_per_phase_currents_and_power_of_the_latest_reading() -> None:
    old = MeterReading(T0, (sv(32.0, "Current.Import", "A", "L1"),))
    new = MeterReading(
        T0 + timedelta(seconds=10),
        (
            sv(1000.0, "Energy.Active.Import.Register", "Wh"),
            sv(7360.0, "Power.Active.Import", "W"),
            sv(10.0, "Current.Import", "A", "L1-N"),  # 1.6 writes the phase so too
            sv(11.0, "Current.Import", "A", "L2"),
            sv(12.0, "Current.Import", "A", "L3"),
            sv(99.0, "Current.Import", "A", "L1", location="EV"),  # another meter
        ),
    )
    assert latest_draw([new, old]) == {
        "current_a": {"L1": 10.0, "L2": 11.0, "L3": 12.0},
        "power_w": 7360.0,
    }


def test_a_phase_less_current_and_nothing_sampled() -> None:
    reading = MeterReading(T0, (sv(16.0, "Current.Import", "A"),))
    assert latest_draw([reading]) == {"current_a": {"N/A": 16.0}}
    energy_only = MeterReading(T0, (sv(5.0, "Energy.Active.Import.Register", "Wh"),))
    assert latest_draw([energy_only]) == {}
    assert latest_draw([]) == {}
