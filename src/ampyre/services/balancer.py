"""The site balancer (issue 18 part 4): on the cluster's leader, it follows every
session, meter value and connection of the sites' stations and keeps each site's EVSEs
within the site's limits by sending them TxProfiles.

- Event-driven: an in-memory reader of the outbox (like services/live.py: from the
  head at start, never holding back pruning) hears transaction.started/updated/ended
  and station.connected/disconnected; a site with news is recomputed at once. A tick
  every AMPYRE_BALANCER_TICK seconds reloads the sites (changes made on other nodes),
  reads the main meters, and recomputes every site.
- The allocation is domain/balancer.py (pure). What is sent: a decrease at once, an
  increase only after every decrease of that round was confirmed (so the sum stays
  within the limits while the changes travel) and at most once per
  AMPYRE_BALANCER_MIN_INTERVAL seconds per EVSE; an unchanged limit is never resent.
- Failsafe: an EVSE whose station is disconnected, or has not accepted its profile
  (not yet, refused, no answer), counts at its maximum until it confirms; refused ones
  are tried again after AMPYRE_BALANCER_RETRY seconds.
- Each decision that changes an EVSE's state or limit is recorded with its reasons;
  site.at_limit / site.below_limit go to the outbox in the same commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from ampyre.config import Settings
from ampyre.domain.balancer import EvseInput, EvseState, SiteAllocation, allocate, fit
from ampyre.domain.ev_needs import EvChargingNeeds
from ampyre.domain.events import DomainEvent, EventType, OutboxEvent
from ampyre.domain.site_records import record_of, sample_of
from ampyre.domain.sites import BaseLoadMode
from ampyre.services.balancer_parts import (
    EvseLive,
    Round,
    SiteRun,
    draw_of,
    install_limit,
    limit_event,
    retry_after,
    site_base_load,
    site_inputs,
)
from ampyre.services.clock import utcnow
from ampyre.services.events import EventBus
from ampyre.services.periodic import Periodic
from ampyre.services.sites_port import OutboxSource, ProfileInstaller, SiteStore

log = logging.getLogger(__name__)

READ_BATCH = 1000
COALESCE = 0.1  # seconds the loop waits after a wake-up for more news
TRIGGER_MAX = 64  # characters of a decision's trigger (site_allocations.trigger)
METER_WINDOW = 300.0  # seconds a main meter's reading is trusted
PRUNE_EVERY = 3600.0
MIN_STEP_A = 1.0  # smaller increases are not worth a message
ENDED_KEPT = 10_000  # ended transactions remembered


class Balancer:
    def __init__(
        self,
        store: SiteStore,
        outbox: OutboxSource,
        events: EventBus,
        installer: ProfileInstaller | None,
        settings: Settings,
        leads: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._events = events
        self.installer = installer
        self._s = settings
        self._clock = clock
        # Commits come in bursts: one read of the outbox per COALESCE seconds at most.
        self._loop = Periodic(
            "site balancer",
            self.step,
            lambda: settings.balancer_tick,
            log=log,
            leads=leads,
            follow=self._follow,
            first_wait=True,
            settle=COALESCE,
        )
        self._name = f"balancer-{id(self)}"
        self.runs: dict[int, SiteRun] = {}
        self.live: dict[tuple[str, int], EvseLive] = {}
        self._by_tx: dict[tuple[str, str], tuple[str, int]] = {}
        # Transactions seen ending (their late events are ignored), oldest first.
        self._ended: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._site_of: dict[str, int] = {}  # station -> site
        self.connected: set[str] = set()
        self.position: int | None = None  # None: not built (not leading)
        self._ticked: datetime | None = None
        self._pruned: datetime | None = None
        self._reload = False
        # The EVSEs of each site (rebuilt when EVSEs come or go).
        self._groups: dict[int, list[EvseLive]] | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if not self._loop.running:
            self._events.subscribe(self._name, self._loop.wake)
            self._loop.start()

    async def close(self) -> None:
        self._events.unsubscribe(self._name)
        await self._loop.close()
        for run in self.runs.values():
            if run.wake_at is not None:
                run.wake_at.cancel()
            if run.task is not None:
                run.task.cancel()
                with contextlib.suppress(BaseException):
                    await run.task

    def wake(self) -> None:
        self._loop.wake()

    def sites_changed(self) -> None:
        """A site was created, changed or deleted (here): reload the sites now."""
        self._reload = True
        self._loop.wake()

    def rebalance(self, site_id: int, trigger: str = "requested") -> bool:
        run = self.runs.get(site_id)
        if run is None:
            return False
        self._dirty(run, trigger)
        return True

    def status(self, site_id: int) -> SiteAllocation | None:
        run = self.runs.get(site_id)
        return None if run is None else run.last

    def base_load_pushed(self, site_id: int, values: tuple[float, float, float]) -> None:
        run = self.runs.get(site_id)
        if run is not None:
            run.site.pushed_base_load = values
            run.site.pushed_at = self._clock()
            self._dirty(run, "base load pushed")

    async def ev_needs(self, needs: EvChargingNeeds) -> bool:
        """ChargingProfileService.on_ev_needs: a site's EVSE takes the needs into its
        allocation (True: the balancer answers them with its profile)."""
        run = self._run_of(needs.station_id, needs.evse_id)
        if run is None:
            return False
        live = self._live(needs.station_id, needs.evse_id)
        live.needs, live.needs_wh = needs, live.meter_wh
        if needs.transaction_id and live.transaction_id is None:
            self._track(live, needs.transaction_id)
        self._dirty(run, "EV charging needs")
        return True

    async def external_limit(self, station_id: str, evse_id: int | None) -> None:
        """ChargingProfileService.on_external_limit: recompute the station's site."""
        site_id = self._site_of.get(station_id)
        if site_id is not None and site_id in self.runs:
            self._dirty(self.runs[site_id], "external limit")

    # ------------------------------------------------------------------ loop

    def _follow(self) -> None:
        if self.position is not None:
            self._forget()

    def _forget(self) -> None:
        """No longer the leader: the next leader builds its own picture."""
        for run in self.runs.values():
            if run.wake_at is not None:
                run.wake_at.cancel()
            if run.task is not None:
                run.task.cancel()
        self.runs.clear()
        self.live.clear()
        self._by_tx.clear()
        self._site_of.clear()
        self._groups = None
        self.position = None

    async def step(self, wait: bool = False) -> None:
        """Read what happened, then recompute the sites that need it (`wait`: until
        their profiles are answered; the loop does not wait)."""
        now = self._clock()
        if self.position is None:
            await self._build()
        tick = self._ticked is None or (now - self._ticked).total_seconds() >= (
            self._s.balancer_tick * 0.9
        )
        if tick or self._reload:
            followed = bool(self.runs)
            await self._load_sites()
            if self.runs and not followed:
                # The first site: start from the head and the sessions running now.
                await self._build()
        if not self.runs:
            # No site to balance: the outbox is not read (a leader without sites costs
            # the OCPP path nothing); decisions and samples are still pruned.
            if tick:
                self._ticked = now
                await self._prune(now)
            return
        await self._read_events()
        if tick:
            self._ticked = now
            await self._read_meters(now)
            for run in self.runs.values():
                self._dirty(run, run.trigger if run.dirty else "tick", wake=False)
            await self._prune(now)
        samples = []
        for run in list(self.runs.values()):
            if not run.dirty or run.task is not None or not run.site.enabled:
                continue
            round_ = await self.balance(run)
            if round_ is None:
                continue
            if round_.probe:
                run.task = asyncio.create_task(self._dispatch(run, round_))
                if wait:
                    await run.task
                continue
            interval = self._s.site_sample_interval
            if run.sampled_at is None or (now - run.sampled_at).total_seconds() >= interval:
                run.sampled_at = now
                samples.append(sample_of(round_.decision))
            run.task = asyncio.create_task(self._dispatch(run, round_))
            if wait:
                await run.task
        if samples:
            await self._store.add_samples(samples)

    # ------------------------------------------------------------------ picture

    async def _build(self) -> None:
        self.position = await self._outbox.outbox_head()
        self.runs.clear()
        self.live.clear()
        self._by_tx.clear()
        await self._load_sites()
        stations = list(self._site_of)
        self.connected = await self._store.connected_stations(stations)
        for s in await self._store.active_sessions(stations):
            if s.evse_id is None or self._run_of(s.station_id, s.evse_id) is None:
                continue
            live = self._live(s.station_id, s.evse_id)
            live.id_token, live.started_at = s.id_token, s.started_at
            self._track(live, s.transaction_id)
        log.info("balancer: leading %d site(s), %d session(s)", len(self.runs), len(self.live))

    async def _load_sites(self) -> None:
        self._reload = False
        sites = await self._store.list_sites()
        self._groups = None
        seen: set[int] = set()
        self._site_of = {}
        for site in sites:
            seen.add(site.id)
            for m in site.members:
                self._site_of.setdefault(m.station_id, site.id)
            run = self.runs.get(site.id)
            if run is None:
                self.runs[site.id] = SiteRun(site)
            elif run.site.updated_at != site.updated_at or run.site.pushed_at != site.pushed_at:
                pushed = run.site.pushed_at
                run.site = site
                if pushed is not None and (site.pushed_at is None or site.pushed_at < pushed):
                    run.site.pushed_at = pushed  # pushed here since the reload read it
                self._dirty(run, "site changed", wake=False)
        for site_id in set(self.runs) - seen:
            run = self.runs.pop(site_id)
            if run.task is not None:
                run.task.cancel()
        for key in [k for k in self.live if self._run_of(*k) is None]:
            self._drop(self.live[key])
        if self.position is not None:
            known = await self._store.connected_stations(list(self._site_of))
            self.connected = known | (self.connected & set(self._site_of))

    def _run_of(self, station_id: str, evse_id: int) -> SiteRun | None:
        site_id = self._site_of.get(station_id)
        run = None if site_id is None else self.runs.get(site_id)
        if run is None or run.site.member_of(station_id, evse_id) is None:
            return None
        return run

    def _live(self, station_id: str, evse_id: int) -> EvseLive:
        key = (station_id, evse_id)
        live = self.live.get(key)
        if live is None:
            live = self.live[key] = EvseLive(station_id, evse_id)
            self._groups = None
        return live

    def _track(self, live: EvseLive, transaction_id: str) -> None:
        if live.transaction_id and live.transaction_id != transaction_id:
            self._by_tx.pop((live.station_id, live.transaction_id), None)
            live.confirmed = live.changed_at = live.raised_at = None  # a new profile
            live.needs = live.measured = live.measured_under = None
            live.failed = live.failed_at = None
            live.failures, live.kept = 0, False
        live.transaction_id = transaction_id
        self._by_tx[(live.station_id, transaction_id)] = (live.station_id, live.evse_id)

    def _drop(self, live: EvseLive) -> None:
        self.live.pop((live.station_id, live.evse_id), None)
        self._groups = None
        if live.transaction_id:
            self._by_tx.pop((live.station_id, live.transaction_id), None)

    def _dirty(self, run: SiteRun, trigger: str, wake: bool = True) -> None:
        # Everything that happened since the last round is its trigger ("a, b").
        if not run.dirty or not run.trigger:
            run.trigger = trigger
        elif trigger not in run.trigger.split(", "):
            both = f"{run.trigger}, {trigger}"
            if len(both) <= TRIGGER_MAX:  # the column's size; the first ones are kept
                run.trigger = both
        run.dirty = True
        if wake:
            self._loop.wake()

    # ------------------------------------------------------------------ events

    async def _read_events(self) -> None:
        assert self.position is not None
        while True:
            batch = await self._outbox.events_after(self.position, READ_BATCH)
            for e in batch:
                if e.id > self.position:
                    self.position = e.id
                    try:
                        self._apply(e)
                    except Exception:  # one odd event never stops the balancer
                        log.exception("balancer: could not apply event %s", e.id)
            if len(batch) < READ_BATCH:
                return

    def _apply(self, e: OutboxEvent) -> None:
        station_id = e.station_id or ""
        site_id = self._site_of.get(station_id)
        if site_id is None or site_id not in self.runs:
            return
        run = self.runs[site_id]
        data = e.data
        if e.type == EventType.STATION_CONNECTED:
            self.connected.add(station_id)
            for live in self.live.values():
                if live.station_id == station_id:  # what it has installed is unknown
                    live.confirmed = live.changed_at = None
                    live.failed = None
            self._dirty(run, "station connected")
            return
        if e.type == EventType.STATION_DISCONNECTED:
            self.connected.discard(station_id)
            self._dirty(run, "station disconnected")
            return
        if e.type not in (
            EventType.TRANSACTION_STARTED,
            EventType.TRANSACTION_UPDATED,
            EventType.TRANSACTION_ENDED,
        ):
            return
        tx = data.get("transaction_id")
        if tx and (station_id, str(tx)) in self._ended:
            return  # a late message of a transaction that is over (1.6 transactionData)
        key = self._by_tx.get((station_id, str(tx))) if tx else None
        evse = data.get("evse_id")
        if key is None and isinstance(evse, int):
            key = (station_id, evse)
        if key is None or self._run_of(*key) is None:
            return
        if e.type == EventType.TRANSACTION_ENDED:
            if tx:
                self._ended[(station_id, str(tx))] = None
                while len(self._ended) > ENDED_KEPT:
                    self._ended.popitem(last=False)
            ended = self.live.get(key)
            if ended is not None and (ended.transaction_id in (None, tx)):
                self._drop(ended)
                self._dirty(run, "transaction ended")
            return
        live = self._live(*key)
        if tx:
            known = live.transaction_id == tx
            self._track(live, str(tx))
            if not known:
                self._dirty(run, "transaction started")
        if e.type == EventType.TRANSACTION_STARTED:
            live.id_token = data.get("id_token") or live.id_token
            live.started_at = live.started_at or e.at
            self._dirty(run, "transaction started")
            return
        if data.get("id_token"):
            live.id_token = data["id_token"]
        if isinstance(data.get("meter_wh"), int | float):
            live.meter_wh = float(data["meter_wh"])
        member = run.site.member_of(*key)
        drawn = draw_of(data, member.phases if member else 3)
        if drawn is not None:
            live.measured, live.measured_at = drawn, e.created_at
            settled = live.changed_at is None or (
                (e.created_at - live.changed_at).total_seconds() >= self._s.balancer_settle
            )
            live.measured_under = live.confirmed if settled else None
            self._dirty(run, "meter values")

    async def _read_meters(self, now: datetime) -> None:
        since = now - timedelta(seconds=METER_WINDOW)
        for run in self.runs.values():
            b = run.site.base_load
            if b.mode is not BaseLoadMode.MEASURED or b.meter is None:
                continue
            run.meter = await self._store.meter_currents(b.meter.station_id, b.meter.evse_id, since)
            run.meter_at = now if run.meter is not None else None

    async def _prune(self, now: datetime) -> None:
        if self._pruned is not None and (now - self._pruned).total_seconds() < PRUNE_EVERY:
            return
        self._pruned = now
        await self._store.prune(now - timedelta(days=self._s.site_history_days))

    # ------------------------------------------------------------------ balancing

    def base_load(self, run: SiteRun, now: datetime) -> tuple[float, float, float]:
        return site_base_load(run, self._lives_of(run), now)

    def inputs(self, run: SiteRun, now: datetime) -> tuple[list[EvseInput], list[EvseInput]]:
        return site_inputs(run.site, self._lives_of(run), self.connected, now)

    def _lives_of(self, run: SiteRun) -> Iterable[EvseLive]:
        if self._groups is None:
            groups: dict[int, list[EvseLive]] = {}
            for v in self.live.values():
                site_id = self._site_of.get(v.station_id)
                if site_id is not None:
                    groups.setdefault(site_id, []).append(v)
            self._groups = groups
        return self._groups.get(run.site.id, ())

    async def balance(self, run: SiteRun) -> Round | None:
        """Recompute one site: the decision (recorded when it changed) and what to send.

        EVSEs with a new transaction (or whose station just connected) first get their
        share alone (`probe`): whoever confirms takes part normally at once, whoever does
        not is counted at its maximum from the next round on, and the others make room.
        """
        now = self._clock()
        run.dirty = False
        trigger, run.trigger = run.trigger, ""
        site = run.site
        base = self.base_load(run, now)
        safe_in, target_in = self.inputs(run, now)
        unconfirmed = any(e.failsafe is not None for e in safe_in)
        target = allocate(site, target_in, base, now) if unconfirmed else None
        if target is not None:
            # Their share, as far as it fits beside what the others have now (the
            # others make room in the next round, decreases before increases).
            wanted: dict[tuple[str, int], float] = {}
            for e in target.evses:
                live = self.live.get((e.station_id, e.evse_id))
                if (
                    live is not None
                    and live.confirmed is None
                    and live.failed is None
                    and live.station_id in self.connected
                    and e.state in (EvseState.CHARGING, EvseState.PAUSED)
                ):
                    wanted[(e.station_id, e.evse_id)] = e.allocated_a
            if wanted:
                probe = Round(target, probe=True)
                for key, value in fit(site, safe_in, base, wanted).items():
                    member = site.member_of(*key)
                    phases = member.phases if member is not None else 3
                    probe.sends.append((self.live[key], value, phases, False))
                run.trigger = trigger
                return probe
        decision = allocate(site, safe_in, base, now)
        run.last = decision
        run.rounds += 1
        await self._record(run, decision, trigger, now)
        round_ = Round(decision)
        shares = {} if target is None else {(e.station_id, e.evse_id): e for e in target.evses}
        for e in decision.evses:
            key = (e.station_id, e.evse_id)
            live = self.live.get(key)
            member = site.member_of(*key)
            if live is None or member is None or live.station_id not in self.connected:
                continue
            if e.state is EvseState.FAILSAFE:
                # Refused or unanswered: try again after a while, with what it would get.
                t = shares.get(key)
                if t is None or t.state not in (EvseState.CHARGING, EvseState.PAUSED):
                    continue
                wait = self.retry_after(live)
                if live.failed_at is not None:
                    since = (now - live.failed_at).total_seconds()
                    if since < wait:
                        self._wake_later(run, wait - since, "profile retry due")
                        continue
                round_.sends.append((live, t.allocated_a, member.phases, False))
                continue
            if e.state not in (EvseState.CHARGING, EvseState.PAUSED):
                continue
            value, have = e.allocated_a, live.confirmed
            if have is None or value < have - 1e-9:
                round_.sends.append((live, value, member.phases, False))
            elif value > have + 1e-9 and (value >= have + MIN_STEP_A or have == 0):
                since = (
                    math.inf if live.raised_at is None else (now - live.raised_at).total_seconds()
                )
                if since >= self._s.balancer_min_interval:
                    round_.sends.append((live, value, member.phases, True))
                else:
                    self._wake_later(
                        run, self._s.balancer_min_interval - since, "held increase due"
                    )
        return round_

    def retry_after(self, live: EvseLive) -> float:
        return retry_after(live, self._s.balancer_retry)

    def _wake_later(self, run: SiteRun, seconds: float, why: str) -> None:
        if run.wake_at is not None:
            return  # one pending wake-up per site is enough: it recomputes everything
        loop = asyncio.get_running_loop()

        def due() -> None:
            run.wake_at = None
            self._dirty(run, why)

        run.wake_at = loop.call_later(max(0.05, seconds), due)

    async def _dispatch(self, run: SiteRun, round_: Round) -> None:
        try:
            first = [s for s in round_.sends if not s[3]]
            then = [s for s in round_.sends if s[3]]
            results = await asyncio.gather(*(self._send(*s) for s in first))
            if not all(results):
                self._dirty(run, "profile not accepted")
                return  # no increase while a decrease is not confirmed
            if first:
                self._dirty(run, "profiles confirmed")
            if then:
                results = await asyncio.gather(*(self._send(*s) for s in then))
                if not all(results):
                    self._dirty(run, "profile not accepted")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("balancer: dispatch for site %s failed", run.site.id)
        finally:
            run.task = None
            if run.dirty:
                self._loop.wake()

    async def _send(self, live: EvseLive, limit: float, phases: int, raise_: bool) -> bool:
        return await install_limit(
            self.installer, live, limit, phases, raise_, self._s, self._clock
        )

    async def _record(
        self, run: SiteRun, decision: SiteAllocation, trigger: str, now: datetime
    ) -> None:
        signature = tuple(
            (e.station_id, e.evse_id, e.transaction_id, e.state.value, e.allocated_a)
            for e in decision.evses
        )
        events: list[DomainEvent] = []
        if decision.at_limit != run.at_limit:
            run.at_limit = decision.at_limit
            kind = EventType.SITE_AT_LIMIT if decision.at_limit else EventType.SITE_BELOW_LIMIT
            events.append(DomainEvent(kind, now, "", limit_event(run.site, decision)))
        if signature == run.signature and not events:
            return
        run.signature = signature
        record = record_of(decision, trigger or "tick", self.position)
        await self._store.record_allocation(record, events)
