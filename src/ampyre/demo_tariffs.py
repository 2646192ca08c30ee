"""The demo's tariff (issue 20): `make run` prices its simulated sessions with it, shows
it in the dashboard and serves it over OCPI. Seeded once; an operator's edits stay."""

from __future__ import annotations

from typing import Any

from ampyre.bootstrap import App
from ampyre.domain.tariff_json import tariff_from_json
from ampyre.services.tariffs_port import TariffRecord

DEMO_TARIFF_ID = "DEMO-STANDARD"


def _component(kind: str, price: float, step: int = 1) -> dict[str, Any]:
    return {"type": kind, "price": price, "vat": 21.0, "step_size": step}


DEMO_TARIFF: dict[str, Any] = {
    "country_code": "NL",  # replaced by ours (ocpi_country_code / ocpi_party_id)
    "party_id": "AMP",
    "id": DEMO_TARIFF_ID,
    "currency": "EUR",
    "type": "REGULAR",
    "tariff_alt_text": [
        {
            "language": "en",
            "text": "0.50 start, 0.29/kWh (0.39/kWh 17:00-21:00), parking 3.00/h after 2 h.",
        }
    ],
    "elements": [
        {"price_components": [_component("FLAT", 0.50)]},
        {
            "price_components": [_component("ENERGY", 0.39)],
            "restrictions": {"start_time": "17:00", "end_time": "21:00"},
        },
        {"price_components": [_component("ENERGY", 0.29)]},
        {
            "price_components": [_component("PARKING_TIME", 3.00, 300)],
            "restrictions": {"min_duration": 7200},
        },
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


async def seed(app: App) -> None:
    """The demo tariff as the default one, unless tariffs exist already."""
    tariffs = app.roaming.tariffs
    if (await tariffs.list_tariffs(1, 0)).total:
        return
    await tariffs.put(TariffRecord(tariff_from_json(DEMO_TARIFF), is_default=True))
