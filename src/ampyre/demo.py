"""`make run`: migrate an embedded SQLite database, seed a demo, serve, and drive a few
simulated stations (OCPP 1.6J, 2.0.1 and 2.1) against it. Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from ampyre import bootstrap, demo_pnc, demo_roaming, demo_tariffs, logs
from ampyre.adapters.db.migrate import migrate
from ampyre.config import load_settings
from ampyre.domain.authz import IdToken, IdTokenType, TokenStatus
from ampyre.domain.models import RegistrationStatus
from ampyre.domain.sites import Circuit, GridLimit, GridUnit, Member, Site
from ampyre.services.firmware import FileMeta
from ampyre.services.locations_port import LocationExists
from ampyre.services.stations import StationExists
from ampyre.simulator.runner import run_simulation
from ampyre.simulator.session import SessionConfig

VAR = Path("var")
TOKEN_FILE = VAR / "demo-token"
ADMIN_PASSWORD_FILE = VAR / "demo-admin-password"
DEMO_PASSWORD = "demo-station-password-1"  # security profile 1 for the 2.0.1 stations

# RFID cards the demo EVs present, one per connector; seeded as accepted id tokens.
DEMO_ID_TOKENS = tuple(f"DEMO-RFID-{i:04d}" for i in range(1, 13))
DEMO_FIRMWARE = "ampyre-sim-2.0"  # a hosted firmware file to roll out (dashboard: Firmware)
# A load-managed site over the whole demo fleet: 12 EVSEs behind a 63 A connection, the
# 1.6 stations on a 40 A feeder, so the balancer has to share (dashboard: Sites).
DEMO_SITE = "Demo depot"
DEMO_SITE_LIMIT_A = 63.0
DEMO_FEEDER_LIMIT_A = 40.0
DEMO_LOCATION = "DEMO-DEPOT"  # the fleet as one OCPI location (dashboard: Roaming)


def demo_sessions(first_token: int, count: int) -> SessionConfig:
    """Sessions of one to three minutes with meter values every 5 s, so the API shows
    transactions with growing energy within a minute of `make run`. Each fleet gets its
    own cards (two connectors per station)."""
    return SessionConfig(
        id_tokens=DEMO_ID_TOKENS[first_token : first_token + 2 * count],
        meter_interval=5.0,
        session_duration=120.0,
        idle_time=20.0,
    )


# (simulator prefix, protocol, count, password)
FLEET = (
    ("DEMO16-", "ocpp1.6", 3, None),
    ("DEMO201-", "ocpp2.0.1", 2, DEMO_PASSWORD),
    ("DEMO21-", "ocpp2.1", 1, None),
)


def _token_offsets() -> list[int]:
    offsets, n = [], 0
    for _prefix, _protocol, count, _password in FLEET:
        offsets.append(n)
        n += 2 * count
    return offsets


def _demo_token() -> str:
    token = os.environ.get("AMPYRE_BOOTSTRAP_TOKEN")
    if token:
        return token
    if TOKEN_FILE.exists():
        return TOKEN_FILE.read_text().strip()
    token = "demo_" + secrets.token_urlsafe(24)
    TOKEN_FILE.write_text(token + "\n")
    TOKEN_FILE.chmod(0o600)
    return token


def _demo_admin_password() -> str:
    """The dashboard's demo admin (user `admin`): AMPYRE_BOOTSTRAP_ADMIN_PASSWORD, else the
    password kept in var/demo-admin-password (made on the first run, 0600)."""
    password = os.environ.get("AMPYRE_BOOTSTRAP_ADMIN_PASSWORD")
    if password:
        return password
    if ADMIN_PASSWORD_FILE.exists():
        kept = ADMIN_PASSWORD_FILE.read_text().strip()
        if kept:
            return kept
    password = secrets.token_urlsafe(12)  # 16 characters: above the 12-character minimum
    fd = os.open(ADMIN_PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


async def main(token: str, admin_password: str | None = None) -> int:
    overrides = {"bootstrap_token": token}
    if admin_password:
        # The bootstrap makes (or resets) user `admin` with this password at start-up.
        overrides["bootstrap_admin_password"] = admin_password
    settings = load_settings(overrides=overrides)
    await migrate(settings.database_url)
    pnc_vehicle = None
    if demo_pnc.ensure_pki(settings):
        pnc_vehicle = demo_pnc.ensure_vehicle(settings, VAR / "pnc-vehicle")
    app = bootstrap.build(settings)
    stop = asyncio.Event()
    ready = asyncio.Event()
    server = asyncio.create_task(bootstrap.run(app, stop, ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        waiter.cancel()
        server.result()
        return 1
    for prefix, _protocol, count, password in FLEET:
        for i in range(1, count + 1):
            with contextlib.suppress(StationExists):
                await app.stations.create(
                    f"{prefix}{i:05d}",
                    password=password,
                    registration_status=RegistrationStatus.ACCEPTED,
                    description=f"demo station ({_protocol})",
                )
    for value in DEMO_ID_TOKENS:
        with contextlib.suppress(KeyError):  # seeded by an earlier run
            await app.store.create_id_token(
                IdToken(
                    id_token=value,
                    type=IdTokenType.ISO14443,
                    status=TokenStatus.ACCEPTED,
                    description="demo RFID card",
                )
            )
    await _seed_firmware(app)
    await _seed_site(app)
    if pnc_vehicle is not None:
        await demo_pnc.seed(app)
    await demo_tariffs.seed(app)
    await _seed_location(app)
    roaming_partner = await demo_roaming.prepare(app)
    base = f"http://{settings.host}:{app.http_port}"
    ws = f"ws://{settings.host}:{app.gateway.port}/ocpp"
    print(
        "\n".join(
            [
                "",
                "Ampyre demo is running (Ctrl-C stops it).",
                f"  OCPP endpoint : {ws}/<station_id>  (ocpp1.6, ocpp2.0.1, ocpp2.1)",
                f"  REST API      : {base}/api/v1   docs: {base}/api/v1/docs",
                f"  Health        : {base}/healthz  {base}/readyz",
                f"  Dashboard     : {base}/  (user admin, password {admin_password})"
                if admin_password
                else f"  Dashboard     : {base}/",
                f"  API token     : {token}",
                f'  Try           : curl -H "Authorization: Bearer {token}" {base}/api/v1/stations',
                f'  Transactions  : curl -H "Authorization: Bearer {token}" '
                f"{base}/api/v1/transactions",
                f"  Firmware      : {base}/#/firmware  (roll out {DEMO_FIRMWARE} to the stations)",
                f"  Load mgmt     : {base}/#/sites  ({DEMO_SITE}: the fleet under "
                f"{DEMO_SITE_LIMIT_A:.0f} A)",
                "",
            ]
        ),
        flush=True,
    )
    sims = [
        asyncio.create_task(
            run_simulation(
                ws,
                count,
                protocol,
                prefix=prefix,
                password=password,
                heartbeat_interval=30,
                status_change_interval=20,
                stop=stop,
                fault_interval=180,  # an alert now and then, cleared ~20 s later
                sessions=demo_sessions(first_token, count),
            )
        )
        for (prefix, protocol, count, password), first_token in zip(
            FLEET, _token_offsets(), strict=True
        )
    ]
    if pnc_vehicle is not None:
        sims.append(demo_pnc.simulation(ws, pnc_vehicle, stop))
        print(
            f"  Plug & Charge : {demo_pnc.PNC_STATION} (ISO 15118 contract via the built-in "
            f"PKI) -> {base}/#/security/contract-certificates\n",
            flush=True,
        )
    # A second Ampyre as a roaming eMSP, registered with this one (demo_roaming.py).
    print(await demo_roaming.start(app, roaming_partner, token), flush=True)
    server.add_done_callback(lambda _: demo_roaming.stop(roaming_partner))
    await server
    for sim in sims:
        sim.cancel()
    await asyncio.gather(*sims, return_exceptions=True)
    return 0


async def _seed_firmware(app: bootstrap.App) -> None:
    """A demo firmware image (the simulator boots with the version on its first line), so
    that a rollout can be started from the dashboard's Firmware page at once."""
    firmware = app.devices.firmware
    if (await firmware.list_files(1, 0)).total:
        return

    async def image() -> AsyncIterator[bytes]:
        yield f"ampyre-firmware {DEMO_FIRMWARE}\n".encode() + bytes(range(256)) * 256

    meta = FileMeta(DEMO_FIRMWARE, "ampyre-sim-2.0.bin", vendor="Ampyre", model="SimCharger")
    await firmware.upload(meta, image())


