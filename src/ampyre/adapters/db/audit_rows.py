"""Audit-log rows: one row per round trip (a CALL with its CALLRESULT or CALLERROR), and
back to one `MessageLogEntry` per frame for the API. Pure functions and a small pairing
buffer; no I/O.

A row holds the request frame, the reply frame, or both: a CALL whose answer is not seen
within the pairing window, an answer whose CALL was already written (or never seen), a
SEND, a CALLRESULTERROR and a frame that could not be parsed get a row of their own.
Nothing the session logged is lost or changed by the pairing: listing a row gives back
the frames exactly as they were logged (`tests/unit/test_audit_rows.py`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from ampyre.adapters.db import audit_codec
from ampyre.domain.models import MessageLogEntry

CALL = 2
CALLRESULT = 3
CALLERROR = 4
REPLIES = frozenset({CALLRESULT, CALLERROR})

STATION_ID_MAX = UNIQUE_ID_MAX = 255  # column sizes (tables.message_log)
ACTION_MAX = 64
REPLY_AFTER_MAX_US = 2**31 - 1  # a paired reply later than this gets its own row

_OTHER = {"in": "out", "out": "in"}


# What the session logs about one frame.
Frame = MessageLogEntry


class Exchange(NamedTuple):
    """One future row: a request, its reply, or both."""

    request: Frame | None
    reply: Frame | None

    @property
    def first(self) -> Frame:
        frame = self.request or self.reply
        assert frame is not None
        return frame

    def frames(self) -> list[Frame]:
        return [f for f in (self.request, self.reply) if f is not None]


class Row(NamedTuple):
    """The columns of one message_log row (besides `id`), in the order the insert gives
    them to the driver (`columns`)."""

    created_at: datetime  # when the first frame of the row was logged
    reply_after_us: int | None  # the reply was logged this long after created_at
    call_type: int | None  # 2 CALL, 6 SEND, 0 unparsable, 5 CALLRESULTERROR
    reply_type: int | None  # 3 CALLRESULT, 4 CALLERROR
    station_id: str
    direction: str  # of the request (of the reply when there is no request)
    unique_id: str
    action: str | None
    call_frame: bytes | None
    reply_frame: bytes | None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def column_text(value: str | None, limit: int) -> str | None:
    """A value the text columns can hold on every database: U+0000 (PostgreSQL refuses
    it) and unpaired surrogates (not UTF-8) escaped as JSON writes them, at most `limit`
    characters. The frame itself (bytes) keeps the original (issue 13, defect 2.1)."""
    if value is None:
        return None
    if not value.isascii() or "\x00" in value:
        value = _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value[:limit]


def encode(exchange: Exchange) -> Row:
    """The row for an exchange; the frames are stored in audit_codec's compact form."""
    return Row._make(columns(exchange, _same))


def columns(exchange: Exchange, stamp: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """`encode`'s values as a plain tuple in `Row` order, `created_at` as `stamp` gives it
    to the driver: the group commit's path (it runs once per round trip: no Row, no
    re-ordering)."""
    request, reply = exchange
    first = request if request is not None else reply
    assert first is not None
    uid = column_text(first.unique_id, UNIQUE_ID_MAX) or ""
    action = column_text(first.action, ACTION_MAX)
    call_type = call_frame = reply_type = reply_frame = reply_after = None
    if request is not None:
        call_type = request.message_type
        call_frame = audit_codec.encode(request.payload, call_type, uid, action)
        direction = request.direction
    else:
        direction = _OTHER.get(first.direction, "in")
    if reply is not None:
        reply_type = reply.message_type
        reply_frame = audit_codec.encode(reply.payload, reply_type, uid, None)
        reply_after = 0 if request is None else _micros(reply.created_at - first.created_at)
    return (
        stamp(first.created_at),
        reply_after,
        call_type,
        reply_type,
        column_text(first.station_id, STATION_ID_MAX) or "",
        direction,
        uid,
        action,
        call_frame,
        reply_frame,
    )


def _same(at: datetime) -> datetime:
    return at


def decode(row: Row) -> list[Frame]:
    """The frames of a row, newest first (the reply above its request).

    A frame the store cannot read back (not written by `encode`) is shown as an error
    text instead of failing the whole page."""
    out: list[Frame] = []
    if row.reply_type is not None:
        at = row.created_at + timedelta(microseconds=row.reply_after_us or 0)
        out.append(
            Frame(
                row.station_id,
                _OTHER.get(row.direction, "out"),
                row.reply_type,
                row.unique_id,
                row.action,  # a reply answers the request's action
                _text(row.reply_frame, row.reply_type, row.unique_id, None),
                at,
            )
        )
    if row.call_type is not None:
        out.append(
            Frame(
                row.station_id,
                row.direction,
                row.call_type,
                row.unique_id,
                row.action,
                _text(row.call_frame, row.call_type, row.unique_id, row.action),
                row.created_at,
            )
        )
    return out


def _text(stored: bytes | None, message_type: int, unique_id: str, action: str | None) -> str:
    try:
        return audit_codec.decode(stored or b"", message_type, unique_id, action)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"<audit log: frame not readable: {exc}>"


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_NO_TIME = timedelta(0)
_LONGEST_REPLY = timedelta(microseconds=REPLY_AFTER_MAX_US)  # _micros(d) > MAX <=> d > this


class Pairing:
    """Holds CALLs until their reply is logged (at most `wait`), so that both share a row.

    `add` takes frames in the order they were logged and returns the exchanges that are
    complete; `due` returns the CALLs that waited long enough to be written alone."""

    def __init__(self, wait: timedelta, max_open: int = 100_000) -> None:
        self.wait = wait
        self.max_open = max_open
        self._open: OrderedDict[tuple[str, str, str], Frame] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def add(self, frames: Iterable[Frame]) -> list[Exchange]:
        # Runs on the event loop for every frame logged: locals, no temporaries.
        done: list[Exchange] = []
        append = done.append
        waiting = self._open
        pairing = self.wait > _NO_TIME
        for f in frames:
            mtype = f.message_type
            if mtype == CALL and pairing:
                key = (f.station_id, f.direction, f.unique_id)
                earlier = waiting.pop(key, None)
                if earlier is not None:  # the same id again: the first one is over
                    append(Exchange(earlier, None))
                waiting[key] = f
                if len(waiting) > self.max_open:
                    append(Exchange(waiting.popitem(last=False)[1], None))
            elif mtype in REPLIES:
                key = (f.station_id, _OTHER.get(f.direction, ""), f.unique_id)
                request = waiting.pop(key, None)
                if request is not None:
                    after = f.created_at - request.created_at
                    if after > _LONGEST_REPLY or after < _NO_TIME:
                        append(Exchange(request, None))
                        request = None
                append(Exchange(request, f))
            else:
                append(Exchange(f, None))
        return done

    def due(self, now: datetime) -> list[Exchange]:
        """CALLs logged before `now - wait`; their answer gets a row of its own."""
        limit = now - self.wait
        out: list[Exchange] = []
        while self._open:
            key, frame = next(iter(self._open.items()))
            if frame.created_at > limit:
                break
            del self._open[key]
            out.append(Exchange(frame, None))
        return out

    def drain(self) -> list[Exchange]:
        """Every CALL still waiting (shutdown)."""
        out = [Exchange(f, None) for f in self._open.values()]
        self._open.clear()
        return out

    def restore(self, exchanges: Sequence[Exchange]) -> Iterator[Frame]:
        """The frames of exchanges that could not be written, in logging order."""
        frames = [f for e in exchanges for f in e.frames()]
        frames.sort(key=lambda f: f.created_at)
        return iter(frames)
