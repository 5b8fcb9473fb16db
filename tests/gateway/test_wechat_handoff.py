"""Operators on WeChat: a WeChat conversation taken by an operator (their messages and the
notices out through the customer-service API, the citizen's messages to the operator instead of
the bot), the waiting citizen told their new place (rate-limited), and replies WeChat refuses
(45015, the 48-hour window) put before an operator instead of being lost. WeChat's side is the
local fake API; Rasa is a fake that counts turns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway import takeover
from gateway.outbound import UNDELIVERED
from handoffs import intake, presence
from handoffs.summary import build
from tests import signin
from tests.gateway.test_wechat_api import FakeBot, make_client, post
from tests.wechat.fake_api import FakeWechat, fake_wechat
from wechat.simulate import message_xml


class PausingBot(FakeBot):
    """The fake bot plus Rasa's pause/resume (the takeover pauses the conversation)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []

    async def append_event(self, sender_id: str, event: str) -> None:
        self.events.append((sender_id, event))


@pytest.fixture
def fake() -> Iterator[FakeWechat]:
    with fake_wechat() as running:
        yield running


def _client(tmp_path: Path, fake: FakeWechat, **extra: Any) -> TestClient:
    client = make_client(tmp_path, fake, **extra)
    return client


def _start(client: TestClient) -> PausingBot:
    bot = PausingBot()
    client.app.state.rasa = bot  # type: ignore[attr-defined]
    return bot


def _url(client: TestClient) -> str:
    return str(client.app.state.settings.database_url)  # type: ignore[attr-defined]


def _operator(client: TestClient) -> dict[str, str]:
    url = _url(client)
    headers = signin.bearer(url, "operator")
    assert client.post("/api/v1/operators/me/status", json={"status": "available"},
                       headers=headers).status_code == 200  # fmt: skip
    return headers


def _ask_person(client: TestClient, openid: str, said: str = "路灯坏了") -> int:
    """What the handoff action does when a WeChat citizen asks for a person."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    summary = build(said=[said, "转人工"], reason="asked", channel="wechat", wants=said)
    queued = intake.request_person(settings, f"wechat:{openid}", summary)
    assert queued is not None
    return queued.handoff.id


def _wait_for(check: Any, seconds: float = 10) -> None:
    """Until `check()` holds (the customer-service send runs after the answer to WeChat)."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_operator_answers_a_wechat_citizen_through_the_customer_service_api(
    tmp_path: Path, fake: FakeWechat
) -> None:
    with _client(tmp_path, fake) as client:
        bot = _start(client)
        op = _operator(client)
        handoff = _ask_person(client, "o-hand")
        waiting = post(client, message_xml("o-hand", Content="在吗"))
        assert waiting.text is not None and "第1位" in waiting.text and bot.turns == []

        assert client.post(f"/api/v1/handoffs/{handoff}/accept", headers=op).status_code == 200
        assert bot.events == [("wechat:o-hand", "pause")]
        sent = client.post(f"/api/v1/handoffs/{handoff}/messages", headers=op,
                           json={"text": "您好，我是话务员，请问路灯在哪条路？"})  # fmt: skip
        assert sent.status_code == 201
        assert fake.texts_to("o-hand") == [
            takeover.ACCEPTED,
            "您好，我是话务员，请问路灯在哪条路？",
        ]

        # The citizen's answer goes to the operator, not the bot, and gets no bot reply.
        said = post(client, message_xml("o-hand", Content="幸福路28号门口那盏"))
        assert said.status == 200 and said.text is None and bot.turns == []
        lines = client.get(f"/api/v1/handoffs/{handoff}", headers=op).json()["transcript"]
        assert {"author": "citizen", "text": "幸福路28号门口那盏"}.items() <= lines[-1].items()

        assert client.post(f"/api/v1/handoffs/{handoff}/close", headers=op).status_code == 200
        closing = fake.texts_to("o-hand")[-1]
        assert closing.startswith(takeover.CLOSED) and "1. 满意" in closing
        assert bot.events[-1] == ("wechat:o-hand", "resume")
        assert post(client, message_xml("o-hand", Content="你好")).text == (
            "收到：你好\n\n请确认\n1. 确认提交\n2. 修改\n（回复数字选择）"
        )  # the bot answers again


