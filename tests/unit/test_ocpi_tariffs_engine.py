"""The tariff engine against the OCPI 2.2.1 mod_tariffs examples, computed by hand.

Each test builds the tariff the example describes (our own JSON, shaped as the spec's
Tariff object), a session as the example tells it, and checks the cost the example
states. Where the spec's narrative contradicts its own normative step_size rules
(OCPI 2.2.1 mod_cdrs "step_size", added in 2.2.1; ocpi/ocpi issue #396), the test
follows the rules and says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ampyre.domain.pricing import (
    CdrDimensionType,
    PricedSession,
    charging_period_json,
    price_session,
    priced_session_json,
)
from ampyre.domain.tariff_json import tariff_from_json
from ampyre.domain.tariffs import Price, Tariff
from ampyre.domain.usage import Segment, simple_usage, usage_from_segments

D = Decimal
MONDAY = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday (UTC is the local zone unless said)
SATURDAY = datetime(2025, 1, 11, tzinfo=UTC)


def tariff(*elements: dict[str, Any], **extra: Any) -> Tariff:
    return tariff_from_json(
        {
            "country_code": "NL",
            "party_id": "AMP",
            "id": "t1",
            "currency": "EUR",
            "elements": list(elements),
            "last_updated": "2025-01-01T00:00:00Z",
            **extra,
        }
    )


def pc(kind: str, price: float, step: int = 1, vat: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def el(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def cost(s: PricedSession) -> tuple[Decimal, Decimal | None]:
    return s.total_cost.excl_vat, s.total_cost.incl_vat


def at(day: datetime, hh: int, mm: int) -> datetime:
    return day.replace(hour=hh, minute=mm)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# ---------------------------------------------------------------- energy, flat, limits


def test_energy_only_025_per_kwh() -> None:
    """mod_tariffs "Simple Tariff example 0.25 euro per kWh": 20 kWh -> 5.00 / 5.50."""
    t = tariff(el(pc("ENERGY", 0.25, 1, 10)))
    s = price_session(t, simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20)))
    assert cost(s) == (D("5.00"), D("5.50"))
    assert s.total_energy == D(20)
    assert s.total_energy_cost == Price(D("5.00"), D("5.50"))
    assert s.total_fixed_cost is None


def test_start_fee_and_energy() -> None:
    """ "0.25 euro per kWh + start fee": 20 kWh -> 5.50 / 6.10."""
    t = tariff(el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 1, 10)))
    s = price_session(t, simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20)))
    assert cost(s) == (D("5.50"), D("6.10"))
    assert s.total_fixed_cost == Price(D("0.50"), D("0.60"))


def test_minimum_price() -> None:
    """ "0.25 euro per kWh + minimum price" 0.50 / 0.55: 20 kWh -> 5.00 / 5.50, but less
    than 2 kWh costs the minimum."""
    t = tariff(el(pc("ENERGY", 0.25, 1, 10)), min_price={"excl_vat": 0.50, "incl_vat": 0.55})
    big = price_session(t, simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20)))
    assert cost(big) == (D("5.00"), D("5.50"))
    assert big.price_limit is None
    small = price_session(t, simple_usage(MONDAY, charging=minutes(10), energy_kwh=D(1)))
    assert cost(small) == (D("0.50"), D("0.55"))
    assert small.price_limit == "min_price"


def test_maximum_price() -> None:
    """ "0.25 euro per kWh + start fee + max price" 10 / 11: 50 kWh -> 10.00 / 11.00;
    30 kWh -> 8.00 / 8.85."""
    t = tariff(
        el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 1, 10)),
        max_price={"excl_vat": 10, "incl_vat": 11},
        end_date_time="2019-06-30T23:59:59Z",
    )
    capped = price_session(t, simple_usage(MONDAY, charging=minutes(300), energy_kwh=D(50)))
    assert cost(capped) == (D("10.00"), D("11.00"))
    assert capped.price_limit == "max_price"
    below = price_session(t, simple_usage(MONDAY, charging=minutes(200), energy_kwh=D(30)))
    assert cost(below) == (D("8.00"), D("8.85"))


def test_min_and_max_price_apply_to_excl_and_incl_separately() -> None:
    """mod_tariffs 11.3.1 notes: each bound applies to excl. and incl. VAT on its own.
    0.5 kWh at 1.00 with 100 % VAT: 0.50 / 1.00; min 0.40 / 1.20 lifts only incl."""
    t = tariff(el(pc("ENERGY", 1.00, 1, 100)), min_price={"excl_vat": 0.40, "incl_vat": 1.20})
    s = price_session(t, simple_usage(MONDAY, charging=minutes(10), energy_kwh=D("0.5")))
    assert cost(s) == (D("0.50"), D("1.20"))


def test_no_vat_given_leaves_incl_vat_unknown() -> None:
    """mod_tariffs "First hour free energy example": no VAT given, so the cost incl. VAT
    cannot be computed (incl_vat absent); a 0 % VAT is a known VAT."""
    unknown = price_session(
        tariff(el(pc("ENERGY", 0.20))),
        simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(10)),
    )
    assert cost(unknown) == (D("2.00"), None)
    zero = price_session(
        tariff(el(pc("ENERGY", 0.20, 1, 0))),
        simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(10)),
    )
    assert cost(zero) == (D("2.00"), D("2.00"))


def test_free_of_charge() -> None:
    """mod_tariffs "Free of Charge Tariff example": FLAT 0.00."""
    s = price_session(
        tariff(el(pc("FLAT", 0))),
        simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(10), parking=minutes(30)),
    )
    assert cost(s) == (D(0), D(0))


# ---------------------------------------------------------------- time and parking


def test_two_euro_per_hour_charging_time() -> None:
    """ "Simple Tariff example 2 euro per hour": 2.5 h -> 5.00 / 5.50; parking is free."""
    t = tariff(el(pc("TIME", 2.00, 60, 10)))
    s = price_session(
        t, simple_usage(MONDAY, charging=minutes(150), energy_kwh=D(20), parking=minutes(30))
    )
    assert cost(s) == (D("5.00"), D("5.50"))
    assert s.total_time == D("3")
    assert s.total_parking_time == D("0.5")
    assert s.total_parking_cost is None


def test_three_per_hour_five_per_hour_parking() -> None:
    """ "3 euro per hour, 5 euro per hour parking": 150 min + 42 min parking (billed 45)
    -> 11.25 / 12.75."""
    t = tariff(el(pc("TIME", 3.00, 60, 10), pc("PARKING_TIME", 5.00, 300, 20)))
    s = price_session(
        t, simple_usage(MONDAY, charging=minutes(150), energy_kwh=D(30), parking=minutes(42))
    )
    assert cost(s) == (D("11.25"), D("12.75"))
    assert s.total_time_cost == Price(D("7.50"), D("8.25"))
    assert s.total_parking_cost == Price(D("3.75"), D("4.50"))


def test_energy_start_fee_and_parking() -> None:
    """ "0.25 euro per kWh + parking fee + start fee": 20 kWh, parked 40 min (billed 45)
    -> 7.00 / 7.90."""
    t = tariff(
        el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 100, 10), pc("PARKING_TIME", 2.00, 900, 20))
    )
    s = price_session(
        t, simple_usage(MONDAY, charging=minutes(120), energy_kwh=D(20), parking=minutes(40))
    )
    assert cost(s) == (D("7.00"), D("7.90"))


def test_ad_hoc_alt_text_time_in_five_minute_steps() -> None:
    """ "Ad-Hoc simple Tariff example": 1.90/h, 5.2 % VAT, 2.5 h -> 4.75 excl; incl
    4.997 (the spec rounds it to 5.00 for display)."""
    t = tariff(
        el(pc("TIME", 1.90, 300, 5.2)),
        tariff_alt_text=[{"language": "en", "text": "2 euro p/hour including VAT."}],
    )
    s = price_session(t, simple_usage(MONDAY, charging=minutes(150), energy_kwh=D(10)))
    assert cost(s) == (D("4.75"), D("4.997"))


def test_energy_step_of_100_wh() -> None:
    """ "Simple Tariff example with alternative URL", energy part: billed per 0.1 kWh,
    20.45 kWh -> 20.5 kWh: 5.125 at 0.25 (the spec's "5.50" is an arithmetic slip; its
    real-time variant at 0.22 gives the stated 4.51 / 4.96)."""
    s = price_session(
        tariff(el(pc("ENERGY", 0.25, 100, 10))),
        simple_usage(MONDAY, charging=minutes(90), energy_kwh=D("20.45")),
    )
    assert cost(s) == (D("5.125"), D("5.6375"))
    cheap = price_session(
        tariff(el(pc("ENERGY", 0.22, 100, 10))),
        simple_usage(MONDAY, charging=minutes(90), energy_kwh=D("20.45")),
    )
    assert cost(cheap) == (D("4.51"), D("4.961"))


def test_energy_step_sizes_of_the_price_component_note() -> None:
    """mod_tariffs 11.4.2 note: 115.2 Wh at 0.25/kWh is billed as 116 Wh (0.029) with
    step 1, 125 Wh with step 25 (0.03125), 500 Wh with step 500 (0.125)."""
    for step, expected in ((1, "0.029"), (25, "0.0313"), (500, "0.125")):
        s = price_session(
            tariff(el(pc("ENERGY", 0.25, step))),
            simple_usage(MONDAY, charging=minutes(1), energy_kwh=D("0.1152")),
        )
        assert s.total_cost.excl_vat == D(expected), step


# ---------------------------------------------------------------- complex and step_size


def complex_tariff() -> Tariff:
    """mod_tariffs "Complex Tariff example"."""
    weekdays = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
    return tariff(
        el(pc("FLAT", 2.50, 1, 15)),
        el(pc("TIME", 1.00, 900, 20), max_current=32),
        el(pc("TIME", 2.00, 600, 20), min_current=32, day_of_week=weekdays),
        el(pc("TIME", 1.25, 600, 20), min_current=32, day_of_week=["SATURDAY", "SUNDAY"]),
        el(
            pc("PARKING_TIME", 5.00, 300, 10),
            start_time="09:00",
            end_time="18:00",
            day_of_week=weekdays,
        ),
        el(
            pc("PARKING_TIME", 6.00, 300, 10),
            start_time="10:00",
            end_time="17:00",
            day_of_week=["SATURDAY"],
        ),
    )


def test_complex_monday_morning() -> None:
    """Monday 09:30, 147 min charging at 16 A, 42 min parking. Under the 2.2.1 step_size
    rules charging time is not rounded when parking follows and is billed: flat 2.50 +
    147 min at 1.00/h (2.45) + 45 min parking at 5.00/h (3.75) = 8.70 excl; incl 2.875 +
    2.94 + 4.125 = 9.94. (The narrative's 8.75 rounds charging to 150 min too.)"""
    usage = simple_usage(
        at(MONDAY, 9, 30),
        charging=minutes(147),
        energy_kwh=D(8),
        parking=minutes(42),
        current_a=D(16),
    )
    s = price_session(complex_tariff(), usage)
    assert cost(s) == (D("8.70"), D("9.94"))


def test_complex_saturday_afternoon() -> None:
    """Saturday 13:30, 114 min at 43 A, 71 min parking (billed 75 at 6.00/h): 2.50 +
    2.375 + 7.50 = 12.375 excl; incl 2.875 + 2.85 + 8.25 = 13.975 (the figures of the
    2.2.1 bug-fix text)."""
    usage = simple_usage(
        at(SATURDAY, 13, 30),
        charging=minutes(114),
        energy_kwh=D(40),
        parking=minutes(71),
        current_a=D(43),
    )
    s = price_session(complex_tariff(), usage)
    assert cost(s) == (D("12.375"), D("13.975"))
    assert s.total_time_cost == Price(D("2.375"), D("2.85"))
    assert s.total_parking_cost == Price(D("7.50"), D("8.25"))


def step_tariff() -> Tariff:
    """mod_tariffs "Example Tariff to explain the step_size" (tariff_14)."""
    return tariff(
        el(
            pc("TIME", 1.20, 1800),
            pc("PARKING_TIME", 1.00, 900),
            start_time="00:00",
            end_time="17:00",
        ),
        el(
            pc("TIME", 2.40, 900),
            pc("PARKING_TIME", 1.00, 900),
            start_time="17:00",
            end_time="20:00",
        ),
        el(pc("TIME", 2.40, 900), start_time="20:00", end_time="23:59"),
    )


def test_step_size_switching_element_charging_only() -> None:
    """ "switching to different Tariff Element #2": 16:35, 35 min charging: 25 min before
    17:00 (0.50) + the rest of the 45 billed minutes after (20 min, 0.80) = 1.30."""
    s = price_session(
        step_tariff(), simple_usage(at(MONDAY, 16, 35), charging=minutes(35), energy_kwh=D(5))
    )
    assert s.total_cost.excl_vat == D("1.30")
    assert [p.cost.excl_vat for p in s.periods] == [D("0.50"), D("0.80")]
    assert [p.period.start_date_time for p in s.periods] == [at(MONDAY, 16, 35), at(MONDAY, 17, 0)]


def test_step_size_switching_to_free_parking() -> None:
    """ "switching to Free-of-Charge Tariff Element": 19:55, 10 min charging, 2 min
    parking after 20:00 (free): 0.20 + 0.40 = 0.60."""
    s = price_session(
        step_tariff(),
        simple_usage(at(MONDAY, 19, 55), charging=minutes(10), energy_kwh=D(2), parking=minutes(2)),
    )
    assert s.total_cost.excl_vat == D("0.60")


def test_step_size_switching_element_with_parking() -> None:
    """ "switching to different Tariff Element #1": 16:55, 10 min charging, 2 min
    parking. The 2.2.1 step_size rules (mod_cdrs: TIME is not rounded when parking
    follows; the parking total is) give 0.10 + 0.20 + 15 min parking 0.25 = 0.55; the
    example's narrative (0.50) folds the parking into rounded charging time instead."""
    s = price_session(
        step_tariff(),
        simple_usage(at(MONDAY, 16, 55), charging=minutes(10), energy_kwh=D(2), parking=minutes(2)),
    )
    assert s.total_cost.excl_vat == D("0.55")


def test_cdr_step_size_examples() -> None:
    """mod_cdrs "step_size" examples: energy 0.20 before and 0.27 after 17:00, step
    500 Wh, 4.3 + 1.1 kWh -> 5.5 kWh billed (0.86 + 0.297 + 0.027); charging 21 min and
    parking 16 min, steps 10 min -> 21 min charging, 20 min parking."""
    energy = tariff(
        el(pc("ENERGY", 0.20, 500), start_time="00:00", end_time="17:00"),
        el(pc("ENERGY", 0.27, 500)),
    )
    usage = usage_from_segments(
        at(MONDAY, 16, 0),
        [Segment(minutes(60), D("4.3")), Segment(minutes(30), D("1.1"))],
    )
    assert price_session(energy, usage).total_cost.excl_vat == D("1.184")
    timed = tariff(el(pc("TIME", 1.00, 600), pc("PARKING_TIME", 2.00, 600)))
    s = price_session(
        timed, simple_usage(MONDAY, charging=minutes(21), energy_kwh=D(3), parking=minutes(16))
    )
    assert s.total_time_cost == Price(D("0.35"))
    assert s.total_parking_cost == Price(D("0.6667"))


# ---------------------------------------------------------------- restrictions


def test_first_hour_free_parking_and_first_kwh_free() -> None:
    """mod_tariffs "First hour free energy example" (durations count from the session
    start). 20 kWh in 1 h, then 2.75 h parked: energy 19 kWh x 0.20 = 3.80; parking
    from 1 h to 3 h at 2.00 (4.00) and 3 h to 3.75 h at 3.00 (2.25) = 10.05. (The
    narrative's 7.30 assumes charging took no time.)"""
    t = tariff(
        el(pc("PARKING_TIME", 0.0, 60), min_duration=0, max_duration=3600),
        el(pc("PARKING_TIME", 2.0, 60), min_duration=3600, max_duration=10800),
        el(pc("PARKING_TIME", 3.0, 60), min_duration=10800),
        el(pc("ENERGY", 0.0), max_kwh=1.0),
        el(pc("ENERGY", 0.2), min_kwh=1.0),
    )
    usage = simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20), parking=minutes(165))
    s = price_session(t, usage)
    assert cost(s) == (D("10.05"), None)
    starts = [p.period.start_date_time - MONDAY for p in s.periods]
    # Charging: the first kWh (3 min at 20 kW), then the rest; parking: until 3 h, after.
    assert starts == [timedelta(0), minutes(3), minutes(60), minutes(180)]
    first = s.periods[0].period.dimensions
    assert (first[0].type, first[0].volume) == (CdrDimensionType.ENERGY, D(1))


