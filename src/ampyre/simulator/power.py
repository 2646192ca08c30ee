"""A cheap model of an EV charging on a station: power curve, state of charge, meter.

Pure arithmetic (no I/O, no clocks): the caller advances it by elapsed seconds. The
curve is the usual shape of a real session:

* ramp-up: power rises linearly over the first ``ramp_seconds`` (contactor closes, the
  EV negotiates and raises its current step by step);
* plateau: constant power, the smaller of the station's and the EV's maximum;
* taper: above ``taper_soc`` (default 80 %) the battery management system lowers the
  power linearly towards ``floor_fraction`` of the plateau at 100 % (constant-voltage
  phase); at 100 % it draws nothing.

The meter is a lifetime register (Wh) that starts at a station-specific value and only
ever grows; sessions report ``register_wh`` (whole Wh, floored so it never decreases).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NOMINAL_VOLTAGE_AC = 230.0  # V phase-to-neutral
MAX_AC_KW = 22.0  # above this the station is modelled as a DC charger
DC_VOLTAGE_EMPTY = 360.0  # V of a 400 V-class pack at 0 % SoC, rising with SoC
DC_VOLTAGE_FULL = 410.0
MAX_STEP = 5.0  # seconds: longer advances are integrated in steps of at most this


@dataclass(slots=True)
class EvModel:
    """The parameters of one session (station limit, EV, battery)."""

    station_max_w: float = 22_000.0
    ev_max_w: float = 11_000.0
    capacity_wh: float = 60_000.0
    start_soc: float = 20.0  # percent
    ramp_seconds: float = 10.0
    taper_soc: float = 80.0
    floor_fraction: float = 0.1
    phases: int = 3  # 1 or 3 for AC; 0 = DC
    # The station's current limit for this EV from its charging profiles (W for all the
    # EV's phases; None: no profile limits it). Set by simulator/smart_charging.py.
    cap_w: float | None = None

    def __post_init__(self) -> None:
        if self.station_max_w <= 0 or self.ev_max_w <= 0:
            raise ValueError("maximum power must be > 0")
        if self.capacity_wh <= 0:
            raise ValueError("battery capacity must be > 0")
        if not 0.0 <= self.start_soc <= 100.0:
            raise ValueError("start SoC must be within 0..100")
        if not 0.0 < self.taper_soc <= 100.0:
            raise ValueError("taper SoC must be within 0..100")
        if self.phases not in (0, 1, 3):
            raise ValueError("phases must be 0 (DC), 1 or 3")

    @property
    def plateau_w(self) -> float:
        return min(self.station_max_w, self.ev_max_w)

    @property
    def dc(self) -> bool:
        return self.phases == 0


def power_at(model: EvModel, soc: float, elapsed: float) -> float:
    """Power in W drawn ``elapsed`` seconds into charging at ``soc`` percent."""
    if soc >= 100.0:
        return 0.0
    power = model.plateau_w
    if model.ramp_seconds > 0 and elapsed < model.ramp_seconds:
        power *= max(elapsed, 0.0) / model.ramp_seconds
    if soc > model.taper_soc:
        span = 100.0 - model.taper_soc
        fraction = model.floor_fraction + (1.0 - model.floor_fraction) * (100.0 - soc) / span
        power = min(power, model.plateau_w * fraction)
    if model.cap_w is not None:
        power = min(power, model.cap_w)  # the installed composite schedule's limit
    return max(power, 0.0)


@dataclass(slots=True)
class Sample:
    """One reading of the meter and the EV, ready to be turned into sampled values."""

    register_wh: int  # lifetime energy register, floored
    power_w: float
    soc: float
    currents_a: tuple[float, ...]  # per phase (AC) or one value (DC)
    voltages_v: tuple[float, ...]  # per phase (AC, phase-to-neutral) or one value (DC)
    dc: bool = False  # one DC value rather than one AC phase (a single-phase car: L1)


@dataclass(slots=True)
class Charge:
    """A charging EV on a meter: advance it, read it."""

    model: EvModel
    register_wh: float  # lifetime register at plug-in (Wh)
    soc: float = field(init=False)
    elapsed: float = 0.0  # seconds of charging so far
    power_w: float = 0.0
    energy_wh: float = 0.0  # delivered in this session
    charging: bool = True  # False = suspended (no power drawn)

    def __post_init__(self) -> None:
        if self.register_wh < 0:
            raise ValueError("meter register must be >= 0")
        self.soc = self.model.start_soc

    def advance(self, seconds: float) -> None:
        """Integrate power over ``seconds`` (midpoint rule, steps of at most MAX_STEP)."""
        if seconds <= 0:
            return
        steps = max(1, math.ceil(seconds / MAX_STEP))
        dt = seconds / steps
        model = self.model
        for _ in range(steps):
            if not self.charging or self.soc >= 100.0:
                self.power_w = 0.0
                self.elapsed += dt
                continue
            p0 = power_at(model, self.soc, self.elapsed)
            mid_soc = self.soc + p0 * dt / 7200.0 / model.capacity_wh * 100.0
            p = power_at(model, mid_soc, self.elapsed + dt / 2)
            wh = p * dt / 3600.0
            self.register_wh += wh
            self.energy_wh += wh
            self.soc = min(100.0, self.soc + wh / model.capacity_wh * 100.0)
            self.elapsed += dt
            self.power_w = power_at(model, self.soc, self.elapsed)

    def cap(self, watts: float | None) -> None:
        """A new limit (the installed composite schedule's) applies from now on: the
        power drawn follows at once, not at the next advance."""
        self.model.cap_w = watts
        if self.charging:
            self.power_w = power_at(self.model, self.soc, self.elapsed)

    def sample(self) -> Sample:
        model = self.model
        power = self.power_w if self.charging else 0.0
        if model.dc:
            volts = DC_VOLTAGE_EMPTY + (DC_VOLTAGE_FULL - DC_VOLTAGE_EMPTY) * self.soc / 100.0
            currents: tuple[float, ...] = (round(power / volts, 1),)
            voltages: tuple[float, ...] = (round(volts, 1),)
        else:
            per_phase = power / (model.phases * NOMINAL_VOLTAGE_AC)
            currents = tuple(round(per_phase, 1) for _ in range(model.phases))
            voltages = tuple(NOMINAL_VOLTAGE_AC for _ in range(model.phases))
        return Sample(
            register_wh=int(self.register_wh),
            power_w=round(power, 1),
            soc=round(self.soc, 1),
            currents_a=currents,
            voltages_v=voltages,
            dc=model.dc,
        )


def default_phases(station_max_w: float) -> int:
    """3-phase AC up to 22 kW, DC above."""
    return 3 if station_max_w <= MAX_AC_KW * 1000 else 0
