"""Fixtures of the work-order suite: migrated databases, SQLite and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline import db
from tests.conftest import fresh_postgres
from workorders.config import WorkOrderConfig, default_config


@pytest.fixture
def cfg() -> WorkOrderConfig:
    return default_config()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    """A migrated database, once on SQLite and once on the real PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    database_url = request.getfixturevalue(name)
    db.upgrade(database_url)
    return database_url


@pytest.fixture
def sqlite_db(sqlite_url: str) -> str:
    db.upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture(scope="module")
def module_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('wo') / 'hotline.db'}"
    db.upgrade(url)
    return url


@pytest.fixture(scope="module")
def module_postgres() -> Iterator[str]:
    """One PostgreSQL database for a whole module (the transition matrix makes ~100 orders)."""
    with fresh_postgres() as url:
        db.upgrade(url)
        yield url
