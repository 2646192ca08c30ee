"""Log uploads and multi-part answers against stations built on the independent `ocpp`
library (SQLite and PostgreSQL): the upload endpoint's size limit (413, nothing
stored), unknown and used tokens (404), path tricks (the file name never reaches a
path), a multipart/form-data POST, a station that answers too late (504, left visible
as timed_out), and a customer report whose last part never comes (incomplete after
report_timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

if TYPE_CHECKING:  # fixtures' types; conftest modules are not importable by name
    from conftest import Server, StartServer

LIMIT = 4096


class Lib201(ChargePoint201):
    locations: list[str]
    delay: float = 0.0

    @on(Action201.get_log)
    async def on_get_log(
        self, log: dict[str, Any], log_type: str, request_id: int, **_: Any
    ) -> Any:
        await asyncio.sleep(self.delay)
        self.locations.append(log["remote_location"])
        return result201.GetLog(status="Accepted", filename="lib.log")

    @on(Action201.customer_information)
    async def on_customer(self, request_id: int, report: bool, clear: bool, **_: Any) -> Any:
        async def first_part_only() -> None:
            await self.call(
                call201.NotifyCustomerInformation(
                    data="part 0\n", seq_no=0, generated_at="2026-01-01T00:00:00Z",
                    request_id=request_id, tbc=True,
                ),
                suppress=False,
            )  # fmt: skip

        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(first_part_only()))
        return result201.CustomerInformation(status="Accepted")


class Lib16(ChargePoint16):
    locations: list[str]

    @on(Action16.get_diagnostics)
    async def on_get_diagnostics(self, location: str, **_: Any) -> Any:
        self.locations.append(location)
        return result16.GetDiagnostics(file_name="diag.zip")


@asynccontextmanager
async def running(
    cp_class: type[Any], server: Server, sid: str, protocol: str
) -> AsyncIterator[Any]:
    async with connect(
        server.station_url(sid), subprotocols=[Subprotocol(protocol)], open_timeout=5
    ) as ws:
        cp = cp_class(sid, ws, response_timeout=5)
        cp.locations = []
        task = asyncio.create_task(cp.start())
        api = server.api()
        for _ in range(100):  # the connection is announced to the cluster asynchronously
            if (await api.get(f"/stations/{sid}")).json()["connected"]:
                break
            await asyncio.sleep(0.05)
        try:
            yield cp
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def ampyre(start_server: StartServer, store_url: str, tmp_path: Path) -> Server:
    return await start_server(
        store_url, log_dir=str(tmp_path / "logs"), log_upload_max=LIMIT, report_timeout=0.5
    )


async def _ask(api: httpx.AsyncClient, sid: str, cp: Any, **body: Any) -> tuple[int, str]:
    r = await api.post(f"/stations/{sid}/logs", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), cp.locations[-1]


async def test_upload_endpoint_limits_tokens_and_paths(ampyre: Server, tmp_path: Path) -> None:
    api = ampyre.api()
    sid = "LIBLOG-201"
    await ampyre.create_station(sid)
    logs_dir = tmp_path / "logs"
    async with running(Lib201, ampyre, sid, "ocpp2.0.1") as cp, httpx.AsyncClient() as http:
        log_id, location = await _ask(api, sid, cp)
        assert location.startswith(f"{ampyre.http_url}/uploads/logs/")
        record = (await api.get(f"/logs/{log_id}")).json()
        assert record["status"] == "accepted" and record["filename"] == "lib.log"

        # Too large: 413 whether declared or streamed, nothing kept.
        r = await http.put(location, content=b"x" * (LIMIT + 1))
        assert r.status_code == 413, r.text

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(LIMIT // 1000 + 2):
                yield b"y" * 1000

        r = await http.put(location, content=chunks())  # chunked: no Content-Length
        assert r.status_code == 413, r.text
        assert not list(logs_dir.glob("*")) if logs_dir.exists() else True
        assert (await api.get(f"/logs/{log_id}")).json()["has_file"] is False

        # Unknown tokens, other methods, path tricks.
        base = f"{ampyre.http_url}/uploads/logs/"
        assert (await http.put(base + "A" * 43, content=b"x")).status_code == 404
        assert (await http.put(base + "..%2F..%2Fetc%2Fpasswd", content=b"x")).status_code == 404
        assert (await http.put(base, content=b"x")).status_code == 404
        assert (await http.get(location)).status_code == 405

        # The station's own file name after the token is ignored: the file lands under
        # the log directory with a name of Ampyre's, whatever the name says.
        r = await http.put(location + "/..%2F..%2Fescape.log", content=b"line 1\nline 2\n")
        assert r.status_code == 201, r.text
        assert r.json()["size"] == 14
        files = sorted(p.name for p in logs_dir.iterdir())
        assert len(files) == 1 and files[0].startswith(f"{log_id}-") and files[0].endswith(".log")
        assert not (tmp_path / "escape.log").exists()
        download = await api.get(f"/logs/{log_id}/file")
        assert download.content == b"line 1\nline 2\n"
        # Used: the token is valid for one upload.
        assert (await http.put(location, content=b"again")).status_code == 404
        # An admin deletes it: the record and the file go.
        assert (await api.delete(f"/logs/{log_id}")).status_code == 204
        assert (await api.get(f"/logs/{log_id}")).status_code == 404
        assert list(logs_dir.iterdir()) == []

        # multipart/form-data POST (curl -F style): the part's content is stored.
        log_id2, location2 = await _ask(api, sid, cp, log_type="security")
        form = {"file": ("station.log", b"security entries\n", "text/plain")}
        r = await http.post(location2, files=form)
        assert r.status_code == 201, r.text
        assert (await api.get(f"/logs/{log_id2}/file")).content == b"security entries\n"

        # The station's status notifications move the request on (durable before ack).
        await cp.call(call201.LogStatusNotification(status="Uploaded", request_id=log_id2))
        record = (await api.get(f"/logs/{log_id2}")).json()
        assert (record["status"], record["station_status"]) == ("uploaded", "Uploaded")

        # No answer in time: 504, the request stays visible as timed out.
        cp.delay = 0.6
        r = await api.post(f"/stations/{sid}/logs", params={"timeout": 0.2}, json={})
        assert r.status_code == 504, r.text
        page = (await api.get(f"/stations/{sid}/logs")).json()
        assert page["items"][0]["status"] == "timed_out"
        cp.delay = 0.0
        await asyncio.sleep(0.5)  # the library answers one CALL at a time: let it finish

        # A customer report that stops after its first part: incomplete after the timeout.
        r = await api.post("/customer-information", json={"station_ids": [sid], "id_token": "AB12"})
        assert r.status_code == 201, r.text
        request_id = r.json()[0]["request"]["id"]
        for _ in range(50):
            state = (await api.get(f"/customer-information/{request_id}")).json()
            if state["status"] == "incomplete":
                break
            await asyncio.sleep(0.1)
        reports = (await api.get(f"/stations/{sid}/reports")).json()["items"]
        assert state["status"] == "incomplete" and state["parts"] == 1, (state, reports)
        report = await api.get(f"/customer-information/{request_id}/report")
        assert report.text == "part 0\n" and report.headers["x-report-status"] == "incomplete"
        # GDPR: the data it brought can be forgotten.
        assert (await api.delete(f"/customer-information/{request_id}")).status_code == 204
        assert (await api.get(f"/customer-information/{request_id}/report")).status_code == 404


async def test_ocpp16_library_diagnostics(ampyre: Server) -> None:
    api = ampyre.api()
    sid = "LIBLOG-16"
    await ampyre.create_station(sid)
    async with running(Lib16, ampyre, sid, "ocpp1.6") as cp, httpx.AsyncClient() as http:
        log_id, location = await _ask(api, sid, cp, oldest="2026-01-01T00:00:00+01:00")
        await cp.call(call16.DiagnosticsStatusNotification(status="Uploading"))
        assert (await api.get(f"/logs/{log_id}")).json()["status"] == "uploading"
        r = await http.put(location, content=b"diag")
        assert r.status_code == 201
        await cp.call(call16.DiagnosticsStatusNotification(status="Uploaded"))
        record = (await api.get(f"/logs/{log_id}")).json()
        assert (record["status"], record["filename"], record["size"]) == ("uploaded", "diag.zip", 4)
        # The display messages block is not in 1.6.
        r = await api.get(f"/stations/{sid}/display-messages")
        assert r.status_code == 200 and r.json() == []
        r = await api.delete(f"/stations/{sid}/display-messages/1")
        assert r.status_code == 422, r.text
