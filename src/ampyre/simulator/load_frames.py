"""The load generator's pre-encoded frames: built by byte concatenation around a
counter-based unique id, so that the generator spends its CPU on the sockets rather than
on JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from ampyre.simulator import messages as m

HEARTBEAT_SUFFIX = b'","Heartbeat",{}]'
STATUS_EVERY = 5  # every 5th CALL is a StatusNotification: 80 % Heartbeat, 20 % Status


def timestamp() -> bytes:
    t = datetime.now(UTC)
    return (t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z").encode()


class Frames:
    """Pre-encoded frame pieces; the status suffixes get a fresh timestamp every second."""

    def __init__(self, protocol: str) -> None:
        self.v16 = m.is_v16(protocol)
        self.statuses = (b"Available", b"Preparing") if self.v16 else (b"Available", b"Occupied")
        self.status_suffix: tuple[bytes, bytes] = (b"", b"")
        self.refresh()

    def refresh(self) -> None:
        ts = timestamp()
        if self.v16:
            self.status_suffix = tuple(  # type: ignore[assignment]
                b'","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"'
                + s
                + b'","timestamp":"'
                + ts
                + b'"}]'
                for s in self.statuses
            )
        else:
            self.status_suffix = tuple(  # type: ignore[assignment]
                b'","StatusNotification",{"timestamp":"'
                + ts
                + b'","connectorStatus":"'
                + s
                + b'","evseId":1,"connectorId":1}]'
                for s in self.statuses
            )
