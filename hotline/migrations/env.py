"""Alembic environment: migrations are written by hand and run against the configured URL.

Every app replica migrates on start. On PostgreSQL they take turns under an advisory lock: two
replicas starting together on an old schema would otherwise both run the same migration (one
failing on a table the other just made, or, in 0013, dropping the index the other is building
as if a failed build had left it); the one that waited then finds the work done.
"""

import time

from alembic import context
from sqlalchemy import text

from hotline.db import make_engine

MIGRATION_LOCK = 0x12345  # the advisory lock's key: any number no other code uses

url = context.config.get_main_option("sqlalchemy.url")
if url is None:  # hotline.db.alembic_config always sets it; a bare `alembic` run would not
    raise RuntimeError("run migrations through hotline.db.upgrade (sqlalchemy.url is not set)")
engine = make_engine(url)
try:
    with engine.connect() as connection:
        locked = connection.dialect.name == "postgresql"
        # Held by the session, across the migrations' own transactions. Tried, not waited for:
        # a waiting statement keeps a snapshot open, and 0013's concurrent index build (run by
        # the holder) waits for every open snapshot, so blocking here would deadlock.
        while (
            locked
            and not connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK}
            ).scalar()
        ):
            connection.commit()
            time.sleep(0.2)
        if locked:
            connection.commit()
        try:
            context.configure(connection=connection, render_as_batch=url.startswith("sqlite"))
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if locked:
                connection.rollback()  # a failed migration leaves its transaction open
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
finally:
    engine.dispose()