def test_max_power_restriction() -> None:
    """ "Tariff with max_power Tariff Restrictions": 1 kWh at 6 kW, 40 kWh at 48 kW,
    0.5 kWh at 4 kW -> 0.20 + 20.00 + 0.10 = 20.30."""
    t = tariff(
        el(pc("ENERGY", 0.20, 1, 20), max_power=16),
        el(pc("ENERGY", 0.35, 1, 20), max_power=32),
        el(pc("ENERGY", 0.50, 1, 20)),
    )
    usage = usage_from_segments(
        MONDAY,
        [
            Segment(minutes(10), D(1)),
            Segment(minutes(50), D(40)),
            Segment(minutes(7.5), D("0.5")),
        ],
    )
    s = price_session(t, usage)
    assert s.total_cost.excl_vat == D("20.30")
    assert len(s.periods) == 3
    dims = {d.type: d.volume for d in s.periods[1].period.dimensions}
    assert dims[CdrDimensionType.MAX_POWER] == D(48)


def test_max_duration_restriction() -> None:
    """ "Tariff with max_duration Tariff Restrictions": 40 min, 5 kWh in the first 30
    min (free) and 1.2 kWh in the last 10 (0.25/kWh) -> 0.30."""
    t = tariff(
        el(pc("ENERGY", 0.00, 1, 20), max_duration=1800),
        el(pc("ENERGY", 0.25, 1, 20), max_duration=3600),
        el(pc("ENERGY", 0.40, 1, 20)),
    )
    usage = usage_from_segments(
        MONDAY, [Segment(minutes(30), D(5)), Segment(minutes(10), D("1.2"))]
    )
    assert price_session(t, usage).total_cost.excl_vat == D("0.30")


