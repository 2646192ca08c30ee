"""Test doubles shared by the unit tests (imported as a plain module)."""

from typing import Any

from ampyre.services.commands import CallOutcome


class FakeRouter:
    """CommandRouter double: which stations are 'live' and what `call` answers."""

    def __init__(
        self,
        versions: dict[str, str] | None = None,
        answer: CallOutcome | Exception | None = None,
    ) -> None:
        self.versions: dict[str, str] = dict(versions or {})
        self.answer: CallOutcome | Exception = answer or CallOutcome(ok=True, payload={})
        self.calls: list[tuple[str, str, dict[str, Any], float | None]] = []
        self.disconnected: list[str] = []

    def ocpp_version(self, station_id: str) -> str | None:
        return self.versions.get(station_id)

    async def disconnect(self, station_id: str, reason: str) -> bool:
        self.disconnected.append(station_id)
        return self.versions.pop(station_id, None) is not None

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        self.calls.append((station_id, action, payload, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer
