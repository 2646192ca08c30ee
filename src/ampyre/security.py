"""Composition of security and Plug & Charge (issue 19): security profiles 2 and 3 (TLS
listener, per-station profile, password rotation, profile upgrades), the built-in PKI
and its OCSP responder, certificate management (CSR signing, installed certificates,
expiry watch, security events) and the ISO 15118 Plug & Charge backend (contract
certificates, OCSP, authorization with certificates). The bootstrap builds the core and
hands it here; what comes back gives the gateway its handler blocks, the API its
services, and `run` what to start and stop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ampyre.adapters.db.certificates import CertificatesSql
from ampyre.adapters.db.pki import PkiSql
from ampyre.adapters.db.plug_and_charge import PlugAndChargeSql
from ampyre.adapters.db.station_security import StationSecuritySql
from ampyre.adapters.db.store import SqlStore
from ampyre.adapters.exi.codec import ExiCodec
from ampyre.adapters.pki import LocalPki
from ampyre.adapters.pki.authority import RecordingPki
from ampyre.adapters.pki.contract_setup import build_contract_provider
from ampyre.adapters.pki.setup import PkiParts, build_pki
from ampyre.adapters.pnc_roots import known_issuers, trusted_roots
from ampyre.config import Settings
from ampyre.domain.certificates import SigningUse
from ampyre.domain.models import OcppVersion
from ampyre.gateway.server import Gateway
from ampyre.gateway.tls import tls_base_url
from ampyre.protocol.certificates import OcppCertificateCommands
from ampyre.protocol.certificates import handlers as certificate_handlers
from ampyre.protocol.commands import OcppStationCommands
from ampyre.protocol.plug_and_charge import handlers as pnc_handlers
from ampyre.protocol.plug_and_charge import register_vendor as register_pnc_vendor
from ampyre.protocol.session import Handler
from ampyre.services.alerts import AlertService
from ampyre.services.authz import AuthService
from ampyre.services.certificate_expiry import CertificateExpiryWatch
from ampyre.services.certificates import CertificateService
from ampyre.services.commands import CommandRouter
from ampyre.services.configuration import ConfigurationService
from ampyre.services.contract_port import ContractCertificateProvider
from ampyre.services.data_transfer import DataTransferService
from ampyre.services.network_profiles import NetworkProfileService
from ampyre.services.pki import PkiService
from ampyre.services.pki_port import CertificateSigner, OcspClient
from ampyre.services.plug_and_charge import PlugAndChargeService
from ampyre.services.security_events import SecurityEventService
from ampyre.services.station_security import StationSecurityService

HandlerBlock = Mapping[OcppVersion, Mapping[str, Handler]]


@dataclass(slots=True)
class Security:
    # Password rotations and profile upgrades (None until built), and what the gateway
    # is given once it exists (bootstrap: `security.attach_gateway(gateway)`).
    station_security: StationSecurityService | None = None
    gateway_hooks: list[Callable[[Gateway], None]] = field(default_factory=list)

    def attach_gateway(self, gateway: Gateway) -> None:
        for hook in self.gateway_hooks:
            hook(gateway)

    # The built-in PKI (None: pki_dir holds none), its registry/revocation service, the
    # issuing that records (for the OCSP responder), the CSR signer, the OCSP client.
    pki: LocalPki | None = None
    pki_service: PkiService | None = None
    pki_issuer: RecordingPki | None = None
    signer: CertificateSigner | None = None
    ocsp_client: OcspClient | None = None
    pki_parts: PkiParts | None = None
    certificates: CertificateService | None = None
    security_events: SecurityEventService | None = None
    certificate_expiry: CertificateExpiryWatch | None = None
    # Who answers Get15118EVCertificate (None: nobody, answer Failed) and the EXI codec
    # (its JVM starts on first use, stopped at close).
    contract_provider: ContractCertificateProvider | None = None
    exi_codec: ExiCodec | None = None
    plug_and_charge: PlugAndChargeService | None = None
    blocks: list[HandlerBlock] = field(default_factory=list)

    def start(self) -> None:
        """The periodic work (expiry watch, ...)."""
        if self.pki_parts is not None:
            self.pki_parts.start()
        if self.certificate_expiry is not None:
            self.certificate_expiry.start()

    async def close(self) -> None:
        if self.pki_parts is not None:
            await self.pki_parts.close()
        if self.certificate_expiry is not None:
            await self.certificate_expiry.close()
        if self.certificates is not None:
            await self.certificates.close()
        if self.contract_provider is not None:
            await self.contract_provider.close()
        if self.exi_codec is not None:
            self.exi_codec.close()
        return None


def build_security(
    settings: Settings,
    store: SqlStore,
    router: CommandRouter,
    alerts: AlertService,
    auth: AuthService,
    data_transfer: DataTransferService,
    base_url: Callable[[], str],
    leads: Callable[[], bool],
    configuration: ConfigurationService,
    network_profiles: NetworkProfileService,
) -> Security:
    """`router` carries every command to the node holding the station; `alerts` raises
    and clears operator alerts; `auth` authorizes id tokens (an eMAID is one);
    `data_transfer` takes the 1.6 Plug & Charge vendor's handler; `base_url` is this
    server's public HTTP address (the OCSP responder's URL); `leads` whether this node
    runs the cluster-wide periodic work."""
    security = Security()
    # Security profiles per station: rotations and upgrades (with the configuration and
    # network profile services), the gateway's admitted connections and refusals.
    station_security = StationSecurityService(
        StationSecuritySql(store.db),
        store,
        configuration,
        network_profiles,
        OcppStationCommands(router),
        settings,
        tls_url=lambda: tls_base_url(settings),
    )
    security.station_security = station_security

    def wire_gateway(gateway: Gateway) -> None:
        gateway.hooks.on_admitted = lambda a: station_security.connection_admitted(
            a.station_id, a.profile, a.pending_password, a.previous, a.configured
        )

    security.gateway_hooks.append(wire_gateway)

    def report_refusals(gateway: Gateway) -> None:
        events = security.security_events
        if events is None:
            return

        def hook(station_id: str | None, event_type: str, details: str) -> object:
            if station_id is None:  # a TLS handshake: no station to file it under
                return None
            return events.record_csms_event(station_id, event_type, details)

        gateway.hooks.on_security_event = hook

    security.gateway_hooks.append(report_refusals)
    # The built-in PKI from pki_dir (if `ampyre pki init` made one), the registry of what
    # it issued, the OCSP responder (`{base_url}/ocsp`), the OCSP client, the CSR signer.
    pki_parts = build_pki(settings, PkiSql(store.db), base_url)
    security.pki_parts = pki_parts
    security.pki = pki_parts.pki
    security.pki_service = pki_parts.service
    security.pki_issuer = pki_parts.issuer
    security.signer = pki_parts.signer
    security.ocsp_client = pki_parts.ocsp_client
    # Certificate management and security events; CSRs are signed by the PKI's signer (None:
    # every SignCertificate is Rejected with a reason).
    certs_sql = CertificatesSql(store.db)
    security.certificates = CertificateService(
        certs_sql,
        OcppCertificateCommands(router),
        security.signer,
        alerts,
        organisation=settings.certificate_organisation or None,
        csr_max_bytes=settings.certificate_csr_max_bytes,
        sign_timeout=settings.certificate_sign_timeout,
        call_timeout=settings.call_timeout,
    )
    security.security_events = SecurityEventService(
        certs_sql, alerts, report=lambda r: store.record_reports([r])
    )
    security.certificate_expiry = CertificateExpiryWatch(
        security.certificates,
        lambda station_id: router.ocpp_version(station_id) is not None,
        days=settings.certificate_expiry_days,
        interval=settings.certificate_expiry_interval,
        repeat=settings.certificate_expiry_repeat,
        leads=leads,
    )
    security.blocks.append(certificate_handlers(security.certificates, security.security_events))
    # ISO 15118 contract certificates: the built-in provider (the PKI's mo-sub2 issues,
    # recorded through pki_issuer; answers signed with cps-leaf) or an HTTP provider.
    security.exi_codec, security.contract_provider = build_contract_provider(
        settings,
        security.pki,
        security.pki_issuer,
        security.pki_service.status if security.pki_service is not None else None,
    )
    # Plug & Charge: Get15118EVCertificate through the contract provider, OCSP through
    # the PKI's client, V2G CSRs of 1.6 stations through the certificate service; the
    # 2.x handlers take over Authorize, 1.6 stations come through DataTransfer.
    certificates = security.certificates

    async def sign_v2g(station_id: str, csr_pem: str) -> tuple[bool, str | None]:
        if certificates is None:
            return False, "certificate management is not available"
        return await certificates.sign_request(station_id, csr_pem, SigningUse.V2G, via="pnc")

    pnc = PlugAndChargeService(
        PlugAndChargeSql(store.db),
        auth,
        trusted_roots(settings.pki_dir, settings.pnc_trusted_roots),
        issuers=known_issuers(settings.pki_dir, settings.pnc_trusted_roots),
        ocsp_hosts=tuple(settings.pnc_ocsp_hosts),
        ocsp=security.ocsp_client,
        provider=security.contract_provider,
        signer=sign_v2g,
    )
    security.plug_and_charge = pnc
    security.blocks.append(pnc_handlers(pnc))
    register_pnc_vendor(pnc, data_transfer)
    return security
