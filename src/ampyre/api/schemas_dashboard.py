"""REST shapes of the dashboard's reads: the overview and a transaction's chart series
(definitions of the states and numbers: domain/dashboard.py)."""

from datetime import datetime

from pydantic import BaseModel, Field

from ampyre.domain.dashboard import Alert, ChartPoint, Overview


class StationCountsOut(BaseModel):
    total: int
    online: int = Field(description="connected now")
    offline: int = Field(description="total - online")
    faulted: int = Field(description="a connector's current status is Faulted")
    charging: int = Field(
        description="an active transaction, or a connector whose current status is Charging"
    )


class AlertOut(BaseModel):
    station_id: str
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    vendor_error_code: str | None = None
    timestamp: datetime | None = Field(None, description="the station's time of the report")
    received_at: datetime

    @classmethod
    def build(cls, a: Alert) -> "AlertOut":
        return cls(
            station_id=a.station_id,
            evse_id=a.evse_id,
            connector_id=a.connector_id,
            status=a.status,
            error_code=a.error_code,
            info=a.info,
            vendor_error_code=a.vendor_error_code,
            timestamp=a.timestamp,
            received_at=a.received_at,
        )


class OverviewOut(BaseModel):
    stations: StationCountsOut
    active_transactions: int
    energy_today_wh: float = Field(description="energy delivered since 00:00 UTC today")
    messages_per_second: float = Field(description="OCPP frames in and out, this process")
    alerts: list[AlertOut] = Field(
        description="newest first: status reports with status Faulted or an error code "
        "other than NoError"
    )

    @classmethod
    def build(cls, o: Overview, messages_per_second: float) -> "OverviewOut":
        c = o.stations
        return cls(
            stations=StationCountsOut(
                total=c.total,
                online=c.online,
                offline=c.offline,
                faulted=c.faulted,
                charging=c.charging,
            ),
            active_transactions=o.active_transactions,
            energy_today_wh=o.energy_today_wh,
            messages_per_second=messages_per_second,
            alerts=[AlertOut.build(a) for a in o.alerts],
        )


class ChartPointOut(BaseModel):
    timestamp: datetime = Field(description="meter time")
    power_w: float | None = Field(None, description="active import power (sum of phases)")
    energy_wh: float | None = Field(None, description="energy register reading")
    soc_percent: float | None = None

    @classmethod
    def build(cls, p: ChartPoint) -> "ChartPointOut":
        return cls(
            timestamp=p.timestamp,
            power_w=p.power_w,
            energy_wh=p.energy_wh,
            soc_percent=p.soc_percent,
        )


class MeterSeriesOut(BaseModel):
    transaction_id: int = Field(description="Ampyre's transaction id")
    meter_start_wh: float | None = Field(
        None, description="the register at the start: energy_wh - this = delivered so far"
    )
    points: list[ChartPointOut]
    more: bool = Field(description="more points follow: ask again with after=<last timestamp>")
