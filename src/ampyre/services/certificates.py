"""Certificate management, version-neutral (issue 19 part 3; OCPP 2.0.1 blocks A and M,
the 1.6 security whitepaper edition 3 and the OCA note "Using ISO 15118 Plug & Charge
with OCPP 1.6" for the V2G certificates of 1.6 stations).

SignCertificate: the CSR is checked at once (domain/csr.py) and answered Accepted or
Rejected; an accepted one is stored, signed in the background by the CertificateSigner
and sent back with CertificateSigned (A02/A03: the signing is asynchronous). The station's answer
completes the request; a Rejected answer, a signer refusal or a CertificateSigned that
cannot be delivered fails it with an alert. InstallCertificate, GetInstalledCertificateIds
and DeleteCertificate keep Ampyre's view of each station's certificates (M03-M05)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

from cryptography import x509

from ampyre.domain.alerts import AlertKey, AlertSource, Sighting
from ampyre.domain.certificates import (
    INSTALLABLE,
    BadCertificate,
    CertificateRequest,
    CertificateUse,
    HashData,
    InstalledCertificate,
    RequestStatus,
    SigningUse,
    describe,
    issuer_in,
    load_chain,
    same_public_key,
    serial_hex,
)
from ampyre.domain.csr import MAX_CSR_BYTES, CsrRejected, check_csr
from ampyre.domain.models import Page
from ampyre.services.alerts import AlertService
from ampyre.services.certificates_port import (
    CertificateCommands,
    CertificateSigner,
    CertificateStore,
    ReportedCertificate,
    RequestUpdate,
)
from ampyre.services.clock import utcnow
from ampyre.services.station_port import Answer

log = logging.getLogger(__name__)

# Alert severities (OCPP 2.0.1 scale, domain/alerts.py).
SEVERITY_EXPIRED = 3  # Critical: the station cannot use it any more
SEVERITY_FAILED = 4  # Error: a renewal did not go through
SEVERITY_EXPIRING = 5  # Alert
_ALL_LISTABLE = (
    CertificateUse.CSMS_ROOT,
    CertificateUse.MANUFACTURER_ROOT,
    CertificateUse.V2G_ROOT,
    CertificateUse.MO_ROOT,
    CertificateUse.V2G_CHAIN,
)


class CertificateError(ValueError):
    """An operator's certificate request that cannot be carried out (-> 422)."""


class CertificateNotFound(LookupError):
    pass


def certificate_alert_key(station_id: str, use: str) -> AlertKey:
    return AlertKey(station_id, AlertSource.CERTIFICATE, component="Certificate", variable=use)


