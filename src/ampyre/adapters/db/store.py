"""SqlStore: the `Store`, `TransactionStore`, `AuthStore`, `WebhookStore` and `UserStore`
ports on SQLAlchemy Core (SQLite via aiosqlite, PostgreSQL via asyncpg), composed of parts:

* `Database` (database.py): engines, short API transactions, schema and health checks;
* `GroupWriter` (writer.py): the OCPP write path (`record_*`), one transaction per batch
  of typed ops, each type planned by the repository that registered it (below);
* `BufferedFlusher` (flusher.py): `touch` and `log_messages`, buffered and written in
  chunks through the writer;
* one repository per aggregate: stations.py, api_tokens.py, audit_log.py, authz.py,
  transactions.py, webhooks.py, users.py (dashboard users and sessions); outbox.py
  (domain events, written by the planners in the commit of their data, read by consumers
  such as the webhook service).

This class wires them and forwards each port method to the repository that owns it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ampyre.adapters.db.api_tokens import ApiTokensSql
from ampyre.adapters.db.audit_log import AuditLogSql
from ampyre.adapters.db.authz import AuthSql
from ampyre.adapters.db.database import Database
from ampyre.adapters.db.flusher import BufferedFlusher, BufferPlanner, Buffers
from ampyre.adapters.db.outbox import OutboxSql
from ampyre.adapters.db.pruning import prune_ended_transactions_data
from ampyre.adapters.db.stations import (
    Boot,
    ConnectionChange,
    StationReports,
    StationsSql,
    StatusReports,
)
from ampyre.adapters.db.transactions import (
    EndTransaction,
    LooseMeterValues,
    TransactionEvents,
    TransactionSql,
)
from ampyre.adapters.db.users import UsersSql
from ampyre.adapters.db.webhooks import WebhookSql
from ampyre.adapters.db.writer import GroupWriter
from ampyre.config import Settings
from ampyre.services.ports import (
    AuthStore,
    Store,
    StoreUnavailable,
    TransactionStore,
    UserStore,
    WebhookStore,
)

log = logging.getLogger(__name__)


class SqlStore:
    """See the module docstring. Construct, `await start()`, use, `await close()`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.db = db = Database(settings)
        self.writer = writer = GroupWriter(db)
        self.stations = StationsSql(db, writer)
        self.api_tokens = ApiTokensSql(db, writer)
        self.audit_log = AuditLogSql(db, writer)
        self.authz = AuthSql(db, writer)
        self.transactions = TransactionSql(db, writer)
        self.webhooks = WebhookSql(db, writer)
        self.outbox = OutboxSql(db)
        self.users = UsersSql(db, writer)
        self.flusher = BufferedFlusher(writer)
        writer.rider = self.flusher.ride  # audit-log rows ride along with every commit
        # The group commit's op kinds; registration order is statement order in every
        # transaction (connections first: auto-registered stations exist before their
        # status rows).
        writer.register(ConnectionChange, self.stations.plan_connections)
        writer.register(Boot, self.stations.plan_boots)
        writer.register(StatusReports, self.stations.plan_status)
        writer.register(StationReports, self.stations.plan_reports)
        writer.register(
            Buffers, BufferPlanner(self.stations.touch_step, self.audit_log.message_step)
        )
        writer.register(EndTransaction, self.transactions.plan_ends)
        writer.register(LooseMeterValues, self.transactions.plan_meter_values)
        writer.register(TransactionEvents, self.transactions.plan_events)
        self._started = False
        self._closed = False
        self._forward()

    def _forward(self) -> None:
        """The ports' methods, bound to the repositories that own them."""
        st, tx, au, wh = self.stations, self.transactions, self.authz, self.webhooks
        # Store: stations
        self.get_station = st.get_station
        self.list_stations = st.list_stations
        self.create_station = st.create_station
        self.update_station = st.update_station
        self.delete_station = st.delete_station
        self.list_connectors = st.list_connectors
        self.list_connectors_of = st.list_connectors_of
        self.list_status_history = st.list_status_history
        self.list_reports = st.list_reports
        self.prune_status_history = st.prune_status_history
        self.prune_transaction_data = functools.partial(prune_ended_transactions_data, self.db.tx)
        self.prune_reports = st.prune_reports
        self.record_boot = st.record_boot
        self.record_status = st.record_status
        self.record_reports = st.record_reports
        self.record_connection = st.record_connection
        self.release_node = st.release_node
        # Store: buffered writes, audit log, API tokens
        self.touch = self.flusher.touch
        self.log_messages = self.flusher.log_messages
        self.list_messages = self.audit_log.list_messages
        self.prune_messages = self.audit_log.prune_messages
        self.create_api_token = self.api_tokens.create_api_token
        self.find_api_token = self.api_tokens.find_api_token
        self.list_api_tokens = self.api_tokens.list_api_tokens
        self.revoke_api_token = self.api_tokens.revoke_api_token
        # TransactionStore
        self.record_transaction_events = tx.record_transaction_events
        self.record_meter_values = tx.record_meter_values
        self.next_id = tx.next_id
        self.get_transaction = tx.get_transaction
        self.find_transaction = tx.find_transaction
        self.list_transactions = tx.list_transactions
        self.list_transaction_events = tx.list_transaction_events
        self.list_transaction_meter_values = tx.list_transaction_meter_values
        self.token_in_use = tx.token_in_use
        self.active_transactions = tx.active_transactions
        self.list_stale_transactions = tx.list_stale_transactions
        self.end_transaction = tx.end_transaction
        # AuthStore
        self.create_id_token = au.create_id_token
        self.get_id_token = au.get_id_token
        self.find_id_token = au.find_id_token
        self.find_id_tokens = au.find_id_tokens
        self.list_id_tokens = au.list_id_tokens
        self.update_id_token = au.update_id_token
        self.delete_id_token = au.delete_id_token
        self.id_tokens_for_station = au.id_tokens_for_station
        self.get_local_list = au.get_local_list
        self.save_local_list = au.save_local_list
        self.create_reservation = au.create_reservation
        self.get_reservation = au.get_reservation
        self.list_reservations = au.list_reservations
        self.update_reservation = au.update_reservation
        self.expire_reservations = au.expire_reservations
        # WebhookStore
        self.create_webhook = wh.create_webhook
        self.get_webhook = wh.get_webhook
        self.list_webhooks = wh.list_webhooks
        self.update_webhook = wh.update_webhook
        self.delete_webhook = wh.delete_webhook
        self.webhook_page = wh.webhook_page
        self.add_deliveries = wh.add_deliveries
        self.queue_event_deliveries = wh.queue_event_deliveries
        self.get_delivery = wh.get_delivery
        self.claim_deliveries = wh.claim_deliveries
        self.finish_delivery = wh.finish_delivery
        self.release_deliveries = wh.release_deliveries
        self.update_delivery = wh.update_delivery
        self.list_deliveries = wh.list_deliveries
        # OutboxReader (domain events are written by the group commit's planners)
        self.events_after = self.outbox.events_after
        self.consumer_position = self.outbox.consumer_position
        self.last_event_id = self.outbox.last_event_id
        self.advance_consumer = self.outbox.advance_consumer
        self.prune_events = self.outbox.prune_events
        # UserStore (dashboard users and sessions)
        us = self.users
        self.create_user = us.create_user
        self.get_user = us.get_user
        self.find_user = us.find_user
        self.list_users = us.list_users
        self.update_user = us.update_user
        self.delete_user = us.delete_user
        self.count_admins = us.count_admins
        self.record_login_failure = us.record_login_failure
        self.record_login_success = us.record_login_success
        self.create_session = us.create_session
        self.find_session = us.find_session
        self.touch_session = us.touch_session
        self.delete_session = us.delete_session
        self.delete_user_sessions = us.delete_user_sessions
        self.prune_sessions = us.prune_sessions

    def on_events(self, wake: Callable[[], None]) -> None:
        """Call `wake` after every commit that appended domain events to the outbox."""
        self.writer.on_events = wake

    # ------------------------------------------------------------------ life cycle

    @property
    def database_url(self) -> str:
        return self.db.url

    @property
    def _engine(self) -> Any:  # tests drop pooled connections through it
        return self.db.engine

    def _tx(self) -> Any:
        """A short transaction (tests inspect rows through it)."""
        tx: Any = self.db.tx()
        return tx

    @property
    def dropped_messages(self) -> int:
        return self.flusher.dropped_messages

    @property
    def committed_batches(self) -> int:
        return self.writer.committed_batches

    @property
    def committed_ops(self) -> int:
        return self.writer.committed_ops

    @property
    def failed_ops(self) -> int:
        return self.writer.failed_ops

    @property
    def engine(self) -> AsyncEngine:
        """For repositories of their own (operator audit, token usage) to share the pool."""
        engine: AsyncEngine = self.db.engine
        return engine

    async def start(self) -> None:
        if self._closed:
            raise StoreUnavailable("store is closed")
        self.writer.ensure_running()
        self.flusher.ensure_running()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.writer.closed = True  # refuses new writes; the writer still drains
        grace = max(self._settings.shutdown_grace, 1.0)
        await self.flusher.stop(grace)
        # The buffers go through the writer: it must still be running for this.
        self.writer.ensure_running()
        try:
            await asyncio.wait_for(self.flusher.flush_buffers(), timeout=grace)
        except TimeoutError:
            log.warning("buffered writes not flushed within %.1fs; dropped", grace)
        await self.writer.stop(grace)
        await self.db.dispose()

    async def check_schema(self) -> None:
        await self.db.check_schema()

    async def ping(self) -> None:
        await self.db.ping()

    async def flush(self) -> None:
        """Write buffered touches and log entries now (tests, shutdown)."""
        await self.flusher.flush_buffers()


def _conforms(
    store: SqlStore,
) -> tuple[Store, TransactionStore, AuthStore, WebhookStore, UserStore]:
    return store, store, store, store, store  # mypy proves SqlStore implements the ports
