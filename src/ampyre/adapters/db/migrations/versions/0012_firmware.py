"""Firmware files, firmware updates and fleet rollouts (issue 17 part 4).

Revision ID: 0012_firmware
Revises: 0011_configuration
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_firmware"
down_revision: str | None = "0011_configuration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the column type as it was at this revision.
_TS = sa.DateTime(timezone=True)
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "firmware_files",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("vendor", sa.String(50)),
        sa.Column("model", sa.String(50)),
        sa.Column("description", sa.String(255)),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("stored_name", sa.String(64), nullable=False),
        sa.Column("signing_certificate", sa.Text),
        sa.Column("signature", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_files"),
    )
    op.create_index("ux_firmware_files_token", "firmware_files", ["token"], unique=True)
    op.create_table(
        "firmware_rollouts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("file_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("pause_seconds", sa.Float, nullable=False),
        sa.Column("abort_threshold", sa.Integer, nullable=False),
        sa.Column("targets", _Json, nullable=False),
        sa.Column("retries", sa.Integer),
        sa.Column("retry_interval", sa.Integer),
        sa.Column("next_batch_at", _TS),
        sa.Column("batches_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("detail", sa.String(512)),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_rollouts"),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["firmware_files.id"],
            name="fk_firmware_rollouts_file_id_firmware_files",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_firmware_rollouts_state", "firmware_rollouts", ["state"])
    op.create_table(
        "firmware_updates",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(255), nullable=False),
        sa.Column("file_id", sa.Integer),
        sa.Column("rollout_id", sa.Integer),
        sa.Column("target_version", sa.String(50), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32)),
        sa.Column("detail", sa.String(512)),
        sa.Column("ocpp_version", sa.String(16)),
        sa.Column("retrieve_at", _TS),
        sa.Column("install_at", _TS),
        sa.Column("retries", sa.Integer),
        sa.Column("retry_interval", sa.Integer),
        sa.Column("history", _Json),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("sent_at", _TS),
        sa.Column("finished_at", _TS),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_updates"),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name="fk_firmware_updates_station_id_stations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["firmware_files.id"],
            name="fk_firmware_updates_file_id_firmware_files",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["firmware_rollouts.id"],
            name="fk_firmware_updates_rollout_id_firmware_rollouts",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_firmware_updates_station_id_state", "firmware_updates", ["station_id", "state"]
    )
    op.create_index(
        "ix_firmware_updates_rollout_id_state", "firmware_updates", ["rollout_id", "state"]
    )


def downgrade() -> None:
    op.drop_table("firmware_updates")
    op.drop_table("firmware_rollouts")
    op.drop_table("firmware_files")
