"""Local authorization lists: what Ampyre pushes to a station's list, version tracking,
differential updates, ClearCache and GetLocalListVersion. Version-neutral: the station
is reached through the StationCommands port, which encodes for its version.

Rules (OCPP 1.6 section 5.15, 2.0.1 D01):
* the version sent is the stored version + 1, never 0 (D01.FR.18);
* a Differential update carries the tokens added or changed since the last accepted
  push (with their info) and the ones removed (without info: D01.FR.17);
* "If the status is Failed or VersionMismatch and the updateType was Differential, then
  the Central System SHOULD retry sending the full local authorization list with
  updateType = Full" (1.6 section 5.15): done once;
* the state is saved only when the station answered Accepted, so it always describes
  what the station holds.

Big lists are split into messages of `chunk_size` entries (default 100; 1.6 stations
advertise SendLocalListMaxLength, 2.0.1 ones ItemsPerMessageSendLocalList, which the
caller can pass): a Full list goes as one Full message followed by Differential ones,
and every message gets the next version number (a Differential update must carry a
version above the station's, D01.FR.19), so such a push advances the version by the
number of messages. Each accepted message is saved before the next is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from ampyre.config import Settings
from ampyre.domain.authz import AuthDecision, IdToken, IdTokenType, LocalListState
from ampyre.domain.versions import traits
from ampyre.services.ports import AuthStore
from ampyre.services.station_port import ListEntry, StationCommands

log = logging.getLogger(__name__)

DEFAULT_CHUNK: Final = 100
MAX_CHUNK: Final = 10_000


@dataclass(slots=True, frozen=True)
class PushResult:
    station_id: str
    # accepted | failed | versionmismatch | notsupported | not_connected | timeout | error
    status: str
    station_answer: str | None = None  # the SendLocalList status as sent by the station
    update_type: str | None = None  # "full" or "differential" (of the last message sent)
    version: int | None = None  # the list version the station now holds (as far as known)
    entries: int = 0  # entries sent
    messages: int = 0  # SendLocalList messages sent
    retried_full: bool = False
    detail: str | None = None


@dataclass(slots=True, frozen=True)
class CommandAnswer:
    """A station's answer to a simple command (ClearCache, GetLocalListVersion)."""

    status: str  # the answer's status in lower case, or not_connected/timeout/error
    payload: dict[str, Any]  # the station's answer as received (shown by the API)
    detail: str | None = None
    version: int | None = None  # GetLocalListVersion: the version the station holds


def status_of(sig: str) -> str:
    """The status part of a signature."""
    return sig.split("|", 1)[0]


def diff(previous: dict[str, tuple[str, str]], current: Sequence[ListEntry]) -> list[ListEntry]:
    """Entries that turn `previous` (what the station holds) into `current`: the added or
    changed ones (with their info), then the removed ones (without)."""
    out: list[ListEntry] = []
    present: set[str] = set()
    for e in current:
        present.add(e.id_token)
        if previous.get(e.id_token) != (e.type, e.signature):
            out.append(e)
    for value, (type_, _) in previous.items():
        if value not in present:
            out.append(ListEntry(value, type_, None))
    return out


def apply(entries: dict[str, tuple[str, str]], sent: Sequence[ListEntry]) -> None:
    for e in sent:
        if e.decision is None:
            entries.pop(e.id_token, None)
        else:
            entries[e.id_token] = (e.type, e.signature)


def chunks(entries: Sequence[ListEntry], size: int) -> list[list[ListEntry]]:
    if not entries:
        return [[]]
    return [list(entries[i : i + size]) for i in range(0, len(entries), size)]


