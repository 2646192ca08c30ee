"""MemoryStore: an in-process fake of every store port (`Store`, `TransactionStore`,
`AuthStore`, `WebhookStore`, `UserStore`) for unit tests, one part per aggregate like the SQL store
(adapters/db/store.py). tests/contract runs the same behavioural tests against it, SQLite
and PostgreSQL, so that it cannot drift from the real rules."""

from __future__ import annotations

from ampyre.adapters.memory.authz import MemoryAuth
from ampyre.adapters.memory.transactions import MemoryTransactions
from ampyre.adapters.memory.users import MemoryUsers
from ampyre.adapters.memory.webhooks import MemoryWebhooks
from ampyre.services.ports import AuthStore, Store, TransactionStore, UserStore, WebhookStore

__all__ = ["MemoryStore"]


class MemoryStore(MemoryAuth, MemoryTransactions, MemoryWebhooks, MemoryUsers):
    """See adapters/memory/stations.py for the outage knobs (`fail_writes`, ...)."""


def _conforms(
    store: MemoryStore,
) -> tuple[Store, TransactionStore, AuthStore, WebhookStore, UserStore]:
    return store, store, store, store, store  # mypy proves MemoryStore implements the ports
