"""Authorization over real WebSockets: Authorize (1.6, 2.0.1, 2.1 through the `ocpp`
library's peers), local lists, ClearCache, reservations (a raw station that records
Ampyre's CALLs and answers them as told)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

DEFAULT_ANSWERS: dict[str, dict[str, Any]] = {
    "SendLocalList": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "CancelReservation": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "GetLocalListVersion": {"listVersion": 0},
}


class RawStation:
    """Records the CALLs Ampyre sends and answers them from per-action queues (the last
    answer repeats; a tuple (code, text) is a CALLERROR; None never answers)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, list[Any]] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)

    def answer(self, action: str, *answers: Any) -> None:
        self.answers[action] = list(answers)

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [p for a, p in self.received if a == action]

    async def run(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if msg[0] != 2:
                future = self._pending.pop(msg[1], None)
                if future is not None and not future.done():
                    future.set_result(msg)
                continue
            _, uid, action, payload = msg
            self.received.append((action, payload))
            queue = self.answers.get(action)
            if queue:
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
            else:
                reply = DEFAULT_ANSWERS.get(action, {})
            if reply is None:
                continue
            if isinstance(reply, tuple):
                await self.ws.send(json.dumps([4, uid, reply[0], reply[1], {}]))
            else:
                await self.ws.send(json.dumps([3, uid, reply]))

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        uid = f"s{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[uid] = future
        await self.ws.send(json.dumps([2, uid, action, payload]))
        msg = await asyncio.wait_for(future, timeout=5)
        assert msg[0] == 3, msg
        return msg[2]


@asynccontextmanager
async def raw_station(server: Server, station_id: str, version: str) -> AsyncIterator[RawStation]:
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(version)], open_timeout=5
    ) as ws:
        assert ws.subprotocol == version
        station = RawStation(ws)
        task = asyncio.create_task(station.run())
        try:
            # Answered once the session is registered: commands can reach it from then on.
            await station.call("Heartbeat", {})
            yield station
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def lib_station(
    cp_class: type[Any], server: Server, station_id: str, protocol: str
) -> AsyncIterator[Any]:
    async with connect(
        server.station_url(station_id), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        cp = cp_class(station_id, ws, response_timeout=5)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _in(seconds: float) -> str:
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.replace(microsecond=at.microsecond // 1000 * 1000).isoformat()


async def _tokens(api: httpx.AsyncClient, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for body in bodies:
        response = await api.post("/id-tokens", json=body)
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


AUTH_TOKENS: list[dict[str, Any]] = [
    {"id_token": "GOOD", "group_id": "FLEET"},
    {"id_token": "BLOCKED", "status": "blocked"},
    {"id_token": "OLD", "expires_at": "2001-01-01T00:00:00Z"},
    {"id_token": "FUTURE", "expires_at": "2099-01-01T00:00:00Z"},
    {"id_token": "ELSEWHERE", "restrictions": [{"station_id": "OTHER"}]},
    {"id_token": "HERE", "restrictions": [{"station_id": "AUTH", "evse_id": 1}]},
    {"id_token": "aabbcc", "type": "MacAddress"},
    {"id_token": "E-MAID", "type": "eMAID", "status": "invalid"},
]


@pytest.fixture
async def srv(store_url: str, start_server: StartServer) -> Server:
    # store_url first: the server stops before its database is dropped.
    return await start_server(store_url)


async def test_authorize_ocpp16(srv: Server) -> None:
    await srv.create_station("AUTH")
    await _tokens(srv.api(), *AUTH_TOKENS)
    async with lib_station(ChargePoint16, srv, "AUTH", "ocpp1.6") as cp:

        async def authorize(tag: str) -> dict[str, Any]:
            result = await cp.call(call16.Authorize(id_tag=tag), suppress=False)
            info: dict[str, Any] = result.id_tag_info
            return info

        assert await authorize("GOOD") == {"status": "Accepted", "parent_id_tag": "FLEET"}
        assert await authorize("good") == {"status": "Accepted", "parent_id_tag": "FLEET"}
        assert await authorize("UNKNOWN") == {"status": "Invalid"}
        assert await authorize("BLOCKED") == {"status": "Blocked"}
        assert (await authorize("OLD"))["status"] == "Expired"
        future = await authorize("FUTURE")
        assert future == {"status": "Accepted", "expiry_date": "2099-01-01T00:00:00.000Z"}
        assert await authorize("ELSEWHERE") == {"status": "Invalid"}  # NotAtThisLocation
        assert await authorize("HERE") == {"status": "Accepted"}
        assert await authorize("AABBCC") == {"status": "Accepted"}  # any type in 1.6
        assert await authorize("E-MAID") == {"status": "Invalid"}


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_authorize_ocpp201(server: Server, protocol: str) -> None:
    await server.create_station("AUTH")
    await _tokens(server.api(), *AUTH_TOKENS)
    async with lib_station(ChargePoint201, server, "AUTH", protocol) as cp:

        async def authorize(value: str, type_: str = "ISO14443", **extra: Any) -> Any:
            request = call201.Authorize(id_token={"id_token": value, "type": type_}, **extra)
            result = await cp.call(request, suppress=False)
            return result.id_token_info

        assert await authorize("GOOD") == {
            "status": "Accepted",
            "group_id_token": {"id_token": "FLEET", "type": "Central"},
        }
        assert await authorize("GOOD", "Central") == {"status": "Unknown"}  # type matters
        assert await authorize("UNKNOWN") == {"status": "Unknown"}
        assert await authorize("BLOCKED") == {"status": "Blocked"}
        assert await authorize("OLD") == {
            "status": "Expired",
            "cache_expiry_date_time": "2001-01-01T00:00:00.000Z",
        }
        assert await authorize("ELSEWHERE") == {"status": "NotAtThisLocation"}
        assert await authorize("HERE") == {"status": "Accepted"}
        assert await authorize("AABBCC", "MacAddress") == {"status": "Accepted"}
        assert await authorize("E-MAID", "eMAID") == {"status": "Invalid"}
        assert await authorize("", "NoAuthorization") == {"status": "Accepted"}
        # ISO 15118 certificate data is evaluated (C07): the contract's revocation status is
        # asked of its OCSP responder; one that cannot be reached leaves it unknown: refused.
        hashes = [
            {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": "a" * 64,
                "issuer_key_hash": "b" * 64,
                "serial_number": "01",
                "responder_url": "http://127.0.0.1:9/ocsp",  # nothing listens: refused at once
            }
        ]
        info = await authorize("GOOD", iso15118_certificate_hash_data=hashes)
        assert info["status"] == "Invalid"


async def _push(api: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    response = await api.post("/local-lists/push", json=body)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def test_local_list_ocpp16_full_differential_and_mismatch(srv: Server) -> None:
    api = srv.api()
    await srv.create_station("LL16")
    good, blocked, _, _ = await _tokens(
        api,
        {"id_token": "GOOD", "group_id": "FLEET", "expires_at": "2099-01-01T00:00:00Z"},
        {"id_token": "BLOCKED", "status": "blocked"},
        {"id_token": "ELSEWHERE", "restrictions": [{"station_id": "OTHER"}]},
        {"id_token": "X" * 21},  # too long for a 1.6 idTag: left out
    )
    async with raw_station(srv, "LL16", "ocpp1.6") as st:
        [result] = await _push(api, station_ids=["LL16"], update_type="differential")
        # Nothing pushed before: differential has no base and goes full.
        assert result["status"] == "accepted" and result["version"] == 1
        assert (result["update_type"], result["entries"], result["messages"]) == ("full", 2, 1)
        [sent] = st.calls("SendLocalList")
        assert sent == {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {
                    "idTag": "GOOD",
                    "idTagInfo": {
                        "status": "Accepted",
                        "expiryDate": "2099-01-01T00:00:00.000Z",
                        "parentIdTag": "FLEET",
                    },
                },
                {"idTag": "BLOCKED", "idTagInfo": {"status": "Blocked"}},
            ],
        }
        state = (await api.get("/stations/LL16/local-list")).json()
        assert state["version"] == 1 and state["last_status"] == "Accepted"
        assert state["entries"] == [
            {"id_token": "BLOCKED", "type": "ISO14443", "status": "Blocked"},
            {"id_token": "GOOD", "type": "ISO14443", "status": "Accepted"},
        ]

        # Change one, remove one, add one: a differential update carries just that.
        await api.patch(f"/id-tokens/{good['id']}", json={"group_id": "FLEET2"})
        await api.delete(f"/id-tokens/{blocked['id']}")
        await _tokens(api, {"id_token": "NEW"})
        [result] = await _push(api, station_ids=["LL16"], update_type="differential")
        assert (result["status"], result["version"], result["update_type"]) == (
            "accepted",
            2,
            "differential",
        )
        sent = st.calls("SendLocalList")[-1]
        assert sent["listVersion"] == 2 and sent["updateType"] == "Differential"
        assert sent["localAuthorizationList"] == [
            {
                "idTag": "GOOD",
                "idTagInfo": {
                    "status": "Accepted",
                    "expiryDate": "2099-01-01T00:00:00.000Z",
                    "parentIdTag": "FLEET2",
                },
            },
            {"idTag": "NEW", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "BLOCKED"},  # removed: no idTagInfo
        ]
        # Nothing changed: an empty differential update still moves the version.
        [result] = await _push(api, station_ids=["LL16"], update_type="differential")
        assert result["version"] == 3
        assert "localAuthorizationList" not in st.calls("SendLocalList")[-1]

        # VersionMismatch on differential: retried once as Full.
        await _tokens(api, {"id_token": "LATE"})
        st.answer("SendLocalList", {"status": "VersionMismatch"}, {"status": "Accepted"})
        [result] = await _push(api, station_ids=["LL16"], update_type="differential")
        assert result["status"] == "accepted" and result["retried_full"] is True
        assert result["version"] == 4 and result["update_type"] == "full"
        mismatch, full = st.calls("SendLocalList")[-2:]
        assert (mismatch["updateType"], mismatch["listVersion"]) == ("Differential", 4)
        assert (full["updateType"], full["listVersion"]) == ("Full", 4)
        assert [e["idTag"] for e in full["localAuthorizationList"]] == ["GOOD", "NEW", "LATE"]

        # A refused Full push changes nothing stored.
        st.answer("SendLocalList", {"status": "Failed"})
        [result] = await _push(api, station_ids=["LL16"])
        assert (result["status"], result["station_answer"], result["version"]) == (
            "failed",
            "Failed",
            4,
        )
        state = (await api.get("/stations/LL16/local-list")).json()
        assert state["version"] == 4 and len(state["entries"]) == 3

        # live: GetLocalListVersion; ClearCache.
        st.answer("GetLocalListVersion", {"listVersion": 4})
        live = (await api.get("/stations/LL16/local-list", params={"live": "true"})).json()
        assert (live["live_version"], live["live_status"]) == (4, "ok")
        cleared = await api.post("/stations/LL16/clear-cache")
        assert cleared.status_code == 200
        assert cleared.json() == {"status": "accepted", "response": {"status": "Accepted"}}
        assert st.calls("ClearCache") == [{}]
        st.answer("ClearCache", ("NotSupported", "no cache"))
        assert (await api.post("/stations/LL16/clear-cache")).status_code == 502


async def test_local_list_chunks_and_ocpp201(server: Server) -> None:
    api = server.api()
    await server.create_station("LL201")
    await server.create_station("OFF")
    await _tokens(
        api,
        *({"id_token": f"T{i}", "type": "Central"} for i in range(5)),
        {"id_token": "ELSEWHERE", "restrictions": [{"station_id": "OTHER"}]},
        {"id_token": "Y" * 37},  # too long for a 2.0.1 idToken: left out
    )
    async with raw_station(server, "LL201", "ocpp2.0.1") as st:
        results = await _push(api, station_ids=["LL201", "OFF", "NOPE"], chunk_size=2)
        assert [(r["station_id"], r["status"]) for r in results] == [
            ("LL201", "accepted"),
            ("OFF", "not_connected"),
            ("NOPE", "unknown_station"),
        ]
        assert (results[0]["version"], results[0]["messages"], results[0]["entries"]) == (3, 3, 5)
        sent = st.calls("SendLocalList")
        assert [(m["versionNumber"], m["updateType"]) for m in sent] == [
            (1, "Full"),
            (2, "Differential"),
            (3, "Differential"),
        ]
        assert sent[0]["localAuthorizationList"][0] == {
            "idToken": {"idToken": "T0", "type": "Central"},
            "idTokenInfo": {"status": "Accepted"},
        }

        # A removal in 2.0.1: the idToken without idTokenInfo (D01.FR.17).
        page = (await api.get("/id-tokens", params={"search": "T4"})).json()
        await api.delete(f"/id-tokens/{page['items'][0]['id']}")
        [result] = await _push(api, all_connected=True, update_type="differential")
        assert (result["station_id"], result["status"], result["version"]) == (
            "LL201",
            "accepted",
            4,
        )
        assert st.calls("SendLocalList")[-1] == {
            "versionNumber": 4,
            "updateType": "Differential",
            "localAuthorizationList": [{"idToken": {"idToken": "T4", "type": "Central"}}],
        }
        # A station that does not answer: the push reports it; the state stays.
        st.answer("SendLocalList", ("InternalError", "disk full"))
        [result] = await _push(api, station_ids=["LL201"])
        assert result["status"] == "error" and result["station_answer"] == "InternalError"
        assert (await api.get("/stations/LL201/local-list")).json()["version"] == 4
        st.answer("GetLocalListVersion", {"versionNumber": 4})
        live = (await api.get("/stations/LL201/local-list", params={"live": "true"})).json()
        assert live["live_version"] == 4

    bad = await api.post("/local-lists/push", json={"station_ids": ["A"], "all_connected": True})
    assert bad.status_code == 422
    assert (await api.post("/local-lists/push", json={})).status_code == 422
    assert (await api.post("/local-lists/push", json={"station_ids": []})).status_code == 422
    assert (
        await api.post("/local-lists/push", json={"all_connected": True, "update_type": "x"})
    ).status_code == 422
    assert (await api.get("/stations/NOPE/local-list")).status_code == 404
    assert (await api.post("/stations/OFF/clear-cache")).status_code == 409
    offline = (await api.get("/stations/OFF/local-list", params={"live": "true"})).json()
    assert offline["live_status"] == "not_connected" and offline["version"] == 0


async def test_reservations_ocpp16(srv: Server) -> None:
    api = srv.api()
    await srv.create_station("R16")
    await _tokens(api, {"id_token": "DRIVER", "group_id": "FLEET"})
    async with raw_station(srv, "R16", "ocpp1.6") as st:
        expires = _in(3600)
        created = await api.post(
            "/reservations",
            json={"station_id": "R16", "evse_id": 2, "id_token": "DRIVER", "expires_at": expires},
        )
        assert created.status_code == 201, created.text
        r = created.json()
        assert created.headers["Location"] == f"/api/v1/reservations/{r['id']}"
        assert (r["status"], r["station_answer"], r["id_token_type"]) == (
            "accepted",
            "Accepted",
            "ISO14443",
        )
        assert r["group_id"] == "FLEET"  # from the stored token
        assert r["delivery"] == {"status": "accepted", "station_answer": "Accepted", "detail": None}
        [sent] = st.calls("ReserveNow")
        assert sent["connectorId"] == 2 and sent["idTag"] == "DRIVER"
        assert sent["reservationId"] == r["id"] and sent["parentIdTag"] == "FLEET"
        assert datetime.fromisoformat(sent["expiryDate"]) == datetime.fromisoformat(expires)

        st.answer("ReserveNow", {"status": "Occupied"})
        occupied = (
            await api.post(
                "/reservations",
                json={"station_id": "R16", "id_token": "OTHER", "expires_at": _in(60)},
            )
        ).json()
        assert (occupied["status"], occupied["station_answer"]) == ("rejected", "Occupied")
        assert st.calls("ReserveNow")[-1]["connectorId"] == 0  # any connector
        st.answer("ReserveNow", ("InternalError", "boom"))
        failed = (
            await api.post(
                "/reservations",
                json={"station_id": "R16", "id_token": "OTHER", "expires_at": _in(60)},
            )
        ).json()
        assert failed["status"] == "failed" and failed["delivery"]["status"] == "error"

        # Cancel: Rejected keeps it; Accepted cancels it; then it is not active.
        st.answer("CancelReservation", {"status": "Rejected"}, {"status": "Accepted"})
        rejected = await api.delete(f"/reservations/{r['id']}")
        assert rejected.status_code == 200
        assert rejected.json()["status"] == "accepted"
        assert rejected.json()["delivery"]["station_answer"] == "Rejected"
        cancelled = await api.delete(f"/reservations/{r['id']}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert st.calls("CancelReservation") == [{"reservationId": r["id"]}] * 2
        again = await api.delete(f"/reservations/{r['id']}")
        assert again.status_code == 409
        assert again.json()["type"] == "urn:ampyre:problem:reservation-not-active"
        assert (await api.delete(f"/reservations/{failed['id']}")).status_code == 409
        assert (await api.delete("/reservations/999999")).status_code == 404

        # Validation: nothing stored, nothing sent.
        sent_before = len(st.received)
        for body, code in [
            ({"station_id": "R16", "id_token": "D", "expires_at": _in(-1)}, 422),
            ({"station_id": "R16", "id_token": "D" * 21, "expires_at": _in(60)}, 422),
            (
                {
                    "station_id": "R16",
                    "id_token": "D",
                    "expires_at": _in(60),
                    "connector_type": "cType2",
                },
                422,
            ),
            ({"station_id": "R16", "id_token": "D", "expires_at": _in(60), "evse_id": -1}, 422),
            ({"station_id": "NOPE", "id_token": "D", "expires_at": _in(60)}, 404),
        ]:
            response = await api.post("/reservations", json=body)
            assert response.status_code == code, (body, response.text)
        assert len(st.received) == sent_before

        # A transaction used a reservation (called by the transaction service).
        active = (
            await api.post(
                "/reservations",
                json={"station_id": "R16", "id_token": "DRIVER", "expires_at": _in(60)},
            )
        ).json()
        await srv.app.auth.reservation_used("R16", active["id"], 42)
        await srv.app.auth.reservation_used("R16", 999_999, 43)  # unknown: ignored
        await srv.app.auth.reservation_used("ELSEWHERE", active["id"], 44)  # not its station
        used = (await api.get(f"/reservations/{active['id']}")).json()
        assert (used["status"], used["transaction_id"]) == ("used", 42)

    page = (await api.get("/reservations", params={"station_id": "R16"})).json()
    assert page["total"] == 4 and page["items"][0]["id"] == active["id"]  # newest first
    page = (await api.get("/reservations", params={"status": "rejected"})).json()
    assert [x["id"] for x in page["items"]] == [occupied["id"]]
    assert (await api.get("/reservations", params={"status": "bogus"})).status_code == 422
    assert (await api.get("/reservations/999999")).status_code == 404

    # Station gone: ReserveNow cannot be delivered; CancelReservation gives 409.
    offline = await api.post(
        "/reservations", json={"station_id": "R16", "id_token": "D", "expires_at": _in(60)}
    )
    assert offline.status_code == 201
    assert (offline.json()["status"], offline.json()["delivery"]["status"]) == (
        "failed",
        "not_connected",
    )


async def test_reservations_ocpp201_status_update_and_expiry(server: Server) -> None:
    api = server.api()
    await server.create_station("R201")
    await _tokens(api, {"id_token": "EMA1", "type": "eMAID"})
    async with raw_station(server, "R201", "ocpp2.0.1") as st:
        r = (
            await api.post(
                "/reservations",
                json={
                    "station_id": "R201",
                    "evse_id": 1,
                    "id_token": "EMA1",
                    "expires_at": _in(3600),
                    "connector_type": "cCCS2",
                    "group_id": "G",
                },
            )
        ).json()
        assert r["status"] == "accepted" and r["id_token_type"] == "eMAID"
        sent = st.calls("ReserveNow")[-1]
        assert sent["id"] == r["id"] and sent["evseId"] == 1
        assert sent["idToken"] == {"idToken": "EMA1", "type": "eMAID"}
        assert sent["connectorType"] == "cCCS2"
        assert sent["groupIdToken"] == {"idToken": "G", "type": "Central"}
        bad = await api.post(
            "/reservations",
            json={
                "station_id": "R201",
                "id_token": "EMA1",
                "expires_at": _in(60),
                "connector_type": "Type2",
            },
        )
        assert bad.status_code == 422

        # The station removed it (H04): cancelled.
        assert (
            await st.call(
                "ReservationStatusUpdate",
                {"reservationId": r["id"], "reservationUpdateStatus": "Removed"},
            )
            == {}
        )
        assert (await api.get(f"/reservations/{r['id']}")).json()["status"] == "cancelled"
        # Unknown reservation: answered, ignored.
        assert (
            await st.call(
                "ReservationStatusUpdate",
                {"reservationId": 999999, "reservationUpdateStatus": "Expired"},
            )
            == {}
        )

        short = (
            await api.post(
                "/reservations",
                json={"station_id": "R201", "id_token": "EMA1", "expires_at": _in(0.5)},
            )
        ).json()
        assert short["status"] == "accepted" and "evseId" not in st.calls("ReserveNow")[-1]
        other = (
            await api.post(
                "/reservations",
                json={"station_id": "R201", "id_token": "EMA1", "expires_at": _in(3600)},
            )
        ).json()
        assert (
            await st.call(
                "ReservationStatusUpdate",
                {"reservationId": other["id"], "reservationUpdateStatus": "Expired"},
            )
            == {}
        )
        assert (await api.get(f"/reservations/{other['id']}")).json()["status"] == "expired"

    # Ampyre's own expiry sweep (the loop runs it every few seconds).
    await asyncio.sleep(0.6)
    expired = await server.app.auth.reservations.expire_due()
    assert [x.id for x in expired] == [short["id"]]
    assert (await api.get(f"/reservations/{short['id']}")).json()["status"] == "expired"
