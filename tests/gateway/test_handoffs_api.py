"""The handoff API end to end in the app (a fake Rasa records what the app asks of it): the
queue, one winner of two accepts, the bot paused and resumed, the operator's messages reaching
the citizen's feed (polling and server-sent events), the citizen's messages reaching the
operator instead of the bot, presence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.rasa_client import BotTurn
from handoffs import queue
from handoffs.summary import build
from hotline.settings import Settings
from tests import signin
from workorders import store


class FakeRasa:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.turns: list[tuple[str, str]] = []

    async def turn(self, sender_id: str, text: str, channel: str, metadata: dict[str, Any],
                   message_id: str | None = None) -> BotTurn:  # fmt: skip
        self.turns.append((sender_id, text))
        return BotTurn(messages=[{"text": "机器人回答", "buttons": []}], intent="consult")

    async def append_event(self, sender_id: str, event: str) -> None:
        self.events.append((sender_id, event))

    async def close(self) -> None:
        pass


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, FakeRasa, str]]:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0)
    with TestClient(create_app(settings)) as client:
        fake = FakeRasa()
        client.app.state.rasa = fake  # type: ignore[attr-defined]
        yield client, fake, settings.database_url


def test_an_operator_takes_a_chat_answers_and_gives_it_back(
    app: tuple[TestClient, FakeRasa, str],
) -> None:
    client, rasa, url = app
    op1, op2 = signin.bearer(url, "operator"), signin.bearer(url, "operator")
    manager = signin.bearer(url, "manager")
    assert client.post("/api/v1/operators/me/status", json={"status": "available"},
                       headers=op1).json()["status"] == "available"  # fmt: skip
    summary = build(said=["路灯坏了", "转人工"], reason="asked", channel="web", wants="路灯坏了")
    draft = {"request_text": "路灯坏了", "address": "幸福路28号", "citizen_phone": "13812345678"}
    item, _ = queue.enqueue(url, "web:citizen-1", "web", "asked", summary.to_dict(), draft)

    listed = client.get("/api/v1/handoffs?status=pending", headers=op1).json()
    [row] = listed["items"]
    assert row["id"] == item.id and row["position"] == 1 and row["operator"] is None
    assert row["summary"]["wants"] == "路灯坏了" and row["waiting_seconds"] >= 0
    assert listed["available_operators"] == 1 and listed["my_status"] == "available"
    assert client.get("/api/v1/handoffs", headers=manager).status_code == 403
    # While waiting, the citizen's message is kept for the operator and the bot is not asked.
    waiting = client.post("/api/v1/chat", json={"sender": "citizen-1", "text": "在吗",
                                                "channel": "web"}).json()  # fmt: skip
    assert waiting["state"] == "waiting_human" and "第1位" in waiting["messages"][0]["text"]
    assert rasa.turns == []

    assert client.post(f"/api/v1/handoffs/{item.id}/accept", headers=op1).status_code == 200
    taken = client.post(f"/api/v1/handoffs/{item.id}/accept", headers=op2)
    assert taken.status_code == 409 and "active" in taken.json()["detail"]
    assert rasa.events == [("web:citizen-1", "pause")]
    assert client.post(f"/api/v1/handoffs/{item.id}/messages", json={"text": "我来"},
                       headers=op2).status_code == 409  # fmt: skip

    sent = client.post(f"/api/v1/handoffs/{item.id}/messages",
                       json={"text": "您好，我是话务员，请讲"}, headers=op1)  # fmt: skip
    assert sent.status_code == 201
    feed = client.get("/api/v1/chat/citizen-1/messages?after=0").json()
    assert feed["state"] == "human"
    assert [(m["author"], m["text"]) for m in feed["messages"]] == [
        ("notice", "话务员已接入，正在为您服务，请直接输入您的问题。"),
        ("operator", "您好，我是话务员，请讲"),
    ]
    after = feed["messages"][0]["id"]
    assert [m["text"] for m in client.get(
        f"/api/v1/chat/citizen-1/messages?after={after}").json()["messages"]] == [
        "您好，我是话务员，请讲"]  # fmt: skip
    # The same through the event stream (ends at once with max_seconds=0).
    with client.stream("GET", "/api/v1/chat/citizen-1/events?max_seconds=0") as stream:
        body = "".join(stream.iter_text())
    assert "event: message" in body and "您好，我是话务员，请讲" in body
    assert f"id: {sent.json()['id']}" in body and '"state": "human"' in body
    # Another citizen's id reads nothing of it.
    assert client.get("/api/v1/chat/citizen-2/messages").json()["messages"] == []

    # The citizen's reply goes to the operator, not the bot.
    reply = client.post("/api/v1/chat", json={"sender": "citizen-1", "text": "幸福路路灯坏了",
                                              "channel": "web"}).json()  # fmt: skip
    assert reply == {"messages": [], "state": "human", "work_order": None, "decision": None,
                     "error": None}  # fmt: skip
    assert rasa.turns == []
    view = client.get(f"/api/v1/handoffs/{item.id}", headers=op1)
    assert view.status_code == 200
    lines = [(line["author"], line["text"]) for line in view.json()["transcript"]]
    assert ("citizen", "幸福路路灯坏了") in lines and (
        "operator",
        "您好，我是话务员，请讲",
    ) in lines
    assert client.get("/api/v1/handoffs?status=active&mine=true",
                      headers=op2).json()["items"] == []  # fmt: skip

    # The work order from the conversation, prefilled from the bot's draft (the phone it
    # collected is used without the operator seeing it whole).
    assert view.json()["draft"]["citizen_phone"] == "138****5678"
    made = client.post(f"/api/v1/handoffs/{item.id}/order", headers=op1,
                       json={"request_text": "幸福路28号路灯坏了一周", "kind": "投诉"})  # fmt: skip
    assert made.status_code == 201, made.text
    number = made.json()["order"]["number"]
    order = store.get(url, number)
    assert (order.citizen_phone, order.address, order.kind) == ("13812345678", "幸福路28号", "投诉")
    assert order.conversation_id == "web:citizen-1"
    told = client.get("/api/v1/chat/citizen-1/messages").json()["messages"][-1]["text"]
    assert number in told
    assert queue.get(url, item.id).summary["order_number"] == number
    assert client.post(f"/api/v1/handoffs/{item.id}/order", headers=op2,
                       json={"request_text": "x"}).status_code == 409  # fmt: skip

    assert client.post(f"/api/v1/handoffs/{item.id}/release", headers=op2).status_code == 409
    released = client.post(f"/api/v1/handoffs/{item.id}/release", headers=op1)
    assert released.status_code == 200 and released.json()["status"] == "closed"
    assert rasa.events[-1] == ("web:citizen-1", "resume")
    again = client.post("/api/v1/chat", json={"sender": "citizen-1", "text": "公积金怎么提取",
                                              "channel": "web"}).json()  # fmt: skip
    assert again["state"] == "bot" and again["messages"][0]["text"] == "机器人回答"
    assert rasa.turns == [("web:citizen-1", "公积金怎么提取")]


def test_a_waiting_citizen_can_leave_the_queue(app: tuple[TestClient, FakeRasa, str]) -> None:
    client, _, url = app
    item, _ = queue.enqueue(url, "web:c2", "web", "asked", {"wants": ""})
    left = client.post("/api/v1/chat", json={"sender": "c2", "text": "取消排队",
                                             "channel": "web"}).json()  # fmt: skip
    assert left["state"] == "bot" and "已取消排队" in left["messages"][0]["text"]
    assert queue.get(url, item.id).outcome == "cancelled"
    op = signin.bearer(url, "operator")
    assert client.post(f"/api/v1/handoffs/{item.id}/accept", headers=op).status_code == 409
    assert client.post("/api/v1/handoffs/999/accept", headers=op).status_code == 404


def test_closing_asks_the_citizen_for_a_rating(app: tuple[TestClient, FakeRasa, str]) -> None:
    client, rasa, url = app
    op = signin.bearer(url, "operator")
    item, _ = queue.enqueue(url, "web:c3", "web", "asked", {"wants": ""})
    assert client.post(f"/api/v1/handoffs/{item.id}/accept", headers=op).status_code == 200
    closed = client.post(f"/api/v1/handoffs/{item.id}/close", headers=op)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert rasa.events == [("web:c3", "pause"), ("web:c3", "resume")]
    last = client.get("/api/v1/chat/c3/messages").json()["messages"][-1]
    assert "满意吗" in last["text"]
    assert [b["title"] for b in last["buttons"]] == ["满意", "基本满意", "不满意"]
    assert last["buttons"][0]["payload"] == '/rate_service{"rating":"满意"}'


def test_a_waiting_citizen_learns_the_new_place(app: tuple[TestClient, FakeRasa, str]) -> None:
    client, _, url = app
    op = signin.bearer(url, "operator")
    client.post("/api/v1/operators/me/status", json={"status": "available"}, headers=op)
    first, _ = queue.enqueue(url, "web:first", "web", "asked", {"wants": ""})
    queue.enqueue(url, "web:second", "web", "asked", {"wants": ""})
    with client.stream("GET", "/api/v1/chat/second/events?max_seconds=0") as stream:
        body = "".join(stream.iter_text())
    assert '"state": "waiting_human", "position": 2, "expected_wait_minutes": 6' in body
    client.post(f"/api/v1/handoffs/{first.id}/accept", headers=op)
    feed = client.get("/api/v1/chat/second/messages").json()
    assert (feed["state"], feed["position"], feed["expected_wait_minutes"]) == (
        "waiting_human", 1, 3)  # fmt: skip


def test_presence_is_checked(app: tuple[TestClient, FakeRasa, str]) -> None:
    client, _, url = app
    op = signin.bearer(url, "operator")
    assert client.post("/api/v1/operators/me/status", json={"status": "busy"},
                       headers=op).status_code == 422  # fmt: skip
    assert client.get("/api/v1/handoffs", headers=op).json()["my_status"] == "away"


def test_the_operators_suggestions_answer_the_citizens_matter_not_the_request(
    app: tuple[TestClient, FakeRasa, str],
) -> None:
    """The knowledge suggestions searched 转人工 (and offered 转学, 养老保险转移)."""
    from datetime import UTC, datetime

    from hotline.conversations import Turn, record_turn

    client, _, url = app
    now = datetime.now(UTC)
    for text in ("我想问问社保断缴了会有什么影响", "转人工"):
        record_turn(url, Turn(channel="web", sender="citizen-9", user_text=text,
                              received_at=now, replied_at=now))  # fmt: skip
    summary = build(said=["我想问问社保断缴了会有什么影响", "转人工"], reason="asked",
                    channel="web", wants="我想问问社保断缴了会有什么影响")  # fmt: skip
    item, _ = queue.enqueue(url, "web:citizen-9", "web", "asked", summary.to_dict(), {})
    shown = client.get(f"/api/v1/handoffs/{item.id}", headers=signin.bearer(url, "operator"))
    assert shown.json()["assist_for"] == "我想问问社保断缴了会有什么影响"
