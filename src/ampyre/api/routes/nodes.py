"""`GET /nodes`: the cluster's nodes, their stations, load and lease age."""

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ampyre.api.auth import Auth
from ampyre.api.deps import ApiDeps
from ampyre.api.problems import ApiProblem
from ampyre.api.routes._common import problems
from ampyre.domain.models import Role
from ampyre.services.cluster import NodeView


class NodeOut(BaseModel):
    node_id: str
    address: str = Field(description="host:ocpp_port/http_port the node listens on")
    pid: int
    started_at: datetime
    renewed_at: datetime
    lease_age_s: float = Field(description="seconds since the node last renewed its lease")
    alive: bool = Field(description="renewed within AMPYRE_NODE_LEASE seconds")
    leader: bool = Field(description="runs the cluster-wide periodic work (retention)")
    this_node: bool = Field(description="the node that answered this request")
    stations: int = Field(description="open OCPP connections, at the last renewal")
    messages_per_s: float = Field(description="OCPP frames in and out per second")
    cpu: float = Field(description="process CPU seconds per second (1.0: one core)")

    @classmethod
    def build(cls, view: NodeView) -> "NodeOut":
        n = view.info
        return cls(
            node_id=n.node_id,
            address=n.address,
            pid=n.pid,
            started_at=n.started_at,
            renewed_at=n.renewed_at,
            lease_age_s=round(view.lease_age, 3),
            alive=view.alive,
            leader=view.leader,
            this_node=view.this_node,
            stations=n.stations,
            messages_per_s=n.messages_per_s,
            cpu=n.cpu,
        )


class NodesOut(BaseModel):
    items: list[NodeOut]
    total: int
    clustered: bool = Field(description="false: one process on the in-process bus")


def nodes_router(deps: ApiDeps, auth: Auth) -> APIRouter:
    router = APIRouter(tags=["nodes"])

    @router.get(
        "/nodes", dependencies=[Depends(auth.require(Role.VIEWER))], responses=problems(503)
    )
    async def list_nodes() -> NodesOut:
        """The nodes with a lease in the database (dead ones until a live node claims
        their row, within about one lease time)."""
        if deps.cluster is None:
            raise ApiProblem(503, "no cluster in this process", slug="not-available")
        views = await deps.cluster.nodes()
        return NodesOut(
            items=[NodeOut.build(v) for v in views],
            total=len(views),
            clustered=deps.cluster.bus.clustered,
        )

    return router