def test_time_of_day_in_the_location_time_zone() -> None:
    """Restrictions are local time: 15:30-16:30 UTC in January is 16:30-17:30 in
    Amsterdam, so half is billed at the after-17:00 price."""
    t = tariff(el(pc("ENERGY", 0.20), start_time="00:00", end_time="17:00"), el(pc("ENERGY", 0.30)))
    usage = simple_usage(at(MONDAY, 15, 30), charging=minutes(60), energy_kwh=D(10))
    assert price_session(t, usage).total_cost.excl_vat == D("2.00")
    local = price_session(t, usage, ZoneInfo("Europe/Amsterdam"))
    assert local.total_cost.excl_vat == D("2.50")
    assert len(local.periods) == 2


def test_time_window_over_midnight_dates_and_weekdays() -> None:
    """end_time before start_time spans midnight; end_date is exclusive; day_of_week
    is the local day."""
    night = tariff(el(pc("TIME", 1.0), start_time="22:00", end_time="06:00"), el(pc("TIME", 2.0)))
    s = price_session(
        night, simple_usage(at(MONDAY, 21, 0), charging=minutes(120), energy_kwh=D(5))
    )
    assert s.total_cost.excl_vat == D("3.0")  # 21-22 at 2.00, 22-23 at 1.00
    dated = tariff(
        el(pc("TIME", 1.0), start_date="2025-01-06", end_date="2025-01-07"), el(pc("TIME", 5.0))
    )
    s = price_session(
        dated, simple_usage(at(MONDAY, 23, 0), charging=minutes(120), energy_kwh=D(5))
    )
    assert s.total_cost.excl_vat == D("6.0")  # Monday 1 h at 1.00, Tuesday 1 h at 5.00
    weekend = tariff(el(pc("TIME", 0.0), day_of_week=["SATURDAY", "SUNDAY"]), el(pc("TIME", 4.0)))
    assert price_session(
        weekend, simple_usage(SATURDAY, charging=minutes(60), energy_kwh=D(1))
    ).total_cost.excl_vat == D(0)
    assert price_session(
        weekend, simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(1))
    ).total_cost.excl_vat == D(4)


