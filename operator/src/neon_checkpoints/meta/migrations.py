"""Apply the schema migrations: each in its own transaction, recorded in `schema_migrations`.

Concurrent start-ups (several operator replicas) serialize on a session advisory lock, so a migration
is applied exactly once and a second run is a no-op.
"""

from __future__ import annotations

import logging

from psycopg import AsyncConnection

from neon_checkpoints.meta.schema import MIGRATIONS, Migration

logger = logging.getLogger(__name__)

# Advisory-lock key (a fixed 64-bit number) reserved for schema migrations of this operator.
MIGRATION_LOCK_KEY = 0x6E636B70_00000001

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


async def apply_migrations(
    conn: AsyncConnection[object], migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Apply the pending migrations; return the versions applied by this call."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migration versions must be unique and increasing")
    await conn.set_autocommit(True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        await conn.execute(_CREATE_LEDGER)
        applied: list[int] = []
        for migration in migrations:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                )
                if await cur.fetchone() is not None:
                    continue
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            logger.info("meta database: applied migration %d (%s)", migration.version, migration.name)
            applied.append(migration.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
