"""Uploaded log files on disk (services/logs.py LogFiles): one directory, file names of
Ampyre's own choosing (never a name an uploader sent), written to a temporary name and
renamed when complete, so a cut-off or oversized upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from ampyre.services.logs import StoredFile, TooLarge

_NAME = re.compile(r"^[0-9]+-[0-9a-f]{16}\.log$")


class DiskLogFiles:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, stored_as: str) -> str:
        if not _NAME.fullmatch(stored_as):  # only names this class made
            raise ValueError(f"not a stored log name: {stored_as!r}")
        return str(self.directory / stored_as)

    async def receive(self, chunks: AsyncIterator[bytes], limit: int, name: str) -> StoredFile:
        final = Path(self.path(name))
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        partial = final.with_suffix(".part")
        digest = hashlib.sha256()
        size = 0
        fh = await asyncio.to_thread(open, partial, "xb")
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(_close_synced, fh)
            await asyncio.to_thread(os.replace, partial, final)
        except BaseException:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(fh.close)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(partial.unlink)
            raise
        return StoredFile(stored_as=name, size=size, sha256=digest.hexdigest())

    async def discard(self, stored_as: str) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(Path(self.path(stored_as)).unlink)


def _close_synced(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
