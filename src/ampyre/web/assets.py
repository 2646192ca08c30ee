"""Serving the dashboard's files: `/` is the app's page, `/ui/...` its modules and styles.

The page carries no data and needs no sign-in: it asks the REST API for the session and
shows the sign-in form when there is none. Every answer carries a Content-Security-Policy
that allows only this origin's scripts and styles (no inline script, no eval, no CDN), so
a station-controlled string that ever reached the DOM as markup still could not run."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


class _Hardened:
    """Adds the security headers to whatever the wrapped app answers, and keeps browsers
    revalidating (the files change with every release; ETags make that cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_hardened)


def install_dashboard(app: Starlette) -> None:
    """Serve the dashboard from `app` (the REST API's application)."""
    index = STATIC_DIR / "index.html"

    async def page(_request: Request) -> Response:
        headers = {k.decode(): v.decode() for k, v in SECURITY_HEADERS}
        headers["cache-control"] = "no-cache"
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=headers)

    app.add_route("/", page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/index.html", page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/ui", _Hardened(StaticFiles(directory=STATIC_DIR)), name="dashboard")
