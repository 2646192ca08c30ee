"""ISO 15118 Plug & Charge, version-neutral (OCPP 2.0.1 blocks C and M, 2.1, and the
1.6 application note): contract certificates through a provider (Get15118EVCertificate),
OCSP on a station's behalf (GetCertificateStatus), authorization with a contract
certificate or its hash data (Authorize, C07), a station's V2G certificate request
(1.6 SignCertificate), and the record of contract certificates issued or presented."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from ampyre.domain.authz import IdToken, IdTokenType
from ampyre.domain.models import Page
from ampyre.domain.plug_and_charge import (
    CertificateStatus,
    ChainCheck,
    ContractCertificate,
    ContractSource,
    OcspQuery,
    OcspUnavailable,
    PncDecision,
    combine,
)
from ampyre.services.authz import AuthService, IdTokenExists, InvalidAuthInput, mask_token
from ampyre.services.clock import utcnow
from ampyre.services.contract_port import (
    CertificateAction,
    ContractCertificateProvider,
    EvCertificateAnswer,
    ProviderStatus,
)
from ampyre.services.pki_port import OcspAnswer, OcspClient, OcspRequestData, OcspStatus
from ampyre.services.plug_and_charge_port import (
    ContractCertificateStore,
    EvCertificateRequest,
    SignV2g,
    TrustedRoots,
)
from ampyre.services.pnc_chain import (
    ChainUnreadable,
    contract_record,
    issuer_by_hash,
    load_roots,
    normal_serial,
    ocsp_query,
    parse_chain,
    pem_of,
    verify_chain,
)

log = logging.getLogger(__name__)

ACTIONS: Final = frozenset({"Install", "Update"})
EXI_MAX: Final = 17_000  # 2.1 exiRequest is at most 11000, 2.0.1 5600: beyond both
HASH_DATA_MAX: Final = 4  # 2.0.1 AuthorizeRequest.iso15118CertificateHashData maxItems
URL_MAX: Final = 2000
CSR_MAX: Final = 10_000
TOKEN_DESCRIPTION: Final = "Plug & Charge contract (built-in provider)"
BUILTIN_PROVIDER: Final = "builtin"


class PncError(Exception):
    pass


class ContractNotFound(PncError, LookupError):
    pass


class PlugAndChargeService:
    def __init__(
        self,
        store: ContractCertificateStore,
        auth: AuthService,
        roots: TrustedRoots,
        ocsp: OcspClient | None = None,
        provider: ContractCertificateProvider | None = None,
        signer: SignV2g | None = None,
        issuers: TrustedRoots | None = None,
        ocsp_hosts: tuple[str, ...] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._auth = auth
        self._roots = roots
        # CA certificates that issue contract certificates (roots and sub-CAs): the
        # issuer of a hash data entry is looked up here to verify the OCSP answer.
        self._issuers = issuers or roots
        # The responders a station may make Ampyre ask (empty: any).
        self._ocsp_hosts = frozenset(h.lower() for h in ocsp_hosts)
        self.ocsp = ocsp
        self.provider = provider
        self.signer = signer
        self._clock = clock

    # ------------------------------------------------------- Get15118EVCertificate

    async def ev_certificate(self, request: EvCertificateRequest) -> EvCertificateAnswer:
        """Forward a vehicle's CertificateInstallationReq / CertificateUpdateReq to the
        contract certificate provider (OCPP 2.0.1 M01/M02: the CSMS answers with the
        provider's EXI response), record the contract certificate it issued and, for
        the built-in provider, make its eMAID an id token."""
        refusal = _check_ev_request(request)
        if refusal is not None:
            log.info("%s: Get15118EVCertificate refused: %s", request.station_id, refusal)
            return EvCertificateAnswer.failed(refusal)
        if self.provider is None:
            return EvCertificateAnswer.failed("no contract certificate provider is configured")
        try:
            answer = await self.provider.get_ev_certificate(
                station_id=request.station_id,
                schema_version=request.schema_version,
                action=CertificateAction(request.action),
                exi_request_b64=request.exi_request,
            )
        except Exception as exc:  # a provider's fault must not cost the station an answer
            log.exception("%s: contract certificate provider failed", request.station_id)
            return EvCertificateAnswer.failed(f"provider error: {type(exc).__name__}")
        if answer.status is not ProviderStatus.ACCEPTED:
            log.info(
                "%s: contract certificate provider refused: %s",
                request.station_id,
                answer.reason or "no reason given",
            )
            return answer
        if answer.contract_certificate_pem:
            try:
                await self._record_issued(request.station_id, answer, self.provider.name)
            except Exception:  # the record is secondary: the vehicle still gets its contract
                log.exception(
                    "%s: the issued contract certificate was not recorded", request.station_id
                )
        return answer

    async def _record_issued(
        self, station_id: str, answer: EvCertificateAnswer, provider: str
    ) -> None:
        try:
            leaf = parse_chain(answer.contract_certificate_pem or "")[0]
        except ChainUnreadable as exc:
            log.warning(
                "%s: the provider's contract certificate is unreadable: %s", station_id, exc
            )
            return
        record = contract_record(leaf, ContractSource.ISSUED, station_id, provider)
        if answer.emaid and not record.emaid:
            record.emaid = answer.emaid
        record.created_at = record.updated_at = self._clock()
        await self._store.save_contract(record)
        emaid = answer.emaid or record.emaid
        # The built-in provider issued it from Ampyre's own MO PKI: the eMAID is ours to
        # authorize (a commercial platform's contracts come through roaming instead).
        if provider == BUILTIN_PROVIDER and emaid:
            await self._ensure_token(emaid)
        log.info("%s: contract certificate for eMAID %s issued", station_id, emaid)

    async def _ensure_token(self, emaid: str) -> None:
        """The eMAID of a contract Ampyre's own MO PKI issued authorizes here."""
        try:
            await self._auth.create_token(
                IdToken(id_token=emaid, type=IdTokenType.EMAID, description=TOKEN_DESCRIPTION)
            )
        except IdTokenExists:
            return
        except InvalidAuthInput as exc:
            log.warning("eMAID %s cannot be an id token: %s", mask_token(emaid), exc)

    # -------------------------------------------------------- GetCertificateStatus

    async def certificate_status(self, station_id: str, query: OcspQuery) -> OcspAnswer:
        """The OCSP response for one certificate, from the responder the station named
        (OCPP 2.0.1 M06: the station caches it for its ISO 15118 sessions). Raises
        OcspUnavailable with the reason when there is none."""
        answer = await self._ask(query)
        log.debug("%s: OCSP %s for serial %s", station_id, answer.status, query.serial_number)
        return answer

    async def _ask(self, query: OcspQuery, issuer_pem: str | None = None) -> OcspAnswer:
        refusal = _check_query(query, self._ocsp_hosts)
        if refusal is not None:
            raise OcspUnavailable(refusal)
        if self.ocsp is None:
            raise OcspUnavailable("no OCSP client is configured")
        answer = await self.ocsp.status(
            OcspRequestData(
                hash_algorithm=query.hash_algorithm.value,
                issuer_name_hash=query.issuer_name_hash,
                issuer_key_hash=query.issuer_key_hash,
                serial_number=query.serial_number,
                responder_url=query.responder_url,
            ),
            issuer_pem,
        )
        if answer.status is OcspStatus.FAILED:
            raise OcspUnavailable(answer.error or "no usable OCSP answer")
        return answer

    # ------------------------------------------------------------------ Authorize

    async def authorize(
        self,
        station_id: str,
        id_token: str,
        type_: str | None,
        certificate: str | None = None,
        hash_data: tuple[OcspQuery, ...] = (),
        ocpp_version: str | None = None,
    ) -> PncDecision:
        """The Authorize answer: the id token through the AuthService and, when the
        station sent a contract certificate chain (C07.FR.06, central validation) or
        its hash data (C07: the CSMS checks revocation by OCSP), the certificate
        status (C07.FR.04: acceptance or the reason for rejection)."""
        check = await self._check_certificate(station_id, certificate, hash_data)
        token = await self._auth.authorize(station_id, id_token, type_, ocpp_version=ocpp_version)
        decision = combine(token, check, id_token, type_)
        if check is not None and check.status is not CertificateStatus.ACCEPTED:
            log.info(
                "%s: contract certificate of %s refused: %s (%s)",
                station_id,
                mask_token(id_token),
                check.status.value,
                check.reason or "no reason recorded",
            )
        return decision

    async def _check_certificate(
        self, station_id: str, certificate: str | None, hash_data: tuple[OcspQuery, ...]
    ) -> ChainCheck | None:
        if not certificate and not hash_data:
            return None
        now = self._clock()
        if certificate:
            check, fingerprint = await self._check_chain(station_id, certificate, now)
        else:
            check, fingerprint = await self._check_hash_data(hash_data), None
        serials = [check.serial_number] if check.serial_number else []
        if not certificate:
            serials = [normal_serial(q.serial_number) for q in hash_data[:1]]
        try:
            for serial in serials:
                await self._store.mark_contract(serial, check.status, station_id, now, fingerprint)
        except Exception:  # the record is secondary: the station still gets its answer
            log.exception("%s: the contract certificate status was not recorded", station_id)
        return check

    async def _check_chain(
        self, station_id: str, certificate: str, now: datetime
    ) -> tuple[ChainCheck, str | None]:
        try:
            certs = parse_chain(certificate)
        except ChainUnreadable as exc:
            return ChainCheck(CertificateStatus.CERT_CHAIN_ERROR, str(exc)), None
        try:
            roots = load_roots(self._roots())
        except ValueError as exc:
            log.error("the trusted Plug & Charge roots are unreadable: %s", exc)
            roots = []
        if not roots:
            return ChainCheck(
                CertificateStatus.CERT_CHAIN_ERROR, "no trusted MO or V2G root is configured"
            ), None
        verified = verify_chain(certs, roots, now)
        record = contract_record(certs[0], ContractSource.PRESENTED, station_id)
        record.created_at = record.updated_at = now
        try:
            await self._store.save_contract(record)
        except Exception:  # the record is secondary: the station still gets its answer
            log.exception("%s: a presented contract certificate was not recorded", station_id)
        if verified.check.status is not CertificateStatus.ACCEPTED:
            return verified.check, record.fingerprint
        queries = []
        for cert, issuer in verified.links:
            query = ocsp_query(cert, issuer)
            if query is None:
                # Contract certificates without an OCSP address exist; only the
                # links that name a responder can be checked.
                log.debug("%s: no OCSP address in %s", station_id, cert.subject.rfc4514_string())
                continue
            queries.append((query, pem_of(issuer)))
        revocation = await self._revocation(tuple(queries))
        check = verified.check
        if revocation.status is not CertificateStatus.ACCEPTED:
            check = ChainCheck(
                revocation.status, revocation.reason, check.emaid, check.serial_number
            )
        return check, record.fingerprint

    async def _check_hash_data(self, hash_data: tuple[OcspQuery, ...]) -> ChainCheck:
        if len(hash_data) > HASH_DATA_MAX:
            return ChainCheck(CertificateStatus.CERT_CHAIN_ERROR, "too many hash data entries")
        for query in hash_data:
            refusal = _check_query(query, self._ocsp_hosts)
            if refusal is not None:
                return ChainCheck(CertificateStatus.CERT_CHAIN_ERROR, refusal)
        try:
            known = load_roots(self._issuers())
        except ValueError as exc:
            log.error("the known contract certificate issuers are unreadable: %s", exc)
            known = []
        return await self._revocation(tuple((q, issuer_by_hash(q, known)) for q in hash_data))

    async def _revocation(self, queries: tuple[tuple[OcspQuery, str | None], ...]) -> ChainCheck:
        """Revocation of each certificate by OCSP; fails closed: a certificate whose
        status cannot be learnt is not accepted."""
        if not queries:
            return ChainCheck(CertificateStatus.ACCEPTED)
        for query, issuer_pem in queries:
            try:
                outcome = await self._ask(query, issuer_pem)
            except OcspUnavailable as exc:
                return ChainCheck(
                    CertificateStatus.CERT_CHAIN_ERROR, f"revocation status unknown: {exc}"
                )
            if outcome.status is OcspStatus.REVOKED:
                return ChainCheck(
                    CertificateStatus.CERTIFICATE_REVOKED,
                    f"serial {query.serial_number} is revoked",
                )
            if outcome.status is not OcspStatus.GOOD:
                return ChainCheck(
                    CertificateStatus.CERT_CHAIN_ERROR,
                    f"the OCSP responder does not know serial {query.serial_number}",
                )
        return ChainCheck(CertificateStatus.ACCEPTED)

    # ------------------------------------------------- 1.6 SignCertificate (V2G)

    async def sign_v2g(self, station_id: str, csr_pem: str) -> tuple[bool, str | None]:
        """(accepted, reason) for a station's V2G certificate request."""
        if not isinstance(csr_pem, str) or not 0 < len(csr_pem) <= CSR_MAX:
            return False, "the CSR is missing or too long"
        if self.signer is None:
            return False, "no certificate signing service is configured"
        return await self.signer(station_id, csr_pem)

    # ------------------------------------------------------------------- records

    async def list_contracts(
        self,
        limit: int,
        offset: int,
        emaid: str | None = None,
        status: CertificateStatus | None = None,
        station_id: str | None = None,
    ) -> Page:
        return await self._store.list_contracts(limit, offset, emaid, status, station_id)

    async def get_contract(self, contract_id: int) -> ContractCertificate:
        found = await self._store.get_contract(contract_id)
        if found is None:
            raise ContractNotFound(f"contract certificate {contract_id} does not exist")
        return found


def _check_ev_request(request: EvCertificateRequest) -> str | None:
    if request.action not in ACTIONS:
        return f"action must be one of {sorted(ACTIONS)}"
    if not request.schema_version or len(request.schema_version) > 50:
        return "iso15118SchemaVersion must be 1..50 characters"
    exi = request.exi_request
    if not exi or len(exi) > EXI_MAX:
        return f"exiRequest must be 1..{EXI_MAX} characters"
    try:
        base64.b64decode(exi, validate=True)
    except (binascii.Error, ValueError):
        return "exiRequest is not base64"
    if request.maximum_chains is not None and not 1 <= request.maximum_chains <= 2**31 - 1:
        return "maximumContractCertificateChains out of range"
    return None


def _check_query(query: OcspQuery, hosts: frozenset[str] = frozenset()) -> str | None:
    url = query.responder_url
    if not url or len(url) > URL_MAX or not url.lower().startswith(("http://", "https://")):
        return "responderURL must be an http(s) URL"
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return "responderURL is not a URL"
    if hosts and host not in hosts:
        # A station must not make the CSMS fetch from anywhere it likes.
        return f"responder host {host!r} is not an allowed OCSP responder"
    for name in ("issuer_name_hash", "issuer_key_hash", "serial_number"):
        value = getattr(query, name)
        try:
            bytes.fromhex(value if len(value) % 2 == 0 else "0" + value)
        except ValueError:
            return f"{name} is not hexadecimal"
        if not value:
            return f"{name} is empty"
    return None
