"""A migrated database holding the hand-counted month of tests/reports/fixture.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline import db
from tests.conftest import fresh_postgres
from tests.reports import fixture


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def month_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'hotline.db'}"
        db.upgrade(url)
        yield url, fixture.build(url)
        return
    with fresh_postgres() as url:
        db.upgrade(url)
        yield url, fixture.build(url)
