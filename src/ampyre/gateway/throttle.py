"""Throttling of failed HTTP Basic authentication on the WebSocket handshake (security
profile 1), per station id and per source address, in memory (per process).

After `limit` failures in a row for a key (a station id, or a source address), that key
is refused with 429 for a delay that doubles with every further failure (1 s, 2 s, 4 s
... up to `max_delay`). A successful authentication clears the station's count; a key
with no failure for `forget_after` seconds starts again from zero. The address limit is
higher than the station one: many stations may share one address (NAT, a proxy).

So that guessing a station's password from elsewhere cannot lock the station itself
out, the station's block does not apply from the address it last logged in from
(remembered for `GOOD_ADDRESS_TTL`); that address's own limit still does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

STATION: Final = "station"
ADDRESS: Final = "address"
GOOD_ADDRESS_TTL: Final = 7 * 24 * 3600.0


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


@dataclass(slots=True, frozen=True)
class Failure:
    """What a failed attempt did: the counts so far and the delay now imposed (0: none)."""

    station_failures: int
    address_failures: int
    delay: float


class AuthThrottle:
    def __init__(
        self,
        station_limit: int = 5,
        address_limit: int = 20,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {STATION: station_limit, ADDRESS: address_limit}
        self._base = base_delay
        self._max = max_delay
        self._forget = max(forget_after, max_delay)
        self._max_keys = max_keys
        self._clock = clock
        # (kind, key) -> failures; insertion order = least recently failed first.
        self._keys: dict[tuple[str, str], _Failures] = {}
        # station id -> (address of its last successful login, when); one per station
        # that ever logged in, so bounded by the registered stations.
        self._good: dict[str, tuple[str, float]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def retry_after(self, station_id: str, address: str) -> float:
        """Seconds until an attempt for this station from this address is heard again
        (0: now)."""
        now = self._clock()
        wait = 0.0
        keys = [(ADDRESS, address)]
        good = self._good.get(station_id)
        if good is None or good[0] != address or now - good[1] > GOOD_ADDRESS_TTL:
            keys.append((STATION, station_id))
        for key in keys:
            entry = self._current(key, now)
            if entry is not None and entry.blocked_until > now:
                wait = max(wait, entry.blocked_until - now)
        return wait

    def failed(self, station_id: str, address: str) -> Failure:
        now = self._clock()
        counts: list[int] = []
        delay = 0.0
        for kind, value in ((STATION, station_id), (ADDRESS, address)):
            key = (kind, value)
            entry = self._current(key, now) or _Failures()
            self._keys.pop(key, None)  # re-inserted last: most recently failed
            entry.count += 1
            entry.last = now
            over = entry.count - self._limits[kind]
            if over >= 0:
                block = min(self._base * 2 ** min(over, 62), self._max)
                entry.blocked_until = max(entry.blocked_until, now + block)
                delay = max(delay, entry.blocked_until - now)
            self._keys[key] = entry
            counts.append(entry.count)
        self._bound(now)
        return Failure(counts[0], counts[1], delay)

    def succeeded(self, station_id: str, address: str) -> None:
        self._keys.pop((STATION, station_id), None)
        self._good[station_id] = (address, self._clock())

    def _current(self, key: tuple[str, str], now: float) -> _Failures | None:
        entry = self._keys.get(key)
        if entry is not None and now - entry.last > self._forget and entry.blocked_until <= now:
            del self._keys[key]
            return None
        return entry

    def _bound(self, now: float) -> None:
        """Keep memory bounded under a flood of distinct ids or addresses: drop forgotten
        keys, then the least recently failed ones."""
        if len(self._keys) <= self._max_keys:
            return
        for key in [k for k, e in self._keys.items() if now - e.last > self._forget]:
            del self._keys[key]
        excess = len(self._keys) - self._max_keys
        if excess > 0:
            for key in list(self._keys)[: max(excess, self._max_keys // 10)]:
                del self._keys[key]
