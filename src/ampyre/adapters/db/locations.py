"""Locations in SQL (the LocationStore port): our locations and their stations, the
operator's EVSE and connector attributes, the published EVSE states, and the Locations
partners pushed to us. Short transactions; building a Location reads its stations'
connectors (the `connectors` table, written by the status path) in one snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from ampyre.adapters.db import tables as t
from ampyre.adapters.db import tables_locations as tl
from ampyre.adapters.db.database import Database
from ampyre.domain.locations import (
    ConnectorAttributes,
    ConnectorKind,
    ConnectorReading,
    EvseAttributes,
    EvseState,
    EvseStatus,
    Location,
    ReceivedLocation,
    StationPart,
)
from ampyre.domain.models import Page
from ampyre.services.locations_port import LocationExists, LocationStore, UnknownStation

_CHUNK = 500  # bounded IN lists


class LocationsSql:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Read-modify-write of a received Location: one at a time in this process (SQLite
        # has one writer; PostgreSQL also locks the row for other nodes).
        self._received_lock = asyncio.Lock()

    # ------------------------------------------------------------------ locations

    async def add_location(self, location: Location) -> None:
        values = _location_values(location)
        try:
            async with self._db.tx() as conn:
                await conn.execute(sa.insert(tl.ocpi_locations).values(values))
        except sa_exc.IntegrityError:
            raise LocationExists(f"location {location.id!r} exists") from None

    async def get_location(self, location_id: str) -> Location | None:
        loc = tl.ocpi_locations
        async with self._db.tx() as conn:
            row = (
                await conn.execute(sa.select(loc).where(loc.c.location_key == location_id.upper()))
            ).first()
            if row is None:
                return None
            stations = await _stations_of(conn, [row.id])
        return _location(row, stations.get(row.id, ()))

    async def list_locations(self, limit: int, offset: int) -> Page:
        loc = tl.ocpi_locations
        limit, offset = max(0, limit), max(0, offset)
        async with self._db.tx() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(loc))).scalar_one()
            rows = (
                (
                    await conn.execute(
                        sa.select(loc).order_by(loc.c.id).limit(limit).offset(offset)
                    )
                ).all()
                if limit
                else []
            )
            stations = await _stations_of(conn, [r.id for r in rows])
        items = [_location(r, stations.get(r.id, ())) for r in rows]
        return Page(items=items, total=int(total), limit=limit, offset=offset)

    async def roaming_page(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> tuple[list[Location], int]:
        loc = tl.ocpi_locations
        where: list[Any] = [loc.c.roaming.is_(True)]
        if date_from is not None:
            where.append(loc.c.last_updated >= date_from)  # inclusive (mod_locations 8.2.1.1)
        if date_to is not None:
            where.append(loc.c.last_updated < date_to)  # exclusive
        count = sa.select(sa.func.count()).select_from(loc).where(*where)
        query = sa.select(loc).where(*where).order_by(loc.c.id).limit(limit).offset(offset)
        async with self._db.tx() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(query)).all() if limit > 0 else []
            stations = await _stations_of(conn, [r.id for r in rows])
        return [_location(r, stations.get(r.id, ())) for r in rows], int(total)

    async def save_location(self, location: Location) -> bool:
        loc = tl.ocpi_locations
        values = _location_values(location)
        for key in ("id", "location_key", "created_at", "pushed_digest"):
            values.pop(key)
        async with self._db.tx() as conn:
            n = (
                await conn.execute(sa.update(loc).where(loc.c.id == location.id).values(values))
            ).rowcount
        return bool(n)

    async def delete_location(self, location_id: str) -> bool:
        loc, ls = tl.ocpi_locations, tl.ocpi_location_stations
        async with self._db.tx() as conn:
            stations = list(
                (
                    await conn.execute(
                        sa.select(ls.c.station_id).where(ls.c.location_id == location_id)
                    )
                ).scalars()
            )
            # SQLite enforces no foreign keys unless asked: remove the children explicitly.
            await conn.execute(sa.delete(ls).where(ls.c.location_id == location_id))
            await _delete_states(conn, stations)
            n = (await conn.execute(sa.delete(loc).where(loc.c.id == location_id))).rowcount
        return bool(n)

    async def set_digest(self, location_id: str, digest: str) -> None:
        loc = tl.ocpi_locations
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(loc).where(loc.c.id == location_id).values(pushed_digest=digest)
            )

    async def touch_locations(self, location_ids: Collection[str], at: datetime) -> None:
        loc = tl.ocpi_locations
        ids = sorted(set(location_ids))
        if not ids:
            return
        async with self._db.tx() as conn:
            await conn.execute(
                sa.update(loc)
                .where(loc.c.id.in_(ids), loc.c.last_updated < at)
                .values(last_updated=at)
            )

    # ------------------------------------------------------------------ stations

    async def assign_station(self, location_id: str, station_id: str, at: datetime) -> str | None:
        ls = tl.ocpi_location_stations
        async with self._db.tx() as conn:
            known = (
                await conn.execute(sa.select(t.stations.c.id).where(t.stations.c.id == station_id))
            ).first()
            if known is None:
                raise UnknownStation(f"station {station_id!r} not found")
            before = (
                await conn.execute(sa.select(ls.c.location_id).where(ls.c.station_id == station_id))
            ).scalar()
            if before == location_id:
                return location_id
            if before is not None:
                await conn.execute(sa.delete(ls).where(ls.c.station_id == station_id))
                await _delete_states(conn, [station_id])
            await conn.execute(
                sa.insert(ls).values(station_id=station_id, location_id=location_id, assigned_at=at)
            )
        return None if before is None else str(before)

    async def unassign_station(self, station_id: str) -> str | None:
        ls = tl.ocpi_location_stations
        async with self._db.tx() as conn:
            before = (
                await conn.execute(
                    sa.delete(ls).where(ls.c.station_id == station_id).returning(ls.c.location_id)
                )
            ).scalar()
            await _delete_states(conn, [station_id])
        return None if before is None else str(before)

    async def assignments(self, station_ids: Collection[str]) -> dict[str, tuple[str, bool]]:
        ls, loc = tl.ocpi_location_stations, tl.ocpi_locations
        ids = sorted(set(station_ids))
        found: dict[str, tuple[str, bool]] = {}
        for start in range(0, len(ids), _CHUNK):
            query = (
                sa.select(ls.c.station_id, ls.c.location_id, loc.c.roaming)
                .join(loc, loc.c.id == ls.c.location_id)
                .where(ls.c.station_id.in_(ids[start : start + _CHUNK]))
            )
            async with self._db.read() as conn:
                rows = (await conn.execute(query)).all()
            for r in rows:
                found[str(r.station_id)] = (str(r.location_id), bool(r.roaming))
        return found

    async def parts(self, location_id: str) -> list[StationPart]:
        return (await self.parts_of([location_id])).get(location_id, [])

    async def parts_of(self, location_ids: Collection[str]) -> dict[str, list[StationPart]]:
        ls = tl.ocpi_location_stations
        return await self._parts(ls.c.location_id, sorted(set(location_ids)))

    async def part(self, station_id: str) -> StationPart | None:
        found = await self.station_parts([station_id])
        return found.get(station_id)

    async def station_parts(self, station_ids: Collection[str]) -> dict[str, StationPart]:
        ls = tl.ocpi_location_stations
        by_location = await self._parts(ls.c.station_id, sorted(set(station_ids)))
        return {p.station_id: p for parts in by_location.values() for p in parts}

    async def _parts(self, key: Any, values: list[str]) -> dict[str, list[StationPart]]:
        """The assigned stations whose `key` column is in `values`, by location, in one
        snapshot."""
        ls, st = tl.ocpi_location_stations, t.stations
        found: dict[str, list[StationPart]] = {}
        parts: dict[str, StationPart] = {}
        async with self._db.tx() as conn:
            for start in range(0, len(values), _CHUNK):
                query = (
                    sa.select(ls.c.location_id, ls.c.station_id, ls.c.assigned_at, st.c.connected)
                    .join(st, st.c.id == ls.c.station_id)
                    .where(key.in_(values[start : start + _CHUNK]))
                    .order_by(ls.c.station_id)
                )
                for r in (await conn.execute(query)).all():
                    part = StationPart(str(r.station_id), bool(r.connected), r.assigned_at)
                    parts[part.station_id] = part
                    found.setdefault(str(r.location_id), []).append(part)
            await _fill(conn, parts)
        return found

    # ------------------------------------------------------------------ attributes

    async def set_evse(self, attrs: EvseAttributes) -> None:
        e = tl.ocpi_evses
        values = {
            "emi3_id": attrs.emi3_id,
            "floor_level": attrs.floor_level,
            "physical_reference": attrs.physical_reference,
            "capabilities": None if attrs.capabilities is None else list(attrs.capabilities),
            "parking_restrictions": list(attrs.parking_restrictions),
            "directions": [dict(d) for d in attrs.directions],
            "updated_at": attrs.updated_at,
        }
        stmt = (
            self._db.insert(e)
            .values(station_id=attrs.station_id, evse_id=attrs.evse_id, **values)
            .on_conflict_do_update(index_elements=[e.c.station_id, e.c.evse_id], set_=values)
        )
        async with self._db.tx() as conn:
            await conn.execute(stmt)

    async def delete_evse(self, station_id: str, evse_id: int) -> bool:
        e = tl.ocpi_evses
        async with self._db.tx() as conn:
            n = (
                await conn.execute(
                    sa.delete(e).where(e.c.station_id == station_id, e.c.evse_id == evse_id)
                )
            ).rowcount
        return bool(n)

    async def set_connector(self, attrs: ConnectorAttributes) -> None:
        c = tl.ocpi_connectors
        k = attrs.kind
        values = {
            "standard": k.standard,
            "format": k.format,
            "power_type": k.power_type,
            "max_voltage": k.max_voltage,
            "max_amperage": k.max_amperage,
            "max_electric_power": k.max_electric_power,
            "terms_and_conditions": k.terms_and_conditions,
            "updated_at": attrs.updated_at,
        }
        stmt = (
            self._db.insert(c)
            .values(
                station_id=attrs.station_id,
                evse_id=attrs.evse_id,
                connector_id=attrs.connector_id,
                **values,
            )
            .on_conflict_do_update(
                index_elements=[c.c.station_id, c.c.evse_id, c.c.connector_id], set_=values
            )
        )
        async with self._db.tx() as conn:
            await conn.execute(stmt)

    async def delete_connector(self, station_id: str, evse_id: int, connector_id: int) -> bool:
        c = tl.ocpi_connectors
        stmt = sa.delete(c).where(
            c.c.station_id == station_id, c.c.evse_id == evse_id, c.c.connector_id == connector_id
        )
        async with self._db.tx() as conn:
            n = (await conn.execute(stmt)).rowcount
        return bool(n)

    # ------------------------------------------------------------------ published states

    async def save_states(self, states: Sequence[tuple[EvseState, str]]) -> None:
        if not states:
            return
        s = tl.ocpi_evse_states
        rows = [
            {
                "station_id": st.station_id,
                "evse_id": st.evse_id,
                "location_id": location_id,
                "status": str(st.status),
                "status_at": st.status_at,
            }
            for st, location_id in states
        ]
        stmt = self._db.insert(s)
        stmt = stmt.on_conflict_do_update(
            index_elements=[s.c.station_id, s.c.evse_id],
            set_={
                "location_id": stmt.excluded.location_id,
                "status": stmt.excluded.status,
                "status_at": stmt.excluded.status_at,
            },
        )
        async with self._db.tx() as conn:
            await conn.execute(stmt, rows)

    async def delete_states(self, station_ids: Collection[str]) -> None:
        async with self._db.tx() as conn:
            await _delete_states(conn, station_ids)

    # ------------------------------------------------------------------ received (eMSP)

    async def get_received(
        self, country_code: str, party_id: str, location_id: str
    ) -> ReceivedLocation | None:
        async with self._db.read() as conn:
            row = (await conn.execute(_received_query(country_code, party_id, location_id))).first()
        return None if row is None else _received(row)

    async def put_received(
        self,
        partner_id: int | None,
        country_code: str,
        party_id: str,
        location_id: str,
        data: dict[str, Any],
        last_updated: datetime,
    ) -> bool:
        r = tl.ocpi_received_locations
        values = {
            "partner_id": partner_id,
            "location_id": location_id,
            "name": _clip(data.get("name"), 255),
            "city": _clip(data.get("city"), 45),
            "country": _clip(data.get("country"), 3),
            "data": data,
            "last_updated": last_updated,
            "received_at": datetime.now(UTC),
        }
        async with self._received_lock, self._db.tx() as conn:
            query = _received_query(country_code, party_id, location_id, lock=self._pg)
            row = (await conn.execute(query)).first()
            if row is None:
                await conn.execute(
                    sa.insert(r).values(
                        country_code=country_code.upper(),
                        party_id=party_id.upper(),
                        location_key=location_id.upper(),
                        **values,
                    )
                )
                return True
            await conn.execute(sa.update(r).where(r.c.id == row.id).values(values))
            return False

    async def update_received(
        self,
        country_code: str,
        party_id: str,
        location_id: str,
        change: Callable[[dict[str, Any]], tuple[dict[str, Any], datetime]],
    ) -> ReceivedLocation | None:
        r = tl.ocpi_received_locations
        async with self._received_lock, self._db.tx() as conn:
            query = _received_query(country_code, party_id, location_id, lock=self._pg)
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            data, last_updated = change(dict(row.data))
            values = {
                "name": _clip(data.get("name"), 255),
                "city": _clip(data.get("city"), 45),
                "country": _clip(data.get("country"), 3),
                "data": data,
                "last_updated": last_updated,
                "received_at": datetime.now(UTC),
            }
            await conn.execute(sa.update(r).where(r.c.id == row.id).values(values))
            row = (await conn.execute(sa.select(r).where(r.c.id == row.id))).one()
        return _received(row)

    async def list_received(
        self,
        limit: int,
        offset: int,
        partner_id: int | None = None,
        country_code: str | None = None,
        party_id: str | None = None,
    ) -> Page:
        r = tl.ocpi_received_locations
        where: list[Any] = []
        if partner_id is not None:
            where.append(r.c.partner_id == partner_id)
        if country_code:
            where.append(r.c.country_code == country_code.upper())
        if party_id:
            where.append(r.c.party_id == party_id.upper())
        return await self._db.page(
            sa.select(r).where(*where).order_by(r.c.country_code, r.c.party_id, r.c.location_key),
            sa.select(sa.func.count()).select_from(r).where(*where),
            _received,
            limit,
            offset,
        )

    @property
    def _pg(self) -> bool:
        return self._db.dialect_name == "postgresql"


# ---------------------------------------------------------------------- helpers


async def _stations_of(conn: AsyncConnection, location_ids: list[str]) -> dict[str, list[str]]:
    ls = tl.ocpi_location_stations
    found: dict[str, list[str]] = {}
    for start in range(0, len(location_ids), _CHUNK):
        query = (
            sa.select(ls.c.location_id, ls.c.station_id)
            .where(ls.c.location_id.in_(location_ids[start : start + _CHUNK]))
            .order_by(ls.c.station_id)
        )
        for r in (await conn.execute(query)).all():
            found.setdefault(str(r.location_id), []).append(str(r.station_id))
    return found


async def _fill(conn: AsyncConnection, parts: dict[str, StationPart]) -> None:
    """Readings, attributes and states of the parts' stations."""
    ids = sorted(parts)
    c, e, k, s = t.connectors, tl.ocpi_evses, tl.ocpi_connectors, tl.ocpi_evse_states
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for r in (
            await conn.execute(
                sa.select(c.c.station_id, c.c.evse_id, c.c.connector_id, c.c.status)
                .where(c.c.station_id.in_(chunk))
                .order_by(c.c.station_id, c.c.evse_id, c.c.connector_id)
            )
        ).all():
            parts[r.station_id].readings.append(
                ConnectorReading(int(r.evse_id), int(r.connector_id), r.status)
            )
        for r in (await conn.execute(sa.select(e).where(e.c.station_id.in_(chunk)))).all():
            parts[r.station_id].evses[int(r.evse_id)] = _evse_attrs(r)
        for r in (await conn.execute(sa.select(k).where(k.c.station_id.in_(chunk)))).all():
            parts[r.station_id].connectors[(int(r.evse_id), int(r.connector_id))] = (
                _connector_attrs(r)
            )
        for r in (await conn.execute(sa.select(s).where(s.c.station_id.in_(chunk)))).all():
            parts[r.station_id].states[int(r.evse_id)] = EvseState(
                str(r.station_id), int(r.evse_id), EvseStatus(r.status), r.status_at
            )


