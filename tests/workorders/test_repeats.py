"""Repeat detection with the real embedding model on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline import db
from hotline.settings import model_paths
from knowledge.embedding_model import encode_passages, load_model
from workorders import repeats, store
from workorders.states import Actor

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@pytest.fixture(scope="module")
def encode():  # type: ignore[no-untyped-def]
    model = load_model(None, model_paths().models_dir)  # RepeatPolicy is calibrated on e5
    return lambda texts: encode_passages(model, list(texts))


def new(url: str, text: str, at: datetime, **fields: str) -> str:
    draft = {"channel": "web", "request_text": text, "kind": "投诉", **fields}
    return store.create(url, draft, now=at).number


def test_repeats_are_found_and_linked(sqlite_url: str, encode) -> None:  # type: ignore[no-untyped-def]
    url = sqlite_url
    db.upgrade(url)
    here = {"district": "城东区", "address": "城东区幸福路12号"}
    market = {"district": "城东区", "address": "城东区幸福路菜市场"}
    lamp = new(url, "幸福路12号门口的路灯坏了一个星期，晚上很黑", NOW - timedelta(days=3),
               citizen_phone="13800000001", **here)  # fmt: skip
    noise = new(url, "幸福路菜市场早上五点就开始卸货，噪音很大", NOW - timedelta(days=2),
                citizen_phone="13800000002", **market)  # fmt: skip
    old = new(url, "幸福路12号路灯不亮", NOW - timedelta(days=90), citizen_phone="13800000003",
              **here)  # fmt: skip
    store.transition(url, old, "办结", Actor.centre("op"), "已修复", now=NOW - timedelta(days=80))
    again = new(url, "幸福路12号那个路灯还是不亮，晚上走路看不见", NOW,
                citizen_phone="13900000009", **here)  # fmt: skip
    linked = repeats.link_repeats(url, again, encode, now=NOW)
    assert linked == [lamp]  # same place, same problem; not the noise, not the old closed one
    assert noise not in linked and old not in linked
    assert [r["number"] for r in store.related(url, again)] == [lamp]
    assert repeats.link_repeats(url, again, encode, now=NOW) == [lamp]  # idempotent link


def test_same_citizen_rewording_is_a_repeat(sqlite_url: str, encode) -> None:  # type: ignore[no-untyped-def]
    url = sqlite_url
    db.upgrade(url)
    first = new(url, "我家楼上每天半夜装修电钻声吵得没法睡觉", NOW - timedelta(days=1),
                citizen_phone="13812345678")  # fmt: skip
    other = new(url, "我想问问孩子上小学怎么报名", NOW - timedelta(hours=5),
                citizen_phone="13812345678")  # fmt: skip
    second = new(url, "楼上邻居晚上还在用电钻装修，太吵了睡不着", NOW, citizen_phone="13812345678")
    found = [n for n, _ in repeats.find_repeats(url, second, encode)]
    assert found == [first] and other not in found
