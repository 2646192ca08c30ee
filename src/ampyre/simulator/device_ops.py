"""A simulated station's log uploads, display messages and customer information
(issue 17 parts 5-7), answered as a real station would:

- GetDiagnostics (1.6) and GetLog (1.6 security extension, 2.x): answer with a file
  name, then upload a generated log file to the location over HTTP(S) (PUT) and report
  Uploading then Uploaded (or UploadFailed / UploadFailure) in DiagnosticsStatusNotification
  (1.6 GetDiagnostics) or LogStatusNotification with the requestId. A location the
  simulator cannot reach over HTTP (ftp://, ...) fails the upload.
- 2.x display messages: kept per id; SetDisplayMessage stores one (HTML is not
  supported: NotSupportedMessageFormat), GetDisplayMessages answers Unknown when none
  match, otherwise Accepted and NotifyDisplayMessages in parts of two messages,
  ClearDisplayMessage removes one (Unknown if there is none).
- CustomerInformation (2.x): Accepted, then the report in three
  NotifyCustomerInformation parts (seqNo 0..2, tbc until the last) when asked for one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx

from ampyre.simulator import messages as m

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Call = Callable[[str, Payload], Awaitable[Payload | None]]
Later = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]
DISPLAY_PART = 2  # messages per NotifyDisplayMessages part
CUSTOMER_PARTS = 3


class DeviceOps:
    def __init__(self, station_id: str, protocol: str, call: Call, later: Later) -> None:
        """`call` sends a CALL and returns its answer (None without one); `later` runs a
        coroutine once the current answer has been sent."""
        self.station_id = station_id
        self.protocol = protocol
        self.v16 = m.is_v16(protocol)
        self._call = call
        self._later = later
        self.messages: dict[int, Payload] = {}  # display messages by id (2.x)
        self.uploads = 0
        self.upload_timeout = 30.0

    def handlers(self) -> dict[str, Callable[[Payload], Payload]]:
        if self.v16:
            return {"GetDiagnostics": self._get_diagnostics, "GetLog": self._get_log}
        return {
            "GetLog": self._get_log,
            "SetDisplayMessage": self._set_display,
            "GetDisplayMessages": self._get_displays,
            "ClearDisplayMessage": self._clear_display,
            "CustomerInformation": self._customer_information,
        }

    # ---- logs ---------------------------------------------------------------------

    def _file_name(self, kind: str) -> str:
        self.uploads += 1
        return f"{self.station_id}-{kind}-{self.uploads}.log"

    def _get_diagnostics(self, payload: Payload) -> Payload:
        location = str(payload.get("location", ""))
        name = self._file_name("diagnostics")

        async def upload() -> None:
            await self._call("DiagnosticsStatusNotification", {"status": "Uploading"})
            ok = await self._upload(location, name, "diagnostics")
            status = "Uploaded" if ok else "UploadFailed"
            await self._call("DiagnosticsStatusNotification", {"status": status})

        self._later(upload)
        return {"fileName": name}

    def _get_log(self, payload: Payload) -> Payload:
        request_id = payload.get("requestId")
        location = str((payload.get("log") or {}).get("remoteLocation", ""))
        kind = "security" if payload.get("logType") == "SecurityLog" else "diagnostics"
        name = self._file_name(kind)

        async def upload() -> None:
            await self._call(
                "LogStatusNotification", {"status": "Uploading", "requestId": request_id}
            )
            ok = await self._upload(location, name, kind)
            status = "Uploaded" if ok else "UploadFailure"
            await self._call("LogStatusNotification", {"status": status, "requestId": request_id})

        self._later(upload)
        return {"status": "Accepted", "filename": name}

    def log_content(self, name: str, kind: str) -> bytes:
        lines = [f"# {kind} log of {self.station_id} ({self.protocol}): {name}"]
        for i in range(200):
            lines.append(f"{m.now_iso()} INFO  [{kind}] entry {i}: connector 1 Available")
        return ("\n".join(lines) + "\n").encode()

    async def _upload(self, location: str, name: str, kind: str) -> bool:
        if not location.startswith(("http://", "https://")):
            log.info("%s: cannot upload to %r (HTTP only)", self.station_id, location)
            return False
        try:
            async with httpx.AsyncClient(timeout=self.upload_timeout) as client:
                r = await client.put(
                    location,
                    content=self.log_content(name, kind),
                    headers={"Content-Type": "text/plain"},
                )
        except httpx.HTTPError as exc:
            log.info("%s: upload to %s failed: %s", self.station_id, location, exc)
            return False
        return r.is_success

    # ---- display messages (2.x) -----------------------------------------------------

    def _set_display(self, payload: Payload) -> Payload:
        info = payload.get("message") or {}
        if (info.get("message") or {}).get("format") == "HTML":
            return {"status": "NotSupportedMessageFormat"}
        self.messages[int(info["id"])] = info  # a known id is replaced (O06)
        return {"status": "Accepted"}

    def _get_displays(self, payload: Payload) -> Payload:
        ids = payload.get("id")
        wanted = [
            info
            for mid, info in sorted(self.messages.items())
            if (not ids or mid in ids)
            and payload.get("priority") in (None, info.get("priority"))
            and payload.get("state") in (None, info.get("state"))
        ]
        if not wanted:
            return {"status": "Unknown"}
        request_id = payload.get("requestId")

        async def report() -> None:
            parts = [wanted[i : i + DISPLAY_PART] for i in range(0, len(wanted), DISPLAY_PART)]
            for n, part in enumerate(parts):
                await self._call(
                    "NotifyDisplayMessages",
                    {"requestId": request_id, "tbc": n < len(parts) - 1, "messageInfo": part},
                )

        self._later(report)
        return {"status": "Accepted"}

    def _clear_display(self, payload: Payload) -> Payload:
        found = self.messages.pop(int(payload.get("id", -1)), None)
        return {"status": "Accepted" if found is not None else "Unknown"}

    # ---- customer information (2.x) --------------------------------------------------

    def _customer_information(self, payload: Payload) -> Payload:
        who = (
            (payload.get("idToken") or {}).get("idToken")
            or payload.get("customerIdentifier")
            or (payload.get("customerCertificate") or {}).get("serialNumber")
        )
        if not who:
            return {"status": "Invalid"}
        if not payload.get("report"):
            return {"status": "Accepted"}
        request_id = payload.get("requestId")
        lines = [
            f"Customer {who} at {self.station_id}:",
            f"  authorizations cached: {who} Accepted",
            "  transactions held: none",
        ]

        async def report() -> None:
            for seq in range(CUSTOMER_PARTS):
                await self._call(
                    "NotifyCustomerInformation",
                    {
                        "data": lines[seq] + "\n",
                        "tbc": seq < CUSTOMER_PARTS - 1,
                        "seqNo": seq,
                        "generatedAt": m.now_iso(),
                        "requestId": request_id,
                    },
                )

        self._later(report)
        return {"status": "Accepted"}
