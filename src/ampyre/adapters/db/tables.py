"""SQLAlchemy Core tables. The schema itself is created by the Alembic migrations in
`migrations/versions/`; these definitions must stay in step with them (a test compares
the migrated database against this metadata)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite and PostgreSQL alike.

    SQLite has no time zones: values are stored as naive UTC text in one fixed format, so
    they also compare and sort correctly as strings. Naive input is taken to be UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class AuditTime(sa.TypeDecorator[datetime]):
    """UTC timestamps of the audit log: integer microseconds since the epoch on SQLite
    (8 bytes where UtcDateTime's text takes 26, on the table that grows fastest),
    timestamptz on PostgreSQL (8 bytes already)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return epoch_micros(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return EPOCH + timedelta(microseconds=value)
        at: datetime = value
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(at: datetime) -> int:
    """Microseconds since the epoch of an aware (or naive UTC) datetime, exactly."""
    delta = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# Autoincrementing 64-bit ids; on SQLite only INTEGER PRIMARY KEY aliases the rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Raw reports are JSON documents; JSONB on PostgreSQL so they can be queried later.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _station_fk() -> sa.ForeignKey:
    return sa.ForeignKey("stations.id", ondelete="CASCADE")


stations = sa.Table(
    "stations",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("registration_status", sa.String(16), nullable=False, server_default="Accepted"),
    sa.Column("ocpp_version", sa.String(16)),
    sa.Column("vendor", sa.String(255)),
    sa.Column("model", sa.String(255)),
    sa.Column("serial_number", sa.String(255)),
    sa.Column("firmware_version", sa.String(255)),
    sa.Column("iccid", sa.String(255)),
    sa.Column("imsi", sa.String(255)),
    sa.Column("meter_type", sa.String(255)),
    sa.Column("meter_serial_number", sa.String(255)),
    sa.Column("boot_reason", sa.String(64)),
    sa.Column("description", sa.Text),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("security_profile", sa.SmallInteger),
    sa.Column("pending_password_hash", sa.String(255)),
    sa.Column("connection_profile", sa.SmallInteger),
    sa.Column("connected", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("connected_node", sa.String(255)),
    sa.Column("remote_address", sa.String(255)),
    sa.Column("last_seen", UtcDateTime),
    sa.Column("last_boot", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("connector_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("info", sa.Text),
    sa.Column("vendor_id", sa.String(255)),
    sa.Column("vendor_error_code", sa.String(255)),
    sa.Column("status_timestamp", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # Stations with a connector in a given status (dashboard states, 0009).
    sa.Index("ix_connectors_status_station_id", "status", "station_id"),
)

# Status reports that say something is wrong (the dashboard's alerts): the condition of
# the partial index ix_status_history_alerts. A query uses that index only if it says
# exactly this, as literal SQL (a bound parameter would not match it).
ALERT_WHERE = "status = 'Faulted' OR (error_code IS NOT NULL AND error_code <> 'NoError')"

status_history = sa.Table(
    "status_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("evse_id", sa.Integer, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("info", sa.Text),
    sa.Column("vendor_id", sa.String(255)),
    sa.Column("vendor_error_code", sa.String(255)),
    sa.Column("timestamp", UtcDateTime),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("ix_status_history_station_id_received_at", "station_id", "received_at"),
    sa.Index(
        "ix_status_history_alerts",
        "received_at",
        sqlite_where=sa.text(ALERT_WHERE),
        postgresql_where=sa.text(ALERT_WHERE),
    ),
)

station_reports = sa.Table(
    "station_reports",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("request_id", sa.Integer),
    sa.Column("seq_no", sa.Integer),
    sa.Column("payload", Json, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index("ix_station_reports_station_id_received_at", "station_id", "received_at"),
)

# No foreign key on purpose: the audit log records frames of stations that are unknown
# or later deleted, and a failed FK check must never cost a batch of log entries.
# Retention (services/retention.py) bounds it instead. One row per round trip: a CALL
# and its answer, stored compactly (adapters/db/audit_rows.py, audit_codec.py); the API
# still lists one item per frame. No index on created_at: ids follow the logging order,
# so the oldest rows are the lowest ids (pruning and "newest first" use the primary key).
message_log = sa.Table(
    "message_log",
    metadata,
    # Fixed-size columns first: no alignment padding between them on PostgreSQL.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("created_at", AuditTime, nullable=False),
    sa.Column("reply_after_us", sa.Integer),
    sa.Column("call_type", sa.SmallInteger),
    sa.Column("reply_type", sa.SmallInteger),
    sa.Column("station_id", sa.String(255), nullable=False),
    sa.Column("direction", sa.String(3), nullable=False),  # of the request
    sa.Column("unique_id", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64)),
    sa.Column("call_frame", sa.LargeBinary),
    sa.Column("reply_frame", sa.LargeBinary),
    # On station_id alone: PostgreSQL stores equal keys once (deduplication), SQLite
    # appends the rowid, which serves "ORDER BY id" within a station.
    sa.Index("ix_message_log_station_id", "station_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("token_hash"),
)

# ---------------------------------------------------------------- transactions (0002)

# Integer sequences kept by Ampyre itself (same on SQLite and PostgreSQL): "transaction"
# issues 1.6 transaction ids, "remote_start" 2.x remoteStartIds. Seeded by migration 0002.
id_counters = sa.Table(
    "id_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    # The station-facing id: the station's string in 2.x, the issued integer in 1.6.
    sa.Column("transaction_id", sa.String(64), nullable=False),
    sa.Column("start_key", sa.String(255)),  # 1.6 StartTransaction duplicate detection
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ocpp_version", sa.String(16)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("id_token", sa.String(255)),
    sa.Column("id_token_type", sa.String(32)),
    sa.Column("auth_status", sa.String(32)),
    sa.Column("started_at", UtcDateTime),
    sa.Column("ended_at", UtcDateTime),
    sa.Column("start_seen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("stop_reason", sa.String(64)),
    sa.Column("meter_start_wh", sa.Float),
    sa.Column("meter_start_at", UtcDateTime),
    # 1 when the reading is the transaction's own begin/end reading (context
    # Transaction.Begin/End), 0 for other samples: a begin/end reading always wins.
    sa.Column("meter_start_rank", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("meter_stop_wh", sa.Float),
    sa.Column("meter_stop_at", UtcDateTime),
    sa.Column("meter_stop_rank", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("charging_state", sa.String(32)),
    sa.Column("charging_state_at", UtcDateTime),
    sa.Column("remote_start_id", sa.Integer),
    sa.Column("reservation_id", sa.Integer),
    sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_message_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # An operator's administrative close (0003): API token name, reason, when.
    sa.Column("closed_by", sa.String(255)),
    sa.Column("close_reason", sa.String(500)),
    sa.Column("closed_at", UtcDateTime),
    sa.UniqueConstraint("station_id", "transaction_id"),
    sa.UniqueConstraint("station_id", "start_key"),
    sa.Index("ix_transactions_status_last_message_at", "status", "last_message_at"),
    sa.Index("ix_transactions_started_at", "started_at"),
    # Dashboard (0009): active transactions per station; transactions ended today.
    sa.Index("ix_transactions_status_station_id", "status", "station_id"),
    sa.Index("ix_transactions_ended_at", "ended_at"),
    # Id tokens are case insensitive: filters and ConcurrentTx compare lower() (0003).
    sa.Index("ix_transactions_lower_id_token", sa.func.lower(sa.column("id_token"))),
)

transaction_events = sa.Table(
    "transaction_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "transaction_pk",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey("transactions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_key", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("seq_no", sa.Integer),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("trigger_reason", sa.String(64)),
    sa.Column("charging_state", sa.String(32)),
    sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("payload", Json, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("transaction_pk", "event_key"),
)

# One row per sampled value. Duplicates (a resent message) are dropped by the two partial
# unique indexes: per transaction, and per station/EVSE/connector for values outside one.
# Absent optional fields are stored as the spec defaults ('' for no phase or format) so
# that the unique indexes see them as equal. The format is part of the key: a signed
# sample sent beside its plain reading (Eichrecht meters) is a sample of its own.
meter_values = sa.Table(
    "meter_values",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "transaction_pk",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey("transactions.id", ondelete="CASCADE"),
    ),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("evse_id", sa.Integer, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("measurand", sa.String(64), nullable=False),
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("location", sa.String(16), nullable=False),
    sa.Column("context", sa.String(32), nullable=False),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("multiplier", sa.Integer, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),  # '' when not sent
    sa.Column("value", sa.Float),
    sa.Column("raw_value", sa.Text, nullable=False),
    sa.Column("si_value", sa.Float),
    sa.Column("si_unit", sa.String(20)),
    sa.Column("signed", Json),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index(
        "uq_meter_values_transaction",
        "transaction_pk",
        "timestamp",
        "measurand",
        "phase",
        "location",
        "context",
        "format",
        unique=True,
        sqlite_where=sa.text("transaction_pk IS NOT NULL"),
        postgresql_where=sa.text("transaction_pk IS NOT NULL"),
    ),
    sa.Index(
        "uq_meter_values_station",
        "station_id",
        "evse_id",
        "connector_id",
        "timestamp",
        "measurand",
        "phase",
        "location",
        "context",
        "format",
        unique=True,
        sqlite_where=sa.text("transaction_pk IS NULL"),
        postgresql_where=sa.text("transaction_pk IS NULL"),
    ),
)

# ---------------------------------------------------------------- authorization (0002)

id_tokens = sa.Table(
    "id_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id_token", sa.String(255), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("group_id", sa.String(255)),
    # [{"station_id": ..., "evse_id": ...|null}, ...]; empty = valid everywhere.
    sa.Column("restrictions", Json, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # One token per value ignoring case and type (0003); also the lookup index.
    sa.Index(
        "uq_id_tokens_lower_id_token_type",
        sa.func.lower(sa.column("id_token")),
        "type",
        unique=True,
    ),
)

local_lists = sa.Table(
    "local_lists",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    # {id_token: [type, status]} as last sent: the base of a differential update.
    sa.Column("entries", Json, nullable=False),
    sa.Column("last_status", sa.String(32)),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_type", sa.String(32)),
    sa.Column("id_token", sa.String(255), nullable=False),
    sa.Column("id_token_type", sa.String(32), nullable=False),
    sa.Column("group_id", sa.String(255)),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("station_answer", sa.String(32)),
    sa.Column("transaction_id", sa.BigInteger),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_reservations_status_expires_at", "status", "expires_at"),
    sa.Index("ix_reservations_station_id", "station_id"),
)

# ---------------------------------------------------------------- webhooks (0002)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(255), nullable=False),
    sa.Column("event_types", Json, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "webhook_id",
        sa.Integer,
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    # 0003: the outbox event it was made from (None: a ping), and the lease of the process
    # making its current attempt (see adapters/db/webhooks.py).
    sa.Column("event_id", sa.BigInteger),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", UtcDateTime),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at"),
    sa.Index("ix_webhook_deliveries_event_id_webhook_id", "event_id", "webhook_id", unique=True),
)

# ---------------------------------------------------------------- outbox (0003)

# Domain events, written in the same transaction as the data they describe; consumers
# (webhooks, later OCPI and other nodes) read them in id order after their cursor.
outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("station_id", sa.String(255)),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_outbox_events_created_at", "created_at"),
)

# Per consumer: the id of the last event it has fully handled.
outbox_consumers = sa.Table(
    "outbox_consumers",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# ---------------------------------------------------------------- operator audit (0003)

# Who changed what through the REST API (services/operator_audit.py). No foreign keys: the
# trail outlives deleted stations.
operator_audit = sa.Table(
    "operator_audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("token_id", sa.Integer),
    sa.Column("token_name", sa.String(255)),
    sa.Column("role", sa.String(16)),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("target", sa.String(2048), nullable=False),
    sa.Column("station_id", sa.String(255)),
    sa.Column("summary", sa.Text),
    sa.Column("status_code", sa.SmallInteger, nullable=False),
    sa.Column("outcome", sa.String(255)),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_operator_audit_created_at", "created_at"),
    sa.Index("ix_operator_audit_token_id_created_at", "token_id", "created_at"),
    sa.Index("ix_operator_audit_station_id_created_at", "station_id", "created_at"),
)

# ---------------------------------------------------------------- dashboard users (0008)

# Dashboard users (services/users.py). `name_key` is the name in lower case: names are
# unique ignoring case, with the same index on SQLite and PostgreSQL.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("name_key", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_login_at", UtcDateTime),
    sa.UniqueConstraint("name_key"),
)

# Signed-in browsers: the SHA-256 of the cookie's secret, never the secret itself.
user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Index("ix_user_sessions_user_id", "user_id"),
    sa.Index("ix_user_sessions_expires_at", "expires_at"),
)

# The nodes of a cluster and their leases (services/cluster.py): one row per live
# `ampyre serve` process, renewed every few seconds; a row left to expire is claimed
# (deleted) by a live node, which then marks the dead node's stations disconnected.
nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("node_id", sa.String(255), primary_key=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("renewed_at", UtcDateTime, nullable=False),
    sa.Column("stations", sa.Integer, nullable=False, server_default="0"),
    sa.Column("messages_per_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("cpu", sa.Float, nullable=False, server_default="0"),
    sa.Column("address", sa.String(255), nullable=False, server_default=""),
    sa.Column("pid", sa.Integer, nullable=False, server_default="0"),
)

# A station's configuration (issue 17 part 1, adapters/db/configuration.py): one row per
# attribute of a 2.x device-model variable, or per 1.6 configuration key (component "").
# evse_id / connector_id 0 = none (a unique index treats NULLs as distinct).
station_variables = sa.Table(
    "station_variables",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
    sa.Column("evse_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("connector_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
    sa.Column("attribute_type", sa.String(16), nullable=False, server_default="Actual"),
    sa.Column("value", sa.String(2500)),
    sa.Column("mutability", sa.String(16)),
    sa.Column("persistent", sa.Boolean),
    sa.Column("constant", sa.Boolean),
    sa.Column("characteristics", Json),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("reboot_required", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("report_id", sa.Integer),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index(
        "ux_station_variables_address",
        "station_id",
        "component",
        "component_instance",
        "evse_id",
        "connector_id",
        "variable",
        "variable_instance",
        "attribute_type",
        unique=True,
    ),
    sa.Index("ix_station_variables_variable", "variable"),
)

# Requests for a station's configuration (2.x GetBaseReport / GetReport, whose id is the
# requestId its NotifyReport parts carry; 1.6 GetConfiguration) and how far they got.
config_reports = sa.Table(
    "config_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("criteria", Json),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seq_nos", Json),  # the seqNo of each part received
    sa.Column("last_seq_no", sa.Integer),
    sa.Column("variables", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_part_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("detail", sa.String(512)),
    sa.Index("ux_config_reports_station_id_request_id", "station_id", "request_id", unique=True),
    sa.Index("ix_config_reports_state", "state"),
)

# ChangeAvailability answered Scheduled, followed until applied (services/availability.py).
availability_changes = sa.Table(
    "availability_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("evse_id", sa.Integer, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("operative", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("applied_at", UtcDateTime),
    sa.Index("ix_availability_changes_station_id", "station_id"),
)

# SetNetworkProfile attempts (services/network_profiles.py), secrets masked.
network_profiles = sa.Table(
    "network_profiles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("slot", sa.Integer, nullable=False),
    sa.Column("profile", Json, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("station_status", sa.String(64)),
    sa.Column("detail", sa.String(512)),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Index("ix_network_profiles_station_id", "station_id"),
)

# Issue 17 parts 5-7 (migration 0014_logs): log uploads a station was asked for
# (services/logs.py), display messages (services/display.py), and the requests whose
# answers come in parts: GetDisplayMessages and CustomerInformation (the id of a row is
# the OCPP requestId).
log_requests = sa.Table(
    "log_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("ocpp_version", sa.String(16), nullable=False),
    sa.Column("log_type", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),  # sha256 of the upload token
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("station_status", sa.String(32)),  # the last upload status notified
    sa.Column("station_answer", sa.String(64)),
    sa.Column("filename", sa.String(255)),  # as the station named it (shown only)
    sa.Column("detail", sa.String(512)),
    sa.Column("params", Json),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("stored_as", sa.String(64)),  # file name under AMPYRE_LOG_DIR (Ampyre's own)
    sa.Column("size", sa.BigInteger),
    sa.Column("sha256", sa.String(64)),
    sa.Column("content_type", sa.String(127)),
    sa.Column("received_at", UtcDateTime),
    sa.Index("ux_log_requests_token_hash", "token_hash", unique=True),
    sa.Index("ix_log_requests_station_id_requested_at", "station_id", "requested_at"),
)

display_messages = sa.Table(
    "display_messages",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16)),
    sa.Column("start_at", UtcDateTime),
    sa.Column("end_at", UtcDateTime),
    sa.Column("transaction_id", sa.String(36)),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("language", sa.String(8)),
    sa.Column("content", sa.String(1024), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # "csms" (set) or "station" (reported)
    sa.Column("request_id", sa.Integer),  # the GetDisplayMessages that reported it last
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

part_requests = sa.Table(
    "part_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # display_messages | customer_information
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("station_answer", sa.String(64)),
    sa.Column("params", Json),
    sa.Column("parts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("last_part_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("detail", sa.String(512)),
    sa.Index("ix_part_requests_station_id_kind", "station_id", "kind"),
    sa.Index("ix_part_requests_status", "status"),
)

customer_info_parts = sa.Table(
    "customer_info_parts",
    metadata,
    sa.Column(
        "request_id",
        sa.Integer,
        sa.ForeignKey("part_requests.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("seq_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("tbc", sa.Boolean, nullable=False),
    sa.Column("generated_at", UtcDateTime),
)

# Hosted firmware files (issue 17 part 4, adapters/db/firmware.py): the bytes live under
# AMPYRE_FIRMWARE_DIR as `stored_name`; stations fetch them at /firmware/{token}.
firmware_files = sa.Table(
    "firmware_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
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
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ux_firmware_files_token", "token", unique=True),
)

# Fleet rollouts of a firmware file; their stations are firmware_updates rows.
firmware_rollouts = sa.Table(
    "firmware_rollouts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "file_id",
        sa.Integer,
        sa.ForeignKey("firmware_files.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("pause_seconds", sa.Float, nullable=False),
    sa.Column("abort_threshold", sa.Integer, nullable=False),
    sa.Column("targets", Json, nullable=False),
    sa.Column("retries", sa.Integer),
    sa.Column("retry_interval", sa.Integer),
    sa.Column("next_batch_at", UtcDateTime),
    sa.Column("batches_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("detail", sa.String(512)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Index("ix_firmware_rollouts_state", "state"),
)

# One firmware update of one station (alone or in a rollout); its id is the 2.x requestId.
firmware_updates = sa.Table(
    "firmware_updates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("firmware_files.id", ondelete="SET NULL")),
    sa.Column("rollout_id", sa.Integer, sa.ForeignKey("firmware_rollouts.id", ondelete="CASCADE")),
    sa.Column("target_version", sa.String(50), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32)),
    sa.Column("detail", sa.String(512)),
    sa.Column("ocpp_version", sa.String(16)),
    sa.Column("retrieve_at", UtcDateTime),
    sa.Column("install_at", UtcDateTime),
    sa.Column("retries", sa.Integer),
    sa.Column("retry_interval", sa.Integer),
    sa.Column("history", Json),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_firmware_updates_station_id_state", "station_id", "state"),
    sa.Index("ix_firmware_updates_rollout_id_state", "rollout_id", "state"),
)

# Alerts (issue 17 part 2, adapters/db/alerts.py): a station's faults from 1.6 status
# errorCodes and 2.x NotifyEvent, open -> acknowledged -> cleared. Address columns: "" /
# 0 = none. A repeat of a fault that is not cleared counts on its row.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("evse_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("connector_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("component", sa.String(50), nullable=False, server_default=""),
    sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
    sa.Column("variable", sa.String(50), nullable=False, server_default=""),
    sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
    sa.Column("code", sa.String(128), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("first_seen", UtcDateTime, nullable=False),
    sa.Column("last_seen", UtcDateTime, nullable=False),
    sa.Column("info", sa.String(500)),
    sa.Column("vendor_error_code", sa.String(255)),
    sa.Column("trigger", sa.String(32)),
    sa.Column("event_type", sa.String(32)),
    sa.Column("event_id", sa.Integer),
    sa.Column("monitor_id", sa.Integer),
    sa.Column("tech_code", sa.String(50)),
    sa.Column("tech_info", sa.String(500)),
    sa.Column("actual_value", sa.String(2500)),
    sa.Column("status", sa.String(32)),
    sa.Column("acknowledged_by", sa.String(255)),
    sa.Column("acknowledged_at", UtcDateTime),
    sa.Column("cleared_at", UtcDateTime),
    sa.Index("ix_alerts_station_id_state", "station_id", "state"),
    sa.Index("ix_alerts_state_last_seen", "state", "last_seen"),
)

# A 2.x station's variable monitors as Ampyre last knew them (set through the API or
# reported by NotifyMonitoringReport; adapters/db/monitoring.py).
station_monitors = sa.Table(
    "station_monitors",
    metadata,
    sa.Column("station_id", sa.String(255), _station_fk(), primary_key=True),
    sa.Column("monitor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("component_instance", sa.String(50), nullable=False, server_default=""),
    sa.Column("evse_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("connector_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("variable_instance", sa.String(50), nullable=False, server_default=""),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("transaction", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# GetMonitoringReport requests (their requestId is what the NotifyMonitoringReport parts
# carry) and how far their multi-part answer got: pending -> complete | incomplete.
monitoring_reports = sa.Table(
    "monitoring_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(255), _station_fk(), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("monitors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seq_nos", Json),  # the seqNo of each part received
    # Asked for every monitor: once complete, stored monitors it did not list are gone.
    sa.Column("full", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_part_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("detail", sa.String(512)),
    sa.Index(
        "ux_monitoring_reports_station_id_request_id", "station_id", "request_id", unique=True
    ),
)

# Columns an operator may set through StationUpdate.extra (identity and bookkeeping
# columns are excluded).
STATION_EDITABLE: frozenset[str] = frozenset(
    c.name for c in stations.columns if c.name not in {"id", "created_at", "updated_at"}
)


def row_dict(row: Any) -> dict[str, Any]:
    """A result row as a plain dict keyed by column name."""
    return dict(row._mapping)


# Tables kept in modules of their own, registered on `metadata` when they are imported.
from ampyre.adapters.db import tables_certificates as tables_certificates  # noqa: E402
from ampyre.adapters.db import tables_charging as tables_charging  # noqa: E402
from ampyre.adapters.db import tables_locations as tables_locations  # noqa: E402
from ampyre.adapters.db import tables_ocpi as tables_ocpi  # noqa: E402
from ampyre.adapters.db import tables_ocpi_tokens as tables_ocpi_tokens  # noqa: E402
from ampyre.adapters.db import tables_pki as tables_pki  # noqa: E402
from ampyre.adapters.db import tables_pnc as tables_pnc  # noqa: E402
from ampyre.adapters.db import tables_roaming as tables_roaming  # noqa: E402
from ampyre.adapters.db import tables_security as tables_security  # noqa: E402
from ampyre.adapters.db import tables_sites as tables_sites  # noqa: E402
from ampyre.adapters.db import tables_tariffs as tables_tariffs  # noqa: E402