async def _delete_states(conn: AsyncConnection, station_ids: Collection[str]) -> None:
    s = tl.ocpi_evse_states
    ids = sorted(set(station_ids))
    for start in range(0, len(ids), _CHUNK):
        await conn.execute(sa.delete(s).where(s.c.station_id.in_(ids[start : start + _CHUNK])))


def _received_query(
    country_code: str, party_id: str, location_id: str, *, lock: bool = False
) -> sa.Select[Any]:
    r = tl.ocpi_received_locations
    query = sa.select(r).where(
        r.c.country_code == country_code.upper(),
        r.c.party_id == party_id.upper(),
        r.c.location_key == location_id.upper(),
    )
    return query.with_for_update() if lock else query


def _clip(value: Any, size: int) -> str | None:
    return value[:size] if isinstance(value, str) else None


def _location_values(location: Location) -> dict[str, Any]:
    return {
        "id": location.id,
        "location_key": location.id.upper(),
        "name": _clip(location.name, 255),
        "roaming": location.roaming,
        "place": location.place,
        "created_at": location.created_at,
        "updated_at": location.updated_at,
        "last_updated": location.last_updated,
        "pushed_digest": location.pushed_digest,
    }


def _location(row: Any, stations: Sequence[str]) -> Location:
    return Location(
        id=str(row.id),
        place=dict(row.place or {}),
        roaming=bool(row.roaming),
        stations=tuple(stations),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_updated=row.last_updated,
        pushed_digest=row.pushed_digest,
    )


