"""`hotline retention run` anonymises old conversations (idempotent); `hotline backup` and
`hotline restore` round-trip the database on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hotline import db
from hotline import settings as settings_module
from hotline.cli import app
from hotline.conversations import ConversationTurn, Turn, record_turn, turns_of
from hotline.db import session_scope

PHONE, ID_CARD = "13912345678", "110105199001011234"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "var"))
    settings_module.get_settings.cache_clear()
    yield CliRunner()
    settings_module.get_settings.cache_clear()


def use(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    settings_module.get_settings.cache_clear()
    db.upgrade(url)


def turn(url: str, sender: str, text: str, days_ago: float, channel: str = "wechat") -> None:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    record_turn(url, Turn(
        channel=channel, sender=sender, user_text=text, received_at=at, replied_at=at,
        bot_replies=[{"text": f"您的电话是{PHONE}吗？", "buttons": []}],
        metadata={"openid": sender, "caller_number": PHONE, "triage": {"kind": "order_draft"}},
    ))  # fmt: skip


def test_retention_anonymises_old_conversations_once(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    use(monkeypatch, sqlite_url)
    turn(sqlite_url, "o-old", f"我的身份证{ID_CARD}，电话{PHONE}", days_ago=40)
    turn(sqlite_url, "o-old", "路灯坏了，工单20261201-0001", days_ago=39)
    turn(sqlite_url, "o-new", f"电话{PHONE}", days_ago=1)
    first = cli.invoke(app, ["retention", "run", "--days", "30"])
    assert first.exit_code == 0, first.output
    assert "2 conversation turns" in first.output
    assert turns_of(sqlite_url, "wechat:o-old") == []  # the sender id is gone
    (recent,) = turns_of(sqlite_url, "wechat:o-new")  # within the period: untouched
    assert recent.user_text == f"电话{PHONE}"
    with session_scope(sqlite_url) as s:
        old = [t for t in s.scalars(select(ConversationTurn)) if t.sender != "o-new"]
    assert len(old) == 2 and len({t.conversation_id for t in old}) == 1  # still one conversation
    assert old[0].sender.startswith("anon-") and "o-old" not in old[0].conversation_id
    assert old[0].user_text == "我的身份证110105********1234，电话139****5678"
    assert old[1].user_text == "路灯坏了，工单20261201-0001"
    assert old[0].bot_replies[0]["text"] == "您的电话是139****5678吗？"
    assert old[0].metadata_ == {"triage": {"kind": "order_draft"}}  # the reports' part stays
    again = cli.invoke(app, ["retention", "run", "--days", "30"])
    assert again.exit_code == 0 and "0 conversation turns" in again.output
    with session_scope(sqlite_url) as s:
        assert [t.sender for t in s.scalars(select(ConversationTurn))
                if t.sender != "o-new"] == [t.sender for t in old]  # fmt: skip


def round_trip(cli: CliRunner, url: str, tmp_path: Path) -> None:
    turn(url, "o-kept", "备份之前的话", days_ago=1)
    out = tmp_path / "backups" / "hotline.backup"
    made = cli.invoke(app, ["backup", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert out.stat().st_size > 0
    turn(url, "o-lost", "备份之后的话", days_ago=0)
    restored = cli.invoke(app, ["restore", str(out)])
    assert restored.exit_code == 0, restored.output
    db.engine_for.cache_clear()
    assert [t.user_text for t in turns_of(url, "wechat:o-kept")] == ["备份之前的话"]
    assert turns_of(url, "wechat:o-lost") == []
    assert db.current_revision(url) == db.head_revision()


def test_backup_and_restore_sqlite(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path
) -> None:
    use(monkeypatch, sqlite_url)
    round_trip(cli, sqlite_url, tmp_path)
    junk = tmp_path / "junk.backup"
    junk.write_text("not a database")
    refused = cli.invoke(app, ["restore", str(junk)])
    assert refused.exit_code == 2 and "error" in refused.output
    assert [t.user_text for t in turns_of(sqlite_url, "wechat:o-kept")] == ["备份之前的话"]


def test_backup_and_restore_postgresql(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, postgres_url: str, tmp_path: Path
) -> None:
    use(monkeypatch, postgres_url)
    round_trip(cli, postgres_url, tmp_path)
