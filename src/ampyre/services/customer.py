"""Customer information requests for GDPR (issue 17 part 7; OCPP 2.0.1/2.1 N09/N10):
ask stations for the data they hold about a customer (by id token, customer identifier
or customer certificate) and/or to clear it. The report arrives as
NotifyCustomerInformation parts (seqNo, tbc), stored as they come (durable before ack,
a retransmitted part stored once) and assembled in seqNo order; a report that stops
before its last part is closed as incomplete after report_timeout seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ampyre.config import Settings
from ampyre.services.clock import utcnow
from ampyre.services.display_requests import (
    WAITING,
    PartKind,
    PartRequest,
    PartRequestStore,
    PartStatus,
    failed_status,
)
from ampyre.services.station_port import Answer, NotAddressable


class InvalidCustomerRequest(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True, frozen=True)
class CustomerSpec:
    """Who (exactly one of id_token, customer_identifier, certificate) and what."""

    report: bool
    clear: bool
    id_token: str | None = None
    id_token_type: str = "ISO14443"
    customer_identifier: str | None = None
    # CertificateHashDataType: hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber.
    certificate: dict[str, str] | None = None

    def check(self) -> None:
        if not (self.report or self.clear):
            raise InvalidCustomerRequest("ask for a report, a clearing or both", "report")
        given = [
            x for x in (self.id_token, self.customer_identifier, self.certificate) if x is not None
        ]
        # OCPP 2.0.1 N09: the customer is named by one of the three.
        if len(given) != 1:
            raise InvalidCustomerRequest(
                "name the customer by exactly one of id_token, customer_identifier, certificate",
                "id_token",
            )

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"report": self.report, "clear": self.clear}
        if self.id_token is not None:
            out["id_token"] = self.id_token
            out["id_token_type"] = self.id_token_type
        if self.customer_identifier is not None:
            out["customer_identifier"] = self.customer_identifier
        if self.certificate is not None:
            out["certificate"] = dict(self.certificate)
        return out


@dataclass(slots=True, frozen=True)
class CustomerPart:
    seq_no: int
    data: str
    tbc: bool
    generated_at: datetime | None = None


class CustomerStore(PartRequestStore, Protocol):
    async def add_customer_part(self, request_id: int, part: CustomerPart) -> bool:
        """Store a part; False if that seqNo is stored already (a retransmission)."""
        ...

    async def customer_parts(self, request_id: int) -> list[CustomerPart]: ...
    async def list_part_requests(
        self, kind: PartKind, station_id: str | None, limit: int
    ) -> list[PartRequest]: ...
    async def delete_part_request(self, request_id: int) -> bool:
        """Forget the request and its parts."""
        ...


class CustomerCommands(Protocol):
    def connected_version(self, station_id: str) -> str | None: ...
    async def customer_information(
        self, station_id: str, request_id: int, spec: CustomerSpec, timeout: float | None = None
    ) -> Answer:
        """Raises NotAddressable for a version without CustomerInformation."""
        ...


@dataclass(slots=True, frozen=True)
class CustomerResult:
    request: PartRequest
    answer: Answer


class CustomerService:
    def __init__(
        self, store: CustomerStore, commands: CustomerCommands, settings: Settings
    ) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings

    def now(self) -> datetime:
        return utcnow()

    def connected_version(self, station_id: str) -> str | None:
        return self._commands.connected_version(station_id)

    async def request(
        self, station_ids: Sequence[str], spec: CustomerSpec, timeout: float | None = None
    ) -> list[CustomerResult]:
        """One request per station, sent concurrently; each record shows its outcome.
        Raises InvalidCustomerRequest, and NotAddressable when the only station speaks
        a version without customer information (with several: status error)."""
        spec.check()
        await self.expire()
        results = await asyncio.gather(
            *(self._one(sid, spec, timeout, len(station_ids) == 1) for sid in station_ids)
        )
        return list(results)

    async def _one(
        self, station_id: str, spec: CustomerSpec, timeout: float | None, raising: bool
    ) -> CustomerResult:
        request = await self._store.create_part_request(
            PartRequest(
                id=0,
                station_id=station_id,
                kind=PartKind.CUSTOMER_INFORMATION,
                status=PartStatus.REQUESTED,
                requested_at=self.now(),
                params=spec.params(),
            )
        )
        try:
            answer = await self._commands.customer_information(
                station_id, request.id, spec, timeout
            )
        except NotAddressable as exc:
            request.status, request.detail = PartStatus.ERROR, str(exc)[:512]
            request.finished_at = self.now()
            await self._store.update_part_request(request)
            if raising:
                raise
            return CustomerResult(request, Answer("error", detail=str(exc)))
        status = failed_status(answer)
        if status is None:
            if answer.status != "accepted":
                status = PartStatus.REJECTED  # Rejected, or Invalid (unknown customer)
            elif spec.report:
                status = PartStatus.ACCEPTED  # the parts follow
            else:
                status = PartStatus.COMPLETE  # a clearing only: nothing to report
        fresh = await self._store.settle_part_request(
            request.id,
            status,
            answer.station_answer,
            (answer.detail or "")[:512] or None,
            None if status == PartStatus.ACCEPTED else self.now(),
        )
        return CustomerResult(fresh or request, answer)

    async def part(
        self, station_id: str, request_id: int, part: CustomerPart
    ) -> PartRequest | None:
        """One NotifyCustomerInformation part (durable before ack). The report is
        complete once the part with tbc false and every seqNo before it are stored."""
        await self.expire()
        request = await self._store.get_part_request(request_id)
        if (
            request is None
            or request.station_id != station_id
            or request.kind != PartKind.CUSTOMER_INFORMATION
        ):
            return None
        if not 0 <= part.seq_no < 2**31:
            return request  # no column holds it; the report stays short of it
        if not await self._store.add_customer_part(request_id, part):
            return request  # retransmitted: stored already
        now = self.now()
        request.parts += 1
        request.last_part_at = now
        if request.status in WAITING:
            request.status = PartStatus.ACCEPTED
        if request.status == PartStatus.ACCEPTED and _complete(
            await self._store.customer_parts(request_id)
        ):
            request.status = PartStatus.COMPLETE
            request.finished_at = now
        await self._store.update_part_request(request)
        return request

    async def get(self, request_id: int) -> PartRequest | None:
        await self.expire()
        found = await self._store.get_part_request(request_id)
        return found if found is not None and found.kind == PartKind.CUSTOMER_INFORMATION else None

    async def list(self, station_id: str | None, limit: int = 100) -> list[PartRequest]:
        await self.expire()
        return await self._store.list_part_requests(
            PartKind.CUSTOMER_INFORMATION, station_id, limit
        )

    async def delete(self, request_id: int) -> bool:
        """Forget a request and the customer data it brought (kept no longer than
        needed: GDPR)."""
        if await self.get(request_id) is None:
            return False
        return await self._store.delete_part_request(request_id)

    async def report_text(self, request_id: int) -> str:
        """The parts received so far, in seqNo order."""
        return "".join(p.data for p in await self._store.customer_parts(request_id))

    async def expire(self) -> int:
        now = self.now()
        before = now - timedelta(seconds=self._settings.report_timeout)
        return await self._store.expire_part_requests(before, now)


def _complete(parts: Sequence[CustomerPart]) -> bool:
    last = [p.seq_no for p in parts if not p.tbc]
    if not last:
        return False
    wanted = set(range(min(last) + 1))
    return wanted <= {p.seq_no for p in parts}
