"""Ports the services depend on. Adapters (SQLAlchemy store, memory fake) implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from ampyre.domain.authz import IdToken, LocalListState, Reservation
from ampyre.domain.dashboard import StationQuery
from ampyre.domain.events import Delivery, OutboxEvent, Webhook
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
from ampyre.domain.transactions import (
    EventRecord,
    StationMeterValues,
    StoredEvent,
    Transaction,
    TransactionEvent,
    TransactionFilter,
)
from ampyre.domain.users import LockoutPolicy, User, UserSession


class StoreUnavailable(Exception):
    """The database could not be reached or the write failed; nothing was stored."""


class SchemaNotCurrent(Exception):
    """The database is not migrated to the schema this code expects (or is newer)."""


class StartupRefused(Exception):
    """`serve` cannot start as configured (the bus unreachable, a second process on one
    SQLite file, a port taken); the message says what to do."""


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
    async def list_stations(
        self, limit: int, offset: int, query: StationQuery | None = None
    ) -> Page:
        """items: Station; searched, filtered and ordered as `query` says (default: all,
        by id). domain/dashboard.py defines the states and the order."""
        ...

    async def create_station(self, station: Station) -> Station:
        """Raise KeyError if it exists."""
        ...

    async def update_station(self, station_id: str, update: StationUpdate) -> Station | None: ...
    async def delete_station(self, station_id: str) -> bool: ...
    async def list_connectors(self, station_id: str) -> list[Connector]: ...
    async def list_connectors_of(self, station_ids: Sequence[str]) -> dict[str, list[Connector]]:
        """The connectors of several stations in one query (a page of the station list),
        by station id; a station without connectors is absent."""
        ...

    async def list_status_history(
        self, station_id: str, limit: int, offset: int
    ) -> Page: ...  # items: StatusReport, newest first
    async def list_reports(self, station_id: str, limit: int, offset: int) -> Page:
        """items: StationReport, newest first."""
        ...

    async def list_messages(
        self,
        station_id: str | None,
        limit: int,
        offset: int,
        action: str | None = None,
        direction: str | None = None,
    ) -> Page:
        """items: MessageLogEntry, newest first; with `action` only that action's frames
        (requests and their replies), with `direction` ("in" / "out") only frames going
        that way. `total` counts the frames that match."""
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

    # Retention (services/retention.py): delete rows older than `older_than`, in short
    # batches; the number deleted.
    async def prune_messages(self, older_than: datetime, action: str | None = None) -> int:
        """Audit-log entries (with `action`: only that action's round trips)."""
        ...

    async def prune_status_history(self, older_than: datetime) -> int: ...
    async def prune_reports(self, older_than: datetime) -> int: ...
    async def prune_transaction_data(self, older_than: datetime) -> int:
        """Meter values and events of transactions ended before `older_than` (the
        transactions stay), and meter values outside transactions received before it."""
        ...

    # API tokens
    async def create_api_token(self, token: ApiToken) -> ApiToken: ...
    async def find_api_token(self, token_hash: str) -> ApiToken | None: ...
    async def list_api_tokens(self) -> list[ApiToken]: ...
    async def revoke_api_token(self, token_id: int) -> bool: ...


class TransactionStore(Protocol):
    """Transactions and meter values.

    `record_transaction_events` and `record_meter_values` are group-committed with the
    other `record_*` writes (durable before ack). Resent messages are absorbed: an event
    whose (transaction, event_key) is stored, or a sampled value whose (transaction or
    station/EVSE/connector, timestamp, measurand, phase, location, context) is stored, is
    not stored twice; a 1.6 start whose start_key is stored gets the id issued before.
    A transaction that is not known yet is created from whatever event arrives first and
    completed by the later ones (merge rules: domain.transactions.merge, which the SQL
    store applies), so arrival order never matters.
    """

    async def record_transaction_events(
        self, events: Sequence[TransactionEvent]
    ) -> list[StoredEvent]:
        """One StoredEvent per event, in order. Raises StoreUnavailable."""
        ...

    async def record_meter_values(self, values: Sequence[StationMeterValues]) -> None: ...
    async def list_connectors(self, station_id: str) -> list[Connector]:
        """The station's connectors with their last status (the Store's)."""
        ...

    async def next_id(self, counter: str) -> int:
        """The next value of a named integer sequence ("remote_start")."""
        ...

    async def get_transaction(self, transaction_pk: int) -> Transaction | None: ...
    async def find_transaction(
        self, station_id: str, transaction_id: str
    ) -> Transaction | None: ...

    async def list_transactions(
        self, where: TransactionFilter, limit: int, offset: int
    ) -> Page:  # items: Transaction, newest started first
        ...

    async def list_transaction_events(self, transaction_pk: int) -> list[EventRecord]:
        """Oldest first (by seqNo for 2.x, then timestamp)."""
        ...

    async def list_transaction_meter_values(
        self, transaction_pk: int, limit: int, offset: int
    ) -> Page:  # items: StoredMeterValue, by timestamp
        ...

    async def token_in_use(
        self, id_token: str, station_id: str, transaction_id: str | None, evse_id: int | None
    ) -> bool:
        """Whether an active transaction with this id token runs at another station, or at
        this station on another EVSE (not counting `transaction_id` itself)."""
        ...

    async def active_transactions(self, station_id: str) -> list[Transaction]:
        """The station's active transactions (one cheap query for the checks on the OCPP
        path; no missing_seq_nos)."""
        ...

    async def list_stale_transactions(
        self, silent_since: datetime, limit: int
    ) -> list[Transaction]:
        """Active transactions whose last message is older than `silent_since`."""
        ...

    async def end_transaction(
        self,
        transaction_pk: int,
        at: datetime,
        reason: str,
        closed_by: str | None = None,
        note: str | None = None,
    ) -> Transaction | None:
        """Close an active transaction on Ampyre's own decision (zombie) or an operator's
        (`closed_by`, `note`: administrative close): `domain.transactions.close`.
        Group-committed. None if unknown; unchanged if ended."""
        ...


class AuthStore(Protocol):
    """Id tokens, local authorization lists and reservations (API-side transactions)."""

    async def create_id_token(self, token: IdToken) -> IdToken:
        """Raise KeyError if (id_token ignoring case, type) exists."""
        ...

    async def get_id_token(self, token_pk: int) -> IdToken | None: ...
    async def find_id_token(self, id_token: str, type_: str | None) -> IdToken | None:
        """The token a presented (value, type) is: `ampyre.domain.authz.pick_token` over
        `find_id_tokens`."""
        ...

    async def find_id_tokens(self, id_token: str) -> list[IdToken]:
        """Every stored token whose value equals `id_token` ignoring case, any type."""
        ...

    async def list_id_tokens(self, limit: int, offset: int, search: str | None) -> Page: ...
    async def update_id_token(self, token: IdToken) -> IdToken | None: ...
    async def delete_id_token(self, token_pk: int) -> bool: ...
    async def id_tokens_for_station(self, station_id: str) -> list[IdToken]:
        """Every token usable at the station (unrestricted or restricted to it)."""
        ...

    async def get_local_list(self, station_id: str) -> LocalListState | None: ...
    async def save_local_list(self, state: LocalListState) -> None: ...

    async def create_reservation(self, reservation: Reservation) -> Reservation:
        """Assigns the id (the reservationId sent to the station)."""
        ...

    async def get_reservation(self, reservation_id: int) -> Reservation | None: ...
    async def list_reservations(
        self, station_id: str | None, status: str | None, limit: int, offset: int
    ) -> Page: ...
    async def update_reservation(self, reservation: Reservation) -> Reservation | None: ...
    async def expire_reservations(self, now: datetime) -> list[Reservation]:
        """Mark requested/accepted reservations past their expiry as expired; return them."""
        ...


class OutboxReader(Protocol):
    """The read side of the outbox (domain events committed with their data), for any
    consumer: webhooks now, OCPI and other nodes later."""

    async def events_after(self, position: int, limit: int) -> list[OutboxEvent]:
        """Up to `limit` events with an id above `position`, in id order. Ids become
        visible in increasing order, so nothing below a position read can appear later."""
        ...

    async def last_event_id(self) -> int:
        """The id of the newest event (0 if none): where a consumer that wants none of
        the events so far may move its cursor without reading them."""
        ...

    async def consumer_position(self, name: str) -> int:
        """The consumer's cursor (created at the start of the outbox if new)."""
        ...

    async def advance_consumer(self, name: str, position: int, to: int) -> bool:
        """Compare-and-set of the cursor; False if it was not at `position` (or was never
        read with consumer_position)."""
        ...


class WebhookStore(OutboxReader, Protocol):
    async def create_webhook(self, hook: Webhook) -> Webhook: ...
    async def get_webhook(self, hook_id: int) -> Webhook | None: ...
    async def list_webhooks(self) -> list[Webhook]: ...
    async def webhook_page(self, limit: int, offset: int) -> Page:
        """Webhooks by id."""
        ...

    async def update_webhook(self, hook: Webhook) -> Webhook | None: ...
    async def delete_webhook(self, hook_id: int) -> bool: ...
    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Insert pending deliveries (ids assigned by the database) in one transaction."""
        ...

    async def queue_event_deliveries(
        self, consumer: str, position: int, to: int, deliveries: Sequence[Delivery]
    ) -> bool:
        """In one transaction: move `consumer`'s cursor from `position` to `to` and insert
        the deliveries made from those events (one per event and webhook, ever). False,
        and nothing written, if the cursor was not at `position`."""
        ...

    async def get_delivery(self, delivery_id: int) -> Delivery | None: ...
    async def claim_deliveries(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        """Due pending deliveries, each claimed for `owner` until now + lease (not due
        for anyone else meanwhile); the longest waiting first."""
        ...

    async def finish_delivery(self, delivery: Delivery, owner: str) -> bool:
        """Store an attempt's outcome and end the claim; False if `owner` lost it."""
        ...

    async def release_deliveries(
        self, owner: str, delivery_ids: Sequence[int] | None = None
    ) -> None:
        """End `owner`'s claims on these deliveries (None: on all) without an outcome."""
        ...

    async def update_delivery(self, delivery: Delivery) -> None: ...
    async def list_deliveries(
        self, hook_id: int, status: str | None, limit: int, offset: int
    ) -> Page: ...


class UserStore(Protocol):
    """Dashboard users and their sessions (API-side transactions)."""

    async def create_user(self, user: User) -> User:
        """Assigns the id. Raise KeyError if the name exists (ignoring case)."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...
    async def find_user(self, name: str) -> User | None:
        """By name, ignoring case."""
        ...

    async def list_users(self) -> list[User]:
        """By id."""
        ...

    async def update_user(self, user: User) -> User | None:
        """Store role, password hash, disabled, failed attempts and lock (by id). Raise
        KeyError if a rename collides; None if the user is unknown."""
        ...

    async def delete_user(self, user_id: int) -> bool:
        """The user and their sessions."""
        ...

    async def count_admins(self) -> int:
        """Users with the admin role that are not disabled."""
        ...

    async def record_login_failure(
        self, user_id: int, policy: LockoutPolicy, now: datetime
    ) -> User | None:
        """One more failed sign-in, applied atomically (`domain.users.after_failure`)."""
        ...

    async def record_login_success(self, user_id: int, now: datetime) -> None:
        """Reset the failure count and lock; last_login_at = now."""
        ...

    async def create_session(self, session: UserSession) -> None: ...
    async def find_session(self, token_hash: str) -> tuple[UserSession, User] | None:
        """The session and its user (one round trip: it runs on every cookie request)."""
        ...

    async def touch_session(self, token_hash: str, at: datetime) -> None: ...
    async def delete_session(self, token_hash: str) -> bool: ...
    async def delete_user_sessions(self, user_id: int, keep: str | None = None) -> int:
        """Every session of the user except the one whose hash is `keep`."""
        ...

    async def prune_sessions(self, now: datetime) -> int:
        """Delete sessions expired before `now`."""
        ...
