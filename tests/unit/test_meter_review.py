"""Review of the meter-value parsing edge cases (protocol/meter.py): numbers that are not
numbers, units and multipliers with no SI form, dates out of range, and the difference
between refusing a negative register and only reporting it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ampyre.domain.transactions import MeterReading, SampledValue
from ampyre.protocol import meter

TS = "2025-01-01T10:00:00Z"


@pytest.mark.parametrize(
    "text", ["abc", "NaN", "nan", "Infinity", "-inf", "1e400", "0x10", "1_000", " 12 ", ""]
)
def test_16_non_decimal_values_have_no_number(text: str) -> None:
    (reading,) = meter.parse_16([{"timestamp": TS, "sampledValue": [{"value": text}]}])
    (sample,) = reading.values
    assert (sample.value, sample.si_value, sample.raw_value) == (None, None, text)


@pytest.mark.parametrize(
    ("text", "number"), [("12", 12.0), ("-3.5", -3.5), ("+.5", 0.5), ("1e3", 1000.0), ("7.", 7.0)]
)
def test_16_decimal_values_are_numbers(text: str, number: float) -> None:
    (reading,) = meter.parse_16([{"timestamp": TS, "sampledValue": [{"value": text}]}])
    assert reading.values[0].value == number


def test_si_never_overflows_and_never_gives_infinity() -> None:
    assert meter.si(5.0, "A", 400) == (None, None)
    assert meter.si(1e308, "kWh") == (None, None)
    value, unit = meter.si(5.0, "A", -400)
    assert value == 0.0 and unit == "A"


def test_unknown_unit_too_long_for_an_si_unit_has_no_si_form() -> None:
    assert meter.si(2.0, "U" * 20) == (None, None)
    assert meter.si(2.0, "Custom") == (2.0, "Custom")


def test_2x_multiplier_out_of_range_is_refused() -> None:
    sample = {"value": 1, "unitOfMeasure": {"unit": "Wh", "multiplier": 2**31}}
    with pytest.raises(meter.MeterValueError, match="multiplier"):
        meter.parse_2x([{"timestamp": TS, "sampledValue": [sample]}])
    sample["unitOfMeasure"] = {"unit": "Wh", "multiplier": 400}
    (reading,) = meter.parse_2x([{"timestamp": TS, "sampledValue": [sample]}])
    assert (reading.values[0].value, reading.values[0].si_value) == (1.0, None)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "soon", "", None, 5])
def test_timestamps_out_of_range_or_unreadable(text: object) -> None:
    assert meter.timestamp(text) is None
    with pytest.raises(meter.MeterValueError, match="not a date-time"):
        meter.parse_16([{"timestamp": text, "sampledValue": [{"value": "1"}]}])


def test_timestamp_with_offset_is_utc() -> None:
    assert meter.timestamp("2025-01-01T12:00:00+02:00") == datetime(2025, 1, 1, 10, tzinfo=UTC)


def test_negative_register_is_reported_and_only_registers_count() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    power = SampledValue(-5.0, "-5", measurand="Power.Active.Import", si_value=-5.0, si_unit="W")
    interval = SampledValue(
        -5.0, "-5", measurand="Energy.Active.Import.Interval", si_value=-5.0, si_unit="Wh"
    )
    fine = (MeterReading(at, (power, interval)),)
    assert meter.negative_register(fine) is None
    meter.check_registers(fine)
    register = SampledValue(-1.0, "-1", si_value=-1.0, si_unit="Wh")
    bad = (*fine, MeterReading(at, (register,)))
    problem = meter.negative_register(bad)
    assert problem is not None and "Energy.Active.Import.Register" in problem
    with pytest.raises(meter.MeterValueError):
        meter.check_registers(bad)


@pytest.mark.parametrize(
    ("value", "fits"), [(0, True), (2**31 - 1, True), (2**31, False), (-(2**31), True)]
)
def test_fits_int(value: int, fits: bool) -> None:
    assert meter.fits_int(value) is fits
