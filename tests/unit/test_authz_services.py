"""AuthService, LocalListService and ReservationService over an in-memory AuthStore and
the FakeRouter: retries, what is saved when, the expiry loop."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeRouter

from ampyre.config import Settings
from ampyre.domain.authz import (
    AuthStatus,
    IdToken,
    IdTokenType,
    LocalListState,
    Reservation,
    ReservationStatus,
    TokenStatus,
    pick_token,
    same_value,
)
from ampyre.domain.models import Page
from ampyre.protocol.commands import OcppStationCommands
from ampyre.services.authz import AuthService, IdTokenExists, InvalidAuthInput, NotFound
from ampyre.services.commands import CallOutcome, CommandTimeout
from ampyre.services.ports import StoreUnavailable
from ampyre.services.reservations import ReservationInputError, ReservationNotActive

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class MemAuthStore:
    """Just enough of the AuthStore port, in memory."""

    def __init__(self) -> None:
        self.tokens: dict[int, IdToken] = {}
        self.lists: dict[str, LocalListState] = {}
        self.reservations: dict[int, Reservation] = {}
        self.finds = 0
        self.fail_expiry = 0
        self.expiry_calls = 0
        self.expired = asyncio.Event()

    async def create_id_token(self, token: IdToken) -> IdToken:
        if any(
            same_value(t.id_token, token.id_token) and t.type == token.type
            for t in self.tokens.values()
        ):
            raise KeyError(token.id_token)
        token = dataclasses.replace(token, id=len(self.tokens) + 1)
        self.tokens[token.id or 0] = token
        return dataclasses.replace(token)

    async def get_id_token(self, token_pk: int) -> IdToken | None:
        t = self.tokens.get(token_pk)
        return None if t is None else dataclasses.replace(t)

    async def find_id_token(self, id_token: str, type_: str | None) -> IdToken | None:
        return pick_token(await self.find_id_tokens(id_token), id_token, type_)

    async def find_id_tokens(self, id_token: str) -> list[IdToken]:
        self.finds += 1
        return [t for t in self.tokens.values() if same_value(t.id_token, id_token)]

    async def list_id_tokens(self, limit: int, offset: int, search: str | None) -> Page:
        items = list(self.tokens.values())
        return Page(items[offset : offset + limit], len(items), limit, offset)

    async def update_id_token(self, token: IdToken) -> IdToken | None:
        if token.id not in self.tokens:
            return None
        self.tokens[token.id] = dataclasses.replace(token)
        return token

    async def delete_id_token(self, token_pk: int) -> bool:
        return self.tokens.pop(token_pk, None) is not None

    async def id_tokens_for_station(self, station_id: str) -> list[IdToken]:
        return [
            t
            for t in self.tokens.values()
            if not t.restrictions or any(r.station_id == station_id for r in t.restrictions)
        ]

    async def get_local_list(self, station_id: str) -> LocalListState | None:
        s = self.lists.get(station_id)
        return None if s is None else dataclasses.replace(s, entries=dict(s.entries))

    async def save_local_list(self, state: LocalListState) -> None:
        self.lists[state.station_id] = dataclasses.replace(state, entries=dict(state.entries))

    async def create_reservation(self, reservation: Reservation) -> Reservation:
        r = dataclasses.replace(reservation, id=len(self.reservations) + 1)
        self.reservations[r.id] = r
        return dataclasses.replace(r)

    async def get_reservation(self, reservation_id: int) -> Reservation | None:
        r = self.reservations.get(reservation_id)
        return None if r is None else dataclasses.replace(r)

    async def list_reservations(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        items = list(self.reservations.values())
        return Page(items, len(items), limit, offset)

    async def update_reservation(self, reservation: Reservation) -> Reservation | None:
        if reservation.id not in self.reservations:
            return None
        self.reservations[reservation.id] = dataclasses.replace(reservation)
        return dataclasses.replace(reservation)

    async def expire_reservations(self, now: datetime) -> list[Reservation]:
        self.expiry_calls += 1
        if self.fail_expiry:
            self.fail_expiry -= 1
            raise StoreUnavailable("down")
        out = []
        for r in self.reservations.values():
            active = r.status in (ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED)
            if active and r.expires_at <= now:
                r.status = ReservationStatus.EXPIRED
                out.append(r)
        if out:
            self.expired.set()
        return out


class ScriptedRouter(FakeRouter):
    """Answers each call with the next scripted answer (the last one repeats)."""

    def __init__(self, version: str, *answers: CallOutcome | Exception) -> None:
        super().__init__({"CP": version})
        self.script = list(answers)

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CallOutcome:
        if self.script:
            self.answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return await super().call(station_id, action, payload, timeout)


def _ok(status: str) -> CallOutcome:
    return CallOutcome(ok=True, payload={"status": status})


def _service(store: MemAuthStore, router: FakeRouter) -> AuthService:
    commands = OcppStationCommands(router)
    return AuthService(store, commands, Settings(call_timeout=1.0), clock=lambda: NOW)  # type: ignore[arg-type]


async def test_authorize_is_one_lookup_and_no_authorization_none() -> None:
    store = MemAuthStore()
    svc = _service(store, FakeRouter())
    await store.create_id_token(IdToken("Card", IdTokenType.ISO14443, group_id="G"))
    decision = await svc.authorize("CP", "CARD", None)
    assert (decision.status, decision.group_id, store.finds) == (AuthStatus.ACCEPTED, "G", 1)
    # One lookup per value, whatever the type: the rule picks among its tokens.
    assert (await svc.authorize("CP", "CARD", "Central")).status is AuthStatus.UNKNOWN
    assert (await svc.authorize("CP", "", "NoAuthorization")).status is AuthStatus.ACCEPTED
    assert store.finds == 1  # NoAuthorization needs no lookup


async def test_lookups_are_remembered_until_a_token_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("ampyre.services.authz.time.monotonic", lambda: clock[0])
    store = MemAuthStore()
    svc = _service(store, FakeRouter())
    token = await svc.create_token(IdToken("T1", IdTokenType.ISO14443))
    for _ in range(3):
        assert (await svc.authorize("CP", "T1", None)).status is AuthStatus.ACCEPTED
    assert store.finds == 1
    # A change through the service is seen at once.
    await svc.update_token(token.id or 0, {"status": "blocked"})
    assert (await svc.authorize("CP", "T1", None)).status is AuthStatus.BLOCKED
    assert store.finds == 2
    # Another node's change is seen once the entry is older than the TTL.
    finds = store.finds
    clock[0] += 4.0
    await svc.authorize("CP", "T1", None)
    assert store.finds == finds
    clock[0] += 2.0
    await svc.authorize("CP", "T1", None)
    assert store.finds == finds + 1


async def test_token_validation_and_errors() -> None:
    store = MemAuthStore()
    svc = _service(store, FakeRouter())
    token = await svc.create_token(IdToken("A"))
    assert token.created_at == NOW
    with pytest.raises(IdTokenExists):
        await svc.create_token(IdToken("A"))
    with pytest.raises(InvalidAuthInput) as bad:
        await svc.create_token(IdToken("x" * 256))
    assert bad.value.field == "id_token"
    with pytest.raises(InvalidAuthInput):
        await svc.update_token(token.id or 0, {"status": None})
    with pytest.raises(InvalidAuthInput):
        await svc.update_token(token.id or 0, {"owner": "x"})
    updated = await svc.update_token(token.id or 0, {"status": "blocked", "group_id": "G"})
    assert (updated.status, updated.group_id) == (TokenStatus.BLOCKED, "G")
    with pytest.raises(NotFound):
        await svc.update_token(99, {"status": "blocked"})
    with pytest.raises(NotFound):
        await svc.delete_token(99)


async def test_push_saves_only_accepted_and_retries_refused_differential() -> None:
    store = MemAuthStore()
    router = ScriptedRouter("ocpp1.6", _ok("Accepted"))
    svc = _service(store, router)
    await store.create_id_token(IdToken("A"))
    first = await svc.lists.push("CP", differential=False)
    assert (first.status, first.version, first.update_type) == ("accepted", 1, "full")
    assert store.lists["CP"].entries == {"A": ("ISO14443", "Accepted")}

    await store.create_id_token(IdToken("B"))
    router.script = [_ok("Failed"), _ok("Accepted")]
    retried = await svc.lists.push("CP", differential=True)
    assert (retried.status, retried.retried_full, retried.version) == ("accepted", True, 2)
    assert [c[2]["updateType"] for c in router.calls[-2:]] == ["Differential", "Full"]

    router.script = [_ok("VersionMismatch")]
    refused = await svc.lists.push("CP", differential=True)
    assert (refused.status, refused.retried_full, refused.version) == (
        "versionmismatch",
        True,
        2,
    )
    assert store.lists["CP"].version == 2  # nothing refused was saved

    router.script = [_ok("NotSupported")]
    full = await svc.lists.push("CP", differential=False)
    assert (full.status, full.retried_full) == ("notsupported", False)
    assert len(router.calls) == 6  # a refused Full update is not retried

    router.script = [CommandTimeout("slow")]
    timed_out = await svc.lists.push("CP", differential=True)
    assert (timed_out.status, timed_out.version) == ("timeout", 2)


async def test_push_in_chunks_saves_each_accepted_message() -> None:
    store = MemAuthStore()
    router = ScriptedRouter(
        "ocpp2.0.1", _ok("Accepted"), _ok("Accepted"), _ok("Failed"), _ok("Accepted")
    )
    svc = _service(store, router)
    for i in range(5):
        await store.create_id_token(IdToken(f"T{i}"))
    result = await svc.lists.push("CP", differential=False, chunk_size=2)
    # Third message refused: the station holds the first two messages' entries.
    assert (result.status, result.version, result.entries, result.messages) == (
        "failed",
        2,
        4,
        3,
    )
    assert sorted(store.lists["CP"].entries) == ["T0", "T1", "T2", "T3"]
    # A differential push completes it.
    result = await svc.lists.push("CP", differential=True, chunk_size=2)
    assert (result.status, result.version, result.entries) == ("accepted", 3, 1)
    assert router.calls[-1][2]["localAuthorizationList"] == [
        {"idToken": {"idToken": "T4", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
    ]


async def test_push_to_disconnected_station_sends_nothing() -> None:
    store = MemAuthStore()
    router = FakeRouter()
    result = await _service(store, router).lists.push("CP", differential=False)
    assert result.status == "not_connected" and router.calls == []


async def test_reservation_create_check_and_cancel() -> None:
    store = MemAuthStore()
    router = ScriptedRouter("ocpp1.6", _ok("Accepted"))
    svc = _service(store, router)
    with pytest.raises(ReservationInputError):
        await svc.reserve("CP", "TAG", NOW)  # not in the future
    with pytest.raises(ReservationInputError):
        await svc.reserve("CP", "T" * 21, NOW + timedelta(hours=1))  # too long for 1.6
    assert store.reservations == {} and router.calls == []

    r, delivery = await svc.reserve("CP", "TAG", NOW + timedelta(hours=1))
    assert (r.status, delivery.status) == (ReservationStatus.ACCEPTED, "accepted")
    router.script = [_ok("Rejected")]
    kept, answer = await svc.reservations.cancel(r.id)
    assert (kept.status, answer.station_answer) == (ReservationStatus.ACCEPTED, "Rejected")
    router.script = [CallOutcome(ok=False, error_code="GenericError")]
    kept, answer = await svc.reservations.cancel(r.id)
    assert (kept.status, answer.status) == (ReservationStatus.ACCEPTED, "error")
    router.script = [_ok("Accepted")]
    cancelled, _ = await svc.reservations.cancel(r.id)
    assert cancelled.status is ReservationStatus.CANCELLED
    with pytest.raises(ReservationNotActive):
        await svc.reservations.cancel(r.id)


async def test_status_update_only_moves_active_reservations() -> None:
    store = MemAuthStore()
    svc = _service(store, ScriptedRouter("ocpp2.0.1", _ok("Accepted")))
    r, _ = await svc.reserve("CP", "TAG", NOW + timedelta(hours=1))
    await svc.reservations.used("CP", r.id, 7)
    await svc.reservations.status_update("CP", r.id, "Expired")  # already used: stays
    assert store.reservations[r.id].status is ReservationStatus.USED
    assert store.reservations[r.id].transaction_id == 7
    await svc.reservations.status_update("CP", 999, "Removed")  # unknown: ignored


async def test_expiry_loop_survives_store_errors_and_stops_on_close() -> None:
    store = MemAuthStore()
    svc = _service(store, ScriptedRouter("ocpp1.6", _ok("Accepted")))
    r, _ = await svc.reserve("CP", "TAG", NOW + timedelta(seconds=1))
    store.reservations[r.id].expires_at = NOW  # due now
    store.fail_expiry = 2
    svc.reservations.expiry_interval = 0.01
    await svc.start()
    try:
        await asyncio.wait_for(store.expired.wait(), timeout=5)
    finally:
        await svc.close()
    assert store.reservations[r.id].status is ReservationStatus.EXPIRED
    assert store.expiry_calls >= 3  # two failed sweeps did not end the loop
    calls = store.expiry_calls
    await asyncio.sleep(0.05)
    assert store.expiry_calls == calls  # stopped
    await svc.close()  # idempotent


@pytest.mark.parametrize(
    ("version", "token", "connector_type", "error"),
    [
        ("ocpp1.6", "X" * 21, None, "an OCPP 1.6 idTag has at most 20 characters"),
        ("ocpp1.6", "TAG", "cType2", "OCPP 1.6 reservations cannot name a connector type"),
        ("ocpp2.0.1", "X" * 37, None, "an OCPP 2.0.1 idToken has at most 36 characters"),
        ("ocpp2.0.1", "TAG", "Mennekes", "an OCPP 2.0.1 ConnectorEnumType value"),
        ("ocpp2.1", "X" * 255, "Mennekes", None),  # 2.1: 255 characters, free type
        (None, "X" * 255, "Mennekes", None),  # not connected: only Ampyre's own limits
    ],
)
def test_reservation_limits_follow_the_connected_version(
    version: str | None, token: str, connector_type: str | None, error: str | None
) -> None:
    router = FakeRouter({"CP1": version} if version else {})
    svc = _service(MemAuthStore(), router)
    r = Reservation(
        0, "CP1", token, IdTokenType.ISO14443, NOW + timedelta(hours=1),
        connector_type=connector_type,
    )  # fmt: skip
    if error is None:
        svc.reservations.check(r)
    else:
        with pytest.raises(ReservationInputError, match=error):
            svc.reservations.check(r)
