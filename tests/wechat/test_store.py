"""The dedupe key and the shared token on both databases: the first delivery of a message wins
even when replicas race for it (threads with their own connections stand in for processes)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from hotline import db
from wechat import store


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    found: str = (
        sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    db.upgrade(found)
    return found


def test_only_the_first_of_racing_deliveries_claims_the_message(url: str) -> None:
    results: list[store.Seen | None] = []
    start = threading.Barrier(6)

    def deliver() -> None:
        start.wait()
        results.append(store.claim(url, "msg:123", "o1"))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 1
    assert [r for r in results if r is not None] == [store.Seen("pending", None)] * 5
    store.settle(url, "msg:123", "replied", "您好")
    assert store.claim(url, "msg:123", "o1") == store.Seen("replied", "您好")
    assert store.forget_before(url, datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert store.claim(url, "msg:123", "o1") is None


def test_the_token_is_stored_once_per_account(url: str) -> None:
    assert store.cached_token(url, "wx1") is None
    store.store_token(url, "wx1", "t1", timedelta(hours=2))
    store.store_token(url, "wx1", "t2", timedelta(hours=2))
    token, expires = store.cached_token(url, "wx1") or ("", datetime.min)
    assert token == "t2" and expires > datetime.now(UTC) + timedelta(minutes=119)
