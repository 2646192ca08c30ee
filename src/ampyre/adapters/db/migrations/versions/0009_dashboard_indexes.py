"""Indexes for the operator dashboard: station states, energy today, recent alerts.

* connectors (status, station_id): "faulted"/"charging" stations (domain/dashboard.py)
  are found from the few connectors in that status, not by a scan of all connectors.
* transactions (status, station_id): active transactions per station, the same.
* transactions (ended_at): transactions that ended today (energy delivered today).
* status_history (received_at) for problem reports only (partial): the overview's
  recent alerts read the newest of them without walking the whole history. Only
  fault rows are indexed, so ordinary status writes pay nothing for it.

Revision ID: 0009_dashboard_indexes
Revises: 0008_users
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_dashboard_indexes"
down_revision: str | None = "0008_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of adapters/db/tables.ALERT_WHERE at this revision.
_ALERT_WHERE = "status = 'Faulted' OR (error_code IS NOT NULL AND error_code <> 'NoError')"


def upgrade() -> None:
    op.create_index("ix_connectors_status_station_id", "connectors", ["status", "station_id"])
    op.create_index("ix_transactions_status_station_id", "transactions", ["status", "station_id"])
    op.create_index("ix_transactions_ended_at", "transactions", ["ended_at"])
    op.create_index(
        "ix_status_history_alerts",
        "status_history",
        ["received_at"],
        sqlite_where=sa.text(_ALERT_WHERE),
        postgresql_where=sa.text(_ALERT_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_status_history_alerts", "status_history")
    op.drop_index("ix_transactions_ended_at", "transactions")
    op.drop_index("ix_transactions_status_station_id", "transactions")
    op.drop_index("ix_connectors_status_station_id", "connectors")