def _evse_attrs(row: Any) -> EvseAttributes:
    return EvseAttributes(
        station_id=str(row.station_id),
        evse_id=int(row.evse_id),
        emi3_id=row.emi3_id,
        floor_level=row.floor_level,
        physical_reference=row.physical_reference,
        capabilities=None if row.capabilities is None else tuple(row.capabilities),
        parking_restrictions=tuple(row.parking_restrictions or ()),
        directions=tuple(dict(d) for d in (row.directions or ())),
        updated_at=row.updated_at,
    )


def _connector_attrs(row: Any) -> ConnectorAttributes:
    return ConnectorAttributes(
        station_id=str(row.station_id),
        evse_id=int(row.evse_id),
        connector_id=int(row.connector_id),
        kind=ConnectorKind(
            standard=row.standard,
            format=row.format,
            power_type=row.power_type,
            max_voltage=int(row.max_voltage),
            max_amperage=int(row.max_amperage),
            max_electric_power=None
            if row.max_electric_power is None
            else int(row.max_electric_power),
            terms_and_conditions=row.terms_and_conditions,
        ),
        updated_at=row.updated_at,
    )


def _received(row: Any) -> ReceivedLocation:
    return ReceivedLocation(
        id=int(row.id),
        partner_id=None if row.partner_id is None else int(row.partner_id),
        country_code=str(row.country_code),
        party_id=str(row.party_id),
        location_id=str(row.location_id),
        data=dict(row.data or {}),
        last_updated=row.last_updated,
        received_at=row.received_at,
    )


def _conforms(sql: LocationsSql) -> LocationStore:
    return sql  # mypy proves LocationsSql implements the port
