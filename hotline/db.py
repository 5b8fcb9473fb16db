"""Database engine, sessions and migrations (SQLAlchemy 2 + Alembic), shared by every part."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A request fails fast when PostgreSQL is away (gateway/db_unavailable.py answers 503): a new
# connection gives up after CONNECT_SECONDS, a request waiting for a pooled one after
# POOL_WAIT_SECONDS.
CONNECT_SECONDS = 3
POOL_WAIT_SECONDS = 10
UNACKED_MS = 10_000  # data the server has not acknowledged for this long: connection dead


class Base(DeclarativeBase):
    """Declarative base of every table; the schema itself is owned by the Alembic migrations."""


def table_of(model: type[Base]) -> Table:
    """The Table a model is mapped to, for Core statements (insert ... on conflict, bulk inserts).

    SQLAlchemy types `__table__` as any FromClause; every model here is declared with
    __tablename__, so it is a Table, and this checks it instead of trusting a cast.
    """
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a Table")
    return table


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            # WAL lets readers run beside the writer. FULL syncs the WAL on every commit, so an
            # order whose number was told to a citizen survives a power cut, not only a crash.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,  # a connection that died with a restarted server is replaced
        pool_size=10,
        max_overflow=20,
        pool_timeout=POOL_WAIT_SECONDS,
        connect_args={
            "connect_timeout": CONNECT_SECONDS,
            # A server that vanished without closing (network cut, host down) is noticed
            # within seconds, not after the kernel's two-hour keepalive default.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": UNACKED_MS,
        },
    )


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call on every start."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration shipped with this code."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""


def current_revision(url: str) -> str | None:
    with engine_for(url).connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None
