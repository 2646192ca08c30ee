"""OCPI Sessions of transactions that start before their id token is known (OCPP 2.0.1
E02: the transaction starts at plug-in, TxStartPoint EVConnected; the token comes in a
later TransactionEvent Updated): the session consumer keeps reading such a
transaction's updates until the token is there, then makes the Session if the token is a
roaming one (found by the roaming end-to-end test, tests/integration/
test_ocpi_roaming_e2e.py, where no Session reached the eMSP before)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from test_ocpi_sessions_service import LOCAL_UID, ROAMING_UID, T0, World

EDGES = frozenset({"transaction.started", "transaction.ended"})


async def test_a_roaming_token_given_after_the_start_gets_its_session() -> None:
    w = World()
    tx = w.tx(51, None)
    w.outbox.add("transaction.started", tx)
    await w.drain()
    assert w.links.pushes == [] and w.store.sessions == {}
    assert w.store.asked_types[-1] == EDGES  # nothing else was known yet

    # The driver's card is authorized: an Updated event carries the token.
    w.clock.now = T0 + timedelta(seconds=5)
    authorized = replace(tx, id_token=ROAMING_UID)
    w.transactions.txs[51] = authorized
    w.outbox.add("transaction.updated", authorized)
    await w.drain()
    assert w.store.asked_types[-1] > EDGES  # updates were read
    assert [(p[1], p[2], p[3]) for p in w.links.pushes] == [("sessions", "PUT", "/NL/AMP/51")]
    body = w.links.pushes[0][4]
    assert body["status"] == "ACTIVE" and body["cdr_token"]["uid"] == ROAMING_UID

    w.clock.now = T0 + timedelta(seconds=60)
    ended = w.end(authorized, T0 + timedelta(seconds=50), 4000.0)
    w.outbox.add("transaction.ended", ended)
    await w.drain()
    assert [(p[1], p[2]) for p in w.links.pushes[-2:]] == [("sessions", "PUT"), ("cdrs", "POST")]
    assert w.links.pushes[-2][4]["status"] == "COMPLETED"


async def test_a_local_token_given_after_the_start_stops_the_watch() -> None:
    w = World()
    tx = w.tx(61, None)
    w.outbox.add("transaction.started", tx)
    await w.drain()
    local = replace(tx, id_token=LOCAL_UID)
    w.transactions.txs[61] = local
    w.outbox.add("transaction.updated", local)
    await w.drain()
    assert w.links.pushes == [] and w.store.sessions == {}
    # Known to be local now: its further updates are not read.
    w.outbox.add("transaction.updated", local)
    await w.drain()
    assert w.store.asked_types[-1] == EDGES


async def test_a_transaction_ending_without_a_token_stops_the_watch() -> None:
    w = World()
    tx = w.tx(71, None)
    w.outbox.add("transaction.started", tx)
    await w.drain()
    w.outbox.add("transaction.ended", w.end(tx, T0 + timedelta(seconds=30), 1000.0))
    await w.drain()
    assert w.links.pushes == [] and w.store.sessions == {}
    w.outbox.add("transaction.started", w.tx(72, LOCAL_UID))
    await w.drain()
    assert w.store.asked_types[-1] == EDGES
