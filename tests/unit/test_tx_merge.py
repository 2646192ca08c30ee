"""The transaction merge as pure functions (domain.transactions): the same events in any
order and any number of times give the same transaction; the rules themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ampyre.domain.transactions import (
    BEGIN_CONTEXT,
    END_CONTEXT,
    EventKind,
    MeterReading,
    SampledValue,
    Transaction,
    TransactionEvent,
    TransactionStatus,
    close,
    is_stale,
    merge,
    merge_events,
)

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 5, 2, tzinfo=UTC)


def _sample(wh: float, context: str = "Sample.Periodic", **kw: Any) -> SampledValue:
    return SampledValue(wh, str(wh), context=context, si_value=wh, si_unit="Wh", **kw)


def _event(kind: EventKind, minute: int, *samples: SampledValue, **kw: Any) -> TransactionEvent:
    at = T0 + timedelta(minutes=minute)
    defaults: dict[str, Any] = {
        "station_id": "CP",
        "kind": kind,
        "timestamp": at,
        "received_at": kw.pop("received_at", at + timedelta(seconds=1)),
        "transaction_id": "TX",
        "ocpp_version": "ocpp2.0.1",
        "meter_values": (MeterReading(at, samples),) if samples else (),
    }
    defaults.update(kw)
    return TransactionEvent(**defaults)


# ---------------------------------------------------------------------- strategies

_CONTEXTS = ("Sample.Periodic", "Sample.Clock", BEGIN_CONTEXT, END_CONTEXT, "Trigger")
_samples = st.lists(
    st.builds(
        _sample,
        st.integers(0, 10**6).map(float),
        st.sampled_from(_CONTEXTS),
        phase=st.sampled_from([None, None, "L1"]),
        location=st.sampled_from(["Outlet", "Outlet", "EV"]),
    ),
    max_size=3,
)


@st.composite
def transactions(draw: st.DrawFn) -> list[TransactionEvent]:
    """The events of one transaction as a station may report them: a Started event or
    not, Updated events, an Ended event or not; values a station repeats (EVSE, token,
    remote start id) agree where given; every event has its own station time."""
    n_updates = draw(st.integers(0, 6))
    kinds = [EventKind.UPDATED] * n_updates
    if draw(st.booleans()):
        kinds.insert(0, EventKind.STARTED)
    if draw(st.booleans()) or not kinds:
        kinds.append(EventKind.ENDED)
    minutes = sorted(draw(st.sets(st.integers(0, 600), min_size=len(kinds), max_size=len(kinds))))
    evse, token, remote = draw(st.sampled_from([1, 2])), draw(st.sampled_from(["A", "B"])), 7
    events = []
    for seq, (kind, minute) in enumerate(zip(kinds, minutes, strict=True)):
        named = kind is EventKind.STARTED or draw(st.booleans())
        events.append(
            _event(
                kind,
                minute,
                *draw(_samples),
                event_key=f"seq:{seq}",
                seq_no=seq,
                evse_id=evse if named else None,
                connector_id=1 if named else None,
                id_token=token if named and draw(st.booleans()) else None,
                id_token_type="ISO14443",
                auth_status="Accepted",
                remote_start_id=remote if draw(st.booleans()) else None,
                charging_state=draw(st.sampled_from([None, "Charging", "SuspendedEV"])),
                stop_reason="EVDisconnected" if kind is EventKind.ENDED else None,
                offline=draw(st.booleans()),
                received_at=NOW - timedelta(minutes=draw(st.integers(0, 10_000))),
            )
        )  # fmt: skip
    return events


@settings(max_examples=300, deadline=None)
@given(events=transactions(), data=st.data())
def test_any_order_and_duplication_gives_the_same_transaction(
    events: list[TransactionEvent], data: st.DataObject
) -> None:
    expected = merge_events(events, 1, "TX", NOW)
    order = data.draw(st.permutations(range(len(events))))
    repeats = data.draw(st.lists(st.sampled_from(range(len(events))), max_size=6))
    arrivals = list(order)
    for index in repeats:  # each resent once more somewhere later or earlier
        arrivals.insert(data.draw(st.integers(0, len(arrivals))), index)
    assert merge_events([events[i] for i in arrivals], 1, "TX", NOW) == expected


@given(events=transactions())
def test_energy_is_end_minus_begin_and_ended_is_final(events: list[TransactionEvent]) -> None:
    tx = merge_events(events, 1, "TX", NOW)
    assert tx is not None
    assert (tx.status is TransactionStatus.ENDED) == any(e.kind is EventKind.ENDED for e in events)
    if tx.meter_start_wh is not None and tx.meter_stop_wh is not None:
        assert tx.energy_wh == tx.meter_stop_wh - tx.meter_start_wh


# ---------------------------------------------------------------------- rules by example


def test_begin_and_end_readings_beat_samples_whatever_their_time() -> None:
    events = [
        _event(EventKind.UPDATED, 0, _sample(50.0)),  # a sample before the start reading
        _event(EventKind.STARTED, 5, _sample(100.0, BEGIN_CONTEXT), evse_id=1),
        _event(EventKind.UPDATED, 90, _sample(900.0)),  # a sample after the stop
        _event(EventKind.ENDED, 60, _sample(700.0, END_CONTEXT), stop_reason="Local"),
    ]
    tx = merge_events(events, 1, "TX", NOW)
    assert tx is not None
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (100.0, 700.0, 600.0)
    assert tx.started_at == T0 + timedelta(minutes=5) and tx.start_seen
    assert tx.status is TransactionStatus.ENDED and tx.stop_reason == "Local"


def test_only_the_outlet_total_register_counts() -> None:
    events = [
        _event(EventKind.UPDATED, 0, _sample(10.0), _sample(1.0, phase="L1")),
        _event(EventKind.UPDATED, 10, _sample(20.0), _sample(99.0, location="EV")),
    ]
    tx = merge_events(events, 1, "TX", NOW)
    assert tx is not None and (tx.meter_start_wh, tx.meter_stop_wh) == (10.0, 20.0)
    assert not tx.start_seen and tx.started_at == T0


def test_a_late_update_does_not_reopen_and_first_known_values_stay() -> None:
    ended = _event(EventKind.ENDED, 30, evse_id=2, id_token="A", stop_reason="Remote")
    late = _event(EventKind.UPDATED, 40, evse_id=3, id_token="B", charging_state="Charging")
    tx = merge_events([ended, late], 1, "TX", NOW)
    assert tx is not None
    assert (tx.status, tx.evse_id, tx.id_token) == (TransactionStatus.ENDED, 2, "A")
    assert tx.charging_state == "Charging"  # the latest state by station time


def _active() -> Transaction:
    tx = merge_events(
        [_event(EventKind.STARTED, 0, _sample(100.0, BEGIN_CONTEXT), evse_id=1),
         _event(EventKind.UPDATED, 20, _sample(400.0))],
        1, "TX", NOW,
    )  # fmt: skip
    assert tx is not None
    return tx


def test_an_administrative_close_keeps_the_energy_and_a_later_stop_wins() -> None:
    closed = close(_active(), NOW, "ClosedByOperator", closed_by="ops", note="replaced")
    assert (closed.status, closed.ended_at, closed.stop_reason) == (
        TransactionStatus.ENDED,
        NOW,
        "ClosedByOperator",
    )
    assert (closed.energy_wh, closed.closed_by, closed.close_reason, closed.closed_at) == (
        300.0,
        "ops",
        "replaced",
        NOW,
    )
    assert close(closed, NOW + timedelta(hours=1), "Other") == closed  # ended: unchanged
    stop = _event(EventKind.ENDED, 45, _sample(650.0, END_CONTEXT), stop_reason="EVDisconnected")
    after = merge(closed, merge_events([stop], 1, "TX", NOW))  # type: ignore[arg-type]
    assert (after.ended_at, after.stop_reason, after.energy_wh) == (
        T0 + timedelta(minutes=45),
        "EVDisconnected",
        550.0,
    )
    assert after.closed_by == "ops"  # who closed it stays on record


def test_stale_means_active_and_offline_or_silent() -> None:
    tx = _active()  # last message at NOW - something (received_at of the events)
    silence = timedelta(hours=1)
    last = tx.last_message_at
    assert last is not None
    tx.station_connected = True
    assert not is_stale(tx, last + timedelta(minutes=59), silence)
    assert is_stale(tx, last + timedelta(minutes=61), silence)
    tx.station_connected = False
    assert is_stale(tx, last, silence)
    tx.station_connected = None  # not looked up: silence only
    assert not is_stale(tx, last, silence)
    ended = close(tx, last, "NotOngoing")
    ended.station_connected = False
    assert not is_stale(ended, last + timedelta(days=1), silence)
