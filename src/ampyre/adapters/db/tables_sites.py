"""Tables of issue 18 (sites), on the shared metadata of adapters/db/tables.py (which
imports this module at its end, so the metadata is whole wherever it is read)."""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, Json, UtcDateTime, metadata

__all__ = ["metadata", "sa", "site_allocations", "site_samples", "sites"]

# A site: its grid connection, circuits, base load and members (one JSON document,
# domain/sites.py; the balancer keeps every site in memory), and the last base load
# pushed through the API.
sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("config", Json, nullable=False),
    sa.Column("pushed_base_load", Json),
    sa.Column("pushed_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# The balancer's decisions: what each EVSE got and why (written when the allocation
# changes), with the site's sums per phase and the use of each limit.
site_allocations = sa.Table(
    "site_allocations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.Column("trigger", sa.String(64), nullable=False),
    sa.Column("at_limit", sa.Boolean, nullable=False),
    sa.Column("summary", Json, nullable=False),
    sa.Column("evses", Json, nullable=False),
    sa.Index("ix_site_allocations_site_id_id", "site_id", "id"),
    sa.Index("ix_site_allocations_computed_at", "computed_at"),
)

# The site's load over time for the live chart: limit, allocated and measured per phase.
site_samples = sa.Table(
    "site_samples",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Index("ix_site_samples_site_id_at", "site_id", "at"),
    sa.Index("ix_site_samples_at", "at"),
)
