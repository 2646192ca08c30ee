"""OCPP cost messages, the encodings (issue 20 part 5): every payload Ampyre builds passes
the official OCA schema of its version; an OCPI tariff becomes the 2.1 TariffType it
means (per-hour prices per minute, kW -> W, kWh -> Wh, VAT -> taxRates, reservation
prices apart) or is refused when 2.1 cannot say it; the 1.6 California Pricing
DataTransfer data; rounding to the currency's minor unit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from ampyre.domain.models import OcppVersion
from ampyre.domain.tariffs import (
    DayOfWeek,
    DisplayText,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
)
from ampyre.protocol.ocpp16 import costs as costs16
from ampyre.protocol.ocpp21 import tariffs as tariffs21
from ampyre.protocol.ocpp201 import costs as costs201
from ampyre.protocol.schemas import SchemaRegistry
from ampyre.services.data_transfer import DataTransferStatus, VendorMessage
from ampyre.services.ocpp_cost_prices import CostTriggers, UnitPrices
from ampyre.services.ocpp_costs import FinalCost, RunningCost, TariffNotExpressible, money
from ampyre.services.station_port import NotAddressable

E, T, P, F = (
    TariffDimensionType.ENERGY,
    TariffDimensionType.TIME,
    TariffDimensionType.PARKING_TIME,
    TariffDimensionType.FLAT,
)
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def tariff(*elements: TariffElement, **kw: Any) -> Tariff:
    return Tariff("NL", "AMP", kw.pop("id", "T1"), kw.pop("currency", "EUR"), elements, T0, **kw)


def element(*components: PriceComponent, **restrictions: Any) -> TariffElement:
    return TariffElement(components, TariffRestrictions(**restrictions) if restrictions else None)


def pc(
    kind: TariffDimensionType, price: str, vat: str | None = "21", step: int = 1
) -> PriceComponent:
    return PriceComponent(kind, Decimal(price), step, Decimal(vat) if vat is not None else None)


def valid(version: OcppVersion, action: str, payload: dict[str, Any]) -> None:
    violation = SchemaRegistry(version).validate(action, payload, response=False)
    assert violation is None, (violation, payload)


def test_money_rounds_half_up_to_the_minor_unit() -> None:
    assert money(Decimal("3.305"), "EUR") == Decimal("3.31")
    assert money(Decimal("3.3049"), "eur") == Decimal("3.30")
    assert money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert money(Decimal("1.2345"), "KWD") == Decimal("1.235")
    assert str(money(Decimal(0), "EUR")) == "0.00"


def test_cost_updated_passes_both_2x_schemas() -> None:
    update = RunningCost("TX-1", Decimal("7.42"), "EUR", T0)
    action, payload = costs201.cost_updated(update)
    assert (action, payload) == ("CostUpdated", {"totalCost": 7.42, "transactionId": "TX-1"})
    valid(OcppVersion.V201, action, payload)
    valid(OcppVersion.V21, action, payload)


def test_personal_message_is_cut_to_the_version_limit() -> None:
    msg = costs201.personal_message("x" * 2000, costs201.CONTENT_MAX[OcppVersion.V201])
    assert len(msg["content"]) == 512 and msg["format"] == "UTF8"
    assert len(costs201.personal_message("y" * 2000, 1024)["content"]) == 1024


def test_full_tariff_becomes_a_2_1_tariff_type() -> None:
    t = tariff(
        # Day rate on weekdays, with a start fee and a parking fee.
        element(
            pc(E, "0.30"),
            pc(F, "1.00"),
            start_time=time(7),
            end_time=time(22),
            day_of_week=(DayOfWeek.MONDAY, DayOfWeek.FRIDAY),
        ),
        # Above 50 kW, a higher energy price; after 2 h charging a time price.
        element(pc(E, "0.45"), min_power=Decimal(50)),
        element(pc(T, "1.20"), min_duration=7200, max_kwh=Decimal("80.5")),
        element(pc(P, "6.00"), start_date=date(2026, 1, 1), end_date=date(2027, 1, 1)),
        element(pc(E, "0.25")),
        # A reservation: 3/h and a 2.00 fee.
        element(pc(T, "3.00"), pc(F, "2.00"), reservation=ReservationRestrictionType.RESERVATION),
        tariff_alt_text=(DisplayText("en", "0.30/kWh day, 0.25/kWh night"),),
        min_price=Price(Decimal("0.50"), Decimal("0.605")),
        max_price=Price(Decimal("50")),
        start_date_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    action, payload = tariffs21.set_default_tariff(0, t)
    assert action == "SetDefaultTariff" and payload["evseId"] == 0
    valid(OcppVersion.V21, action, payload)
    tt = payload["tariff"]
    assert tt["tariffId"] == "T1" and tt["currency"] == "EUR"
    assert tt["validFrom"] == "2026-01-01T00:00:00.000Z"
    assert tt["description"] == [
        {"format": "UTF8", "language": "en", "content": "0.30/kWh day, 0.25/kWh night"}
    ]
    assert tt["energy"] == {
        "prices": [
            {
                "priceKwh": 0.30,
                "conditions": {
                    "startTimeOfDay": "07:00",
                    "endTimeOfDay": "22:00",
                    "dayOfWeek": ["Monday", "Friday"],
                },
            },
            {"priceKwh": 0.45, "conditions": {"minPower": 50000.0}},
            {"priceKwh": 0.25},
        ],
        "taxRates": [{"type": "VAT", "tax": 21.0}],
    }
    assert tt["fixedFee"]["prices"] == [
        {
            "priceFixed": 1.0,
            "conditions": {
                "startTimeOfDay": "07:00",
                "endTimeOfDay": "22:00",
                "dayOfWeek": ["Monday", "Friday"],
            },
        }
    ]
    # OCPI TIME / PARKING_TIME prices are per hour; OCPP's per minute.
    assert tt["chargingTime"]["prices"] == [
        {"priceMinute": 0.02, "conditions": {"minTime": 7200, "maxEnergy": 80500.0}}
    ]
    assert tt["idleTime"]["prices"] == [
        {
            "priceMinute": 0.1,
            "conditions": {"validFromDate": "2026-01-01", "validToDate": "2027-01-01"},
        }
    ]
    assert tt["reservationTime"]["prices"] == [{"priceMinute": 0.05}]
    assert tt["reservationFixed"]["prices"] == [{"priceFixed": 2.0}]
    assert tt["minCost"] == {"exclTax": 0.5, "inclTax": 0.605}
    assert tt["maxCost"] == {"exclTax": 50.0}


def test_no_vat_means_no_tax_rates_and_an_empty_tariff_is_valid() -> None:
    t = tariff(element(pc(E, "0.20", vat=None)))
    tt = tariffs21.tariff_type(t)
    assert tt["energy"] == {"prices": [{"priceKwh": 0.2}]}
    free = tariffs21.tariff_type(tariff())
    assert free == {"tariffId": "T1", "currency": "EUR"}
    valid(OcppVersion.V21, "SetDefaultTariff", {"evseId": 1, "tariff": free})


@pytest.mark.parametrize(
    ("t", "why"),
    [
        (tariff(element(pc(E, "0.2", "21")), element(pc(E, "0.3", "9"))), "VAT"),
        (tariff(element(pc(E, "0.2", None)), element(pc(E, "0.3", "9"))), "VAT"),
        (tariff(element(pc(F, "1"), min_kwh=Decimal(5))), "FLAT"),
        (tariff(element(pc(E, "0.2"), start_time=time(7, 0, 30))), "seconds"),
        (
            tariff(element(pc(P, "1"), reservation=ReservationRestrictionType.RESERVATION)),
            "reservation",
        ),
    ],
)
def test_what_2_1_cannot_say_is_refused(t: Tariff, why: str) -> None:
    with pytest.raises(TariffNotExpressible, match=why):
        tariffs21.tariff_type(t)


def test_other_tariff_commands_pass_the_2_1_schemas() -> None:
    t = tariff(element(pc(E, "0.3")))
    action, payload = tariffs21.change_transaction_tariff("TX-9", t)
    assert payload["transactionId"] == "TX-9"
    valid(OcppVersion.V21, action, payload)
    valid(OcppVersion.V21, *tariffs21.get_tariffs(0))
    assert tariffs21.clear_tariffs(None, None) == ("ClearTariffs", {})
    action, payload = tariffs21.clear_tariffs(["T1", "T2"], 2)
    assert payload == {"tariffIds": ["T1", "T2"], "evseId": 2}
    valid(OcppVersion.V21, action, payload)


def test_answers_of_get_and_clear_tariffs() -> None:
    got = tariffs21.assignments(
        {
            "status": "Accepted",
            "tariffAssignments": [
                {"tariffId": "T1", "tariffKind": "DefaultTariff", "evseIds": [1, 2]},
                {
                    "tariffId": "D9",
                    "tariffKind": "DriverTariff",
                    "idTokens": ["AA11"],
                    "validFrom": "2026-03-02T12:00:00Z",
                },
            ],
        }
    )
    assert got[0].tariff_id == "T1" and got[0].evse_ids == (1, 2)
    assert got[1].id_tokens == ("AA11",) and got[1].valid_from == T0
    results = tariffs21.clear_results(
        {"clearTariffsResult": [{"status": "NoTariff", "statusInfo": {"reasonCode": "X"}}]}
    )
    assert results[0].status == "NoTariff" and results[0].status_info == {"reasonCode": "X"}
    assert tariffs21.status_info({"status": "Rejected"}) is None


def test_running_cost_data_of_the_california_pricing_note() -> None:
    update = RunningCost(
        transaction_id="12345",
        total=Decimal("1.00"),
        currency="USD",
        at=T0,
        meter_wh=1234000,
        idle=False,
        prices=UnitPrices(kwh=Decimal("0.123"), idle_hour=Decimal("1.00")),
        next_at=datetime(2026, 3, 2, 19, 0, tzinfo=UTC),
        next_prices=UnitPrices(kwh=Decimal("0.100")),
        triggers=CostTriggers(
            at_time=datetime(2026, 3, 2, 19, 0, tzinfo=UTC),
            at_status=("SuspendedEV", "SuspendedEVSE"),
        ),
    )
    action, payload = costs16.running_cost(update)
    assert action == "DataTransfer"
    assert payload["vendorId"] == "org.openchargealliance.costmsg"
    assert payload["messageId"] == "RunningCost"
    valid(OcppVersion.V16, action, payload)
    assert json.loads(payload["data"]) == {
        "transactionId": 12345,
        "timestamp": "2026-03-02T12:00:00.000Z",
        "meterValue": 1234000,
        "cost": 1.0,
        "state": "Charging",
        "chargingPrice": {"kWhPrice": 0.123},
        "idlePrice": {"hourPrice": 1.0},
        "nextPeriod": {"atTime": "2026-03-02T19:00:00.000Z", "chargingPrice": {"kWhPrice": 0.1}},
        "triggerMeterValue": {
            "atTime": "2026-03-02T19:00:00.000Z",
            "atCPStatus": ["SuspendedEV", "SuspendedEVSE"],
        },
    }
    idle = costs16.running_cost_data(
        RunningCost("7", Decimal("2.5"), "USD", T0, None, True, UnitPrices(hour=Decimal(2)))
    )
    assert idle["state"] == "Idle" and idle["meterValue"] == 0
    assert idle["chargingPrice"] == {"hourPrice": 2.0} and "idlePrice" not in idle


def test_final_cost_data_and_a_non_integer_id() -> None:
    action, payload = costs16.final_cost(
        FinalCost("98765", Decimal("3.31"), "USD", "Total 3.31 USD", "https://cpo/r/1")
    )
    valid(OcppVersion.V16, action, payload)
    assert payload["messageId"] == "FinalCost"
    assert json.loads(payload["data"]) == {
        "transactionId": 98765,
        "cost": 3.31,
        "priceText": "Total 3.31 USD",
        "qrCodeText": "https://cpo/r/1",
    }
    no_url = json.loads(costs16.final_cost(FinalCost("1", Decimal(0), "USD", "t"))[1]["data"])
    assert "qrCodeText" not in no_url and no_url["cost"] == 0.0
    with pytest.raises(NotAddressable):
        costs16.final_cost(FinalCost("TX-A", Decimal(1), "USD", "t"))


async def test_connector_unplugged_from_a_station_is_accepted() -> None:
    def msg(message_id: str | None, data: object) -> VendorMessage:
        return VendorMessage("CP1", costs16.VENDOR_ID, message_id, data)

    plugged = msg("ConnectorUnplugged", '{"transactionId": 5, "timestamp": "2026-03-02T12:00:00Z"}')
    assert (await costs16.vendor_messages(plugged)).status is DataTransferStatus.ACCEPTED
    assert (await costs16.vendor_messages(msg("ConnectorUnplugged", "{nope"))).status is (
        DataTransferStatus.REJECTED
    )
    assert (await costs16.vendor_messages(msg("RunningCost", "{}"))).status is (
        DataTransferStatus.UNKNOWN_MESSAGE_ID
    )