def test_a_waiting_wechat_citizen_is_told_when_their_place_changes(
    tmp_path: Path, fake: FakeWechat
) -> None:
    with _client(tmp_path, fake, wechat_queue_notice_seconds=0) as client:
        _start(client)
        op = _operator(client)
        first, _second = _ask_person(client, "o-first"), _ask_person(client, "o-second")
        assert fake.texts_to("o-second") == []  # told its place in the bot's reply, not again
        client.post(f"/api/v1/handoffs/{first}/accept", headers=op)
        _wait_for(lambda: fake.texts_to("o-second"))
        [told] = fake.texts_to("o-second")
        assert "排在第1位" in told and "预计等待约" in told
        client.post(f"/api/v1/handoffs/{first}/close", headers=op)  # no place changed
        assert fake.texts_to("o-second") == [told]


def test_place_notices_are_rate_limited(tmp_path: Path, fake: FakeWechat) -> None:
    with _client(tmp_path, fake, wechat_queue_notice_seconds=3600) as client:
        _start(client)
        op = _operator(client)
        ahead = [_ask_person(client, f"o-ahead-{n}") for n in range(2)]
        _ask_person(client, "o-patient")
        for handoff in ahead:  # two moves within the hour after being told the place
            client.post(f"/api/v1/handoffs/{handoff}/accept", headers=op)
        assert fake.texts_to("o-patient") == []


def test_a_slow_reply_refused_after_48_hours_goes_to_the_operator_queue(
    tmp_path: Path, fake: FakeWechat
) -> None:
    with _client(tmp_path, fake) as client:
        bot = _start(client)
        op = _operator(client)
        bot.delay = 4.5  # past HOTLINE_WECHAT_REPLY_SECONDS: the reply is sent later
        fake.refuse["o-late"] = 45015
        assert post(client, message_xml("o-late", Content="我要投诉噪音")).raw == "success"

        def queued() -> list[dict[str, Any]]:
            items = client.get("/api/v1/handoffs?status=pending", headers=op).json()["items"]
            return [h for h in items if h["conversation_id"] == "wechat:o-late"]

        _wait_for(queued)
        [item] = queued()
        assert item["reason"] == "undelivered" and item["summary"]["wants"] == "我要投诉噪音"
        assert item["summary"]["undelivered"] == [
            "收到：我要投诉噪音\n\n请确认\n1. 确认提交\n2. 修改\n（回复数字选择）"]  # fmt: skip
        assert "未送达：收到：我要投诉噪音" in item["summary"]["line"]
        assert fake.texts_to("o-late") == []


def test_an_operator_message_wechat_refuses_is_shown_to_the_operator(
    tmp_path: Path, fake: FakeWechat
) -> None:
    with _client(tmp_path, fake) as client:
        _start(client)
        op = _operator(client)
        handoff = _ask_person(client, "o-gone")
        client.post(f"/api/v1/handoffs/{handoff}/accept", headers=op)
        fake.refuse["o-gone"] = 45015
        client.post(f"/api/v1/handoffs/{handoff}/messages", headers=op,
                    json={"text": "请留个电话13812345678方便回访"})  # fmt: skip
        shown = client.get(f"/api/v1/handoffs/{handoff}", headers=op).json()
        notice = shown["transcript"][-1]
        assert notice["author"] == "notice" and notice["text"].startswith(UNDELIVERED)
        assert "13812345678" not in notice["text"]  # masked like every summary
        assert shown["handoff"]["summary"]["undelivered"] == [notice["text"][len(UNDELIVERED) :]]


def test_presence_is_what_queues_a_wechat_citizen(tmp_path: Path, fake: FakeWechat) -> None:
    """No operator available: the request is refused (the bot offers a call-back instead)."""
    with _client(tmp_path, fake) as client:
        settings = client.app.state.settings  # type: ignore[attr-defined]
        name = signin.add(_url(client), "operator")
        presence.set_status(_url(client), name, "away")
        summary = build(said=["转人工"], reason="asked", channel="wechat")
        assert intake.request_person(settings, "wechat:o-none", summary) is None
