"""The certificate expiry watch (issue 19 part 3), on the cluster's leader only: every
`interval` seconds the station certificates that expire within `days` days (or have
expired) are looked at. The station's own certificates (ChargingStationCertificate,
the V2G chain's leaf) get a renewal trigger (TriggerMessage SignChargingStationCertificate /
SignV2GCertificate, OCPP 2.0.1 A02; 1.6 ExtendedTriggerMessage SignChargePointCertificate,
security whitepaper A02) when the station is connected; every one raises an alert.
A certificate is triggered and alerted at most once per `repeat` seconds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from ampyre.domain.certificates import CertificateUse, InstalledCertificate, SigningUse
from ampyre.services.certificates import CertificateService
from ampyre.services.periodic import Periodic

log = logging.getLogger(__name__)

_RENEWABLE = {
    CertificateUse.CHARGING_STATION: SigningUse.CHARGING_STATION,
    CertificateUse.V2G_CHAIN: SigningUse.V2G,
}
_PAGE = 500


class CertificateExpiryWatch:
    def __init__(
        self,
        certificates: CertificateService,
        connected: Callable[[str], bool],
        *,
        days: float,
        interval: float,
        repeat: float = 86400.0,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        self._svc = certificates
        self._connected = connected
        self._days = days
        self._interval = interval
        self._repeat = repeat
        self._loop = Periodic(
            "certificate expiry check", self.check, interval, log=log, leads=leads
        )
        # (station, certificate id) -> when it was last handled
        self._handled: dict[tuple[str, int], datetime] = {}

    def start(self) -> None:
        if self._interval > 0 and self._days > 0:
            self._loop.start()

    async def close(self) -> None:
        await self._loop.close()

    async def check(self) -> int:
        """One pass; returns how many certificates were handled (triggered/alerted)."""
        await self._svc.fail_stale()
        now = self._svc.now()
        before = now + timedelta(days=self._days)
        handled = 0
        offset = 0
        while True:
            page = await self._svc.certificates(None, before, None, _PAGE, offset)
            for cert in page.items:
                if await self._handle(cert, now):
                    handled += 1
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        cutoff = now - timedelta(seconds=self._repeat)
        self._handled = {k: v for k, v in self._handled.items() if v > cutoff}
        return handled

    async def _handle(self, cert: InstalledCertificate, now: datetime) -> bool:
        if cert.id is None or cert.not_after is None or cert.child_of is not None:
            return False  # a sub-CA of a chain is renewed with its leaf
        key = (cert.station_id, cert.id)
        last = self._handled.get(key)
        if last is not None and (now - last).total_seconds() < self._repeat:
            return False
        self._handled[key] = now
        await self._svc.alert_expiry(cert, expired=cert.not_after <= now)
        use = _RENEWABLE.get(cert.use)
        if use is not None and self._connected(cert.station_id):
            answer = await self._svc.renew(cert.station_id, use, None)
            log.info(
                "%s: %s expires %s: renewal triggered (%s)",
                cert.station_id,
                cert.use.value,
                cert.not_after.isoformat(),
                answer.station_answer or answer.status,
            )
        return True
