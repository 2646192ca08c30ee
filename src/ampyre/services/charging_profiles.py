"""Charging profiles, version-neutral (issue 18 parts 1-3): validated against the spec's
rules and sent in the station's version; what each station has installed, as Ampyre
believes it, reconciled with what the station reports; its composite schedule, computed
and compared with the station's; the station-side inputs (external limits, ISO 15118 EV
charging needs and schedules).

The balancer (services/balancer.py) installs its TxProfiles through `install` and may
take over the answer to EV charging needs (`on_ev_needs`) and hear of external limits
(`on_external_limit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ampyre.config import Settings
from ampyre.domain.charging_profiles import (
    ChargingProfile,
    CompositeSchedule,
    InstalledProfile,
    ProfileInvalid,
    ProfileSource,
    Purpose,
    RateUnit,
    Violation,
)
from ampyre.domain.composite_compare import TOLERANCE, Difference, compare, limits_as_profiles
from ampyre.domain.composite_schedule import composite_schedule, limit_at
from ampyre.domain.ev_needs import (
    ChargingLimit,
    EvChargingNeeds,
    EvChargingSchedule,
    needs_profile,
    needs_schedule,
)
from ampyre.domain.models import OcppVersion, Page, StationReport
from ampyre.domain.profile_rules import check, remote_start_violations, replaced_by
from ampyre.services.charging_profiles_port import (
    ChargingProfileCommands,
    ChargingProfileStore,
    ClearCriteria,
    RunningTransaction,
)
from ampyre.services.clock import utcnow
from ampyre.services.station_port import NOT_CONNECTED, Answer, NotAddressable

log = logging.getLogger(__name__)

_INT32_MAX = 2**31 - 1


class ChargingProfileError(ValueError):
    """A request the station's version cannot serve (the API answers 422)."""

    def __init__(self, message: str, slug: str = "not-in-version") -> None:
        super().__init__(message)
        self.slug = slug


@dataclass(slots=True, frozen=True)
class CompositeView:
    computed: CompositeSchedule
    reported: CompositeSchedule | None = None
    # The station's answer in lower case, or "not_asked" / not_connected / timeout / error.
    status: str = "not_asked"
    matches: bool = False
    differences: list[Difference] = field(default_factory=list)
    answer: Answer | None = None  # the station's, when it was asked


@dataclass(slots=True, frozen=True)
class RefreshResult:
    answer: Answer
    request_id: int
    complete: bool  # the station's last ReportChargingProfiles came in time (or NoProfiles)
    profiles: list[InstalledProfile]


ReportSink = Callable[[StationReport], Awaitable[Any]]


