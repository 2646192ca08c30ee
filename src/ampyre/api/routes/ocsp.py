"""The built-in PKI's OCSP responder on the HTTP port (RFC 6960 appendix A.1):
`POST /ocsp` with a DER OCSPRequest (application/ocsp-request) and
`GET /ocsp/{base64 of the DER request}`. No API token: stations, vehicles' chargers and
other relying parties ask it; the answers are signed by the CA itself."""

import base64
import binascii
from urllib.parse import unquote

from fastapi import APIRouter, Request, Response

from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.services.pki import PkiNotConfigured

OCSP_RESPONSE = "application/ocsp-response"
MAX_REQUEST = 16 * 1024  # bytes; an OCSP request is about a hundred


def ocsp_router(deps: ApiDeps) -> APIRouter:
    router = APIRouter(tags=["ocsp"], include_in_schema=False)

    async def answer(der: bytes) -> Response:
        if deps.pki is None:
            raise ApiProblem(503, "the PKI is not available in this process")
        try:
            body = await deps.pki.ocsp_respond(der)
        except PkiNotConfigured as exc:
            raise ApiProblem(503, str(exc)) from None
        # RFC 5019 6.2: caching proxies may keep an answer until its nextUpdate; ours
        # change on revocation, so no shared caching.
        return Response(body, media_type=OCSP_RESPONSE, headers={"Cache-Control": "no-store"})

    @router.post("/ocsp")
    async def ocsp_post(request: Request) -> Response:
        der = bytearray()
        async for chunk in request.stream():
            der += chunk
            if len(der) > MAX_REQUEST:
                raise ApiProblem(413, "OCSP request too large")
        return await answer(bytes(der))

    @router.get("/ocsp/{encoded:path}")
    async def ocsp_get(encoded: str) -> Response:
        text = unquote(encoded)
        if len(text) > MAX_REQUEST * 2:
            raise ApiProblem(414, "OCSP request too large")
        try:
            der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            der = b""  # the responder answers malformedRequest
        return await answer(der)

    return router
