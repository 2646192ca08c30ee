"""SqlStore part: transactions, their events and meter values (the TransactionStore port)."""

from __future__ import annotations

from datetime import datetime

from ampyre.adapters.db.parts import StorePart
from ampyre.adapters.db.writes import Op, Program


class TransactionSql(StorePart):
    def _build_transaction_statements(self) -> None:
        pass

    def _transaction_steps(self, ops: list[Op], now: datetime) -> Program:
        yield from ()
