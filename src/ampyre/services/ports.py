"""Ports the services depend on. Adapters (SQLAlchemy store, memory fake) implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ampyre.domain.models import (
    ApiToken,
    BootInfo,
    Connector,
    MessageLogEntry,
    Page,
    Station,
    StationReport,
    StationUpdate,
    StatusReport,
)


class StoreUnavailable(Exception):
    """The database could not be reached or the write failed; nothing was stored."""


class SchemaNotCurrent(Exception):
    """The database is not migrated to the schema this code expects (or is newer)."""


class Store(Protocol):
    """Everything the services need from persistence.

    Write methods on the OCPP path (`record_*`) are *group-committed*: many concurrent
    callers share one transaction; each call returns only after the transaction holding its
    write has committed (durable before ack), and raises StoreUnavailable if it failed.
    `log_messages` and `touch` are fire-and-forget (buffered, flushed in batches, never
    awaited by the OCPP path).
    """

    # life cycle
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def check_schema(self) -> None:
        """Raise SchemaNotCurrent with a human-readable message if not at head."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailable if the database cannot be reached."""
        ...

    # stations (API side, plain transactions)
    async def get_station(self, station_id: str) -> Station | None: ...
    async def list_stations(self, limit: int, offset: int) -> Page: ...
    async def create_station(self, station: Station) -> Station:
        """Raise KeyError if it exists."""
        ...

    async def update_station(self, station_id: str, update: StationUpdate) -> Station | None: ...
    async def delete_station(self, station_id: str) -> bool: ...
    async def list_connectors(self, station_id: str) -> list[Connector]: ...
    async def list_status_history(
        self, station_id: str, limit: int, offset: int
    ) -> Page: ...  # items: StatusReport, newest first
    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        """items: StationReport, newest first."""
        ...

    async def list_messages(
        self, station_id: str | None, limit: int, offset: int
    ) -> Page:  # items: MessageLogEntry, newest first
        ...

    # OCPP path (group-committed)
    async def record_boot(
        self, station_id: str, ocpp_version: str, info: BootInfo, at: datetime
    ) -> None: ...
    async def record_status(self, reports: Sequence[StatusReport]) -> None: ...
    async def record_reports(self, reports: Sequence[StationReport]) -> None: ...
    async def record_connection(
        self,
        station_id: str,
        connected: bool,
        at: datetime,
        ocpp_version: str | None,
        node: str | None,
        remote_address: str | None,
        auto_register: bool = False,
    ) -> None:
        """Mark connected/disconnected; with auto_register create the station if absent."""
        ...

    def touch(self, station_id: str, at: datetime) -> None:
        """Buffered last_seen update (heartbeats); flushed periodically."""
        ...

    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        """Buffered audit log; bounded queue, drops (and counts) when overloaded."""
        ...

    async def prune_messages(self, older_than: datetime) -> int: ...

    # API tokens
    async def create_api_token(self, token: ApiToken) -> ApiToken: ...
    async def find_api_token(self, token_hash: str) -> ApiToken | None: ...
    async def list_api_tokens(self) -> list[ApiToken]: ...
    async def revoke_api_token(self, token_id: int) -> bool: ...
