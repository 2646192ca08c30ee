"""The nodes of a cluster: `ampyre serve` processes sharing one database (and a bus)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True, frozen=True)
class NodeInfo:
    """What a node says of itself at each renewal of its lease (the `nodes` table).

    A node whose `renewed_at` is older than the lease time is dead: its row is claimed
    by one of the live nodes, which marks its stations disconnected."""

    node_id: str
    started_at: datetime
    renewed_at: datetime
    stations: int = 0  # open OCPP connections on the node
    messages_per_s: float = 0.0  # OCPP frames (in and out) per second since the last renewal
    cpu: float = 0.0  # the process's CPU time per wall-clock second since the last renewal
    address: str = ""  # host:ocpp_port/http_port as the node listens (for operators)
    pid: int = 0
