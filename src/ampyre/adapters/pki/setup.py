"""Building the PKI's parts from the settings (called by security.py)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ampyre.adapters.pki.authority import LocalAuthority, RecordingPki
from ampyre.adapters.pki.hierarchy import LocalPki, PkiError
from ampyre.adapters.pki.ocsp_client import HttpOcspClient
from ampyre.adapters.pki.ocsp_responder import LocalOcspResponder
from ampyre.adapters.pki.signers import EstSigner, LocalSigner
from ampyre.config import ConfigError, Settings
from ampyre.services.pki import PkiService
from ampyre.services.pki_port import CertificateSigner, PkiStore

log = logging.getLogger(__name__)

SIGNERS = ("local", "est")


@dataclass(slots=True)
class PkiParts:
    """`pki` None: no initialised PKI in pki_dir (the service then lists nothing, the
    responder answers 503, the local signer is absent so CSRs are rejected)."""

    service: PkiService
    ocsp_client: HttpOcspClient
    pki: LocalPki | None = None
    issuer: RecordingPki | None = None
    signer: CertificateSigner | None = None
    est: EstSigner | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        """Record the hierarchy's own certificates (in the background)."""
        task = asyncio.get_running_loop().create_task(self._sync(), name="pki-sync")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync(self) -> None:
        try:
            await self.service.sync_hierarchy()
        except Exception:  # the store down at start: the next start records them
            log.exception("pki: cannot record the CA hierarchy")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ocsp_client.close()
        if self.est is not None:
            await self.est.close()


def check_settings(settings: Settings) -> None:
    if settings.certificate_signer not in SIGNERS:
        raise ConfigError("AMPYRE_CERTIFICATE_SIGNER must be local or est")
    if settings.certificate_signer == "est" and not settings.est_url:
        raise ConfigError("AMPYRE_CERTIFICATE_SIGNER=est needs AMPYRE_EST_URL")
    for name in ("ocsp_validity", "ocsp_timeout", "est_timeout"):
        if not getattr(settings, name) > 0:
            raise ConfigError(f"AMPYRE_{name.upper()} must be positive")
    if settings.ocsp_cache_size < 0:
        raise ConfigError("AMPYRE_OCSP_CACHE_SIZE must be 0 (no cache) or positive")


def build_pki(settings: Settings, store: PkiStore, base_url: Callable[[], str]) -> PkiParts:
    check_settings(settings)

    def ocsp_url() -> str:
        return base_url().rstrip("/") + "/ocsp"

    ocsp_client = HttpOcspClient(settings.ocsp_timeout, settings.ocsp_cache_size)
    pki: LocalPki | None = None
    directory = Path(settings.pki_dir)
    if LocalPki.is_initialised(directory):
        try:
            pki = LocalPki.load(directory)
        except PkiError as exc:
            raise ConfigError(f"AMPYRE_PKI_DIR: {exc}") from exc
    elif directory.is_dir() and any(directory.glob("*.pem")):
        log.warning("pki: %s is not a complete PKI (run `ampyre pki init`)", directory)
    service = PkiService(store, LocalAuthority(pki) if pki else None, ocsp_client)
    service.ocsp_url = ocsp_url
    parts = PkiParts(service, ocsp_client, pki)
    if pki is not None:
        parts.issuer = RecordingPki(pki, service.record, ocsp_url)
        service.responder = LocalOcspResponder(pki, service.status, settings.ocsp_validity)
    if settings.certificate_signer == "est":
        try:
            parts.est = EstSigner(
                settings.est_url,
                settings.est_username,
                settings.est_password,
                settings.est_ca,
                settings.est_cert,
                settings.est_key,
                settings.est_timeout,
                record=service.record,
            )
        except (OSError, ssl.SSLError, PkiError) as exc:
            raise ConfigError(f"AMPYRE_EST_URL/_CA/_CERT/_KEY: {exc}") from exc
        parts.signer = parts.est
    elif parts.issuer is not None:
        parts.signer = LocalSigner(parts.issuer)
    return parts
