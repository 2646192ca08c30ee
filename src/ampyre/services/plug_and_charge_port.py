"""What the Plug & Charge service needs of the rest of Ampyre besides the contract
certificate provider (services/contract_port.py) and the OCSP client
(services/pki_port.py): where contract certificates are kept, who signs a station's V2G
certificate request, and which roots are trusted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ampyre.domain.models import Page
from ampyre.domain.plug_and_charge import CertificateStatus, ContractCertificate


class ContractCertificateStore(Protocol):
    async def save_contract(self, cert: ContractCertificate) -> ContractCertificate:
        """Insert, or update the row of the same fingerprint (keeps its id and creation
        time; a later station, status and provider win)."""
        ...

    async def mark_contract(
        self,
        serial_number: str,
        status: CertificateStatus,
        station_id: str,
        at: datetime,
        fingerprint: str | None = None,
    ) -> int:
        """Record the certificateStatus answered for the certificate(s) of this serial
        (and fingerprint, when known); the number of rows changed."""
        ...

    async def list_contracts(
        self,
        limit: int,
        offset: int,
        emaid: str | None = None,
        status: CertificateStatus | None = None,
        station_id: str | None = None,
    ) -> Page: ...

    async def get_contract(self, contract_id: int) -> ContractCertificate | None: ...


@dataclass(slots=True, frozen=True)
class EvCertificateRequest:
    station_id: str
    schema_version: str  # urn:iso:15118:2:2013:MsgDef, urn:iso:std:iso:15118:-20:...
    action: str  # Install | Update
    exi_request: str  # base64 EXI, as the station sent it
    maximum_chains: int | None = None  # 2.1 (not passed on: providers issue one chain)
    prioritized_emaids: tuple[str, ...] = ()  # 2.1 (likewise)


# A station's V2GCertificate CSR (1.6 Plug & Charge SignCertificate): (station id, CSR
# PEM) -> (accepted, reason); checked at once, signed and sent back (CertificateSigned)
# later by the certificate service.
SignV2g = Callable[[str, str], Awaitable[tuple[bool, str | None]]]
TrustedRoots = Callable[[], list[str]]  # PEM texts of the MO / V2G roots trusted now
