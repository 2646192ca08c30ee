"""Customer information for GDPR requests (issue 17 part 7; 2.0.1/2.1 stations): ask
stations for the data they hold about a customer and/or to clear it, follow the
request, download the assembled report. The report is personal data: reading it needs
the operator role.

POST answers 201 with one record per station. With one station, 409 when it is not
connected, 504 without an answer in time, 502 on a CALLERROR, 422 for a 1.6 station
(the record stays visible with that outcome); with several, each record says how its
station answered."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response

from ampyre.api.auth import Auth
from ampyre.api.command_errors import check_answer, invalid_request, not_in_version
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import INT32_MAX, Limit, problems
from ampyre.api.routes.commands import Timeout
from ampyre.api.schemas_logs import CustomerRequestIn, CustomerResultOut, PartRequestOut
from ampyre.domain.models import Role
from ampyre.services.customer import (
    CustomerService,
    CustomerSpec,
    InvalidCustomerRequest,
)
from ampyre.services.display_requests import PartRequest
from ampyre.services.station_port import NotAddressable

RequestId = Annotated[int, Path(ge=1, le=INT32_MAX)]


def customer_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(prefix="/customer-information", tags=["customer information"])
    viewer = [Depends(auth.require(Role.VIEWER))]
    operator = [Depends(auth.require(Role.OPERATOR))]
    admin = [Depends(auth.require(Role.ADMIN))]

    def service() -> CustomerService:
        if deps.customer is None:
            raise ApiProblem(503, "customer information is not available in this process")
        return deps.customer

    async def found(request_id: int) -> PartRequest:
        request = await service().get(request_id)
        if request is None:
            raise ApiProblem(404, f"no customer information request {request_id}")
        return request

    @router.post(
        "",
        dependencies=operator,
        status_code=201,
        responses=problems(404, 409, 422, 502, 503, 504),
    )
    async def request_information(
        body: CustomerRequestIn, timeout_s: Timeout = None
    ) -> list[CustomerResultOut]:
        """CustomerInformation to each station: `report` asks for the data it holds
        (sent in NotifyCustomerInformation parts, assembled here), `clear` to delete it.
        The customer is named by exactly one of id_token, customer_identifier and
        certificate."""
        svc = service()
        station_ids = list(dict.fromkeys(body.station_ids))
        for station_id in station_ids:
            await deps.stations.require(station_id)
        cert = body.certificate
        spec = CustomerSpec(
            report=body.report,
            clear=body.clear,
            id_token=body.id_token,
            id_token_type=body.id_token_type,
            customer_identifier=body.customer_identifier,
            certificate=None
            if cert is None
            else {
                "hashAlgorithm": cert.hash_algorithm,
                "issuerNameHash": cert.issuer_name_hash,
                "issuerKeyHash": cert.issuer_key_hash,
                "serialNumber": cert.serial_number,
            },
        )
        wait = timeout_s if timeout_s is not None else deps.settings.call_timeout
        try:
            results = await svc.request(station_ids, spec, wait)
        except InvalidCustomerRequest as exc:
            invalid_request(str(exc), exc.field)
        except NotAddressable as exc:
            not_in_version(station_ids[0], exc, svc.connected_version(station_ids[0]))
        if len(results) == 1:
            check_answer(station_ids[0], "CustomerInformation", results[0].answer, wait)
        return [
            CustomerResultOut(
                request=PartRequestOut.of(r.request), answer=r.answer.status, detail=r.answer.detail
            )
            for r in results
        ]

    @router.get("", dependencies=viewer, responses=problems(503))
    async def list_requests(
        station_id: Annotated[str | None, Query(max_length=48)] = None, limit: Limit = 50
    ) -> list[PartRequestOut]:
        """Customer information requests, newest first."""
        return [PartRequestOut.of(r) for r in await service().list(station_id, limit)]

    @router.get("/{request_id}", dependencies=viewer, responses=problems(404, 503))
    async def one_request(request_id: RequestId) -> PartRequestOut:
        return PartRequestOut.of(await found(request_id))

    @router.delete(
        "/{request_id}", dependencies=admin, status_code=204, responses=problems(404, 503)
    )
    async def delete_request(request_id: RequestId) -> Response:
        """Forget the request and the customer data it brought."""
        if not await service().delete(request_id):
            raise ApiProblem(404, f"no customer information request {request_id}")
        return Response(status_code=204)

    @router.get(
        "/{request_id}/report",
        dependencies=operator,
        response_class=PlainTextResponse,
        responses={**problems(404, 503), 200: {"content": {"text/plain": {}}}},
    )
    async def report(request_id: RequestId) -> PlainTextResponse:
        """The report as assembled from the parts received (in seqNo order); the
        request's status says whether it is complete."""
        request = await found(request_id)
        text = await service().report_text(request_id)
        return PlainTextResponse(
            text,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="customer-information-{request.id}.txt"'
                ),
                "X-Report-Status": request.status.value,
            },
        )

    return router