class LocalListService:
    def __init__(
        self,
        store: AuthStore,
        commands: StationCommands,
        settings: Settings,
        clock: Callable[[], datetime],
        decide: Callable[[IdToken, str, datetime], AuthDecision],
    ) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings
        self._clock = clock
        self._decide = decide
        self._locks: dict[str, asyncio.Lock] = {}

    async def state(self, station_id: str) -> LocalListState | None:
        return await self._store.get_local_list(station_id)

    def entries_for(
        self, tokens: Sequence[IdToken], station_id: str, ocpp_version: str
    ) -> list[ListEntry]:
        """The list a station of `ocpp_version` should hold: one entry per value (idTags
        are case insensitive and must be unique, D01.FR.06), tokens too long for the
        version and NoAuthorization tokens (nothing to present) left out."""
        limit = traits(ocpp_version).id_token_max
        now = self._clock()
        seen: set[str] = set()
        out: list[ListEntry] = []
        for token in tokens:
            folded = token.id_token.casefold()
            if (
                len(token.id_token) > limit
                or token.type == IdTokenType.NO_AUTHORIZATION
                or folded in seen
            ):
                continue
            seen.add(folded)
            decision = self._decide(token, station_id, now)
            out.append(
                ListEntry(
                    token.id_token,
                    IdTokenType(token.type).value,
                    decision,
                    self._commands.entry_signature(ocpp_version, decision),
                )
            )
        return out

    async def push(
        self, station_id: str, differential: bool, chunk_size: int = DEFAULT_CHUNK
    ) -> PushResult:
        ocpp_version = self._commands.connected_version(station_id)
        if ocpp_version is None:
            return PushResult(station_id, "not_connected", detail="the station is not connected")
        size = max(1, min(chunk_size, MAX_CHUNK))
        # One push per station at a time: each takes the version the previous one saved.
        async with self._locks.setdefault(station_id, asyncio.Lock()):
            return await self._push(station_id, ocpp_version, differential, size)

    async def _push(
        self, station_id: str, ocpp_version: str, differential: bool, size: int
    ) -> PushResult:
        state = await self._store.get_local_list(station_id)
        tokens = await self._store.id_tokens_for_station(station_id)
        current = self.entries_for(tokens, station_id, ocpp_version)
        if differential and state is not None:
            result = await self._send(
                station_id, ocpp_version, state, diff(state.entries, current), False, size
            )
            if result.status not in ("failed", "versionmismatch") or result.messages > 1:
                return result
            # 1.6 section 5.15: retry a refused Differential update once as Full.
            log.info(
                "station %s answered %s to a differential local list; sending it full",
                station_id,
                result.station_answer,
            )
            state = await self._store.get_local_list(station_id) or state
            full = await self._send(station_id, ocpp_version, state, current, True, size)
            return replace(full, retried_full=True)
        # Nothing pushed before: a differential update has no base, so it goes full.
        base = state or LocalListState(station_id, 0)
        return await self._send(station_id, ocpp_version, base, current, True, size)

    async def _send(
        self,
        station_id: str,
        ocpp_version: str,
        state: LocalListState,
        entries: Sequence[ListEntry],
        full: bool,
        size: int,
    ) -> PushResult:
        held = {} if full else dict(state.entries)
        version = state.version
        sent = messages = 0
        update_type = "full" if full else "differential"
        for i, part in enumerate(chunks(entries, size)):
            # A big Full list: the first message replaces the list, the others add to it.
            is_full = full and i == 0
            next_version = version + 1
            outcome = await self._commands.send_local_list(
                station_id, next_version, is_full, part, self._settings.call_timeout
            )
            messages += 1
            if not outcome.answered:
                # Undelivered (or unanswered): the station holds what was last accepted.
                return PushResult(
                    station_id,
                    outcome.status,
                    station_answer=outcome.station_answer,
                    update_type=update_type,
                    version=version,
                    entries=sent,
                    messages=messages,
                    detail=outcome.detail,
                )
            answer = str(outcome.station_answer)
            if outcome.status != "accepted":
                return PushResult(
                    station_id,
                    outcome.status,
                    station_answer=answer,
                    update_type=update_type,
                    version=version,
                    entries=sent,
                    messages=messages,
                    detail=f"the station answered {answer} to version {next_version}",
                )
            apply(held, part)
            version = next_version
            sent += len(part)
            await self._store.save_local_list(
                LocalListState(
                    station_id, version, dict(held), last_status=answer, updated_at=self._clock()
                )
            )
        return PushResult(
            station_id,
            "accepted",
            station_answer="Accepted",
            update_type=update_type,
            version=version,
            entries=sent,
            messages=messages,
        )

    async def clear_cache(self, station_id: str) -> CommandAnswer:
        answer = await self._commands.clear_cache(station_id, self._settings.call_timeout)
        return CommandAnswer(answer.status, answer.response, answer.detail)

    async def live_version(self, station_id: str) -> CommandAnswer:
        """GetLocalListVersion: the version the station holds (0: no list, -1: local
        lists not supported; 1.6 section 5.10, 2.0.1 D02)."""
        answer = await self._commands.get_local_list_version(
            station_id, self._settings.call_timeout
        )
        return CommandAnswer(answer.status, answer.response, answer.detail, answer.version)
