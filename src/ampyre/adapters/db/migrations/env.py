"""Alembic environment. Normally driven by `ampyre.adapters.db.migrate`, which hands in
an open connection (`config.attributes["connection"]`). Run through the `alembic` CLI
(for writing new revisions: `alembic -c src/ampyre/adapters/db/alembic.ini ...`) it
connects itself, to `sqlalchemy.url` or else $AMPYRE_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from ampyre.adapters.db.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables when needed.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("AMPYRE_DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or AMPYRE_DATABASE_URL")
    return url


async def _run_own_engine() -> None:
    from ampyre.adapters.db.engine import create_engine

    engine = create_engine(_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        asyncio.run(_run_own_engine())
