"""The same migrations and conversation log on SQLite and on the real PostgreSQL."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from hotline import db
from hotline.conversations import Turn, record_turn, turns_of


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


def test_migrations_create_the_schema_and_are_idempotent(database_url: str) -> None:
    db.upgrade(database_url)
    db.upgrade(database_url)  # a second start changes nothing
    assert db.current_revision(database_url) == db.head_revision() != ""
    columns = {c["name"] for c in inspect(db.engine_for(database_url)).get_columns(
        "conversation_turns")}  # fmt: skip
    assert {"channel", "sender", "user_text", "bot_replies", "intent", "confidence"} <= columns


def test_turns_round_trip_in_order(database_url: str) -> None:
    db.upgrade(database_url)
    t0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    for i, text in enumerate(["你好", "公积金怎么提取"]):
        record_turn(
            database_url,
            Turn(
                channel="wechat",
                sender="openid-1",
                user_text=text,
                received_at=t0 + timedelta(seconds=i),
                replied_at=t0 + timedelta(seconds=i, milliseconds=120),
                bot_replies=[{"text": "您好", "buttons": []}],
                intent="greet",
                confidence=0.98,
                metadata={"source": "test"},
            ),
        )
    turns = turns_of(database_url, "wechat:openid-1")
    assert [t.user_text for t in turns] == ["你好", "公积金怎么提取"]
    assert turns[0].latency_ms == 120
    assert turns[0].bot_replies == [{"text": "您好", "buttons": []}]
    assert turns[0].metadata_ == {"source": "test"}
    assert turns_of(database_url, "web:openid-1") == []  # channels never mix


def test_postgres_urls_use_psycopg3() -> None:
    assert db.normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_commits_are_synced_so_a_confirmed_order_survives_a_power_cut(
    tmp_path: Path,
) -> None:
    engine = db.engine_for(f"sqlite:///{tmp_path / 'h.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
