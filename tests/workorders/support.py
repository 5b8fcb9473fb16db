"""Shared constants and helpers of the work-order tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workorders import store
from workorders.states import Actor

TZ = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-23 09:00 local: a plain working morning.
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

CENTRE = Actor.centre("1001")
UNIT = "城东区人民政府"  # where a 城市管理 order in 城东区 goes by default
DEPT = Actor.of_department(UNIT, "王工")
OTHER_DEPT = Actor.of_department("城西区人民政府", "李工")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def draft(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channel": "wechat",
        "request_text": "小区门口每天晚上有人占道经营烧烤，油烟和噪音很大，希望管一管。",
        "kind": "投诉",
        "citizen_name": "张三",
        "citizen_phone": "13812345678",
        "district": "城东区",
        "address": "城东区幸福路12号",
    }
    base.update(over)
    return base


def new_order(url: str, now: datetime = T0, **over: Any) -> str:
    return store.create(url, draft(**over), now=now).number


def dispatched(url: str, now: datetime = T0, **over: Any) -> str:
    number = new_order(url, now, **over)
    store.transition(url, number, "派单", CENTRE, now=now, category="城市管理")
    return number
