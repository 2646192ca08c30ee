"""`make run`'s roaming partner: a second Ampyre, in a process of its own with its own
SQLite database under var/, acting as an eMSP (DE/EMP, role EMSP only) that roams with
the demo's Ampyre (NL/AMP, CPO and eMSP).

The demo (demo.py) makes a partner record with a token A (`prepare`), starts this
module's process (`start`) with that token and its versions URL, and waits for the
handshake: the partner registers with the demo (eMSP -> Ampyre: token A -> B -> C), then
the demo renews the credentials toward the partner (Ampyre -> eMSP: credentials PUT), so
both directions of the credentials module have run. On later runs, when both sides are
still registered, nothing is redone. The partner stops with the demo (Ctrl-C reaches both;
it also stops by itself when the demo process is gone).

    python -m ampyre.demo_roaming    # run by the demo, with the environment it sets
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ampyre import bootstrap, logs
from ampyre.adapters.db.migrate import migrate
from ampyre.config import load_settings
from ampyre.services.ocpi_credentials import RegistrationFailed
from ampyre.services.ocpi_partners import PartnerConflict

log = logging.getLogger(__name__)

VAR = Path("var")
PARTNER_DIR = VAR / "roaming-partner"
PARTNER_DB = PARTNER_DIR / "ampyre.db"
PARTNER_NAME = "Demo roaming eMSP"  # the partner as the demo's Ampyre knows it
CPO_NAME = "Ampyre demo CPO"  # the demo's Ampyre as the partner knows it
DEFAULT_PORT = 8100
REGISTER_WAIT = 45.0
# Passed to the partner process (not on its command line: `ps` shows that).
ENV_VERSIONS = "AMPYRE_DEMO_CPO_VERSIONS_URL"
ENV_TOKEN_A = "AMPYRE_DEMO_CPO_TOKEN_A"
ENV_PARENT = "AMPYRE_DEMO_PARENT_PID"
_KEEP_ENV = {"AMPYRE_LOG_FORMAT", "AMPYRE_LOG_LEVEL"}


@dataclass(slots=True)
class DemoPartner:
    partner_id: int
    token_a: str | None  # None: registered on an earlier run, nothing to redo
    port: int
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# ------------------------------------------------------------------ the demo's side


async def prepare(app: bootstrap.App) -> DemoPartner:
    """The demo's partner record for the roaming eMSP, with a fresh token A unless both
    sides are registered from an earlier run."""
    partners = app.roaming.partners
    existing = [p for p in await partners.list() if p.name == PARTNER_NAME]
    port = _port()
    versions = f"http://127.0.0.1:{port}/ocpi/versions"
    kept = existing[0] if existing else None
    if kept and kept.registered and kept.versions_url == versions and PARTNER_DB.exists():
        return DemoPartner(kept.id, None, port)
    for stale in existing:
        await partners.delete(stale.id)
    partner, token_a = await partners.create(PARTNER_NAME)
    return DemoPartner(partner.id, token_a, port)


def _port() -> int:
    wanted = int(os.environ.get("AMPYRE_DEMO_PARTNER_PORT", DEFAULT_PORT))
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            probe.bind(("127.0.0.1", 0))  # taken: any free port
        return int(probe.getsockname()[1])


async def start(app: bootstrap.App, demo: DemoPartner, token: str) -> str:
    """Start the partner process and wait for the handshake; the lines to print."""
    PARTNER_DIR.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPYRE_") or k in _KEEP_ENV}
    env.update(
        {
            "AMPYRE_DATABASE_URL": f"sqlite+aiosqlite:///{PARTNER_DB}",
            "AMPYRE_HTTP_PORT": str(demo.port),
            "AMPYRE_OCPP_PORT": "0",
            "AMPYRE_HOST": "127.0.0.1",
            "AMPYRE_NODE_ID": "roaming-partner",
            "AMPYRE_BOOTSTRAP_TOKEN": token,
            "AMPYRE_OCPI_COUNTRY_CODE": "DE",
            "AMPYRE_OCPI_PARTY_ID": "EMP",
            "AMPYRE_OCPI_BUSINESS_NAME": PARTNER_NAME,
            "AMPYRE_OCPI_ROLES": "EMSP",
            "AMPYRE_PKI_DIR": str(PARTNER_DIR / "pki"),
            "AMPYRE_LOG_DIR": str(PARTNER_DIR / "logs"),
            "AMPYRE_FIRMWARE_DIR": str(PARTNER_DIR / "firmware"),
            ENV_PARENT: str(os.getpid()),
            ENV_VERSIONS: app.roaming.identity.versions_url(),
        }
    )
    if demo.token_a:
        env[ENV_TOKEN_A] = demo.token_a
    demo.process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ampyre.demo_roaming", env=env
    )
    state = await _await_registration(app, demo)
    return "\n".join(
        [
            f"  Roaming       : {PARTNER_NAME} (OCPI eMSP DE/EMP, its own Ampyre) {state}",
            f"                  its API {demo.url}/api/v1 (same API token), OCPI "
            f"{demo.url}/ocpi/versions",
            f"                  the exchanges: {_api(app)}/ocpi/partners/{demo.partner_id}"
            "/exchanges",
            "",
        ]
    )


def _api(app: bootstrap.App) -> str:
    return app.roaming.identity.versions_url().removesuffix("/ocpi/versions") + "/api/v1"


async def _await_registration(app: bootstrap.App, demo: DemoPartner) -> str:
    partners = app.roaming.partners
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REGISTER_WAIT
    while loop.time() < deadline:
        partner = await partners.get(demo.partner_id)
        if partner is not None and partner.registered:
            break
        if demo.process is not None and demo.process.returncode is not None:
            return f"did not start (exit {demo.process.returncode})"
        await asyncio.sleep(0.3)
    else:
        return "is not registered yet (see its log above)"
    if demo.token_a is None:
        return "registered (from an earlier run)"
    try:
        # The other direction: Ampyre -> eMSP, a credentials PUT renewing both tokens.
        await app.roaming.credentials.update(demo.partner_id)
    except (RegistrationFailed, PartnerConflict) as exc:
        return f"registered; the credentials update failed: {exc}"
    return "registered (eMSP -> Ampyre) and credentials renewed (Ampyre -> eMSP)"


def stop(demo: DemoPartner) -> None:
    if demo.process is not None and demo.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            demo.process.terminate()


# ------------------------------------------------------------------ the partner process


async def main() -> int:
    settings = load_settings()
    await migrate(settings.database_url)
    app = bootstrap.build(settings)
    halt, ready = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(bootstrap.run(app, halt, ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        waiter.cancel()
        server.result()
        return 1
    token_a = os.environ.pop(ENV_TOKEN_A, "")
    versions = os.environ.get(ENV_VERSIONS, "")
    if token_a and versions:
        await _register(app, versions, token_a)
    watcher = asyncio.create_task(_watch_parent(halt))
    await server
    watcher.cancel()
    return 0


async def _register(app: bootstrap.App, versions: str, token_a: str) -> None:
    partners = app.roaming.partners
    for stale in await partners.list():
        if stale.name == CPO_NAME:
            await partners.delete(stale.id)
    partner, _ = await partners.create(CPO_NAME, versions, token_a)
    try:
        await app.roaming.credentials.register(partner.id)
    except (RegistrationFailed, PartnerConflict) as exc:
        log.error("roaming partner: registration with the demo failed: %s", exc)


async def _watch_parent(halt: asyncio.Event) -> None:
    """Stop when the demo process is gone (killed without passing on the signal)."""
    parent = int(os.environ.get(ENV_PARENT, "0") or 0)
    while parent:
        await asyncio.sleep(2.0)
        if os.getppid() != parent:
            halt.set()
            return


def run() -> int:
    logs.configure(
        os.environ.get("AMPYRE_LOG_LEVEL", "WARNING"), os.environ.get("AMPYRE_LOG_FORMAT", "text")
    )
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run())
