"""REST routes: webhooks and their deliveries (admin only).

Every event is POSTed as JSON, signed with the webhook's secret; how a receiver checks
the signature is described in `ampyre.services.webhook_rules` and in the create operation.
"""

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import API_PREFIX, Limit, Offset, problems
from ampyre.api.schemas_webhooks import (
    DeliveryOut,
    DeliveryPage,
    PingQueued,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPage,
    WebhookPatch,
)
from ampyre.domain.events import DeliveryStatus
from ampyre.domain.models import Role
from ampyre.services.webhook_rules import InvalidWebhookInput
from ampyre.services.webhooks import (
    KEEP,
    DeliveryConflict,
    DeliveryNotFound,
    WebhookNotFound,
    WebhookService,
)

WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the webhook's id")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the delivery's id")]

CREATE_DOC = """Create a webhook. Leave `secret` out to have a strong one generated: it is in
this response only, store it now.

Each event is a `POST` with a JSON body `{"id", "type", "created_at", "station_id",
"data"}` and the headers `X-Ampyre-Event`, `X-Ampyre-Delivery` (the delivery id),
`X-Ampyre-Timestamp` (unix seconds) and `X-Ampyre-Signature: sha256=<hex>`, the
HMAC-SHA256 with the secret as key of `"<X-Ampyre-Timestamp>.<raw body>"`. A receiver
recomputes it over the raw body, compares in constant time, and rejects timestamps more
than about 5 minutes off its clock (replays). Answer with any 2xx; anything else, a
redirect or no answer within the timeout is retried with exponential backoff. Delivery
is at least once: ignore a delivery id you have already processed."""


def webhooks_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(
        prefix="/webhooks",
        tags=["webhooks"],
        dependencies=[Depends(auth.require(Role.ADMIN))],
    )

    def service() -> WebhookService:
        if deps.webhooks is None:
            raise ApiProblem(503, "webhooks are not available in this process", slug="unavailable")
        return deps.webhooks

    @contextlib.contextmanager
    def mapped() -> Iterator[None]:
        """Map the service's errors to problem documents."""
        try:
            yield
        except WebhookNotFound as exc:
            raise ApiProblem(404, str(exc), slug="webhook-not-found") from exc
        except DeliveryNotFound as exc:
            raise ApiProblem(404, str(exc), slug="delivery-not-found") from exc
        except DeliveryConflict as exc:
            raise ApiProblem(409, str(exc), slug="delivery-conflict", title="Conflict") from exc
        except InvalidWebhookInput as exc:
            loc = ["body", exc.field] if exc.field else ["body"]
            raise ApiProblem(
                422,
                str(exc),
                slug="validation-error",
                title="Invalid request",
                errors=[{"loc": loc, "msg": str(exc), "type": "value_error"}],
            ) from exc

    @router.get("", responses=problems(422, 503))
    async def list_webhooks(limit: Limit = 50, offset: Offset = 0) -> WebhookPage:
        """The webhooks, by id."""
        with mapped():
            page = await service().page(limit, offset)
        return WebhookPage(
            items=[WebhookOut.build(h) for h in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        responses=problems(422, 503),
        description=CREATE_DOC,
    )
    async def create_webhook(body: WebhookCreate, response: Response) -> WebhookCreated:
        with mapped():
            generated, hook = await service().create(
                body.url,
                [e.value for e in body.event_types],
                secret=body.secret,
                enabled=body.enabled,
                description=body.description,
            )
        response.headers["Location"] = f"{API_PREFIX}/webhooks/{hook.id}"
        response.headers["Cache-Control"] = "no-store"
        return WebhookCreated(**WebhookOut.build(hook).model_dump(), secret=generated)

    @router.get("/{webhook_id}", responses=problems(404, 503))
    async def get_webhook(webhook_id: WebhookId) -> WebhookOut:
        with mapped():
            return WebhookOut.build(await service().get(webhook_id))

    @router.patch("/{webhook_id}", responses=problems(404, 422, 503))
    async def update_webhook(webhook_id: WebhookId, body: WebhookPatch) -> WebhookOut:
        """Change some fields; those left out are kept, `"description": null` clears it.
        A new `secret` takes effect for the next attempt."""
        given = body.model_fields_set
        types = None if body.event_types is None else [e.value for e in body.event_types]
        with mapped():
            hook = await service().update(
                webhook_id,
                url=KEEP if body.url is None else body.url,
                secret=KEEP if body.secret is None else body.secret,
                event_types=KEEP if types is None else types,
                enabled=KEEP if body.enabled is None else body.enabled,
                description=body.description if "description" in given else KEEP,
            )
        return WebhookOut.build(hook)

    @router.delete(
        "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404, 503)
    )
    async def delete_webhook(webhook_id: WebhookId) -> Response:
        """Delete a webhook with its deliveries; queued ones are not sent."""
        with mapped():
            deleted = await service().delete(webhook_id)
        if not deleted:
            raise ApiProblem(404, f"no webhook with id {webhook_id}", slug="webhook-not-found")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/{webhook_id}/deliveries", responses=problems(404, 422, 503))
    async def list_deliveries(
        webhook_id: WebhookId,
        status_: Annotated[
            DeliveryStatus | None, Query(alias="status", description="only this status")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DeliveryPage:
        """The webhook's deliveries, newest first."""
        with mapped():
            page = await service().deliveries(webhook_id, status_, limit, offset)
        return DeliveryPage(
            items=[DeliveryOut.build(d) for d in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @router.post(
        "/{webhook_id}/deliveries/{delivery_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        responses=problems(404, 409, 503),
    )
    async def retry_delivery(webhook_id: WebhookId, delivery_id: DeliveryId) -> DeliveryOut:
        """Re-queue a failed delivery with a fresh set of attempts."""
        with mapped():
            return DeliveryOut.build(await service().retry(webhook_id, delivery_id))

    @router.post(
        "/{webhook_id}/ping",
        status_code=status.HTTP_202_ACCEPTED,
        responses=problems(404, 409, 503),
    )
    async def ping_webhook(webhook_id: WebhookId) -> PingQueued:
        """Queue a `webhook.ping` event to this webhook (whatever its event types); see its
        outcome in the deliveries."""
        with mapped():
            await service().ping(webhook_id)
        return PingQueued()

    return router
