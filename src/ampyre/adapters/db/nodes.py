"""The `nodes` table: leases of the cluster's live nodes (services/cluster.py), and the
stations table as the cluster's directory of who holds which station."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ampyre.adapters.db import tables as t
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.stations import StationsSql
from ampyre.domain.nodes import NodeInfo


class NodesSql:
    """services.cluster.NodeStore."""

    def __init__(self, db: Database, stations: StationsSql) -> None:
        self._db = db
        self.release_node = stations.release_node

    async def renew_node(self, node: NodeInfo) -> bool:
        """Refresh the node's row (its lease runs from `renewed_at`), or create it; False
        when it had to be created (a first start, or claimed as dead meanwhile)."""
        n = t.nodes
        values = {
            "node_id": node.node_id,
            "started_at": node.started_at,
            "renewed_at": node.renewed_at,
            "stations": node.stations,
            "messages_per_s": node.messages_per_s,
            "cpu": node.cpu,
            "address": node.address[:255],
            "pid": node.pid,
        }
        update = sa.update(n).where(n.c.node_id == node.node_id).values(values)
        async with self._db.tx() as conn:
            if (await conn.execute(update)).rowcount:
                return True
            stmt = self._db.insert(n).values(values)
            # Two processes started with one node id: the later insert refreshes the row.
            stmt = stmt.on_conflict_do_update(
                index_elements=[n.c.node_id],
                set_={k: stmt.excluded[k] for k in values if k != "node_id"},
            )
            await conn.execute(stmt)
        return False

    async def list_nodes(self) -> list[NodeInfo]:
        n = t.nodes
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(n).order_by(n.c.node_id))).all()
        return [
            NodeInfo(
                node_id=r.node_id,
                started_at=r.started_at,
                renewed_at=r.renewed_at,
                stations=int(r.stations),
                messages_per_s=float(r.messages_per_s),
                cpu=float(r.cpu),
                address=r.address,
                pid=int(r.pid),
            )
            for r in rows
        ]

    async def claim_expired_nodes(self, renewed_before: datetime) -> list[str]:
        """Delete the rows of nodes whose lease ran out; their ids. One statement: of two
        live nodes that look at once, each dead node goes to exactly one."""
        n = t.nodes
        stmt = sa.delete(n).where(n.c.renewed_at < renewed_before).returning(n.c.node_id)
        async with self._db.tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return sorted(str(r[0]) for r in rows)

    async def remove_node(self, node_id: str) -> None:
        n = t.nodes
        async with self._db.tx() as conn:
            await conn.execute(sa.delete(n).where(n.c.node_id == node_id))

    async def connected_stations(self) -> list[tuple[str, str, str]]:
        """(station id, node, OCPP version) of every station recorded as connected."""
        s = t.stations
        query = sa.select(s.c.id, s.c.connected_node, s.c.ocpp_version).where(
            s.c.connected.is_(True), s.c.connected_node.is_not(None)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(str(r[0]), str(r[1]), str(r[2] or "")) for r in rows]
