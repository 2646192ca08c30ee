"""The upload endpoint stations send requested logs to: PUT or POST
/uploads/logs/{token}[/{file name}], no bearer token (the token in the URL, unguessable
and valid for one request, is the credential).

ASGI middleware in front of the API (and its general body limit): the body is streamed
to disk, counted against AMPYRE_LOG_UPLOAD_MAX (413 beyond it, nothing kept), hashed,
and recorded with the request. A multipart/form-data POST (what most 1.6 stations and
`curl -F` send) keeps the first part's content. Unknown or used tokens get 404. Any
file name in the URL or the form is ignored: stored files are named by Ampyre."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Receive, Scope, Send

from ampyre.api.body_limit import send_problem
from ampyre.services.logs import UPLOAD_PATH, LogService, TooLarge, UnknownUpload
from ampyre.services.ports import StoreUnavailable

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_HEADERS_MAX = 16 * 1024  # of a form part's headers


class LogUploads:
    def __init__(self, app: ASGIApp, logs: LogService | None) -> None:
        self.app = app
        self.logs = logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(UPLOAD_PATH):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("PUT", "POST"):
            await send_problem(
                send, scope, 405, "upload with PUT or POST", headers={"Allow": "PUT, POST"}
            )
            return
        token = str(scope["path"])[len(UPLOAD_PATH) :].split("/", 1)[0]
        if self.logs is None or not _TOKEN.fullmatch(token):
            await send_problem(send, scope, 404, "no upload is expected here", slug="not-found")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared: int | None = None
        if "content-length" in headers:
            try:
                declared = int(headers["content-length"])
            except ValueError:
                await send_problem(send, scope, 400, "the Content-Length header is not a number")
                return
        ctype = headers.get("content-type")
        chunks = _body(receive, self.logs.upload_limit + _HEADERS_MAX)
        boundary = (
            _BOUNDARY.search(ctype or "")
            if (ctype or "").lower().startswith("multipart/form-data")
            else None
        )
        if boundary is not None:
            chunks = first_part(chunks, boundary.group(1).encode("latin-1"))
            ctype = None
            declared = None  # the form's length, not the file's: counted as it streams
        try:
            stored = await self.logs.receive_upload(token, chunks, declared, ctype)
        except UnknownUpload:
            await send_problem(send, scope, 404, "no upload is expected here", slug="not-found")
            return
        except TooLarge as exc:
            await send_problem(send, scope, 413, str(exc), slug="body-too-large")
            return
        except MalformedForm as exc:
            await send_problem(send, scope, 400, str(exc), slug="bad-form")
            return
        except StoreUnavailable as exc:  # nothing kept: the station retries
            await send_problem(send, scope, 503, str(exc), slug="store-unavailable")
            return
        body = json.dumps({"id": stored.id, "size": stored.size, "sha256": stored.sha256})
        data = body.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})


async def _body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body; TooLarge once it passes `limit` (the file limit plus room for
    a form's headers: what a form part holds is counted again as it is stored)."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise MalformedForm("the upload was cut off")
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise TooLarge(limit - _HEADERS_MAX)
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class MalformedForm(ValueError):
    pass


async def first_part(chunks: AsyncIterator[bytes], boundary: bytes) -> AsyncIterator[bytes]:
    """The content of the first part of a multipart/form-data body, streamed (RFC 7578):
    skip to the first delimiter and the part's headers, then pass the bytes on up to the
    next delimiter, holding back only as many as a delimiter is long."""
    opening = b"--" + boundary
    delimiter = b"\r\n--" + boundary
    buffer = b""
    in_content = False
    async for chunk in chunks:
        buffer += chunk
        if not in_content:
            start = buffer.find(opening)
            end = buffer.find(b"\r\n\r\n", start) if start >= 0 else -1
            if end < 0:
                if len(buffer) > _HEADERS_MAX:
                    raise MalformedForm("no form part found")
                continue
            buffer = buffer[end + 4 :]
            in_content = True
        found = buffer.find(delimiter)
        if found >= 0:
            if found:
                yield buffer[:found]
            async for _ in chunks:  # the rest (further parts, the epilogue) is dropped
                pass
            return
        keep = len(delimiter) - 1
        if len(buffer) > keep:
            yield buffer[:-keep]
            buffer = buffer[-keep:]
    raise MalformedForm("the form ends before its closing boundary")
