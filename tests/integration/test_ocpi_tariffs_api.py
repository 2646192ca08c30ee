"""The tariff REST API on a real server (SQLite and PostgreSQL): CRUD and its bad input,
the live preview, a transaction's cost, and received tariffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from ampyre.domain.transactions import EventKind, MeterReading, SampledValue, TransactionEvent

if TYPE_CHECKING:
    from conftest import StartServer

PROBLEM = "application/problem+json"


def body(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "std",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.5, "vat": 20, "step_size": 1},
                    {"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1},
                ]
            }
        ],
        "is_default": True,
    }
    out.update(extra)
    return out


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    data: dict[str, Any] = response.json()
    return data


async def test_tariff_crud_and_bad_input(start_server: StartServer, store_url: str) -> None:
    server = await start_server(store_url)
    api = server.api()
    assert (await ok(await api.get("/tariffs")))["total"] == 0

    created = await ok(await api.post("/tariffs", json=body()), 201)
    tariff = created["tariff"]
    assert (tariff["country_code"], tariff["party_id"], tariff["id"]) == ("NL", "AMP", "std")
    assert tariff["elements"][0]["price_components"][1] == {
        "type": "ENERGY",
        "price": 0.25,
        "step_size": 1,
        "vat": 10,
    }
    assert tariff["last_updated"].endswith("Z") and created["is_default"] is True
    await problem(await api.post("/tariffs", json=body()), 409)
    assert (await ok(await api.get("/tariffs/std")))["tariff"] == tariff
    await problem(await api.get("/tariffs/nope"), 404)

    # PUT creates (201) or replaces (200); the path names the tariff.
    scoped = body(id=None, is_default=False, station_ids=["CP-1"], type="REGULAR")
    assert (await api.put("/tariffs/cp1", json=scoped)).status_code == 201
    replaced = await ok(await api.put("/tariffs/cp1", json={**scoped, "currency": "USD"}))
    assert replaced["tariff"]["currency"] == "USD" and replaced["station_ids"] == ["CP-1"]
    listed = await ok(await api.get("/tariffs", params={"limit": 1, "offset": 1}))
    assert listed["total"] == 2 and [i["tariff"]["id"] for i in listed["items"]] == ["std"]

    # Bad input: 422 with the offending field.
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (body(currency="euro"), ["body", "currency"]),
        (body(id="x" * 37), ["body", "id"]),
        (body(elements=[]), ["body", "elements"]),
        (body(unknown=1), ["body", "unknown"]),
        (
            body(tariff_alt_text=[{"language": "en", "text": "x" * 513}]),
            ["body", "tariff_alt_text", 0, "text"],
        ),
        (
            body(
                elements=[{"price_components": [{"type": "ENERGY", "price": -1, "step_size": 1}]}]
            ),
            ["body", "elements", 0, "price_components", 0, "price"],
        ),
        (
            body(
                elements=[
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"min_kwh": 5, "max_kwh": 1},
                    }
                ]
            ),
            ["body", "elements", 0, "restrictions", "min_kwh"],
        ),
        (
            body(
                elements=[
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"reservation": "RESERVATION"},
                    }
                ]
            ),
            ["body", "elements", 0, "price_components", 0, "type"],
        ),
        (
            body(
                elements=[
                    {
                        "price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
                        "restrictions": {"start_time": "25:00"},
                    }
                ]
            ),
            ["body", "elements", 0, "restrictions", "start_time"],
        ),
        (
            body(min_price={"excl_vat": 5}, max_price={"excl_vat": 1}),
            ["body", "min_price"],
        ),
    ]
    for bad, loc in cases:
        found = await problem(
            await api.post("/tariffs", json={**bad, "id": bad.get("id") or "bad"}), 422
        )
        assert any(e["loc"] == loc for e in found["errors"]), (loc, found)
    await problem(await api.post("/tariffs", json=body(id=None)), 422)
    await problem(await api.put("/tariffs/other", json=body(id="std")), 422)
    await problem(await api.get("/tariffs/" + "x" * 40), 422)
    assert (
        await api.post(
            "/tariffs", content=b"{not json", headers={"content-type": "application/json"}
        )
    ).status_code == 422

    assert (await api.delete("/tariffs/cp1")).status_code == 204
    await problem(await api.delete("/tariffs/cp1"), 404)


async def test_preview_prices_a_made_up_session(start_server: StartServer, store_url: str) -> None:
    server = await start_server(store_url)
    api = server.api()
    session = {"start": "2026-03-02T10:00:00Z", "charging_minutes": 120, "energy_kwh": 20}
    # mod_tariffs "0.25 euro per kWh + start fee": 20 kWh -> 5.50 / 6.10.
    priced = await ok(
        await api.post("/tariffs/preview", json={"tariff": body(), "session": session})
    )
    assert priced["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert priced["total_fixed_cost"] == {"excl_vat": 0.5, "incl_vat": 0.6}
    assert priced["total_energy"] == 20 and priced["total_time"] == 2
    [period] = priced["charging_periods"]
    assert period["start_date_time"] == "2026-03-02T10:00:00Z"
    assert period["end_date_time"] == "2026-03-02T12:00:00Z"
    assert {"type": "ENERGY", "volume": 20} in period["dimensions"]

    # By id, piece by piece, in a time zone: 16:30-17:30 Amsterdam crosses 17:00.
    await ok(
        await api.post(
            "/tariffs",
            json=body(
                id="evening",
                elements=[
                    {
                        "price_components": [{"type": "ENERGY", "price": 0.2, "step_size": 1}],
                        "restrictions": {"end_time": "17:00"},
                    },
                    {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]},
                ],
            ),
        ),
        201,
    )
    segments = {
        "start": "2026-01-05T15:30:00Z",
        "segments": [
            {"minutes": 30, "energy_kwh": 5},
            {"minutes": 30, "energy_kwh": 5},
            {"minutes": 15, "charging": False},
        ],
    }
    priced = await ok(
        await api.post(
            "/tariffs/preview",
            json={"tariff_id": "evening", "session": segments, "time_zone": "Europe/Amsterdam"},
        )
    )
    assert priced["total_cost"] == {"excl_vat": 2.5}
    assert len(priced["charging_periods"]) == 3
    assert priced["total_parking_time"] == 0.25

    for bad in (
        {"session": session},
        {"tariff_id": "nope", "session": session},
        {"tariff": body(), "session": session, "time_zone": "Mars/Olympus"},
        {"tariff": body(currency="eur"), "session": session},
        {"tariff": body(), "session": {**session, "charging_minutes": -1}},
        {"tariff": body(), "session": {"charging_minutes": 5}},
    ):
        r = await api.post("/tariffs/preview", json=bad)
        assert r.status_code in (404, 422), (bad, r.text)


def _event(
    kind: EventKind, at: datetime, seq: int, wh: float, state: str | None
) -> TransactionEvent:
    value = SampledValue(wh, str(wh), si_value=wh, si_unit="Wh")
    return TransactionEvent(
        station_id="CP-1",
        kind=kind,
        timestamp=at,
        received_at=at,
        transaction_id="T-1",
        event_key=f"seq:{seq}",
        seq_no=seq,
        evse_id=1,
        connector_id=1,
        id_token="TAG",
        id_token_type="ISO14443",
        charging_state=state,
        meter_values=(MeterReading(at, (value,)),),
        ocpp_version="2.0.1",
    )


async def test_transaction_cost_and_received_tariffs(
    start_server: StartServer, store_url: str
) -> None:
    server = await start_server(store_url)
    api = server.api()
    await server.create_station("CP-1")
    await problem(await api.get("/transactions/1/cost"), 404)
    await ok(await api.post("/tariffs", json=body()), 201)
    start = datetime.now(UTC)  # after the tariff was made: it is in force
    store = server.app.store
    await store.record_transaction_events(
        [
            _event(EventKind.STARTED, start, 0, 1000, "Charging"),
            _event(EventKind.ENDED, start + timedelta(hours=1), 1, 11000, "EVConnected"),
        ]
    )
    tx = await store.find_transaction("CP-1", "T-1")
    assert tx is not None
    cost = await ok(await api.get(f"/transactions/{tx.id}/cost"))
    # 0.50 start fee + 10 kWh x 0.25.
    assert cost["total_cost"] == {"excl_vat": 3.0, "incl_vat": 3.35}
    assert cost["tariff_id"] == "std" and cost["tariff"]["id"] == "std"
    await problem(await api.get(f"/transactions/{tx.id + 100}/cost"), 404)
    await problem(await api.get("/transactions/0/cost"), 422)
    await problem(await api.get(f"/transactions/{tx.id}/cost", params={"until": "yesterday"}), 422)

    # A station no tariff applies to: 404 with its own type.
    assert (await api.delete("/tariffs/std")).status_code == 204
    await store.record_transaction_events(
        [
            TransactionEvent(
                station_id="CP-1",
                kind=EventKind.STARTED,
                timestamp=datetime.now(UTC) + timedelta(seconds=5),
                received_at=datetime.now(UTC),
                transaction_id="T-2",
                event_key="seq:0",
                seq_no=0,
            )
        ]
    )
    later = await store.find_transaction("CP-1", "T-2")
    assert later is not None
    missing = await problem(await api.get(f"/transactions/{later.id}/cost"), 404)
    assert missing["type"].endswith("no-tariff")
    # The first transaction keeps its price: the tariff was in force when it started.
    assert (await ok(await api.get(f"/transactions/{tx.id}/cost")))["total_cost"]["excl_vat"] == 3

    received = await ok(await api.get("/ocpi/received/tariffs"))
    assert received == {"items": [], "total": 0, "limit": 50, "offset": 0}
    await problem(await api.get("/ocpi/received/tariffs", params={"partner_id": 0}), 422)
