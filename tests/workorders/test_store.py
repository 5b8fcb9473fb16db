"""The store on SQLite and on PostgreSQL: create, validation, idempotency, reading, listing,
masking, and the append-only timeline."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hotline import db
from hotline.db import Base, session_scope
from tests.workorders.support import CENTRE, DEPT, T0, UNIT, dispatched, draft, local, new_order
from workorders import store
from workorders.model import WorkOrder, WorkOrderCounter, mask_name, mask_phone, mask_text
from workorders.store import (
    IdempotencyConflict,
    InvalidField,
    OrderFilter,
    OrderNotFound,
)


def test_create_stores_order_event_and_reply_clock(url: str) -> None:
    order = store.create(url, draft(conversation_id="wechat:oAbc123456"), now=T0)
    assert order.number == "20261123-0001"
    assert (order.status, order.kind, order.channel) == ("待派单", "投诉", "wechat")
    assert order.summary.startswith("小区门口每天晚上有人占道经营烧烤")
    assert order.reply_due == local(2026, 12, 7, 9)  # 投诉: 10 working days
    assert order.created_at == T0
    # committed before returning: a fresh session sees the order and its first event
    again = store.get(url, order.number)
    assert again.citizen_phone == "13812345678" and again.conversation_id == "wechat:oAbc123456"
    (event,) = store.timeline(url, order.number)
    assert (event.seq, event.action, event.actor, event.to_status) == (
        1,
        "受理",
        "市民:wechat",
        "待派单",
    )
    assert store.create(url, draft(), now=T0).number == "20261123-0002"
    next_day = store.create(url, draft(), now=local(2026, 11, 24, 0, 5))
    assert next_day.number == "20261124-0001"  # the local date, not UTC's (still 11-23 there)


def test_operator_created_orders_name_the_operator(url: str) -> None:
    order = store.create(url, draft(channel="operator"), now=T0, actor=CENTRE)
    assert store.timeline(url, order.number)[0].actor == "中心:1001"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"citizen_phone": "12345"}, "citizen_phone"),
        ({"citizen_phone": "12812345678"}, "citizen_phone"),  # no 12x mobile prefix
        ({"citizen_phone": "1381234567"}, "citizen_phone"),  # 10 digits
        ({"citizen_phone": "138123456789"}, "citizen_phone"),  # 12 digits
        ({"citizen_phone": "88123456"}, "citizen_phone"),  # landline without area code
        ({"citizen_phone": "0571-08123456"}, "citizen_phone"),  # local number starts with 0
        ({"citizen_phone": "010-12345678"}, "citizen_phone"),  # …or with 1 (service codes)
        ({"citizen_phone": "tel:13812345678"}, "citizen_phone"),
        ({"category": "外星人"}, "category"),
        ({"department": "市魔法部"}, "department"),
        ({"district": "火星区"}, "district"),
        ({"kind": "闲聊"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"priority": "asap"}, "priority"),
        ({"request_text": "   "}, "request_text"),
        ({"request_text": "长" * 2001}, "request_text"),
        ({"request_text": "含\x00字符"}, "request_text"),
        ({"summary": "长" * 101}, "summary"),
        ({"citizen_name": "名" * 41}, "citizen_name"),
        ({"address": "址" * 201}, "address"),
        ({"wechat_openid": "not an openid!"}, "wechat_openid"),
        ({"surprise": 1}, "surprise"),
        ({"kind": 3}, "kind"),
    ],
)
def test_invalid_drafts_store_nothing(url: str, over: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as err:
        store.create(url, draft(**over), now=T0)
    assert err.value.field == field
    assert isinstance(err.value, ValueError) and field in str(err.value)
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(WorkOrder)) == 0
        assert s.scalar(select(func.count()).select_from(WorkOrderCounter)) == 0


def test_landline_is_accepted_and_masked(sqlite_db: str) -> None:
    order = store.create(sqlite_db, draft(citizen_phone="0571 8812 3456"), now=T0)
    assert order.citizen_phone == "0571-88123456"
    assert order.to_dict()["citizen_phone"] == "0571-****3456"


def test_idempotent_retry_returns_the_same_order(url: str) -> None:
    first = store.create(url, draft(), idempotency_key="wechat:msg-1", now=T0)
    retry = store.create(url, draft(), idempotency_key="wechat:msg-1", now=T0 + timedelta(1))
    assert retry.number == first.number
    assert store.count_orders(url) == 1
    assert len(store.timeline(url, first.number)) == 1
    with pytest.raises(IdempotencyConflict):
        store.create(url, draft(request_text="另一件事"), idempotency_key="wechat:msg-1", now=T0)
    other = store.create(url, draft(), idempotency_key="wechat:msg-2", now=T0)
    assert other.number == "20261123-0002"  # the refused conflict took no number
    with pytest.raises(InvalidField):
        store.create(url, draft(), idempotency_key="k" * 129, now=T0)


def test_get_accepts_numbers_as_citizens_type_them(url: str) -> None:
    number = new_order(url)
    for typed in (
        number,
        "202611230001",
        "20261123 0001",
        "２０２６１１２３－０００１",
        "20261123-1",
    ):
        assert store.get(url, typed).number == number
    for bad in ("20261123-0002", "20261332-0001", "abc", ""):
        with pytest.raises(OrderNotFound):
            store.get(url, bad)
    with pytest.raises(OrderNotFound):
        store.timeline(url, "20261123-0099")


def test_masking_in_repr_dict_and_logs(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="workorders")
    order = store.create(url, draft(wechat_openid="oAbcdefghijk123"), now=T0)
    assert "13812345678" not in repr(order) and "张三" not in repr(order)
    assert "138****5678" in repr(order) and "张*" in repr(order)
    view = order.to_dict()
    assert (view["citizen_phone"], view["citizen_name"], view["wechat_openid"]) == (
        "138****5678",
        "张*",
        "oAbc***",
    )
    assert order.to_dict(reveal=True)["citizen_phone"] == "13812345678"
    assert "13812345678" not in caplog.text and "张三" not in caplog.text
    assert order.number in caplog.text


def test_mask_helpers() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("010-12345678") == "010-****5678"
    assert mask_phone(None) == ""
    assert (mask_name("张三"), mask_name("欧阳小明"), mask_name("张"), mask_name("")) == (
        "张*",
        "欧***",
        "*",
        "",
    )
    assert mask_text("我的电话13812345678，订单号20261123-0001") == (
        "我的电话138****5678，订单号20261123-0001"
    )


def test_events_are_append_only_in_the_database(url: str) -> None:
    number = new_order(url)
    engine = db.engine_for(url)
    for sql in ("UPDATE work_order_events SET note = 'x'", "DELETE FROM work_order_events"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert len(store.timeline(url, number)) == 1


def test_list_filters_and_paging(url: str) -> None:
    a = dispatched(url, citizen_phone="13900001111")  # 城东区, 已派单 at T0
    b = new_order(url, now=T0 + timedelta(hours=1), kind="咨询", request_text="公积金怎么提取")
    c = new_order(url, now=local(2026, 11, 25, 10), district="城西区", request_text="路灯不亮")

    def numbers(limit: int = 50, offset: int = 0, **fields: Any) -> list[str]:
        where = OrderFilter(**fields)
        return [o.number for o in store.list_orders(url, where, limit=limit, offset=offset)]

    assert numbers() == [c, b, a]  # newest first
    assert numbers(status="待派单") == [c, b]
    assert numbers(status=["已派单", "已签收"]) == [a]
    assert numbers(department=UNIT) == [a]
    assert numbers(text="公积金") == [b]
    assert numbers(text="50%_") == []  # LIKE wildcards are escaped
    assert numbers(text=a) == [a]  # by number too
    assert numbers(phone="139 0000 1111") == [a]
    assert numbers(district="城西区") == [c]
    assert numbers(created_from=date(2026, 11, 24)) == [c]
    assert numbers(created_to=date(2026, 11, 23)) == [b, a]  # the whole local day
    assert numbers(created_from=T0 + timedelta(minutes=30), created_to=local(2026, 11, 25)) == [b]
    assert numbers(limit=2) == [c, b] and numbers(limit=2, offset=2) == [a]
    pending = OrderFilter(status="待派单")
    assert store.count_orders(url, pending) == len(store.list_orders(url, pending)) == 2
    assert store.count_orders(url, status="待派单") == 2  # the filter's fields by keyword
    # warnings at injected instants: a's sign-for clock (due 15:00) is the first to run out
    assert numbers(warning="yellow", as_of=local(2026, 11, 23, 11)) == [a]
    assert numbers(warning="red", as_of=local(2026, 11, 23, 15)) == [a]
    assert numbers(warning=["orange", "red"], as_of=local(2026, 11, 23, 14)) == []
    assert numbers(warning="none", as_of=local(2026, 11, 23, 15)) == [c, b]
    store.transition(url, a, "签收", DEPT, now=local(2026, 11, 23, 15, 30))
    assert numbers(warning="red", as_of=local(2026, 11, 23, 16)) == []  # signed: clock stopped
    assert numbers(warning="red", as_of=local(2026, 12, 31, 9)) == [c, b, a]  # reply clocks
    bad_filters: list[dict[str, Any]] = [
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"status": "发呆"},
        {"warning": "purple"},
    ]
    for bad in bad_filters:
        with pytest.raises(InvalidField):
            store.list_orders(url, **bad)


def test_warning_in_the_dict_view(sqlite_db: str) -> None:
    order = store.get(sqlite_db, dispatched(sqlite_db))
    assert order.to_dict(now=local(2026, 11, 23, 14, 30))["warning"] == "orange"
    assert "warning" not in order.to_dict()


def test_repeat_links(sqlite_db: str) -> None:
    a, b = new_order(sqlite_db), new_order(sqlite_db)
    assert store.link(sqlite_db, b, a, CENTRE, note="同一烧烤摊", now=T0) is True
    assert store.link(sqlite_db, b, a, CENTRE, now=T0) is False  # once only
    assert store.related(sqlite_db, b) == [{"number": a, "kind": "repeat", "direction": "to"}]
    assert store.timeline(sqlite_db, b)[-1].action == "关联"
    with pytest.raises(InvalidField):
        store.link(sqlite_db, a, a, CENTRE)


def test_models_match_the_migration(url: str) -> None:
    """The ORM classes and migration 0003 describe the same tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import speech.outcomes  # noqa: F401  call_outcomes has a work_order column: its model too
    import workorders.attachments  # noqa: F401  files of an order's steps (migration 0010)

    with db.engine_for(url).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diffs if "work_order" in repr(d)]
    assert ours == []
