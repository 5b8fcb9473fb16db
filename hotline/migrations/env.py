"""Alembic environment: migrations are written by hand and run against the configured URL."""

from alembic import context

from hotline.db import make_engine

url = context.config.get_main_option("sqlalchemy.url")
if url is None:  # hotline.db.alembic_config always sets it; a bare `alembic` run would not
    raise RuntimeError("run migrations through hotline.db.upgrade (sqlalchemy.url is not set)")
engine = make_engine(url)
try:
    with engine.connect() as connection:
        context.configure(connection=connection, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
