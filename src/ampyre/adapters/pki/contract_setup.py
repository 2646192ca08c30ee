"""Building the contract-certificate provider from the settings (called by security.py's
composition): the EXI codec (its JVM starts on first use) and the provider."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from cryptography import x509

from ampyre.adapters.exi.codec import ExiCodec, ExiUnavailable
from ampyre.adapters.pki.authority import RecordingPki
from ampyre.adapters.pki.contract_builtin import BuiltinContractProvider
from ampyre.adapters.pki.contract_http import HttpContractProvider
from ampyre.adapters.pki.hierarchy import LocalPki, serial_hex
from ampyre.config import ConfigError, Settings
from ampyre.services.contract_port import ContractCertificateProvider
from ampyre.services.pki_port import CertStatus, OcspStatus

# PkiService.status: (issuing CA name, serial hex) -> what the registry says.
RegistryStatus = Callable[[str, str], Awaitable[CertStatus]]

log = logging.getLogger(__name__)

PROVIDERS = ("builtin", "http", "none")


def check_settings(settings: Settings) -> None:
    if settings.contract_provider not in PROVIDERS:
        raise ConfigError("AMPYRE_CONTRACT_PROVIDER must be builtin, http or none")
    if settings.contract_provider == "http" and not re.match(
        r"https?://", settings.contract_provider_url
    ):
        raise ConfigError(
            "AMPYRE_CONTRACT_PROVIDER=http needs an http(s) AMPYRE_CONTRACT_PROVIDER_URL"
        )
    if not 0 < settings.contract_provider_timeout <= 300:
        raise ConfigError("AMPYRE_CONTRACT_PROVIDER_TIMEOUT must be within (0, 300] seconds")
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}", settings.contract_emaid_prefix):
        raise ConfigError(
            "AMPYRE_CONTRACT_EMAID_PREFIX must be a country code and a provider id "
            "(2 capital letters, 3 capital letters or digits, e.g. DEABC)"
        )


def build_contract_provider(
    settings: Settings,
    pki: LocalPki | None,
    issuer: RecordingPki | None,
    registry_status: RegistryStatus | None = None,
) -> tuple[ExiCodec, ContractCertificateProvider | None]:
    """The codec (always; started lazily) and the provider, None when there is none:
    `contract_provider = none`, or `builtin` without an initialised PKI. `issuer`
    records what the built-in provider issues; `registry_status` tells it revoked
    contracts (not renewed)."""
    check_settings(settings)
    codec = ExiCodec(settings.exi_jar, settings.exi_java)
    if settings.contract_provider == "none":
        return codec, None
    if settings.contract_provider == "http":
        return codec, HttpContractProvider(
            settings.contract_provider_url,
            settings.contract_provider_token,
            settings.contract_provider_timeout,
            codec,
        )
    if pki is None:
        log.info(
            "Plug & Charge: no built-in PKI in %s, so no contract certificates "
            "(run `ampyre pki init` or set AMPYRE_CONTRACT_PROVIDER=http)",
            settings.pki_dir,
        )
        return codec, None
    try:
        codec.check()
    except ExiUnavailable as exc:
        # Start anyway: Get15118EVCertificate is answered Failed with this reason.
        log.warning("Plug & Charge: the EXI codec is unavailable: %s", exc)
    is_revoked = None
    if registry_status is not None:
        status = registry_status
        local = pki

        async def revoked(cert: x509.Certificate) -> bool:
            issuer_name = local.issuer_of(cert)
            if issuer_name is None:
                return False
            found = await status(issuer_name, serial_hex(cert.serial_number))
            return found.status is OcspStatus.REVOKED

        is_revoked = revoked
    return codec, BuiltinContractProvider(
        pki,
        codec,
        emaid_prefix=settings.contract_emaid_prefix,
        issuer=issuer,
        is_revoked=is_revoked,
    )
