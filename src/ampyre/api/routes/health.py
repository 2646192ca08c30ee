"""Liveness, readiness and Prometheus metrics (outside /api/v1, as probes expect)."""

import asyncio
import logging

from fastapi import APIRouter, Depends, Request, Response

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps, ReadyCheck
from ampyre.api.problems import problem_response, problem_type
from ampyre.api.routes._common import problems
from ampyre.api.schemas import Health, Problem, Readiness
from ampyre.domain.models import Role

log = logging.getLogger(__name__)

READY_CHECK_TIMEOUT = 5.0


def check_name(check: ReadyCheck) -> str:
    name = getattr(check, "__qualname__", None) or getattr(check, "__name__", None)
    return str(name) if name else repr(check)


def health_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> Health:
        """The process is up (no authentication)."""
        return Health(status="ok")

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={
            503: {
                "model": Problem,
                "description": "A dependency is unreachable",
                "content": {"application/problem+json": {}},
            }
        },
    )
    async def readyz(request: Request) -> Readiness | Response:
        """Database and bus reachable (no authentication). 503 names the failed checks;
        details of the failures are only logged."""
        results = await asyncio.gather(*(_run(c) for c in deps.ready_checks))
        checks = {check_name(c): r for c, r in zip(deps.ready_checks, results, strict=True)}
        failed = [name for name, result in checks.items() if result != "ok"]
        if failed:
            return problem_response(
                request,
                503,
                type_=problem_type("not-ready"),
                title="Not ready",
                detail="failed: " + ", ".join(failed),
                extra={"checks": checks},
            )
        return Readiness(status="ok", checks=checks)

    @router.get(
        "/metrics",
        dependencies=[Depends(auth.require(Role.VIEWER))],
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
            **problems(),
        },
    )
    async def metrics() -> Response:
        """Prometheus metrics; scrape with a viewer token (`authorization` in the job)."""
        return Response(deps.metrics.render(), media_type=deps.metrics.content_type)

    return router


async def _run(check: ReadyCheck) -> str:
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT):
            await check()
    except TimeoutError:
        log.warning("readiness check %s timed out", check_name(check))
        return "timeout"
    except Exception as exc:
        log.warning("readiness check %s failed: %r", check_name(check), exc)
        return f"failed ({type(exc).__name__})"
    return "ok"
