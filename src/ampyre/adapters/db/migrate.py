"""Apply and inspect the schema migrations shipped in the package (no alembic.ini needed).

Alembic is synchronous; with the async engines it runs inside `connection.run_sync`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ampyre.adapters.db.engine import create_engine, sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def revision_of(connection: Connection) -> str | None:
    """The revision recorded in a database (None if it was never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to `revision` (default: the newest). Idempotent."""
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    await _run(database_url, "upgrade", revision)


async def downgrade(database_url: str, revision: str = "base") -> None:
    """Downgrade to `revision` ("base" removes every table)."""
    await _run(database_url, "downgrade", revision)


async def current_revision(database_url: str) -> str | None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(revision_of)
    finally:
        await engine.dispose()


async def _run(database_url: str, direction: str, revision: str) -> None:
    def step(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        if direction == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(step)
    finally:
        await engine.dispose()
