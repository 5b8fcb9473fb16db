"""Binding a phone to a WeChat openid: the proof (an order filed with that phone), the same
answer for an unknown order and a wrong phone, the limit on failed attempts per openid and per
phone, and 查询工单 then listing the orders made by phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.gateway.test_wechat_api import FakeBot, make_client, post
from wechat import binding, messages
from wechat.simulate import message_xml
from workorders import intake
from workorders.store import Draft

PHONE = "13812345678"
_clicks: list[int] = []


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as running:
        running.app.state.rasa = FakeBot()  # type: ignore[attr-defined]
        yield running


def _by_phone(client: TestClient, text: str, phone: str = PHONE) -> str:
    """An order a caller made on the phone (no WeChat conversation)."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    draft = Draft(channel="voice", request_text=text, kind="投诉", citizen_phone=phone,
                  conversation_id="voice:call-1")  # fmt: skip
    return intake.submit(settings.database_url, draft, settings=settings, auto_route=False).number


def _say(client: TestClient, openid: str, text: str) -> str:
    reply = post(client, message_xml(openid, Content=text))
    assert reply.status == 200 and reply.text is not None
    return reply.text


def _orders(client: TestClient, openid: str) -> str:
    """The menu click (each its own CreateTime: the same second would be WeChat's retry)."""
    _clicks.append(1)
    reply = post(client, message_xml(openid, "event", Event="CLICK", EventKey="查询工单",
                                     create_time=1_700_000_000 + len(_clicks)))  # fmt: skip
    assert reply.text is not None
    return reply.text


def test_request_wording() -> None:
    assert binding.request_of("绑定手机 20261122-0001 138 1234 5678") == binding.Request(
        False, "20261122-0001", "138 1234 5678"
    )
    assert binding.request_of("绑定 202611220001，13812345678") == binding.Request(
        False, "20261122-0001", "13812345678"
    )
    assert binding.request_of("解除绑定") == binding.Request(True)
    assert binding.request_of("怎么绑定银行卡") is None and binding.request_of("你好") is None
    assert binding.request_of("绑定社保卡怎么办") is None  # the bot's question, not a binding
    assert binding.request_of("绑定手机号") == binding.Request(False, None, None)


def test_a_bound_phone_shows_its_phone_orders_under_query_orders(client: TestClient) -> None:
    number = _by_phone(client, "电话反映：幸福路路灯坏了一个月")
    assert _orders(client, "o-bind") == messages.NO_ORDERS
    assert _say(client, "o-bind", "绑定手机") == messages.BIND_HOW
    said = _say(client, "o-bind", f"绑定手机 {number} {PHONE}")
    assert said.startswith("已绑定手机138****5678")
    listed = _orders(client, "o-bind")
    assert number in listed and listed.startswith("您的工单")
    assert number not in _orders(client, "o-stranger")  # another openid sees nothing
    assert _say(client, "o-bind", "解除绑定") == messages.UNBOUND
    assert _orders(client, "o-bind") == messages.NO_ORDERS
    assert bot_turns(client) == 0  # the channel answered all of it, not the bot


def bot_turns(client: TestClient) -> int:
    return len(client.app.state.rasa.turns)  # type: ignore[attr-defined]


def test_a_wrong_phone_or_order_binds_nothing_and_guessing_is_limited(client: TestClient) -> None:
    number = _by_phone(client, "电话反映：小区门口井盖丢了")
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    wrong = _say(client, "o-guess", f"绑定手机 {number} 13900000000")
    unknown = _say(client, "o-guess", f"绑定手机 20200101-9999 {PHONE}")
    assert wrong == unknown == messages.BIND_REPLIES["no_match"]  # nothing told apart
    for n in range(4):  # with the one above, five failures for this phone in 24 h
        _say(client, f"o-other-{n}", f"绑定手机 2020010{n + 1}-0001 {PHONE}")
    assert (
        _say(client, "o-owner", f"绑定手机 {number} {PHONE}") == messages.BIND_REPLIES["too_many"]
    )  # even the right proof waits: the phone is being guessed at
    assert binding.phones_of(url, "o-owner") == [] and binding.phones_of(url, "o-guess") == []
    for n in range(5):  # an openid's own failures stop it too, whatever the phone
        binding.bind(url, "o-walker", f"20200201-000{n}", f"1390000000{n}")
    assert binding.bind(url, "o-walker", number, PHONE) == "too_many"