def test_unknown_current_does_not_exclude_an_element() -> None:
    """A station that reports no current: the current restrictions do not decide, the
    first TIME element is used."""
    usage = simple_usage(at(MONDAY, 9, 30), charging=minutes(60), energy_kwh=D(8))
    s = price_session(complex_tariff(), usage)
    assert s.total_time_cost == Price(D("1.00"), D("1.20"))


# ---------------------------------------------------------------- reservations


def test_reservation_price() -> None:
    """ "Tariff example with reservation price": reservation 5.00/h per minute, start fee
    0.50, energy 0.25; started 15 min after the reservation, 20 kWh -> 6.75 / 7.60."""
    t = tariff(
        el(pc("TIME", 5.00, 60, 20), reservation="RESERVATION"),
        el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 1, 10)),
    )
    usage = simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20), reservation=minutes(15))
    s = price_session(t, usage)
    assert cost(s) == (D("6.75"), D("7.60"))
    assert s.total_reservation_cost == Price(D("1.25"), D("1.50"))
    first = s.periods[0].period
    assert first.start_date_time == MONDAY - minutes(15)
    assert [d.type for d in first.dimensions] == [CdrDimensionType.RESERVATION_TIME]
    assert s.start_date_time == MONDAY - minutes(15)


def test_reservation_fee_and_time() -> None:
    """ "reservation price and fee": 2.00 fee + 5.00/h per 5 min; 13 min (billed 15)
    -> 8.75 / 10.00."""
    t = tariff(
        el(pc("FLAT", 2.00, 1, 20), pc("TIME", 5.00, 300, 20), reservation="RESERVATION"),
        el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 1, 10)),
    )
    usage = simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20), reservation=minutes(13))
    assert cost(price_session(t, usage)) == (D("8.75"), D("10.00"))