class ChargingProfileService:
    def __init__(
        self,
        store: ChargingProfileStore,
        commands: ChargingProfileCommands,
        settings: Settings,
        report: ReportSink | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings
        self._report = report
        self._clock = clock
        # Set by the balancer (None: Ampyre answers EV needs itself).
        self.on_ev_needs: Callable[[EvChargingNeeds], Awaitable[bool]] | None = None
        self.on_external_limit: Callable[[str, int | None], Awaitable[None]] | None = None
        # Refreshes waiting for their last ReportChargingProfiles (this node only).
        self._waiting: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return self._clock()

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------------ profiles

    async def install(
        self,
        station_id: str,
        evse_id: int,
        profile: ChargingProfile,
        source: ProfileSource = ProfileSource.OPERATOR,
        timeout: float | None = None,
    ) -> Answer:
        """Validate (raising ProfileInvalid), send SetChargingProfile in the station's
        version and, when Accepted, store the profile as installed."""
        version = self._commands.connected_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        v = OcppVersion(version)
        now = self._clock()
        installed = await self._store.installed(station_id)
        running = await self._store.running(station_id)
        check(
            profile,
            v,
            evse_id=evse_id,
            installed=installed,
            transaction_ids=[t.transaction_id for t in running if t.evse_id == evse_id],
            now=now,
        )
        answer = await self._send_profile(station_id, evse_id, profile, timeout)
        if answer.status == "accepted":
            replaced = replaced_by(profile, v, evse_id=evse_id, installed=installed)
            item = InstalledProfile(
                station_id, evse_id, profile, source, installed_at=now, confirmed_at=now
            )
            await self._store.save_installed(item, [r.profile.id for r in replaced])
        return answer

    async def _send_profile(
        self, station_id: str, evse_id: int, profile: ChargingProfile, timeout: float | None
    ) -> Answer:
        try:
            return await self._commands.set_profile(
                station_id, evse_id, profile, self._wait(timeout)
            )
        except NotAddressable as exc:
            raise ProfileInvalid([Violation("/", str(exc))]) from None

    def _wait(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self._settings.call_timeout

    async def clear(
        self,
        station_id: str,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """ClearChargingProfile; the stored profiles it clears are forgotten once the
        station answers (Accepted, or Unknown: it has none of them either)."""
        if purpose is Purpose.EXTERNAL:
            # OCPP 2.0.1 K10.FR.06: external constraints are the station's, not the CSMS's.
            raise ProfileInvalid(
                [
                    Violation(
                        "/purpose",
                        "a CSMS cannot clear ChargingStationExternalConstraints",
                        "OCPP 2.0.1 K10.FR.06",
                    )
                ]
            )
        version = self._commands.connected_version(station_id)
        if version is None:
            return Answer(NOT_CONNECTED, detail="the station is not connected")
        # A profile id names one profile; the criteria select several (1.6 5.5, 2.0.1
        # K10.FR.02: not both).
        if profile_id is not None:
            criteria = ClearCriteria(profile_id)
        else:
            criteria = ClearCriteria(None, evse_id, purpose, stack_level)
        try:
            answer = await self._commands.clear_profiles(station_id, criteria, self._wait(timeout))
        except NotAddressable as exc:
            raise ProfileInvalid([Violation("/purpose", str(exc))]) from None
        if answer.status in ("accepted", "unknown"):
            await self._store.remove_installed(station_id, criteria)
        return answer

    async def installed(
        self, station_id: str, evse_id: int | None = None
    ) -> list[InstalledProfile]:
        return await self._store.installed(station_id, evse_id)

    async def list_installed(
        self,
        limit: int,
        offset: int,
        station_id: str | None = None,
        purpose: Purpose | None = None,
        source: ProfileSource | None = None,
    ) -> Page:
        return await self._store.list_installed(limit, offset, station_id, purpose, source)

    # ------------------------------------------------------------------ reconcile

    async def refresh(self, station_id: str, timeout: float | None = None) -> RefreshResult:
        """2.x GetChargingProfiles for every profile (K09): the stored set becomes what
        the station reports (ReportChargingProfiles, in parts until tbc is false;
        NoProfiles: none). Waits up to `timeout` for the last part, which may also come
        later (or to another node): it is applied whenever it comes."""
        version = self._commands.connected_version(station_id)
        if version == OcppVersion.V16.value:
            raise ChargingProfileError("OCPP 1.6 has no GetChargingProfiles")
        request_id = secrets.randbelow(_INT32_MAX) + 1
        key = (station_id, request_id)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[key] = done
        wait = self._wait(timeout)
        try:
            answer = await self._commands.get_profiles(station_id, request_id, None, wait)
            complete = False
            if answer.status == "noprofiles":
                # K09: the station has no profiles at all.
                await self._store.reported(station_id, request_id, [], True, self._clock())
                complete = True
            elif answer.status == "accepted":
                await asyncio.wait({done}, timeout=wait)
                complete = done.done()
        finally:
            self._waiting.pop(key, None)
        profiles = await self._store.installed(station_id)
        return RefreshResult(answer, request_id, complete, profiles)

    async def profiles_reported(
        self,
        station_id: str,
        request_id: int,
        items: Sequence[InstalledProfile],
        final: bool,
    ) -> None:
        """A ReportChargingProfiles part (K09): its profiles are stored as confirmed; the
        last part (tbc false) ends the reconciliation."""
        now = self._clock()
        running = await self._store.running(station_id) if items else []
        confirmed = []
        for item in items:
            profile = item.profile
            if profile.purpose is Purpose.TX and profile.transaction_id is None:
                # A TxProfile reported without its transaction (one from a remote start)
                # belongs to the transaction running on its EVSE: it ends with it.
                tx = _running_on(running, item.evse_id)
                if tx is not None:
                    profile = dataclasses.replace(profile, transaction_id=tx.transaction_id)
            confirmed.append(
                dataclasses.replace(item, profile=profile, installed_at=now, confirmed_at=now)
            )
        await self._store.reported(station_id, request_id, confirmed, final, now)
        waiting = self._waiting.get((station_id, request_id))
        if final and waiting is not None and not waiting.done():
            waiting.set_result(None)

    # ------------------------------------------------------------------ composite

    async def composite(
        self,
        station_id: str,
        evse_id: int,
        duration: int,
        rate_unit: RateUnit,
        ask_station: bool,
        timeout: float | None = None,
    ) -> CompositeView:
        """Ampyre's composite schedule of the EVSE and, when asked, the station's
        (GetCompositeSchedule, K08), compared period by period."""
        reported: CompositeSchedule | None = None
        answer: Answer | None = None
        status = "not_asked"
        if ask_station:
            if self._commands.connected_version(station_id) is None:
                status = NOT_CONNECTED
            else:
                answer, reported = await self._commands.get_composite(
                    station_id, evse_id, duration, rate_unit, self._wait(timeout)
                )
                status = answer.status
        start = reported.start if reported is not None else self._clock()
        computed = await self.computed(station_id, evse_id, start, duration, rate_unit)
        if reported is None:
            return CompositeView(computed, None, status, answer=answer)
        differences = compare(computed, reported)
        return CompositeView(computed, reported, status, not differences, differences, answer)

    async def computed(
        self,
        station_id: str,
        evse_id: int,
        start: datetime,
        duration: int,
        rate_unit: RateUnit,
        without: Callable[[InstalledProfile], bool] | None = None,
    ) -> CompositeSchedule:
        installed = await self._store.installed(station_id)
        installed += limits_as_profiles(await self._store.limits(station_id, active_only=True))
        if without is not None:
            installed = [i for i in installed if not without(i)]
        tx = _running_on(await self._store.running(station_id), evse_id)
        return composite_schedule(
            installed,
            evse_id=evse_id,
            start=start,
            duration=duration,
            rate_unit=rate_unit,
            transaction_id=None if tx is None else tx.transaction_id,
            tx_started_at=None if tx is None else tx.started_at,
        )

    # ------------------------------------------------------------------ remote start

    async def remote_start_payload(
        self, station_id: str, evse_id: int | None, profile: ChargingProfile
    ) -> dict[str, Any] | None:
        """The chargingProfile of a remote start in the station's version (1.6 5.11,
        2.0.1 F01.FR.08/09: a TxProfile without transaction id); raises ProfileInvalid.
        None when the station is not connected (the start reports that itself)."""
        version = self._commands.connected_version(station_id)
        if version is None:
            return None
        found = remote_start_violations(profile, OcppVersion(version), evse_id=evse_id or 1)
        if found:
            raise ProfileInvalid(found)
        try:
            return self._commands.profile_payload(version, profile)
        except NotAddressable as exc:
            raise ProfileInvalid([Violation("/", str(exc))]) from None

    async def remote_started(
        self,
        station_id: str,
        evse_id: int | None,
        profile: ChargingProfile,
        transaction_id: str | None,
    ) -> None:
        """A remote start with `profile` was accepted: the station holds it as the
        transaction's TxProfile (on the transaction's EVSE once known)."""
        if evse_id is None:
            return  # the station picks the EVSE; the next refresh tells where it went
        now = self._clock()
        if transaction_id is not None:
            profile = dataclasses.replace(profile, transaction_id=transaction_id)
        item = InstalledProfile(
            station_id, evse_id, profile, ProfileSource.REMOTE_START, installed_at=now
        )
        await self._store.save_installed(item)

    # ------------------------------------------------------------------ station inputs

    async def record(self, station_id: str, action: str, payload: dict[str, Any]) -> None:
        """The message goes to the station's report history as received."""
        if self._report is None:
            return
        rid = payload.get("requestId")
        in_range = isinstance(rid, int) and -_INT32_MAX <= rid <= _INT32_MAX
        await self._report(
            StationReport(
                station_id=station_id,
                action=action,
                payload=payload,
                received_at=self._clock(),
                request_id=rid if in_range else None,
            )
        )

    async def limit_notified(self, limit: ChargingLimit) -> None:
        """NotifyChargingLimit (K12): kept (with its schedules, which count in the
        composite schedule as external constraints) until cleared."""
        await self._store.save_limit(limit)
        await self._tell_limit(limit.station_id, limit.evse_id)

    async def limit_cleared(self, station_id: str, source: str, evse_id: int | None) -> None:
        """ClearedChargingLimit (K13)."""
        await self._store.clear_limit(station_id, source, evse_id, self._clock())
        await self._tell_limit(station_id, evse_id)

    async def _tell_limit(self, station_id: str, evse_id: int | None) -> None:
        if self.on_external_limit is None:
            return
        try:
            await self.on_external_limit(station_id, evse_id)
        except Exception:
            log.exception("%s: the external limit hook failed", station_id)

    async def limits(self, station_id: str) -> list[ChargingLimit]:
        return await self._store.limits(station_id)

    async def ev_needs(self, needs: EvChargingNeeds) -> tuple[str, str | None]:
        """NotifyEVChargingNeeds (K15-K17): stored and answered. The balancer may take
        it (on_ev_needs True: it sends the profile); otherwise Ampyre computes a TxProfile
        within the EVSE's limits and sends it after the answer (Accepted: K15.FR.03).
        Rejected (K15.FR.04) without a transaction on the EVSE (a TxProfile needs one)
        or anything to schedule by. Returns the status and a reason code."""
        tx = _running_on(await self._store.running(needs.station_id), needs.evse_id)
        needs = dataclasses.replace(needs, transaction_id=tx.transaction_id if tx else None)
        if self.on_ev_needs is not None:
            try:
                taken = await self.on_ev_needs(needs)
            except Exception:
                log.exception("%s: the EV needs hook failed", needs.station_id)
                taken = False
            if taken:
                await self._store.save_needs(dataclasses.replace(needs, status="Accepted"))
                return "Accepted", None
        if tx is None:
            return await self._needs_answered(needs, "Rejected", "NoTransaction")
        profile = await self._needs_profile(needs, tx)
        if profile is None:
            return await self._needs_answered(needs, "Rejected", "NoLimits")
        await self._needs_answered(needs, "Accepted", None)
        task = asyncio.create_task(self._send_needs_profile(needs, profile))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return "Accepted", None

    async def _needs_answered(
        self, needs: EvChargingNeeds, status: str, reason: str | None
    ) -> tuple[str, str | None]:
        await self._store.save_needs(dataclasses.replace(needs, status=status, detail=reason))
        return status, reason

    async def _needs_profile(
        self, needs: EvChargingNeeds, tx: RunningTransaction
    ) -> ChargingProfile | None:
        now = self._clock()
        unit = RateUnit.AMPS if needs.ac else RateUnit.WATTS
        # The EVSE's limits without transaction profiles (the new one replaces them).
        limits = await self.computed(
            needs.station_id, needs.evse_id, now, 60, unit,
            without=lambda i: i.profile.purpose is Purpose.TX,
        )  # fmt: skip
        period = limit_at(limits, now)
        cap = None if period is None else period.limit
        schedule = needs_schedule(needs, now, cap)
        if schedule is None:
            return None
        return needs_profile(needs.evse_id, tx.transaction_id, schedule)

    async def _send_needs_profile(self, needs: EvChargingNeeds, profile: ChargingProfile) -> None:
        try:
            answer = await self.install(
                needs.station_id, needs.evse_id, profile, ProfileSource.EV_NEEDS
            )
        except ProfileInvalid as exc:
            log.warning("%s: EV needs profile not sent: %s", needs.station_id, exc)
            return
        except Exception:
            log.exception("%s: EV needs profile not sent", needs.station_id)
            return
        if answer.status != "accepted":
            log.info(
                "%s: EV %s needs profile answered %s",
                needs.station_id,
                needs.evse_id,
                answer.station_answer or answer.status,
            )

    async def ev_schedule(self, schedule: EvChargingSchedule) -> str:
        """NotifyEVChargingSchedule (K15.FR.11/K17): kept next to the EVSE's needs;
        Accepted when the EV's schedule stays within the EVSE's composite limits as
        Ampyre computes them, else Rejected."""
        await self._store.save_ev_schedule(schedule)
        s = schedule.schedule
        last = s.periods[-1].start_period if s.periods else 0
        duration = max(1, s.duration or last + 1)
        limits = await self.computed(
            schedule.station_id, schedule.evse_id, schedule.time_base, duration, s.rate_unit
        )
        tolerance = TOLERANCE[s.rate_unit]
        for period in s.periods:
            at = schedule.time_base + timedelta(seconds=period.start_period)
            allowed = limit_at(limits, at)
            if (
                period.limit is not None
                and allowed is not None
                and allowed.limit is not None
                and period.limit > allowed.limit + tolerance
            ):
                return "Rejected"
        return "Accepted"

    async def ev_needs_of(
        self, station_id: str
    ) -> list[tuple[EvChargingNeeds | None, EvChargingSchedule | None]]:
        return await self._store.ev_needs(station_id)


def _running_on(running: Sequence[RunningTransaction], evse_id: int) -> RunningTransaction | None:
    on = [t for t in running if t.evse_id == evse_id]
    return on[-1] if on else None
