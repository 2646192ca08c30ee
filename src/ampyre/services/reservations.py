"""Reservations (OCPP 1.6 Reservation profile, 2.0.1 block H), version-neutral.

Ampyre keeps the reservation (its id is the reservationId sent to the station) and its
outcome: the station's ReserveNow answer, a cancellation, its use by a transaction, the
2.x ReservationStatusUpdate (H04 "reservation ended, not used": Expired / Removed) and
the expiry, which Ampyre applies itself every few seconds so a reservation never stays
active past its time even if the station never says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ampyre.config import Settings
from ampyre.domain.authz import Reservation, ReservationStatus
from ampyre.domain.versions import CONNECTOR_TYPE_MAX, ID_TOKEN_MAX_21, traits
from ampyre.services.periodic import Periodic
from ampyre.services.ports import AuthStore
from ampyre.services.station_port import Answer, StationCommands

log = logging.getLogger(__name__)

ACTIVE: Final = frozenset({ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED})


class ReservationError(Exception):
    pass


class ReservationInputError(ReservationError, ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class ReservationNotFound(ReservationError, LookupError):
    pass


class ReservationNotActive(ReservationError):
    pass


@dataclass(slots=True, frozen=True)
class Delivery:
    """How a command about a reservation went: `status` is the station's answer in lower
    case, or not_connected / timeout / error when there is none."""

    status: str
    station_answer: str | None = None
    detail: str | None = None

    @property
    def answered(self) -> bool:
        return self.status not in ("not_connected", "timeout", "error")


class ReservationService:
    expiry_interval: float = 5.0  # seconds between expiry sweeps

    def __init__(
        self,
        store: AuthStore,
        commands: StationCommands,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings
        self._clock = clock
        self._loop = Periodic(
            "reservation expiry", self.expire_due, lambda: self.expiry_interval, log=log
        )

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.close()

    async def expire_due(self) -> list[Reservation]:
        """Mark the active reservations past their expiry as expired (never raises)."""
        try:
            expired = await self._store.expire_reservations(self._clock())
        except Exception:  # a database outage must not end the loop
            log.warning("could not expire reservations", exc_info=True)
            return []
        for r in expired:
            log.info("reservation %s at %s expired", r.id, r.station_id)
        return expired

    # ------------------------------------------------------------------ API side

    async def get(self, reservation_id: int) -> Reservation:
        found = await self._store.get_reservation(reservation_id)
        if found is None:
            raise ReservationNotFound(f"reservation {reservation_id} does not exist")
        return found

    async def list(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Any:
        return await self._store.list_reservations(station_id, status, limit, offset)

    def check(self, r: Reservation) -> None:
        """Refuse what no station could accept (nothing is stored or sent then)."""
        if r.expires_at <= self._clock():
            raise ReservationInputError("expires_at must be in the future", "expires_at")
        if r.evse_id is not None and r.evse_id < 0:
            raise ReservationInputError("evse_id must be >= 0", "evse_id")
        if not 1 <= len(r.id_token) <= ID_TOKEN_MAX_21:
            raise ReservationInputError(
                f"id_token must be 1..{ID_TOKEN_MAX_21} characters", "id_token"
            )
        if r.connector_type is not None and not 1 <= len(r.connector_type) <= CONNECTOR_TYPE_MAX:
            raise ReservationInputError(
                f"connector_type must be 1..{CONNECTOR_TYPE_MAX} characters", "connector_type"
            )
        version = self._commands.connected_version(r.station_id)
        if version is None:
            return
        t = traits(version)
        if len(r.id_token) > t.id_token_max:
            raise ReservationInputError(
                f"an OCPP {version.removeprefix('ocpp')} {t.id_token_term} has at most "
                f"{t.id_token_max} characters",
                "id_token",
            )
        if r.connector_type is not None:
            if not t.reserve_connector_type:
                raise ReservationInputError(
                    f"OCPP {version.removeprefix('ocpp')} reservations cannot name a connector "
                    "type",
                    "connector_type",
                )
            if t.connector_types is not None and r.connector_type not in t.connector_types:
                raise ReservationInputError(
                    f"connector_type must be an OCPP {version.removeprefix('ocpp')} "
                    "ConnectorEnumType value",
                    "connector_type",
                )

    async def create(self, r: Reservation) -> tuple[Reservation, Delivery]:
        """Store the reservation, send ReserveNow, store the outcome."""
        self.check(r)
        now = self._clock()
        r.status = ReservationStatus.REQUESTED
        r.created_at = r.updated_at = now
        stored = await self._store.create_reservation(r)
        delivery = _delivery(
            await self._commands.reserve(stored.station_id, stored, self._settings.call_timeout)
        )
        if delivery.status == "accepted":
            stored.status = ReservationStatus.ACCEPTED
        elif delivery.answered:
            stored.status = ReservationStatus.REJECTED  # Faulted/Occupied/Rejected/Unavailable
        else:
            stored.status = ReservationStatus.FAILED
        stored.station_answer = delivery.station_answer
        stored.updated_at = self._clock()
        updated = await self._store.update_reservation(stored)
        return (updated or stored), delivery

    async def cancel(self, reservation_id: int) -> tuple[Reservation, Delivery]:
        """Send CancelReservation; the reservation is cancelled when the station accepts
        (1.6 section 5.1, 2.0.1 H02). Rejected means the station knows no such
        reservation: it stays as it is and the answer is returned."""
        r = await self.get(reservation_id)
        if r.status not in ACTIVE:
            raise ReservationNotActive(f"reservation {reservation_id} is {r.status.value}")
        delivery = _delivery(
            await self._commands.cancel_reservation(r.station_id, r.id, self._settings.call_timeout)
        )
        if delivery.status == "accepted":
            r.status = ReservationStatus.CANCELLED
            r.updated_at = self._clock()
            r = await self._store.update_reservation(r) or r
        return r, delivery

    # ------------------------------------------------------------------ OCPP side

    async def used(self, station_id: str, reservation_id: int, transaction_pk: int) -> None:
        """A transaction started on the reservation (1.6 StartTransaction reservationId,
        2.0.1 TransactionEvent reservationId)."""
        r = await self._store.get_reservation(reservation_id)
        if r is None or r.station_id != station_id:
            log.warning(
                "station %s used reservation %s, which Ampyre does not know for it",
                station_id,
                reservation_id,
            )
            return
        r.status = ReservationStatus.USED
        r.transaction_id = transaction_pk
        r.updated_at = self._clock()
        await self._store.update_reservation(r)

    async def status_update(self, station_id: str, reservation_id: int, status: str) -> None:
        """2.0.1 ReservationStatusUpdate (H04): Expired -> expired, Removed -> cancelled
        (the station dropped it, e.g. its EVSE became unavailable)."""
        r = await self._store.get_reservation(reservation_id)
        if r is None or r.station_id != station_id:
            log.warning(
                "station %s sent ReservationStatusUpdate %s for unknown reservation %s",
                station_id,
                status,
                reservation_id,
            )
            return
        if r.status not in ACTIVE:
            return  # already final (used, cancelled by us, expired by the sweep)
        r.status = ReservationStatus.EXPIRED if status == "Expired" else ReservationStatus.CANCELLED
        r.updated_at = self._clock()
        await self._store.update_reservation(r)


def _delivery(answer: Answer) -> Delivery:
    return Delivery(answer.status, answer.station_answer, answer.detail)