def test_reservation_with_expire_fee() -> None:
    """ "reservation price and expire fee": 2.00/h per 10 min; used after 22 min (billed
    30) -> 6.50 / 7.30; expired after 1 h -> 2.00 + the 4.00 fee = 6.00 / 7.20."""
    t = tariff(
        el(pc("FLAT", 4.00, 1, 20), reservation="RESERVATION_EXPIRES"),
        el(pc("TIME", 2.00, 600, 20), reservation="RESERVATION"),
        el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 1, 10)),
    )
    used = simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20), reservation=minutes(22))
    assert cost(price_session(t, used)) == (D("6.50"), D("7.30"))
    expired = simple_usage(
        MONDAY,
        charging=timedelta(0),
        energy_kwh=D(0),
        reservation=minutes(60),
        reservation_expired=True,
    )
    s = price_session(t, expired)
    assert cost(s) == (D("6.00"), D("7.20"))
    assert s.total_fixed_cost is None  # no session, no start fee


def test_reservation_with_expire_time() -> None:
    """ "reservation time and expire time": 3.00/h, 6.00/h when it expires, per 10 min;
    used after 22 min -> 7.00 / 7.90; expired after 1.5 h -> 9.00 / 10.80."""
    t = tariff(
        el(pc("TIME", 6.00, 600, 20), reservation="RESERVATION_EXPIRES"),
        el(pc("TIME", 3.00, 600, 20), reservation="RESERVATION"),
        el(pc("FLAT", 0.50, 1, 20), pc("ENERGY", 0.25, 1, 10)),
    )
    used = simple_usage(MONDAY, charging=minutes(60), energy_kwh=D(20), reservation=minutes(22))
    assert cost(price_session(t, used)) == (D("7.00"), D("7.90"))
    expired = simple_usage(
        MONDAY,
        charging=timedelta(0),
        energy_kwh=D(0),
        reservation=minutes(90),
        reservation_expired=True,
    )
    assert cost(price_session(t, expired)) == (D("9.00"), D("10.80"))


