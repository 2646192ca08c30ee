"""Log uploads, display messages and customer information (issue 17 parts 5-7) through
the REST API against a real Ampyre and a simulated station of each OCPP version
(SQLite and PostgreSQL): the station uploads the requested log to Ampyre's URL and the
downloaded bytes are the ones it sent; display messages are set, refreshed from the
station (parts assembled) and cleared; a customer report arrives in parts and is
assembled; 1.6 refuses what it does not have; an offline station is 409."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from polling import until as _until

from ampyre.simulator import run_simulation

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str, tmp_path: Path) -> Server:
    return await start_server(store_url, log_dir=str(tmp_path / "logs"))


async def _json(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    r = await response
    assert r.status_code == status, r.text
    return r.json()


async def _log_uploaded(api: httpx.AsyncClient, log_id: int) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def uploaded() -> bool:
        found.update(await _json(api.get(f"/logs/{log_id}")))
        return bool(found["has_file"]) and found["status"] == "uploaded"

    await _until(f"log {log_id} uploaded", uploaded)
    return found


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_logs_display_customer_end_to_end(ampyre: Server, protocol: str) -> None:
    api = ampyre.api()
    prefix = "LOG" + protocol.removeprefix("ocpp").replace(".", "") + "-"
    sid = f"{prefix}00001"
    await ampyre.create_station(sid, registration_status="Accepted")
    v16 = protocol == "ocpp1.6"

    # Offline: 409 at once, nothing stored.
    r = await api.post(f"/stations/{sid}/logs", json={})
    assert r.status_code == 409, r.text
    assert (await _json(api.get(f"/stations/{sid}/logs")))["total"] == 0

    stop = asyncio.Event()
    sim = asyncio.create_task(
        run_simulation(
            f"{ampyre.ws_url}/ocpp", 1, protocol, prefix=prefix, stop=stop,
            status_change_interval=0, seed=7,
        )
    )  # fmt: skip
    try:

        async def online() -> bool:
            return bool((await _json(api.get(f"/stations/{sid}")))["connected"])

        await _until("the station online", online)

        # ---- part 5: a diagnostics log, uploaded over HTTP, listed and downloaded.
        asked = await _json(
            api.post(
                f"/stations/{sid}/logs",
                json={"log_type": "diagnostics", "oldest": "2026-01-01T00:00:00Z", "retries": 1},
            ),
            201,
        )
        assert asked["status"] in ("accepted", "uploading", "uploaded"), asked
        assert asked["filename"] and asked["filename"].endswith(".log")
        assert asked["ocpp_version"] == protocol and asked["log_type"] == "diagnostics"
        log = await _log_uploaded(api, asked["id"])
        r = await api.get(f"/logs/{asked['id']}/file")
        assert r.status_code == 200
        assert r.content.startswith(f"# diagnostics log of {sid}".encode())
        assert log["size"] == len(r.content)
        assert log["sha256"] == hashlib.sha256(r.content).hexdigest()
        assert r.headers["x-content-sha256"] == log["sha256"]
        listed = await _json(api.get("/logs", params={"station_id": sid, "with_file": "true"}))
        assert [i["id"] for i in listed["items"]] == [asked["id"]]
        # The upload status notifications stay in the station's report history too.
        reports = await _json(api.get(f"/stations/{sid}/reports"))
        actions = {i["action"] for i in reports["items"]}
        assert ("DiagnosticsStatusNotification" if v16 else "LogStatusNotification") in actions

        if v16:
            # What 1.6 does not have: 422, nothing sent.
            r = await api.post(
                f"/stations/{sid}/display-messages", json={"id": 1, "content": "Hello"}
            )
            assert r.status_code == 422 and "not-in-version" in r.json()["type"], r.text
            r = await api.post(
                "/customer-information", json={"station_ids": [sid], "id_token": "AA11"}
            )
            assert r.status_code == 422, r.text
            return

        # A security log (2.x GetLog SecurityLog).
        sec = await _json(api.post(f"/stations/{sid}/logs", json={"log_type": "security"}), 201)
        await _log_uploaded(api, sec["id"])
        r = await api.get(f"/logs/{sec['id']}/file")
        assert r.status_code == 200 and r.content.startswith(b"# security log of")

        # ---- part 6: display messages.
        base = f"/stations/{sid}/display-messages"
        for mid in (1, 2, 3):
            body = {"id": mid, "priority": "InFront", "content": f"Message {mid}", "language": "en"}
            out = await _json(api.post(base, json=body))
            assert out["status"] == "accepted" and out["message"]["id"] == mid
        refused = await _json(
            api.post(base, json={"id": 9, "content": "<b>x</b>", "format": "HTML"})
        )
        assert refused["status"] == "notsupportedmessageformat" and refused["message"] is None
        stored = await _json(api.get(base))
        assert [(m["id"], m["source"]) for m in stored] == [(1, "csms"), (2, "csms"), (3, "csms")]

        refresh = await _json(api.post(f"{base}/refresh"), 202)

        async def refreshed() -> bool:
            got = await _json(api.get(f"{base}/requests/{refresh['id']}"))
            return bool(got["status"] == "complete" and got["parts"] == 2)

        await _until("the display messages reported", refreshed)
        stored = await _json(api.get(base))
        assert [(m["id"], m["source"], m["content"]) for m in stored] == [
            (1, "station", "Message 1"),
            (2, "station", "Message 2"),
            (3, "station", "Message 3"),
        ]

        assert (await _json(api.delete(f"{base}/2")))["status"] == "accepted"
        assert (await _json(api.delete(f"{base}/2")))["status"] == "unknown"
        assert [m["id"] for m in await _json(api.get(base))] == [1, 3]

        # ---- part 7: customer information, report assembled across parts.
        results = await _json(
            api.post(
                "/customer-information",
                json={"station_ids": [sid], "id_token": "CUST01", "report": True},
            ),
            201,
        )
        assert results[0]["answer"] == "accepted"
        request_id = results[0]["request"]["id"]

        async def assembled() -> bool:
            got = await _json(api.get(f"/customer-information/{request_id}"))
            return bool(got["status"] == "complete")

        await _until("the customer report", assembled)
        got = await _json(api.get(f"/customer-information/{request_id}"))
        assert got["parts"] == 3 and got["params"]["id_token"] == "CUST01"
        r = await api.get(f"/customer-information/{request_id}/report")
        assert r.status_code == 200
        assert r.text.splitlines() == [
            f"Customer CUST01 at {sid}:",
            "  authorizations cached: CUST01 Accepted",
            "  transactions held: none",
        ]
        listed_requests = await _json(api.get("/customer-information", params={"station_id": sid}))
        assert [x["id"] for x in listed_requests] == [request_id]
        if protocol == "ocpp2.0.1":  # 2.0.1 knows a fixed set of id token types
            r = await api.post(
                "/customer-information",
                json={"station_ids": [sid], "id_token": "X1", "id_token_type": "Bogus"},
            )
            assert r.status_code == 422 and "schema" in r.json()["detail"], r.text
        # A clearing only: complete once accepted, nothing to report.
        cleared = await _json(
            api.post(
                "/customer-information",
                json={"station_ids": [sid], "customer_identifier": "C-1", "report": False,
                      "clear": True},
            ),
            201,
        )  # fmt: skip
        assert cleared[0]["request"]["status"] == "complete"
    finally:
        stop.set()
        await asyncio.wait_for(sim, 15)
