"""Throttling of failed handshake logins (gateway/throttle.py), on a fake clock."""

from __future__ import annotations

from ampyre.gateway.throttle import AuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock, **kw: float) -> AuthThrottle:
    return AuthThrottle(clock=clock, **kw)  # type: ignore[arg-type]


def test_station_blocked_after_limit_with_doubling_delay() -> None:
    clock = Clock()
    t = _throttle(clock, station_limit=3, address_limit=100)
    for n in (1, 2):
        f = t.failed("CP-1", "10.0.0.1")
        assert (f.station_failures, f.delay) == (n, 0.0)
        assert t.retry_after("CP-1", "10.0.0.1") == 0
    assert t.failed("CP-1", "10.0.0.1").delay == 1.0
    assert t.retry_after("CP-1", "10.0.0.2") == 1.0  # any address: the station is blocked
    assert t.retry_after("CP-2", "10.0.0.1") == 0  # another station from the same address
    clock.now += 1.0
    assert t.retry_after("CP-1", "10.0.0.1") == 0
    assert t.failed("CP-1", "10.0.0.1").delay == 2.0
    clock.now += 2.0
    assert t.failed("CP-1", "10.0.0.1").delay == 4.0


def test_delay_is_capped_and_success_clears_the_station() -> None:
    clock = Clock()
    t = _throttle(clock, station_limit=1, address_limit=100, max_delay=10.0)
    delays = []
    for _ in range(8):
        delays.append(t.failed("CP-1", "a").delay)
        clock.now += delays[-1]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
    t.succeeded("CP-1", "a")
    assert t.failed("CP-1", "a").delay == 1.0


def test_address_limit_spans_station_ids() -> None:
    clock = Clock()
    t = _throttle(clock, station_limit=100, address_limit=4)
    for i in range(3):
        assert t.failed(f"CP-{i}", "10.0.0.9").delay == 0
    f = t.failed("CP-3", "10.0.0.9")
    assert (f.station_failures, f.address_failures, f.delay) == (1, 4, 1.0)
    assert t.retry_after("CP-NEW", "10.0.0.9") == 1.0
    assert t.retry_after("CP-NEW", "10.0.0.10") == 0


def test_quiet_keys_are_forgotten_and_memory_is_bounded() -> None:
    clock = Clock()
    t = _throttle(clock, station_limit=2, address_limit=2, max_delay=5.0, forget_after=60.0)
    t.failed("CP-1", "a")
    clock.now += 61
    assert t.failed("CP-1", "a").station_failures == 1  # started again
    small = AuthThrottle(max_keys=100, clock=clock)
    for i in range(1000):
        small.failed(f"CP-{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(small) <= 100
    # The most recent failures are the ones kept.
    assert small.failed("CP-999", "x").station_failures == 2


def test_guessing_from_elsewhere_does_not_lock_the_station_out_of_its_address() -> None:
    clock = Clock()
    t = _throttle(clock, station_limit=2, address_limit=3)
    t.succeeded("CP-1", "10.0.0.1")  # the station's own address
    for _ in range(2):
        t.failed("CP-1", "192.0.2.66")
    assert t.retry_after("CP-1", "192.0.2.66") > 0
    assert t.retry_after("CP-1", "192.0.2.67") > 0  # the station key holds elsewhere
    assert t.retry_after("CP-1", "10.0.0.1") == 0  # but not from where it logs in
    for _ in range(3):  # failures from its own address are throttled by the address key
        t.failed("CP-1", "10.0.0.1")
    assert t.retry_after("CP-1", "10.0.0.1") > 0
