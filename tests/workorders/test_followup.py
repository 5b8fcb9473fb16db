"""回访 records: which channel, the citizen's rating (不满意 reopens to the same unit, counted),
the operators' call list, and 未回访 for orders nobody rated in time."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline import db
from hotline.settings import Settings
from tests.workorders.support import CENTRE, DEPT, T0, UNIT, dispatched
from workorders import followup, store
from workorders.states import IllegalTransition


def closed(url: str, **over: object) -> str:
    number = dispatched(url, **over)
    store.transition(url, number, "签收", DEPT, now=T0)
    store.transition(url, number, "反馈", DEPT, "已处理", now=T0 + timedelta(hours=1))
    store.transition(url, number, "办结", CENTRE, "已答复市民", now=T0 + timedelta(hours=2))
    return number


def test_unsatisfied_reopens_to_the_same_unit_and_is_counted(url: str) -> None:
    number = closed(url, channel="web", conversation_id="web:abc")
    assert followup.awaiting(url, "web:abc").number == number  # type: ignore[union-attr]
    order = followup.rate(url, number, "不满意", "还是有油烟", "web", now=T0 + timedelta(hours=3))
    assert (order.status, order.department, order.redo_count) == ("已派单", UNIT, 1)
    assert order.sign_due is not None  # the unit must sign for the reopened order again
    assert followup.awaiting(url, "web:abc") is None
    with pytest.raises(IllegalTransition):  # rated once
        followup.rate(url, number, "满意", None, "web")


def test_satisfied_keeps_it_closed(url: str) -> None:
    number = closed(url)
    order = followup.rate(url, number, "基本满意", None, "wechat", now=T0 + timedelta(hours=3))
    assert (order.status, order.satisfaction, order.redo_count) == ("已回访", "基本满意", 0)


def test_unrated_orders_close_as_not_visited_after_the_time(url: str) -> None:
    number = closed(url)
    later = T0 + timedelta(hours=2)
    assert followup.expire(url, timedelta(hours=72), now=later + timedelta(hours=71)) == []
    assert followup.expire(url, timedelta(hours=72), now=later + timedelta(hours=73)) == [number]
    order = store.get(url, number)
    assert (order.status, order.satisfaction) == ("已回访", "未回访")
    assert store.timeline(url, number)[-1].actor == "系统:回访"


def test_call_list_has_phone_citizens_and_missed_messages(url: str) -> None:
    phone = closed(url, channel="voice")
    web = closed(url, channel="web", conversation_id="web:x")
    wechat = closed(url, channel="wechat", wechat_openid="oABCDEF123456")
    followup.record_start(url, phone, followup.PHONE, True)
    followup.record_start(url, web, "web", True)
    followup.record_start(url, wechat, "wechat", False)
    listed = {i.order.number: i.reason for i in followup.call_list(url)}
    assert listed == {phone: "电话回访", wechat: "消息未送达，请电话回访"}


def test_channel_and_reply_parsing() -> None:
    assert followup.parse_rating("不满意，路灯还是不亮") == ("不满意", "路灯还是不亮")
    assert followup.parse_rating(" 基本满意") == ("基本满意", None)
    assert followup.parse_rating("满意") == ("满意", None)
    assert followup.parse_rating("路灯还是不亮") is None


def test_the_running_app_closes_unrated_orders_on_its_scan(tmp_path: Path) -> None:
    # The rule above, wired into the app: its periodic SLA scan also closes unrated orders.
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0.2,
                        followup_hours=72, rasa_url="http://127.0.0.1:9")  # fmt: skip
    db.upgrade(settings.database_url)
    number = closed(settings.database_url)  # closed on 2026-11-23: more than 72 h ago
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 60
        while store.get(settings.database_url, number).satisfaction is None:
            assert time.monotonic() < deadline, "the scan never closed the unrated order"
            time.sleep(0.1)
    order = store.get(settings.database_url, number)
    assert (order.status, order.satisfaction) == ("已回访", "未回访")