async def _seed_site(app: bootstrap.App) -> None:
    """The demo fleet as one site (made once; an operator may change or delete it)."""
    sites = app.smart.sites
    if sites is None or await sites.list_sites():
        return
    members = tuple(
        Member(
            f"{prefix}{i:05d}",
            circuit_id="feeder" if protocol == "ocpp1.6" else None,
            max_a=32.0,
        )
        for prefix, protocol, count, _password in FLEET
        for i in range(1, count + 1)
    )
    await sites.create(
        Site(
            id=0,
            name=DEMO_SITE,
            grid_limit=GridLimit(GridUnit.AMPS, DEMO_SITE_LIMIT_A),
            circuits=(Circuit("feeder", "Car park feeder (1.6 stations)", DEMO_FEEDER_LIMIT_A),),
            members=members,
        )
    )


async def _seed_location(app: bootstrap.App) -> None:
    """The demo fleet as one OCPI location (made once), so the roaming partner receives
    it with live EVSE statuses (dashboard: Roaming -> Locations)."""
    locations = app.roaming.locations
    place = {
        "name": "Ampyre demo depot",
        "address": "Demo Street 1",
        "city": "Utrecht",
        "postal_code": "3511 AA",
        "country": "NLD",
        "coordinates": {"latitude": "52.090730", "longitude": "5.121420"},
        "time_zone": "Europe/Amsterdam",
        "publish": True,
        "opening_times": {"twentyfourseven": True},
    }
    try:
        await locations.create(place, location_id=DEMO_LOCATION)
    except LocationExists:
        return  # seeded by an earlier run; an operator may have changed it
    for prefix, _protocol, count, _password in FLEET:
        for i in range(1, count + 1):
            await locations.assign(DEMO_LOCATION, f"{prefix}{i:05d}")


def run() -> int:
    logs.configure("INFO", os.environ.get("AMPYRE_LOG_FORMAT", "text"))
    try:
        import uvloop

        VAR.mkdir(exist_ok=True)
        return int(uvloop.run(main(_demo_token(), _demo_admin_password())))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run())
