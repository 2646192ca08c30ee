"""A simulated station's firmware update (1.6 UpdateFirmware / SignedUpdateFirmware,
2.x UpdateFirmware): it answers at once, then, in its own task (which outlives the
connection), waits for the retrieve time, downloads the file from the given URL (checking
the bytes arrive, and their sha256 when the server names it), reports its progress
(Downloading, Downloaded, [SignatureVerified,] [InstallScheduled,] Installing,
[InstallRebooting]), reboots and boots with the new firmware version, and then reports
Installed. A download that keeps failing ends with DownloadFailed after the retries.

The new version is what the server says (X-Firmware-Version), else the first line of an
"ampyre-firmware <version>" image, else the old version with "+update" appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from ampyre.simulator import messages as m

log = logging.getLogger(__name__)

MAX_WAIT = 3600.0  # a retrieve/install time further out is not waited for in a simulation
STEP_DELAY = 0.2  # between progress notifications, so that operators can watch them
DOWNLOAD_TIMEOUT = 30.0
MAX_IMAGE = 512 * 1024 * 1024

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass(slots=True)
class FirmwareJob:
    location: str
    retrieve_at: datetime | None
    install_at: datetime | None
    retries: int
    retry_interval: float
    request_id: int | None  # 2.x and 1.6 signed updates
    signed: bool
    signed16: bool  # 1.6 security extension: SignedFirmwareStatusNotification


class FirmwareUpdater:
    def __init__(
        self,
        protocol: str,
        state: m.StationState,
        call: Call,
        reboot: Callable[[], None],
        step_delay: float = STEP_DELAY,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        self.v16 = m.is_v16(protocol)
        self.state = state
        self._call = call
        self._reboot = reboot
        self.step_delay = step_delay
        self._transport = transport
        self._task: asyncio.Task[None] | None = None
        # Reported after the next boot: the update that rebooted into its new firmware.
        self._installed: FirmwareJob | None = None
        self._pending: FirmwareJob | None = None
        self.statuses: list[str] = []  # what was reported, for tests
        self.downloaded: bytes | None = None

    # ------------------------------------------------------------------ answering

    def answer(self, action: str, payload: dict[str, Any]) -> tuple[m.Payload, bool]:
        """The answer to UpdateFirmware / SignedUpdateFirmware, and whether the update
        starts (after the answer went out: `start`)."""
        job = _job(action, payload, self.v16)
        plain16 = self.v16 and action == "UpdateFirmware"
        if job is None:
            return ({} if plain16 else {"status": "Rejected"}), False
        running = self._task is not None and not self._task.done()
        self._pending = job
        if plain16:
            return {}, True  # 1.6 UpdateFirmware.conf has no status
        # 2.x L01/L02: a running update is cancelled for the new one (AcceptedCanceled).
        return {"status": "AcceptedCanceled" if running else "Accepted"}, True

    def start(self) -> None:
        job = self._pending
        if job is None:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.create_task(self._run(job), name="sim-firmware")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def installed_pending(self) -> bool:
        """Rebooted into new firmware, Installed not reported yet."""
        return self._installed is not None

    async def booted(self) -> None:
        """After an accepted boot: report Installed for the update that rebooted here."""
        job, self._installed = self._installed, None
        if job is not None:
            await self._notify(job, "Installed")

    # ------------------------------------------------------------------ the update

    async def _notify(self, job: FirmwareJob, status: str) -> None:
        payload: dict[str, Any] = {"status": status}
        if job.request_id is not None and (not self.v16 or job.signed16):
            payload["requestId"] = job.request_id
        action = (
            "SignedFirmwareStatusNotification" if job.signed16 else "FirmwareStatusNotification"
        )
        self.statuses.append(status)
        await self._call(action, payload)
        await asyncio.sleep(self.step_delay)

    async def _run(self, job: FirmwareJob) -> None:
        try:
            await _until(job.retrieve_at)
            image: bytes | None = None
            version: str | None = None
            for attempt in range(job.retries + 1):
                await self._notify(job, "Downloading")
                image, version = await _download(job.location, self._transport)
                if image is not None:
                    break
                if attempt < job.retries:
                    await asyncio.sleep(job.retry_interval)
            if image is None:
                await self._notify(job, "DownloadFailed")
                return
            self.downloaded = image
            await self._notify(job, "Downloaded")
            if (job.signed and not self.v16) or job.signed16:
                await self._notify(job, "SignatureVerified")
            if job.install_at is not None and job.install_at > datetime.now(UTC):
                if not self.v16:
                    await self._notify(job, "InstallScheduled")
                await _until(job.install_at)
            await self._notify(job, "Installing")
            self.state.firmware_version = (
                version or _image_version(image) or (f"{self.state.firmware_version}+update")[:50]
            )
            if not self.v16 or job.signed16:
                await self._notify(job, "InstallRebooting")
            self._installed = job
            self._reboot()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: firmware update failed", self.state.station_id)


def _job(action: str, p: dict[str, Any], v16: bool) -> FirmwareJob | None:
    if v16 and action == "UpdateFirmware":
        fw: dict[str, Any] = {
            "location": p.get("location"),
            "retrieveDateTime": p.get("retrieveDate"),
        }
        request_id = None
    else:
        fw = p.get("firmware") if isinstance(p.get("firmware"), dict) else {}  # type: ignore[assignment]
        rid = p.get("requestId")
        request_id = rid if isinstance(rid, int) else None
    location = fw.get("location")
    if not isinstance(location, str):
        return None
    retries = p.get("retries")
    interval = p.get("retryInterval")
    return FirmwareJob(
        location=location,
        retrieve_at=_parse(fw.get("retrieveDateTime")),
        install_at=_parse(fw.get("installDateTime")),
        retries=max(0, min(int(retries), 5)) if isinstance(retries, int) else 1,
        retry_interval=max(0.0, min(float(interval), 30.0)) if isinstance(interval, int) else 1.0,
        request_id=request_id,
        signed=bool(fw.get("signature")),
        signed16=v16 and action == "SignedUpdateFirmware",
    )


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def _until(at: datetime | None) -> None:
    if at is None:
        return
    delay = (at - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(min(delay, MAX_WAIT))


async def _download(
    url: str, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[bytes | None, str | None]:
    """The image and the version the server names, or (None, None) if the bytes did
    not arrive whole (error status, short body, sha256 mismatch)."""
    try:
        async with (
            httpx.AsyncClient(
                timeout=DOWNLOAD_TIMEOUT, follow_redirects=True, transport=transport
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return None, None
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_IMAGE:
                    return None, None
            expected_len = response.headers.get("content-length")
            if expected_len is not None and int(expected_len) != len(body):
                return None, None
            expected_hash = response.headers.get("x-firmware-sha256")
            if expected_hash and hashlib.sha256(body).hexdigest() != expected_hash:
                return None, None
            if not body:
                return None, None
            return bytes(body), response.headers.get("x-firmware-version")
    except (httpx.HTTPError, ValueError, OSError):
        return None, None


def _image_version(image: bytes) -> str | None:
    first = image.split(b"\n", 1)[0][:120]
    if first.startswith(b"ampyre-firmware "):
        try:
            return first.removeprefix(b"ampyre-firmware ").decode().strip()[:50] or None
        except UnicodeDecodeError:
            return None
    return None
