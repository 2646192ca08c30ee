"""The Plug & Charge part of `make run` (issue 19): the built-in PKI under var/ (made on
the first run), a simulated ISO 15118 vehicle (an OEM provisioning certificate from the
PKI) and one 2.0.1 station whose first connector charges that vehicle with Plug & Charge:
the contract certificate is installed through Ampyre, then each session authorizes with
it (OCSP against Ampyre's own responder). Its second connector takes an RFID card."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Final

from ampyre import bootstrap
from ampyre.adapters.pki import LocalPki, PkiError, init_pki
from ampyre.adapters.pki.commands import write_vehicle_files
from ampyre.config import Settings
from ampyre.domain.authz import IdToken, IdTokenType, TokenStatus
from ampyre.domain.models import RegistrationStatus
from ampyre.services.stations import StationExists
from ampyre.simulator import plug_and_charge as pnc
from ampyre.simulator.runner import SimulationReport, run_simulation
from ampyre.simulator.session import SessionConfig

log = logging.getLogger(__name__)

PNC_PREFIX: Final = "DEMOPNC-"
PNC_STATION: Final = f"{PNC_PREFIX}00001"
# The cards of the station's connectors (the first one's is used when Plug & Charge
# cannot run, e.g. without java).
PNC_CARDS: Final = ("DEMO-PNC-RFID-0001", "DEMO-PNC-RFID-0002")
# The vehicle's PCID (ISO 15118-2 provisioning certificate id: the built-in provider
# derives the eMAID from it, so the demo car keeps its contract across runs).
PNC_PCID: Final = "WMIDEMO0000000001"


def ensure_pki(settings: Settings) -> bool:
    """`ampyre pki init` into settings.pki_dir when no PKI is there; True when one is."""
    directory = Path(settings.pki_dir)
    if LocalPki.is_initialised(directory):
        return True
    try:
        init_pki(directory, settings.pki_organisation, hosts=(settings.host,))
    except (OSError, PkiError) as exc:
        log.warning("demo: no PKI (Plug & Charge off): %s", exc)
        return False
    print(f"Built-in PKI created in {directory} (ampyre pki show)", flush=True)
    return True


def ensure_vehicle(settings: Settings, directory: Path) -> Path | None:
    """The demo vehicle's files (`ampyre simulate --plug-and-charge DIR`), made once."""
    names = (pnc.OEM_CERT, pnc.OEM_KEY, pnc.V2G_ROOT)
    if all((directory / n).is_file() for n in names):
        return directory
    try:
        write_vehicle_files(LocalPki.load(settings.pki_dir), PNC_PCID, directory, names)
    except PkiError as exc:
        log.warning("demo: no Plug & Charge vehicle: %s", exc)
        return None
    return directory


async def seed(app: bootstrap.App) -> None:
    """The Plug & Charge station and its cards."""
    with contextlib.suppress(StationExists):
        await app.stations.create(
            PNC_STATION,
            registration_status=RegistrationStatus.ACCEPTED,
            description="demo Plug & Charge station (ocpp2.0.1, ISO 15118)",
        )
    for card in PNC_CARDS:
        with contextlib.suppress(KeyError):  # seeded by an earlier run
            await app.store.create_id_token(
                IdToken(
                    id_token=card,
                    type=IdTokenType.ISO14443,
                    status=TokenStatus.ACCEPTED,
                    description="demo RFID card (Plug & Charge station)",
                )
            )


def simulation(ws_url: str, vehicle: Path, stop: asyncio.Event) -> asyncio.Task[SimulationReport]:
    """The Plug & Charge station, charging sessions of about a minute."""
    return asyncio.create_task(
        run_simulation(
            ws_url,
            1,
            "ocpp2.0.1",
            prefix=PNC_PREFIX,
            heartbeat_interval=30,
            status_change_interval=0,
            stop=stop,
            sessions=SessionConfig(
                id_tokens=PNC_CARDS,
                meter_interval=5.0,
                session_duration=60.0,
                idle_time=15.0,
            ),
            plug_and_charge=str(vehicle),
        )
    )
