"""Meter values from the wire: spec defaults only where absent, SI beside what was sent."""

from datetime import UTC, datetime

import pytest

from ampyre.protocol import meter

TS = "2025-01-01T12:00:00Z"
AT = datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_16_defaults_applied_only_where_absent() -> None:
    (reading,) = meter.parse_16([{"timestamp": TS, "sampledValue": [{"value": "1234"}]}])
    assert reading.timestamp == AT
    (s,) = reading.values
    assert (s.measurand, s.location, s.context, s.unit, s.format, s.phase) == (
        "Energy.Active.Import.Register",
        "Outlet",
        "Sample.Periodic",
        "Wh",
        "Raw",
        None,
    )
    assert (s.value, s.raw_value, s.si_value, s.si_unit) == (1234.0, "1234", 1234.0, "Wh")


def test_16_keeps_everything_sent_and_normalises() -> None:
    (reading,) = meter.parse_16(
        [
            {
                "timestamp": TS,
                "sampledValue": [
                    {
                        "value": "12.5",
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "kWh",
                        "context": "Transaction.Begin",
                        "location": "Inlet",
                        "phase": "L1",
                    },
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "21.5", "measurand": "Temperature", "unit": "Celcius"},
                    {"value": "212", "measurand": "Temperature", "unit": "Fahrenheit"},
                    {"value": "230.1", "measurand": "Voltage", "phase": "L1-N"},
                    {
                        "value": "1.5",
                        "measurand": "Energy.Reactive.Import.Register",
                        "unit": "kvarh",
                    },
                    {"value": "AbCdEf==", "format": "SignedData", "context": "Sample.Clock"},
                ],
            }
        ]
    )
    energy, power, celsius, fahrenheit, volts, reactive, signed = reading.values
    assert (energy.unit, energy.value, energy.si_value, energy.si_unit) == (
        "kWh",
        12.5,
        12500.0,
        "Wh",
    )
    assert (energy.context, energy.location, energy.phase) == ("Transaction.Begin", "Inlet", "L1")
    assert (power.si_value, power.si_unit) == (7200.0, "W")
    assert celsius.unit == "Celcius" and celsius.si_unit == "K"
    assert celsius.si_value == pytest.approx(294.65)
    assert fahrenheit.si_value == pytest.approx(373.15)
    # No unit for a non-energy measurand: the conventional one, not "Wh".
    assert (volts.unit, volts.si_unit, volts.phase) == ("V", "V", "L1-N")
    assert (reactive.si_value, reactive.si_unit) == (1500.0, "varh")
    assert (signed.value, signed.raw_value, signed.format, signed.si_value) == (
        None,
        "AbCdEf==",
        "SignedData",
        None,
    )


def test_16_non_numeric_raw_value_is_kept_as_text() -> None:
    (reading,) = meter.parse_16([{"timestamp": TS, "sampledValue": [{"value": "n/a"}]}])
    assert reading.values[0].value is None and reading.values[0].raw_value == "n/a"


def test_2x_multiplier_units_and_signed_value() -> None:
    signed = {
        "signedMeterData": "ZGF0YQ==",
        "signingMethod": "ECDSA",
        "encodingMethod": "OCMF",
        "publicKey": "a2V5",
    }
    (reading,) = meter.parse_2x(
        [
            {
                "timestamp": TS,
                "sampledValue": [
                    {"value": 12, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}},
                    {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}, "signedMeterValue": signed},
                    {"value": 16.0, "measurand": "Current.Import", "phase": "L2"},
                    {"value": 55, "measurand": "SoC", "context": "Transaction.End"},
                    {"value": 3, "measurand": "Temperature", "unitOfMeasure": {"unit": "Celsius"}},
                ],
            }
        ]
    )
    scaled, kwh, current, soc, temp = reading.values
    assert (scaled.unit, scaled.multiplier, scaled.raw_value) == ("Wh", 3, "12")
    assert (scaled.si_value, scaled.si_unit) == (12000.0, "Wh")
    assert (kwh.si_value, kwh.si_unit, kwh.signed) == (1500.0, "Wh", signed)
    assert (current.unit, current.si_unit, current.phase, current.raw_value) == (
        "A",
        "A",
        "L2",
        "16.0",
    )
    assert (soc.unit, soc.context) == ("Percent", "Transaction.End")
    assert temp.si_value == pytest.approx(276.15)
    assert scaled.format is None and scaled.location == "Outlet"


def test_negative_register_is_refused_other_negatives_are_not() -> None:
    ok = meter.parse_2x(
        [{"timestamp": TS, "sampledValue": [{"value": -5, "measurand": "Current.Export"}]}]
    )
    meter.check_registers(ok)
    bad = meter.parse_16([{"timestamp": TS, "sampledValue": [{"value": "-1", "unit": "kWh"}]}])
    with pytest.raises(meter.MeterValueError, match=r"negative Energy\.Active\.Import\.Register"):
        meter.check_registers(bad)


def test_unreadable_timestamp_is_an_error() -> None:
    with pytest.raises(meter.MeterValueError, match="not a date-time"):
        meter.parse_16([{"timestamp": "yesterday", "sampledValue": [{"value": "1"}]}])


@pytest.mark.parametrize(
    ("value", "unit", "multiplier", "expected"),
    [
        (1.0, "kW", 0, (1000.0, "W")),
        (2.0, "kvar", 0, (2000.0, "var")),
        (3.0, "kVA", 0, (3000.0, "VA")),
        (5.0, "W", -3, (0.005, "W")),
        (7.0, "Custom", 1, (70.0, "Custom")),
        (None, "Wh", 0, (None, None)),
    ],
)
def test_si(
    value: float | None, unit: str, multiplier: int, expected: tuple[float | None, str | None]
) -> None:
    got = meter.si(value, unit, multiplier)
    assert got[1] == expected[1]
    assert got[0] == pytest.approx(expected[0])
