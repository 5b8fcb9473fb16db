"""POST /api/v1/chat with a message_id: a message sent again with its id (a client retrying
after a lost answer, on any replica) gets the answer its first handling produced and is not
handled twice; different ids are different messages; a bad id is a 422 naming the field. On
SQLite and PostgreSQL: the conversation log is where a repeat is found. Rasa's side (a repeat
of a message Rasa handled but the app never logged) is tests/faults/test_chat_replica_kill.py,
with the real Rasa."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from hotline.conversations import ConversationTurn, turns_of
from hotline.db import session_scope
from hotline.settings import Settings
from tests.standin_rasa import stand_in_rasa
from workorders import store
from workorders.queries import OrderFilter

RASA_PORT = 19611  # the stand-in Rasa
CLOSED_PORT = 19612  # nothing listens: Rasa down, the triage layer answers


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


def client_for(tmp_path: Path, database_url: str, rasa_port: int) -> TestClient:
    settings = Settings(var_dir=tmp_path, database_url=database_url, knowledge_preload=False,
                        rasa_url=f"http://127.0.0.1:{rasa_port}")  # fmt: skip
    return TestClient(create_app(settings))


def turn(client: TestClient, text: str, message_id: str | None, sender: str = "m1") -> Any:
    body = {"sender": sender, "text": text, "channel": "web", "message_id": message_id}
    return client.post("/api/v1/chat", json=body)


def logged(database_url: str, conversation: str) -> int:
    query = select(func.count()).where(ConversationTurn.conversation_id == conversation)
    with session_scope(database_url) as session:
        return int(session.scalar(query) or 0)


def test_a_confirmation_sent_again_gets_the_same_order_number_and_one_order(
    tmp_path: Path, database_url: str
) -> None:
    """The work-order form without Rasa (the triage layer's), confirmed, then the 确认 sent
    again with its id, as a client does whose answer was lost."""
    steps = ["小区门口的路灯坏了一个星期了，晚上很黑", "江北区幸福路8号", "上周开始", "张先生",
             "13912345678"]  # fmt: skip
    with client_for(tmp_path, database_url, CLOSED_PORT) as client:
        for i, said in enumerate(steps):
            assert turn(client, said, f"step-{i}").status_code == 200
        first = turn(client, "确认", "confirm-1")
        again = turn(client, "确认", "confirm-1")
        later = turn(client, "确认", "confirm-2")  # a new message: not the same answer
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    told = first.json()["messages"][0]["text"]
    assert "工单号是" in told, first.json()
    assert again.json() == first.json()  # the same reply, decision and state
    assert "工单号是" not in later.json()["messages"][0]["text"]
    orders = store.list_orders(database_url, OrderFilter(conversation_id="web:m1"), limit=10)
    assert len(orders) == 1 and orders[0].number in told
    assert logged(database_url, "web:m1") == len(steps) + 2  # the repeat is not logged again


def test_a_repeated_id_does_not_reach_the_bot_again_and_new_ids_do(
    tmp_path: Path, database_url: str
) -> None:
    heard: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        heard.append(body)
        return {"messages": [{"text": f"第{len(heard)}次回答"}], "intent": None}

    with (
        stand_in_rasa(RASA_PORT, answer=answer),
        client_for(tmp_path, database_url, RASA_PORT) as client,
    ):
        first = turn(client, "你好", "a-1")
        repeated = turn(client, "你好", "a-1")
        other = turn(client, "你好", "a-2")  # the same words, another message
        unnamed = [turn(client, "你好", None) for _ in range(2)]  # no id: each is new
        elsewhere = turn(client, "你好", "a-1", sender="m2")  # ids are per conversation
        reused = turn(client, "再见", "a-1")  # a client's bug: not taken for a retry
    texts = [r.json()["messages"][0]["text"] for r in (first, repeated, other, *unnamed)]
    assert texts == ["第1次回答", "第1次回答", "第2次回答", "第3次回答", "第4次回答"]
    assert elsewhere.json()["messages"][0]["text"] == "第5次回答"
    assert [b.get("message_id") for b in heard] == ["a-1", "a-2", None, None, "a-1"]
    assert reused.status_code == 409
    assert "message_id a-1 was already used for another message" in reused.json()["detail"]
    ids = [t.message_id for t in turns_of(database_url, "web:m1")]
    assert ids == ["a-1", "a-2", None, None]


def test_an_id_rasa_holds_for_another_text_is_the_same_409_as_a_logged_one(
    tmp_path: Path, database_url: str
) -> None:
    """Rasa handled "b-1" but the replica that relayed it died before logging it; the client
    reuses the id for another text. The connector says so (its 409, bot/hotline_connector.py)
    and the app answers as when it finds the id in its log: not a retry, not Rasa down."""
    in_tracker = {"b-1": "你好"}  # handled by Rasa, never logged by the app

    def answer(body: dict[str, Any]) -> dict[str, Any] | tuple[int, dict[str, Any]]:
        held = in_tracker.get(body.get("message_id") or "")
        if held is not None and held != body["message"]:
            return 409, {"error": "message_id_reused", "message_id": body["message_id"]}
        return {"messages": [{"text": f"机器人：{body['message']}"}], "intent": None}

    with (
        stand_in_rasa(RASA_PORT, answer=answer) as rasa,
        client_for(tmp_path, database_url, RASA_PORT) as client,
    ):
        turn(client, "你好", "a-1")
        from_log = turn(client, "再见", "a-1")
        from_rasa = turn(client, "再见", "b-1")
        after = turn(client, "谢谢", "b-2")  # Rasa is not taken for down: it answers next
    assert from_log.status_code == from_rasa.status_code == 409, (from_log.text, from_rasa.text)
    assert from_rasa.json() == {"detail": from_log.json()["detail"].replace("a-1", "b-1")}
    assert after.status_code == 200 and after.json()["messages"][0]["text"] == "机器人：谢谢"
    assert rasa.turns == ["你好", "再见", "谢谢"]  # the log's 409 never reached Rasa
    assert [t.message_id for t in turns_of(database_url, "web:m1")] == ["a-1", "b-2"]


def test_a_turn_that_failed_is_handled_when_sent_again(tmp_path: Path, database_url: str) -> None:
    """An apology (Rasa and the fallback both failed) is not an answer to keep: the same id
    sent again is handled."""
    with client_for(tmp_path, database_url, RASA_PORT) as client:
        client.app.state.rasa.retry_seconds = 0  # Rasa is asked again at once when it is back
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("gateway.fallback.answer", _broken)
            failed = turn(client, "你好", "f-1")
        with stand_in_rasa(RASA_PORT):
            handled = turn(client, "你好", "f-1")
    assert failed.status_code == 503
    assert handled.status_code == 200
    assert handled.json()["messages"][0]["text"] == "机器人：你好"


def _broken(*_: object, **__: object) -> None:
    raise RuntimeError("the triage layer is broken too")


BAD_IDS = [
    ("", "at least 1 character"),
    ("x" * 65, "at most 64 characters"),
    ("has space", "should match pattern"),
    ("工单", "should match pattern"),
    (12, "should be a valid string"),
]


def test_a_bad_message_id_is_a_422_naming_it(tmp_path: Path, sqlite_url: str) -> None:
    with client_for(tmp_path, sqlite_url, CLOSED_PORT) as client:
        for message_id, says in BAD_IDS:
            resp = client.post("/api/v1/chat", json={"sender": "m3", "text": "你好",
                                                     "message_id": message_id})  # fmt: skip
            assert resp.status_code == 422, (message_id, resp.text)
            assert resp.json()["detail"].startswith("message_id: "), resp.json()
            assert says in resp.json()["detail"], (message_id, resp.json())
    assert turns_of(sqlite_url, "api:m3") == []


def test_the_openapi_documents_message_id(tmp_path: Path, sqlite_url: str) -> None:
    with client_for(tmp_path, sqlite_url, CLOSED_PORT) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]
    field = schema["properties"]["message_id"]
    assert "same when the client sends the message again" in field["description"]
    assert "message_id" not in schema.get("required", [])


def test_an_action_no_replica_answered_falls_back_for_that_turn_only(
    tmp_path: Path, database_url: str
) -> None:
    """Rasa is up but no app replica answered its custom action (the connector's 503
    "action_unanswered"): the fallback answers that turn, and Rasa is not taken for down, so the
    next turn reaches it (a breaker tripped here would send every citizen of this replica to the
    plainer fallback for HOTLINE_RASA_RETRY_SECONDS)."""
    lost = {"c-1"}

    def answer(body: dict[str, Any]) -> dict[str, Any] | tuple[int, dict[str, Any]]:
        if body.get("message_id") in lost:
            return 503, {"error": "action_unanswered", "action": "action_triage"}
        return {"messages": [{"text": f"机器人：{body['message']}"}], "intent": None}

    with (
        stand_in_rasa(RASA_PORT, answer=answer) as rasa,
        client_for(tmp_path, database_url, RASA_PORT) as client,
    ):
        fallback = turn(client, "公积金怎么提取", "c-1")
        after = turn(client, "谢谢", "c-2")
    assert fallback.status_code == 200
    assert not fallback.json()["messages"][0]["text"].startswith("机器人")  # the fallback's
    assert after.status_code == 200 and after.json()["messages"][0]["text"] == "机器人：谢谢"
    assert rasa.turns == ["公积金怎么提取", "谢谢"]
