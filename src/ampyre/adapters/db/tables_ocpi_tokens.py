"""Tables of issue 20: OCPI tokens and commands (registered on `metadata` when imported).

- `ocpi_tokens`: the roaming tokens Ampyre holds as a CPO (pushed or pulled from an eMSP,
  or carried by a command), one per (owner, uid ignoring case, type).
- `ocpi_published_tokens`: Ampyre's own id tokens as last published to CPOs (eMSP side;
  what a change is computed against; a deleted id token stays as valid=false).
- `ocpi_authorizations`: roaming authorizations asked, answered and granted, with how
  long an answer may be reused at a station.
- `ocpi_commands`: commands received (CPO) and sent (eMSP) with their response and result.

Partners are not foreign keys: the record of what a partner sent outlives the partner.
"""

from __future__ import annotations

import sqlalchemy as sa

from ampyre.adapters.db.tables import BigId, Json, UtcDateTime, metadata

__all__ = [
    "metadata",
    "ocpi_authorizations",
    "ocpi_commands",
    "ocpi_published_tokens",
    "ocpi_tokens",
]

ocpi_tokens = sa.Table(
    "ocpi_tokens",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner_id", sa.BigInteger),
    sa.Column("country_code", sa.String(2), nullable=False),  # upper case
    sa.Column("party_id", sa.String(3), nullable=False),  # upper case
    sa.Column("uid", sa.String(36), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("contract_id", sa.String(36), nullable=False),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("whitelist", sa.String(16), nullable=False),
    sa.Column("source", sa.String(8), nullable=False),  # TokenSource
    sa.Column("data", Json, nullable=False),  # the OCPI Token object
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Index(
        "uq_ocpi_tokens_owner_lower_uid_type",
        "country_code",
        "party_id",
        sa.func.lower(sa.column("uid")),
        "type",
        unique=True,
    ),
    sa.Index("ix_ocpi_tokens_lower_uid", sa.func.lower(sa.column("uid"))),
    sa.Index("ix_ocpi_tokens_last_updated", "last_updated"),
)

ocpi_published_tokens = sa.Table(
    "ocpi_published_tokens",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(36), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("id_token_id", sa.Integer),  # the Ampyre id token (None once deleted)
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("data", Json, nullable=False),  # the OCPI Token object as published
    sa.Column("last_updated", UtcDateTime, nullable=False),
    sa.Index(
        "uq_ocpi_published_tokens_lower_uid_type",
        sa.func.lower(sa.column("uid")),
        "type",
        unique=True,
    ),
    sa.Index("ix_ocpi_published_tokens_last_updated", "last_updated"),
)

ocpi_authorizations = sa.Table(
    "ocpi_authorizations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # AuthorizationKind
    sa.Column("uid", sa.String(36), nullable=False),
    sa.Column("token_type", sa.String(16)),
    sa.Column("country_code", sa.String(2)),
    sa.Column("party_id", sa.String(3)),
    sa.Column("partner_id", sa.BigInteger),
    sa.Column("station_id", sa.String(255)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("location_id", sa.String(36)),
    sa.Column("allowed", sa.String(16)),  # AllowedType answered (None: no answer)
    sa.Column("outcome", sa.String(32)),
    sa.Column("reason", sa.String(500)),
    sa.Column("authorization_reference", sa.String(36)),
    sa.Column("valid_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_ocpi_authorizations_lower_uid", sa.func.lower(sa.column("uid"))),
    sa.Index("ix_ocpi_authorizations_created_at", "created_at"),
)

ocpi_commands = sa.Table(
    "ocpi_commands",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(36), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),  # CommandDirection
    sa.Column("command", sa.String(24), nullable=False),  # CommandType
    sa.Column("partner_id", sa.BigInteger),
    sa.Column("country_code", sa.String(2)),
    sa.Column("party_id", sa.String(3)),
    sa.Column("request", Json, nullable=False),
    sa.Column("response", sa.String(16)),  # CommandResponseType
    sa.Column("response_message", sa.String(512)),
    sa.Column("result", sa.String(24)),  # CommandResultType
    sa.Column("result_message", sa.String(512)),
    sa.Column("response_url", sa.String(255)),
    sa.Column("timeout_at", UtcDateTime),
    sa.Column("result_at", UtcDateTime),
    sa.Column("station_id", sa.String(255)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("location_id", sa.String(36)),
    sa.Column("transaction_id", sa.BigInteger),
    sa.Column("reservation_id", sa.BigInteger),
    sa.Column("ocpi_reservation_id", sa.String(36)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("uid", name="uq_ocpi_commands_uid"),
    sa.Index("ix_ocpi_commands_direction", "direction"),
    sa.Index("ix_ocpi_commands_ocpi_reservation_id", "ocpi_reservation_id"),
)