# ---------------------------------------------------------------- periods and JSON


def test_periods_follow_charging_state_and_carry_ocpi_dimensions() -> None:
    t = tariff(el(pc("ENERGY", 0.30, 1, 21), pc("PARKING_TIME", 1.00, 60, 21)))
    usage = simple_usage(
        MONDAY,
        charging=minutes(90),
        energy_kwh=D(15),
        parking=minutes(30),
        power_kw=D(10),
        current_a=D(48),
    )
    s = price_session(t, usage)
    assert len(s.charging_periods) == 2
    charging, parking = (charging_period_json(p) for p in s.charging_periods)
    assert charging == {
        "start_date_time": "2025-01-06T00:00:00Z",
        "dimensions": [
            {"type": "ENERGY", "volume": 15},
            {"type": "TIME", "volume": 1.5},
            {"type": "MAX_POWER", "volume": 10},
            {"type": "MIN_POWER", "volume": 10},
            {"type": "MAX_CURRENT", "volume": 48},
            {"type": "MIN_CURRENT", "volume": 48},
        ],
        "tariff_id": "t1",
    }
    assert parking["dimensions"] == [
        {"type": "ENERGY", "volume": 0},
        {"type": "PARKING_TIME", "volume": 0.5},
    ]
    assert sum((p.cost.excl_vat for p in s.periods), D(0)) == s.total_cost.excl_vat
    body = priced_session_json(s)
    assert body["total_cost"] == {"excl_vat": 5, "incl_vat": 6.05}
    assert body["charging_periods"][1]["end_date_time"] == "2025-01-06T02:00:00Z"
    assert body["tariff"]["id"] == "t1"
    assert body["total_time"] == 2


def test_empty_session_still_pays_its_flat_fee() -> None:
    t = tariff(el(pc("FLAT", 1.00, 1, 21), pc("ENERGY", 0.30)))
    s = price_session(t, simple_usage(MONDAY, charging=timedelta(0), energy_kwh=D(0)))
    assert cost(s) == (D("1.00"), D("1.21"))
    assert len(s.periods) == 1
