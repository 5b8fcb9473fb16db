"""The handoff queue on SQLite and PostgreSQL: enqueue once per conversation, exactly one of two
operators accepts, release/close, places and waits, presence with its idle limit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from handoffs import intake, presence, queue
from handoffs.summary import build
from hotline import db
from hotline.conversations import record_to_citizen, to_citizen_after
from hotline.settings import Settings
from tests.conftest import fresh_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    if request.param == "sqlite":
        db.upgrade(sqlite_url)
        yield sqlite_url
        return
    with fresh_postgres() as pg:
        db.upgrade(pg)
        yield pg


def summary(text: str = "公积金怎么提取", channel: str = "web"):  # type: ignore[no-untyped-def]
    return build(said=[text, "转人工"], reason="asked", channel=channel, wants=text,
                 phone="13812345678", kb_hits=["住房公积金提取"],
                 slots={"wo_where": "幸福路28号", "wo_phone": "13912345678"})  # fmt: skip


def test_a_conversation_is_queued_once(url: str) -> None:
    first, new = queue.enqueue(url, "web:a", "web", "asked", summary().to_dict())
    again, new_again = queue.enqueue(url, "web:a", "web", "asked", summary().to_dict())
    assert new and not new_again and again.id == first.id
    other, _ = queue.enqueue(url, "web:b", "web", "asked", summary().to_dict())
    assert [h.id for h in queue.listed(url, "pending")] == [first.id, other.id]
    assert queue.place(url, other, operators=2, minutes_per_citizen=3.0) == queue.Place(2, 3)


def test_exactly_one_of_two_operators_accepts(url: str) -> None:
    item, _ = queue.enqueue(url, "web:c", "web", "asked", summary().to_dict())

    def take(name: str) -> str:
        try:
            queue.accept(url, item.id, name)
            return "won"
        except queue.Conflict:
            return "409"

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(take, ["op1", "op2"]))
    assert results == ["409", "won"]
    active = queue.get(url, item.id)
    assert active.status == "active" and active.operator in ("op1", "op2")
    assert active.accepted_at is not None and active.accepted_at.tzinfo is not None
    loser = "op2" if active.operator == "op1" else "op1"
    with pytest.raises(queue.Conflict):
        queue.release(url, item.id, loser)  # only the operator who has it gives it back
    done = queue.release(url, item.id, active.operator)
    assert done.status == "closed" and done.outcome == "released"
    with pytest.raises(queue.Conflict):
        queue.close(url, item.id, active.operator)
    # Released, the conversation can ask again and gets a new handoff.
    again, new = queue.enqueue(url, "web:c", "web", "asked", summary().to_dict())
    assert new and again.id != item.id
    with pytest.raises(queue.NotFound):
        queue.accept(url, 9999, "op1")


def test_presence_lapses_after_the_idle_limit(url: str) -> None:
    idle = timedelta(minutes=15)
    assert presence.status_of(url, "op1", idle) == "away"
    presence.set_status(url, "op1", "available")
    assert presence.status_of(url, "op1", idle) == "available"
    assert presence.available_count(url, idle) == 1
    assert presence.available_count(url, timedelta(seconds=-1)) == 0  # lapsed
    presence.set_status(url, "op1", "away")
    assert presence.available_count(url, idle) == 0
    with pytest.raises(ValueError):
        presence.set_status(url, "op1", "busy")


def test_service_hours() -> None:
    noon_utc = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    assert presence.within_hours("08:00-20:00", "Asia/Shanghai", noon_utc)
    assert not presence.within_hours("13:00-20:00", "Asia/Shanghai", noon_utc)
    assert presence.within_hours("00:00-24:00", "Asia/Shanghai", noon_utc)


def test_request_person_needs_an_operator_on_duty(url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(var_dir=tmp_path, database_url=url, handoff_max_wait_minutes=4,
                        handoff_minutes_per_citizen=3)  # fmt: skip
    assert intake.request_person(settings, "web:d", summary()) is None  # nobody available
    presence.set_status(url, "op1", "available")
    queued = intake.request_person(settings, "web:d", summary())
    assert queued is not None and queued.new and queued.place == queue.Place(1, 3)
    # A second citizen would wait 6 minutes, over the 4 allowed: a call-back instead.
    assert intake.request_person(settings, "web:e", summary()) is None
    # The phone's transfer is shown whatever the wait.
    assert intake.request_person(settings, "voice:f", summary(channel="voice"), always=True)


def test_summary_masks_phones_and_reads_in_one_line() -> None:
    s = summary("我的电话13812345678 公积金怎么提取")
    assert "13812345678" not in str(s.to_dict())
    assert s.phone == "138****5678" and s.order_draft["电话"] == "139****5678"
    assert s.line().startswith("网页 · 市民要求转人工 · 诉求：我的电话138****5678")


def test_messages_to_the_citizen_are_read_after_an_id(url: str) -> None:
    first = record_to_citizen(url, "web", "g", "话务员已接入", "op1")
    second = record_to_citizen(url, "web", "g", "您好，我是话务员", "op1")
    assert [t.id for t in to_citizen_after(url, "web:g", 0)] == [first, second]
    assert [t.bot_replies[0]["text"] for t in to_citizen_after(url, "web:g", first)] == [
        "您好，我是话务员"
    ]


def test_the_migration_goes_down_and_up_again(url: str) -> None:
    from alembic import command

    command.downgrade(db.alembic_config(url), "0008")
    assert db.current_revision(url) == "0008"
    db.upgrade(url)
    assert db.current_revision(url) == db.head_revision()  # 0011 went down and up too
    item, _ = queue.enqueue(url, "web:m", "web", "asked", {"wants": ""})
    assert queue.get(url, item.id).status == "pending"


def test_operator_hours_must_be_times_of_day(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pydantic

    assert Settings(var_dir=tmp_path, operator_hours="08:00-20:00").operator_hours
    for wrong in ("8-20", "25:00-26:00", "08:00-24:30"):
        with pytest.raises(pydantic.ValidationError):
            Settings(var_dir=tmp_path, operator_hours=wrong)
