"""Meter values from the wire into domain readings, for both protocol families.

Everything the station sent is kept (measurand, phase, location, context, unit, format,
signed data, the value's text); the spec defaults are filled in only where a field is
absent (OCPP 1.6 section 7.43 SampledValue, OCPP 2.0.1 SampledValueType and
UnitOfMeasureType), and an SI value/unit is computed beside it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from ampyre.domain.transactions import ENERGY_REGISTER, MeterReading, SampledValue
from ampyre.protocol.timefmt import from_ocpp

DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"
DEFAULT_FORMAT_16 = "Raw"
# What the database's integer columns hold (evse, connector, seqNo, multiplier, ids); a
# larger number cannot be stored, so it is refused rather than failing the commit.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# A 1.6 Raw value is a decimal number; float() alone would also read "1_000", "nan",
# "infinity" or surrounding spaces.
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# The width of the SI unit column: a longer unknown unit has no SI form.
_SI_UNIT_MAX = 16

# unit as sent -> (SI unit, factor). Temperatures are affine: see _si().
_SCALE: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1e3),
    "MWh": ("Wh", 1e6),
    "varh": ("varh", 1.0),
    "kvarh": ("varh", 1e3),
    "VAh": ("VAh", 1.0),
    "kVAh": ("VAh", 1e3),
    "W": ("W", 1.0),
    "kW": ("W", 1e3),
    "MW": ("W", 1e6),
    "var": ("var", 1.0),
    "kvar": ("var", 1e3),
    "VA": ("VA", 1.0),
    "kVA": ("VA", 1e3),
    "A": ("A", 1.0),
    "V": ("V", 1.0),
    "Hz": ("Hz", 1.0),
    "K": ("K", 1.0),
    "Percent": ("Percent", 1.0),
    "s": ("s", 1.0),
    "ASU": ("ASU", 1.0),
    "B": ("B", 1.0),
    "dB": ("dB", 1.0),
    "dBm": ("dBm", 1.0),
    "Deg": ("Deg", 1.0),
    "Lx": ("Lx", 1.0),
    "m": ("m", 1.0),
    "ms": ("s", 1e-3),
    "RH": ("RH", 1.0),
}
# A measurand sent without a unit: what its value is conventionally expressed in.
_MEASURAND_UNIT = (
    ("Energy.Reactive.", "varh"),
    ("Energy.Apparent.", "VAh"),
    ("Energy.", "Wh"),
    ("Power.Reactive.", "var"),
    ("Power.Factor", ""),
    ("Power.", "W"),
    ("Current.", "A"),
    ("Voltage", "V"),
    ("Frequency", "Hz"),
    ("SoC", "Percent"),
)


class MeterValueError(ValueError):
    """A meter value the station must not send (e.g. a negative energy register)."""


def _default_unit(measurand: str) -> str:
    """OCPP 1.6 / 2.0.1: unit "Wh" when absent and the measurand is an Energy type; for
    other measurands the spec gives no default, so the conventional unit is assumed."""
    for prefix, unit in _MEASURAND_UNIT:
        if measurand.startswith(prefix):
            return unit
    return ""


def si(value: float | None, unit: str, multiplier: int = 0) -> tuple[float | None, str | None]:
    """`value * 10**multiplier` in `unit`, converted to the SI (base) unit; (None, None)
    when that has no finite value (a multiplier or value far out of any meter's range)."""
    if value is None:
        return None, None
    try:
        converted, si_unit = _convert(value * (10.0**multiplier) if multiplier else value, unit)
    except OverflowError:
        return None, None
    if converted is None or not math.isfinite(converted):
        return None, None
    return converted, si_unit


def _convert(scaled: float, unit: str) -> tuple[float | None, str | None]:
    if unit in ("Celsius", "Celcius"):  # 1.6 spells it both ways
        return scaled + 273.15, "K"
    if unit == "Fahrenheit":
        return (scaled - 32.0) * 5.0 / 9.0 + 273.15, "K"
    known = _SCALE.get(unit)
    if known is None:
        # Not a unit we can convert: kept as sent if it can be stored as a unit.
        return (scaled, unit or None) if len(unit) <= _SI_UNIT_MAX else (None, None)
    base, factor = known
    return scaled * factor if factor != 1.0 else scaled, base


def timestamp(text: Any) -> datetime | None:
    """A station's date-time, or None if it is not one (or not representable in UTC,
    like 9999-12-31T23:59:59-05:00)."""
    if not isinstance(text, str):
        return None
    try:
        return from_ocpp(text)
    except OverflowError:
        return None


def fits_int(value: int) -> bool:
    return INT_MIN <= value <= INT_MAX


def _timestamp(text: Any) -> datetime:
    at = timestamp(text)
    if at is None:
        raise MeterValueError(f"meterValue timestamp {str(text)[:40]!r} is not a date-time")
    return at


def _number(text: str) -> float | None:
    if _DECIMAL.fullmatch(text) is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse(
    meter_values: Iterable[dict[str, Any]], sample: Callable[[dict[str, Any]], SampledValue]
) -> tuple[MeterReading, ...]:
    """MeterValue[]: a timestamp each and its sampled values, read by `sample`."""
    return tuple(
        MeterReading(
            _timestamp(mv.get("timestamp")),
            tuple(sample(sv) for sv in mv.get("sampledValue", ())),
        )
        for mv in meter_values
    )


def parse_16(meter_values: Iterable[dict[str, Any]]) -> tuple[MeterReading, ...]:
    """OCPP 1.6 MeterValue[] (MeterValues.req, StopTransaction.req transactionData)."""
    return _parse(meter_values, _sample_16)


def _sample_16(sv: dict[str, Any]) -> SampledValue:
    raw = str(sv.get("value", ""))
    fmt = sv.get("format", DEFAULT_FORMAT_16)
    measurand = sv.get("measurand", ENERGY_REGISTER)
    unit = sv.get("unit") or _default_unit(measurand)
    # SignedData: the value is a signed blob, not a number (1.6 7.43 ValueFormat).
    value = None if fmt == "SignedData" else _number(raw)
    si_value, si_unit = si(value, unit)
    return SampledValue(
        value=value,
        raw_value=raw,
        measurand=measurand,
        phase=sv.get("phase"),
        location=sv.get("location", DEFAULT_LOCATION),
        context=sv.get("context", DEFAULT_CONTEXT),
        unit=unit,
        multiplier=0,
        format=fmt,
        signed=None,
        si_value=si_value,
        si_unit=si_unit,
    )


def _raw_number(value: Any) -> str:
    """The JSON number's text as sent (2.x sends numbers; 1.6 sends strings)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_2x(meter_values: Iterable[dict[str, Any]]) -> tuple[MeterReading, ...]:
    """OCPP 2.0.1 / 2.1 MeterValueType[] (TransactionEvent, MeterValues)."""
    return _parse(meter_values, _sample_2x)


def _sample_2x(sv: dict[str, Any]) -> SampledValue:
    number = sv.get("value")
    value = (
        float(number) if isinstance(number, int | float) and not isinstance(number, bool) else None
    )
    if value is not None and not math.isfinite(value):
        value = None
    measurand = sv.get("measurand", ENERGY_REGISTER)
    uom = sv.get("unitOfMeasure") or {}
    unit = uom.get("unit") or _default_unit(measurand)
    multiplier = int(uom.get("multiplier", 0))
    if not fits_int(multiplier):
        raise MeterValueError(f"unitOfMeasure multiplier {multiplier} is out of range")
    si_value, si_unit = si(value, unit, multiplier)
    signed = sv.get("signedMeterValue")
    return SampledValue(
        value=value,
        raw_value=_raw_number(number),
        measurand=measurand,
        phase=sv.get("phase"),
        location=sv.get("location", DEFAULT_LOCATION),
        context=sv.get("context", DEFAULT_CONTEXT),
        unit=unit,
        multiplier=multiplier,
        format=None,
        signed=dict(signed) if isinstance(signed, dict) else None,
        si_value=si_value,
        si_unit=si_unit,
    )


def is_register(sample: SampledValue) -> bool:
    """A cumulative energy register (what start/stop meter and energy come from)."""
    return sample.measurand.startswith("Energy.") and sample.measurand.endswith(".Register")


def negative_register(readings: Sequence[MeterReading]) -> str | None:
    """What is wrong if an energy register reads below zero (they count up from zero:
    a station fault that would corrupt the transaction's energy), else None."""
    for reading in readings:
        for sample in reading.values:
            if is_register(sample) and sample.si_value is not None and sample.si_value < 0:
                return (
                    f"negative {sample.measurand} reading {sample.raw_value!r} "
                    f"{sample.unit} at {reading.timestamp.isoformat()}"
                )
    return None


def check_registers(readings: Sequence[MeterReading]) -> None:
    """Refuse a negative energy register reading (see negative_register)."""
    problem = negative_register(readings)
    if problem is not None:
        raise MeterValueError(problem)