class CertificateService:
    def __init__(
        self,
        store: CertificateStore,
        commands: CertificateCommands,
        signer: CertificateSigner | None,
        alerts: AlertService | None,
        *,
        organisation: str | None = None,
        csr_max_bytes: int = MAX_CSR_BYTES,
        sign_timeout: float = 60.0,
        call_timeout: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._commands = commands
        self.signer = signer  # set later when the PKI is built after this service
        self._alerts = alerts
        self._organisation = organisation or None
        self._csr_max_bytes = csr_max_bytes
        self._sign_timeout = sign_timeout
        self._call_timeout = call_timeout
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        # (station, use) with a CSR being signed here: a station that floods CSRs gets
        # Rejected until the one in hand is done.
        self._busy: set[tuple[str, str]] = set()

    def now(self) -> datetime:
        return self._clock()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def wait_idle(self) -> None:
        """Until every background signing has ended (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ SignCertificate

    async def sign_request(
        self,
        station_id: str,
        csr: object,
        use: SigningUse | None,
        request_id: int | None = None,
        via: str = "ocpp",
    ) -> tuple[bool, str | None]:
        """A station's SignCertificate (via "pnc": the 1.6 Plug & Charge DataTransfer).
        (accepted, reason). Every request is recorded, the rejected ones too."""
        now = self._clock()
        text = csr if isinstance(csr, str) else ""
        record = CertificateRequest(
            station_id=station_id,
            use=use,
            csr=text[: self._csr_max_bytes * 2],
            status=RequestStatus.SIGNING,
            created_at=now,
            updated_at=now,
            request_id=request_id,
            via=via,
        )
        reason: str | None = None
        busy = (station_id, (use or SigningUse.CHARGING_STATION).value)
        if self.signer is None:
            # OCPP 2.0.1 A02: Rejected when the CSMS cannot have it signed.
            reason = "no certificate signer is configured"
        else:
            try:
                info = check_csr(csr, station_id, use, self._organisation, self._csr_max_bytes)
                record.subject = info.subject
            except CsrRejected as exc:
                reason = exc.reason
            if reason is None and busy in self._busy:
                reason = "a CSR of this station for this certificate is being signed already"
        if reason is not None:
            record.status = RequestStatus.REJECTED
            record.error = reason[:500]
            await self._store.add_request(record)
            log.info("%s: SignCertificate rejected: %s", station_id, reason)
            return False, reason
        self._busy.add(busy)
        try:
            stored = await self._store.add_request(record)
        except BaseException:
            self._busy.discard(busy)
            raise
        task = asyncio.create_task(self._sign_and_send(stored))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._busy.discard(busy))
        return True, None

    async def _sign_and_send(self, req: CertificateRequest) -> None:
        assert req.id is not None and self.signer is not None
        use = (req.use or SigningUse.CHARGING_STATION).value
        try:
            async with asyncio.timeout(self._sign_timeout):
                chain = await self.signer.sign(req.csr, use, req.station_id)
            certs = load_chain(chain)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            await self._failed(req, "the signer did not answer in time")
            return
        except Exception as exc:  # SigningRefused, EST errors, a bad chain: all fail it
            await self._failed(req, f"signing failed: {str(exc)[:300] or type(exc).__name__}")
            return
        leaf = certs[0]
        if not same_public_key(leaf, req.csr):
            # A signer (an external CA above all) that answers with another key's
            # certificate: the station could not use it.
            await self._failed(req, "the signer returned a certificate for another key")
            return
        update = RequestUpdate(
            RequestStatus.SENT,
            certificate=chain,
            serial_number=serial_hex(leaf.serial_number),
            not_after=leaf.not_valid_after_utc,
        )
        await self._store.update_request(req.id, update, self._clock())
        try:
            answer = await self._commands.certificate_signed(
                req.station_id, chain, req.use, req.request_id, req.via == "pnc", self._call_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s: CertificateSigned not sent", req.station_id)
            answer = Answer("error", detail=str(exc)[:300])
        await self._signed_answered(req, certs, answer)

    async def _signed_answered(
        self, req: CertificateRequest, certs: list[x509.Certificate], answer: Answer
    ) -> None:
        assert req.id is not None
        now = self._clock()
        use_name = (req.use or SigningUse.CHARGING_STATION).value
        if answer.status == "accepted":
            # The certificate rows first: a request reads "installed" only once its
            # certificate is listed among the station's.
            await self._store.save_certificates(self._signed_rows(req, certs, now))
            await self._store.update_request(req.id, RequestUpdate(RequestStatus.INSTALLED), now)
            await self._raise(
                [Sighting(certificate_alert_key(req.station_id, use_name), now, clear=True)]
            )
            return
        if answer.answered:
            # A02/A03: the station checked the chain and refused it.
            reason = (
                f"the station answered CertificateSigned {answer.station_answer or answer.status}"
            )
            await self._store.update_request(
                req.id, RequestUpdate(RequestStatus.STATION_REJECTED, error=reason), now
            )
            await self._alert(req.station_id, use_name, "CertificateSignedRejected", reason)
            return
        await self._failed(
            req, f"CertificateSigned not delivered: {answer.detail or answer.status}"
        )

    async def _failed(self, req: CertificateRequest, reason: str) -> None:
        assert req.id is not None
        log.warning("%s: certificate request %s failed: %s", req.station_id, req.id, reason)
        await self._store.update_request(
            req.id, RequestUpdate(RequestStatus.FAILED, error=reason[:500]), self._clock()
        )
        use_name = (req.use or SigningUse.CHARGING_STATION).value
        await self._alert(req.station_id, use_name, "CertificateSigningFailed", reason)

    def _signed_rows(
        self, req: CertificateRequest, certs: list[x509.Certificate], now: datetime
    ) -> list[InstalledCertificate]:
        """What the station now holds: its leaf (and for V2G, the chain's sub-CAs)."""
        v2g = req.use in (SigningUse.V2G, SigningUse.V2G20)
        use = CertificateUse.V2G_CHAIN if v2g else CertificateUse.CHARGING_STATION
        rows: list[InstalledCertificate] = []
        leaf_hash: HashData | None = None
        for n, cert in enumerate(certs if v2g else certs[:1]):
            issuer = issuer_in(cert, certs)
            if issuer is None and cert.subject != cert.issuer:
                continue  # its issuer is not in the chain: no issuerKeyHash to file it by
            facts = describe(cert, issuer)
            row = InstalledCertificate(
                station_id=req.station_id,
                use=use,
                hash_data=facts["hash_data"],
                source="signed",
                updated_at=now,
                subject=facts["subject"],
                issuer=facts["issuer"],
                not_after=facts["not_after"],
                pem=facts["pem"],
                child_of=leaf_hash if n else None,
            )
            if n == 0:
                leaf_hash = row.hash_data
            rows.append(row)
        return rows

    async def fail_stale(self) -> int:
        """Requests whose signing or CertificateSigned never ended (the process that had
        them stopped): failed, so none stays "signing" for ever. Run by the leader."""
        wait = self._sign_timeout + 2 * (self._call_timeout or 30.0) + 60.0
        now = self._clock()
        return await self._store.fail_stale(
            now - timedelta(seconds=wait), "interrupted: Ampyre stopped before the end", now
        )

    # ------------------------------------------------------------------ alerts

    async def _raise(self, sightings: Sequence[Sighting]) -> None:
        if self._alerts is None or not sightings:
            return
        try:
            await self._alerts.raise_alerts(sightings)
        except Exception:  # an alert must not undo what is done
            log.exception("certificate alerts not raised")

    async def _alert(
        self, station_id: str, use: str, code: str, info: str, severity: int = SEVERITY_FAILED
    ) -> None:
        key = certificate_alert_key(station_id, use)
        await self._raise(
            [Sighting(key, self._clock(), code=code, severity=severity, info=info[:500])]
        )

    async def alert_expiry(self, cert: InstalledCertificate, expired: bool) -> None:
        when = cert.not_after.isoformat() if cert.not_after else "?"
        await self._alert(
            cert.station_id,
            cert.use.value,
            "CertificateExpired" if expired else "CertificateExpiring",
            f"{cert.use.value} {cert.subject or cert.hash_data.serial_number} "
            f"{'expired' if expired else 'expires'} {when}",
            SEVERITY_EXPIRED if expired else SEVERITY_EXPIRING,
        )

    # ------------------------------------------------------------------ operator side

    async def install(
        self, station_id: str, use: CertificateUse, pem: str, timeout: float | None
    ) -> Answer:
        """InstallCertificate of a root certificate (M05); stored when Accepted."""
        if use not in INSTALLABLE:
            raise CertificateError(f"{use.value} cannot be installed with InstallCertificate")
        try:
            certs = load_chain(pem)
        except BadCertificate as exc:
            raise CertificateError(str(exc)) from None
        if len(certs) != 1:
            raise CertificateError("InstallCertificate carries exactly one certificate")
        cert = certs[0]
        if issuer_in(cert, certs) is None:
            raise CertificateError("not a self-signed (root) certificate")
        answer = await self._commands.install(station_id, use, pem.strip() + "\n", timeout)
        if answer.status == "accepted":
            facts = describe(cert, None)
            row = InstalledCertificate(
                station_id=station_id,
                use=use,
                hash_data=facts["hash_data"],
                source="installed",
                updated_at=self._clock(),
                subject=facts["subject"],
                issuer=facts["issuer"],
                not_after=facts["not_after"],
                pem=facts["pem"],
            )
            await self._store.save_certificates([row])
            # A new root of this use: an expiry alert of the old one is over.
            key = certificate_alert_key(station_id, use.value)
            await self._raise([Sighting(key, self._clock(), clear=True)])
        return answer

    async def refresh(
        self,
        station_id: str,
        uses: Collection[CertificateUse] = _ALL_LISTABLE,
        timeout: float | None = None,
    ) -> tuple[Answer, int]:
        """GetInstalledCertificateIds (M03): Ampyre's list of the uses asked about is
        replaced by what the station reports. (answer, certificates reported)."""
        answer, reported, covered = await self._commands.get_installed(station_id, uses, timeout)
        if covered:
            now = self._clock()
            rows = _reported_rows(station_id, reported, now)
            await self._store.replace_reported(station_id, covered, rows)
        return answer, len(reported)

    async def delete(self, station_id: str, cert_id: int, timeout: float | None) -> Answer:
        """DeleteCertificate (M04); the row goes when the station deleted it or says it
        has no such certificate."""
        cert = await self._store.get_certificate(station_id, cert_id)
        if cert is None:
            raise CertificateNotFound(f"certificate {cert_id} of {station_id!r} not found")
        answer = await self._commands.delete(station_id, cert.use, cert.hash_data, timeout)
        if answer.status in ("accepted", "notfound"):
            await self._store.delete_certificate(station_id, cert_id)
        return answer

    async def renew(self, station_id: str, use: SigningUse, timeout: float | None) -> Answer:
        """TriggerMessage SignChargingStationCertificate / SignV2GCertificate (A02;
        1.6 ExtendedTriggerMessage SignChargePointCertificate)."""
        return await self._commands.trigger_sign(station_id, use, timeout)

    async def extended_trigger(
        self, station_id: str, message: str, connector_id: int | None, timeout: float | None
    ) -> Answer:
        return await self._commands.extended_trigger(station_id, message, connector_id, timeout)

    async def certificates(
        self,
        station_id: str | None,
        expiring_before: datetime | None = None,
        use: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page:
        return await self._store.list_certificates(station_id, expiring_before, use, limit, offset)

    async def requests(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page:
        return await self._store.list_requests(station_id, status, limit, offset)

    async def request(self, request_id: int) -> CertificateRequest:
        found = await self._store.get_request(request_id)
        if found is None:
            raise CertificateNotFound(f"certificate request {request_id} not found")
        return found


def _reported_rows(
    station_id: str, reported: Sequence[ReportedCertificate], now: datetime
) -> list[InstalledCertificate]:
    rows: list[InstalledCertificate] = []
    for item in reported:
        rows.append(InstalledCertificate(station_id, item.use, item.hash_data, "reported", now))
        rows.extend(
            InstalledCertificate(
                station_id, item.use, child, "reported", now, child_of=item.hash_data
            )
            for child in item.children
        )
    return rows
