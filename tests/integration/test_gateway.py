"""The gateway end to end: real WebSocket clients and the REST API against a running Ampyre."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.typing import Subprotocol

from ampyre.domain.models import OcppVersion, Station
from ampyre.services.ports import StoreUnavailable

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
ALL = pytest.mark.parametrize("version", list(OcppVersion), ids=lambda v: v.value)
TS = "2025-01-01T12:00:00Z"
PASSWORD = "a-very-secret-password-42"
RECV_TIMEOUT = 5.0


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@asynccontextmanager
async def station(
    server: Server,
    station_id: str,
    protocols: Sequence[str] = ("ocpp2.0.1",),
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> AsyncIterator[ClientConnection]:
    async with connect(
        server.station_url(station_id),
        subprotocols=[Subprotocol(p) for p in protocols] or None,
        additional_headers=headers,
        open_timeout=5,
        close_timeout=2,
        **kwargs,
    ) as ws:
        yield ws


async def recv(ws: ClientConnection, timeout: float = RECV_TIMEOUT) -> list[Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    msg: list[Any] = json.loads(raw)
    return msg


async def rpc(ws: ClientConnection, msg: Any) -> list[Any]:
    await ws.send(msg if isinstance(msg, str | bytes) else json.dumps(msg))
    return await recv(ws)


async def refused_status(server: Server, station_id: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with station(server, station_id, **kwargs):
            pass
    return info.value.response.status_code


def boot_payload(version: OcppVersion) -> dict[str, Any]:
    if version is V16:
        return {"chargePointVendor": "ACME", "chargePointModel": "One"}
    return {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp"}


def status_payload(version: OcppVersion, connector: int = 1) -> dict[str, Any]:
    if version is V16:
        return {"connectorId": connector, "errorCode": "NoError", "status": "Available"}
    return {
        "timestamp": TS,
        "connectorStatus": "Available",
        "evseId": connector,
        "connectorId": 1,
    }


def reset_payload(version: OcppVersion) -> dict[str, Any]:
    return {"type": "Soft" if version is V16 else "Immediate"}


def code(version: OcppVersion, v16: str, v2: str) -> str:
    return v16 if version is V16 else v2


async def add_station(server: Server, station_id: str) -> None:
    await server.app.store.create_station(Station(id=station_id))


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - polling another process's state
            await asyncio.sleep(0.05)


# ------------------------------------------------------------------ frames


@ALL
async def test_error_frames(server: Server, version: OcppVersion) -> None:
    await add_station(server, "CP-ERR")
    async with station(server, "CP-ERR", [version.value]) as ws:
        assert ws.subprotocol == version.value
        boot = await rpc(ws, [2, "boot", "BootNotification", boot_payload(version)])
        assert boot[:2] == [3, "boot"]
        assert boot[2]["status"] == "Accepted"

        cases: list[tuple[Any, str, str]] = [
            ("this is not json", "-1", code(version, "FormationViolation", "RpcFrameworkError")),
            ('{"an": "object"}', "-1", code(version, "FormationViolation", "RpcFrameworkError")),
            (
                [2, 42, "Heartbeat", {}],
                "-1",
                code(version, "FormationViolation", "RpcFrameworkError"),
            ),
            (
                [2, "x" * 37, "Heartbeat", {}],
                "-1",
                code(version, "FormationViolation", "RpcFrameworkError"),
            ),
            (
                [2, "a", "Heartbeat", []],
                "a",
                code(version, "FormationViolation", "FormatViolation"),
            ),
            ([2, "b", "NoSuchAction", {}], "b", "NotImplemented"),
            (
                [2, "c", "StatusNotification", {}],
                "c",
                code(version, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
            ),
            (
                [2, "d", "StatusNotification", {**status_payload(version), "connectorId": "1"}],
                "d",
                "TypeConstraintViolation",
            ),
            (
                [2, "e", "Heartbeat", {"unexpected": True}],
                "e",
                code(version, "FormationViolation", "FormatViolation"),
            ),
            (
                [2, "f", "StatusNotification", {**status_payload(version), "timestamp": "noon"}],
                "f",
                "PropertyConstraintViolation",
            ),
        ]
        for msg, uid, expected in cases:
            reply = await rpc(ws, msg)
            assert reply[0] == 4, (msg, reply)
            assert reply[1:3] == [uid, expected], (msg, reply)
            assert isinstance(reply[3], str)
            assert isinstance(reply[4], dict)

        # (binary frames: test_binary_frame_closes_with_1003)

        # unknown message type: 1.6 GenericError, 2.0.1 MessageTypeNotSupported, 2.1 ignored
        await ws.send(json.dumps([9, "g", "Heartbeat", {}]))
        # a stray CALLRESULT / CALLERROR gets no answer at all
        await ws.send(json.dumps([3, "nobody-asked", {}]))
        await ws.send(json.dumps([4, "nobody-asked", "GenericError", "", {}]))
        if version is not V21:
            reply = await recv(ws)
            assert reply[:3] == [4, "g", code(version, "GenericError", "MessageTypeNotSupported")]
        # ...and the connection still works
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


# ------------------------------------------------------------------ end to end per database


async def test_boot_status_and_api(start_server: StartServer, store_url: str) -> None:
    # store_url: once on SQLite, once on PostgreSQL
    server = await start_server(store_url)
    api = server.api()
    await server.create_station("CP-E2E")
    async with station(server, "CP-E2E", ["ocpp2.0.1", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        boot = await rpc(ws, [2, "1", "BootNotification", boot_payload(V201)])
        assert boot[2]["status"] == "Accepted"
        assert boot[2]["interval"] == server.app.settings.heartbeat_interval
        assert (await rpc(ws, [2, "2", "StatusNotification", status_payload(V201)])) == [
            3,
            "2",
            {},
        ]
        assert (await rpc(ws, [2, "3", "Heartbeat", {}]))[:2] == [3, "3"]

        body = (await api.get("/stations/CP-E2E")).json()
        assert body["connected"] is True
        assert body["ocpp_version"] == "ocpp2.0.1"
        assert (body["vendor"], body["model"], body["boot_reason"]) == ("ACME", "One", "PowerUp")
        assert body["evses"][0]["evse_id"] == 1
        assert body["evses"][0]["connectors"][0]["status"] == "Available"

        # a CSMS-initiated call through the API, answered by the station
        pending = asyncio.create_task(
            api.post("/stations/CP-E2E/ocpp/Reset", json=reset_payload(V201))
        )
        call = await recv(ws)
        assert call[0] == 2
        assert call[2:] == ["Reset", {"type": "Immediate"}]
        await ws.send(json.dumps([3, call[1], {"status": "Scheduled"}]))
        response = await pending
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "scheduled", "response": {"status": "Scheduled"}}

    async def disconnected() -> bool:
        return (await api.get("/stations/CP-E2E")).json()["connected"] is False

    await wait_until(disconnected)


# ------------------------------------------------------------------ handshake


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["ocpp1.6"], "ocpp1.6"),
        (["ocpp1.6", "ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp2.0.1", "ocpp1.6", "ocpp2.1"], "ocpp2.1"),
        (["ocpp1.5", "ocpp1.6"], "ocpp1.6"),
    ],
)
async def test_subprotocol_negotiation(server: Server, offered: list[str], chosen: str) -> None:
    await add_station(server, "CP-SUB")
    async with station(server, "CP-SUB", offered) as ws:
        assert ws.subprotocol == chosen
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


@pytest.mark.parametrize("offered", [["ocpp1.5"], ["json", "ocpp2.0"], []])
async def test_no_common_subprotocol_is_refused(server: Server, offered: list[str]) -> None:
    await add_station(server, "CP-SUB")
    assert await refused_status(server, "CP-SUB", protocols=offered) == 400


async def test_station_id_with_any_prefix(server: Server) -> None:
    await add_station(server, "CP*7")
    for prefix in ("/", "/ocpp/", "/a/b/c/"):
        async with connect(
            server.station_url("CP%2A7", prefix), subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


@pytest.mark.parametrize(
    "path", ["/ocpp/", "/ocpp/../../etc/passwd", "/ocpp/%2E%2E/CP-1", "/ocpp/CP:1", "/ocpp/CP-1/"]
)
async def test_path_without_a_single_segment_id_is_refused(server: Server, path: str) -> None:
    for station_id in ("ocpp", "passwd", "CP-1", "CP:1"):
        await add_station(server, station_id)
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{server.ws_url}{path}", subprotocols=[Subprotocol("ocpp1.6")]):
            pass
    assert info.value.response.status_code == 404
    assert (await server.app.store.get_station("ocpp")).connected is False  # type: ignore[union-attr]


@ALL
async def test_binary_frame_closes_with_1003(server: Server, version: OcppVersion) -> None:
    await add_station(server, "CP-BIN")
    async with station(server, "CP-BIN", [version.value]) as ws:
        await ws.send(json.dumps([2, "b", "Heartbeat", {}]).encode())  # bytes: a binary frame
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    async with station(server, "CP-BIN", [version.value]) as ws:  # and it may come back
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


async def test_invalid_station_id_in_path(server: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            f"{server.ws_url}/ocpp/" + "x" * 49, subprotocols=[Subprotocol("ocpp1.6")]
        ):
            pass
    assert info.value.response.status_code == 404


async def test_unknown_station_is_refused(server: Server) -> None:
    assert await refused_status(server, "CP-UNKNOWN") == 404
    assert (await server.api().get("/stations/CP-UNKNOWN")).status_code == 404


async def test_auto_register(start_server: StartServer, sqlite_url: str) -> None:
    server = await start_server(sqlite_url, auto_register=True)
    async with station(server, "CP-NEW", ["ocpp1.6"]) as ws:
        boot = await rpc(ws, [2, "1", "BootNotification", boot_payload(V16)])
        assert boot[2]["status"] == "Accepted"
        body = (await server.api().get("/stations/CP-NEW")).json()
        assert body["connected"] is True
        assert body["vendor"] == "ACME"
    # an unknown station presenting credentials is not auto-registered: 401, as a wrong
    # password gets, so that guessing credentials tells nobody which ids exist
    headers = basic_auth("CP-OTHER", PASSWORD)
    assert await refused_status(server, "CP-OTHER", headers=headers) == 401
    assert (await server.api().get("/stations/CP-OTHER")).status_code == 404


async def test_security_profile_1(server: Server) -> None:
    created = await server.create_station("CP-SP1", password=PASSWORD)
    assert created["has_password"] is True
    assert await refused_status(server, "CP-SP1") == 401
    assert (
        await refused_status(
            server, "CP-SP1", headers=basic_auth("CP-SP1", "wrong-password-123456")
        )
        == 401
    )
    assert await refused_status(server, "CP-SP1", headers=basic_auth("CP-OTHER", PASSWORD)) == 401
    assert await refused_status(server, "CP-SP1", headers={"Authorization": "Basic !!!"}) == 401
    async with station(server, "CP-SP1", headers=basic_auth("CP-SP1", PASSWORD)) as ws:
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
    # again: served from the verified-password cache, same result
    async with station(server, "CP-SP1", headers=basic_auth("CP-SP1", PASSWORD)) as ws:
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
    assert (
        await refused_status(server, "CP-SP1", headers=basic_auth("CP-SP1", PASSWORD + "x")) == 401
    )


async def _refusal(server: Server, station_id: str, headers: dict[str, str]) -> Any:
    with pytest.raises(InvalidStatus) as info:
        async with station(server, station_id, headers=headers):
            pass
    return info.value.response


async def test_unknown_id_with_credentials_looks_like_a_wrong_password(server: Server) -> None:
    await server.create_station("CP-REAL", password=PASSWORD)
    wrong = await _refusal(server, "CP-REAL", basic_auth("CP-REAL", PASSWORD + "x"))
    unknown = await _refusal(server, "CP-GHOST", basic_auth("CP-GHOST", PASSWORD))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.body == unknown.body
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


def _security_events(body: str, event: str) -> float:
    for line in body.splitlines():
        if line.startswith(f'ampyre_security_events_total{{event="{event}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_failed_logins_are_throttled_and_recorded(
    start_server: StartServer, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(
        store_url, auth_fail_station_limit=2, auth_fail_address_limit=4, auth_fail_max_delay=60
    )
    await server.create_station("CP-T1", password=PASSWORD)
    await server.create_station("CP-T2", password=PASSWORD)
    bad = basic_auth("CP-T1", "wrong-password-123456")
    caplog.set_level("WARNING", logger="ampyre.gateway.server")
    assert (await _refusal(server, "CP-T1", bad)).status_code == 401
    assert (await _refusal(server, "CP-T1", bad)).status_code == 401  # 2nd: now blocked
    throttled = await _refusal(server, "CP-T1", bad)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    # Blocked means blocked: the right password does not get in (or be confirmed) either.
    good = await _refusal(server, "CP-T1", basic_auth("CP-T1", PASSWORD))
    assert good.status_code == 429
    # Other stations from this address are not blocked until the address limit (4).
    async with station(server, "CP-T2", headers=basic_auth("CP-T2", PASSWORD)) as ws:
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
    for ghost in ("CP-G1", "CP-G2"):  # unknown ids count as failures too
        assert (await _refusal(server, ghost, basic_auth(ghost, "x"))).status_code == 401
    assert (await _refusal(server, "CP-T2", basic_auth("CP-T2", PASSWORD))).status_code == 429
    # Security events: a WARNING line each, and a counter on /metrics.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("security:")]
    assert sum("failed HTTP Basic login for station CP-T1" in m for m in lines) == 2
    assert any("unknown station" in m and "CP-G1" in m for m in lines)
    assert any("throttled" in m for m in lines)
    metrics = await server.api().get(f"{server.http_url}/metrics")
    assert metrics.status_code == 200
    assert _security_events(metrics.text, "auth_failed") == 4
    assert _security_events(metrics.text, "auth_throttled") == 3


async def test_guessing_from_elsewhere_does_not_lock_a_station_out(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(
        sqlite_url, auth_fail_station_limit=2, trusted_proxies=["127.0.0.1/32"]
    )
    await server.create_station("CP-HOME", password=PASSWORD)

    def via(address: str, password: str) -> dict[str, str]:
        return {**basic_auth("CP-HOME", password), "X-Forwarded-For": address}

    async with station(server, "CP-HOME", headers=via("198.51.100.7", PASSWORD)):
        pass
    for _ in range(2):  # someone else guesses its password
        assert (await _refusal(server, "CP-HOME", via("192.0.2.66", "guess"))).status_code == 401
    assert (await _refusal(server, "CP-HOME", via("192.0.2.66", PASSWORD))).status_code == 429
    assert (await _refusal(server, "CP-HOME", via("192.0.2.99", PASSWORD))).status_code == 429
    # The station itself, from where it logs in, is not locked out.
    async with station(server, "CP-HOME", headers=via("198.51.100.7", PASSWORD)) as ws:
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


async def test_401_carries_basic_challenge(server: Server) -> None:
    await server.create_station("CP-SP1", password=PASSWORD)
    with pytest.raises(InvalidStatus) as info:
        async with station(server, "CP-SP1"):
            pass
    assert info.value.response.headers["WWW-Authenticate"].startswith("Basic")


# ------------------------------------------------------------------ connection life cycle


async def test_new_connection_replaces_the_old_one(server: Server) -> None:
    await add_station(server, "CP-DUP")
    api = server.api()
    async with (
        station(server, "CP-DUP", ["ocpp1.6"]) as first,
        station(server, "CP-DUP", ["ocpp1.6"]) as second,
    ):
        with pytest.raises(ConnectionClosed) as info:
            await recv(first)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1000

        pending = asyncio.create_task(
            api.post("/stations/CP-DUP/ocpp/Reset", json=reset_payload(V16))
        )
        call = await recv(second)
        await second.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        response = await pending
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted"
        await asyncio.sleep(0.1)  # let the old connection's clean-up run
        body = (await api.get("/stations/CP-DUP")).json()
        assert body["connected"] is True
        assert (await rpc(second, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
    assert len(server.app.registry) <= 1


async def test_rejected_station_is_refused_without_booting(server: Server) -> None:
    await server.create_station("CP-REJ", registration_status="Rejected")
    async with station(server, "CP-REJ", ["ocpp2.0.1"]) as ws:
        reply = await rpc(ws, [2, "h", "Heartbeat", {}])
        assert reply[:3] == [4, "h", "SecurityError"]


async def test_deleting_a_connected_station_closes_its_socket(server: Server) -> None:
    await add_station(server, "CP-DEL")
    api = server.api()
    async with station(server, "CP-DEL", ["ocpp1.6"]) as ws:
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
        assert (await api.delete("/stations/CP-DEL")).status_code == 204
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    # and it cannot come back: unknown stations are refused
    assert await refused_status(server, "CP-DEL") == 404


async def test_oversized_message_closes_with_1009(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url, max_message_size=4096)
    await add_station(server, "CP-BIG")
    await add_station(server, "CP-OK")
    async with station(server, "CP-OK", ["ocpp1.6"]) as other:
        async with station(server, "CP-BIG", ["ocpp1.6"], max_size=None) as ws:
            info = "x" * 8000
            await ws.send(json.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": info}]))
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009
        assert (await rpc(other, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
    async with station(server, "CP-BIG", ["ocpp1.6"]) as ws:
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


async def test_unresponsive_client_is_dropped(start_server: StartServer, sqlite_url: str) -> None:
    # Pings every second, a second to answer: the client shares the server's process and
    # event loop, and a loaded test process still answers in time until the pongs are
    # dropped (with 0.2 s and then 0.5 s it was dropped before the first check).
    server = await start_server(sqlite_url, ping_interval=1.0, ping_timeout=1.0)
    await add_station(server, "CP-MUTE")
    api = server.api()
    async with station(server, "CP-MUTE", ["ocpp1.6"], ping_interval=None) as ws:
        assert (await api.get("/stations/CP-MUTE")).json()["connected"] is True
        # Drop our pongs: the server's pings go unanswered, everything else still works.
        send_frame = ws.protocol.send_frame

        def no_pongs(frame: Frame) -> None:
            if frame.opcode is not Opcode.PONG:
                send_frame(frame)

        ws.protocol.send_frame = no_pongs  # type: ignore[method-assign]
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws, timeout=5)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1011  # keepalive ping timeout

        async def dropped() -> bool:
            response = await api.get("/stations/CP-MUTE")
            return response.json()["connected"] is False

        await wait_until(dropped)
        assert server.app.registry.get("CP-MUTE") is None


async def test_responsive_client_survives_pings(start_server: StartServer, sqlite_url: str) -> None:
    server = await start_server(sqlite_url, ping_interval=0.1, ping_timeout=0.5)
    await add_station(server, "CP-PING")
    async with station(server, "CP-PING", ["ocpp1.6"], ping_interval=None) as ws:
        await asyncio.sleep(0.6)
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]


async def test_graceful_shutdown_closes_with_1001(
    start_server: StartServer, sqlite_url: str
) -> None:
    server = await start_server(sqlite_url)
    await add_station(server, "CP-BYE")
    async with station(server, "CP-BYE", ["ocpp2.1"]) as ws:
        await rpc(ws, [2, "h", "Heartbeat", {}])
        server.stop.set()
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws, timeout=10)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1001
    await asyncio.wait_for(server.task, timeout=15)


# ------------------------------------------------------------------ CSMS -> station calls


async def test_call_errors_through_the_api(server: Server) -> None:
    await add_station(server, "CP-CMD")
    api = server.api()
    path = "/stations/CP-CMD/ocpp/Reset"

    response = await api.post(path, json=reset_payload(V201))
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.post("/stations/CP-NOPE/ocpp/Reset", json={})).status_code == 404

    async with station(server, "CP-CMD", ["ocpp2.0.1"]) as ws:
        # The handshake completes before the server registers the session.
        async def live() -> bool:
            return server.app.registry.ocpp_version("CP-CMD") is not None

        await wait_until(live)
        # invalid payload: refused before sending (422)
        response = await api.post(path, json={"type": "Sideways"})
        assert response.status_code == 422
        assert response.json()["error_code"] == "PropertyConstraintViolation"
        # unknown action for this version (400)
        response = await api.post("/stations/CP-CMD/ocpp/GetConfiguration", json={})
        assert response.status_code == 400
        # the station never answers: 504
        response = await api.post(path, params={"timeout": 0.3}, json=reset_payload(V201))
        assert response.status_code == 504
        assert (await recv(ws))[2] == "Reset"  # it was sent
        # the station answers with a CALLERROR: 502 with the error
        pending = asyncio.create_task(api.post(path, json=reset_payload(V201)))
        call = await recv(ws)
        await ws.send(json.dumps([4, call[1], "NotSupported", "no", {}]))
        response = await pending
        assert response.status_code == 502
        assert response.json()["error_code"] == "NotSupported"
        # the station answers with an invalid CALLRESULT: 502 with the violation
        pending = asyncio.create_task(api.post(path, json=reset_payload(V201)))
        call = await recv(ws)
        await ws.send(json.dumps([3, call[1], {"status": "Perhaps"}]))
        response = await pending
        assert response.status_code == 502
        assert response.json()["error_code"] == "PropertyConstraintViolation"
        # nothing was left queued: a normal call still works
        pending = asyncio.create_task(api.post(path, json=reset_payload(V201)))
        call = await recv(ws)
        await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        assert (await pending).json() == {"status": "accepted", "response": {"status": "Accepted"}}


async def test_21_invalid_station_response_gets_call_result_error(server: Server) -> None:
    await add_station(server, "CP-21")
    api = server.api()
    async with station(server, "CP-21", ["ocpp2.1"]) as ws:
        pending = asyncio.create_task(
            api.post("/stations/CP-21/ocpp/Reset", json={"type": "OnIdle"})
        )
        call = await recv(ws)
        await ws.send(json.dumps([3, call[1], {"status": "Perhaps"}]))
        error = await recv(ws)
        assert error[:3] == [5, call[1], "PropertyConstraintViolation"]
        assert (await pending).status_code == 502


# ------------------------------------------------------------------ database outage


@ALL
async def test_database_outage_during_status_notification(
    server: Server, version: OcppVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_station(server, "CP-DB")
    store = server.app.store
    # Every write on the OCPP path goes through the group commit (status reports through
    # the alert service first): the outage is there.
    writer = store.writer
    real_submit = writer.submit

    async def outage(payload: object) -> None:
        raise StoreUnavailable("database is down")

    async with station(server, "CP-DB", [version.value]) as ws:
        await rpc(ws, [2, "b", "BootNotification", boot_payload(version)])
        monkeypatch.setattr(writer, "submit", outage)
        reply = await rpc(ws, [2, "s1", "StatusNotification", status_payload(version)])
        assert reply[:3] == [4, "s1", "InternalError"]
        assert "database is down" not in reply[3]
        # the connection survives
        assert (await rpc(ws, [2, "h", "Heartbeat", {}]))[:2] == [3, "h"]
        # after recovery the retry succeeds and is stored
        monkeypatch.setattr(writer, "submit", real_submit)
        assert await rpc(ws, [2, "s2", "StatusNotification", status_payload(version)]) == [
            3,
            "s2",
            {},
        ]
        connectors = await store.list_connectors("CP-DB")
        assert [c.status for c in connectors] == ["Available"]


async def test_api_is_authenticated(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/api/v1/stations")
        assert response.status_code == 401
