"""Rasa down: a real app process whose Rasa port is closed serves knowledge answers and work
orders through the triage layer, /health says degraded, and when a Rasa comes back on that port
the conversation carries on without losing a turn or a half-written order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from hotline.conversations import turns_of
from tests.faults.stack import app
from tests.standin_rasa import StandInRasa
from workorders import store
from workorders.queries import OrderFilter

APP_PORT, RASA_PORT = 18511, 18512


def say(url: str, text: str, sender: str = "down-1") -> dict[str, Any]:
    resp = httpx.post(f"{url}/api/v1/chat", json={"sender": sender, "text": text,
                                                  "channel": "web"}, timeout=120)  # fmt: skip
    assert resp.status_code == 200, resp.text
    return resp.json()


def texts(reply: dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in reply["messages"])


def test_without_rasa_the_chat_answers_and_takes_orders_and_recovers(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    rasa = StandInRasa(RASA_PORT)
    with app(APP_PORT, tmp_path, database_url=db, rasa_url=f"http://127.0.0.1:{RASA_PORT}",
             knowledge_preload="false") as running:  # fmt: skip
        url = running.url
        health = httpx.get(f"{url}/health", timeout=30).json()
        assert health["status"] == "degraded"
        assert health["dependencies"]["rasa"]["status"] == "down"

        asked = say(url, "公积金怎么提取")  # the knowledge base, through triage
        assert asked["decision"]["kind"] == "clarify", asked
        button = asked["messages"][0]["buttons"][0]
        answered = say(url, button["payload"])  # the citizen taps the first question
        assert answered["decision"]["kind"] == "answer", answered
        assert "公积金" in texts(answered) and "来源" in texts(answered)

        started = say(url, "小区门口的路灯坏了一个星期了，晚上很黑")
        assert started["decision"]["kind"] == "order_draft", started
        assert "地址" in texts(started)  # the form asks where
        say(url, "江北区幸福路8号")
        say(url, "上周开始")
        rasa.start()  # Rasa is back in the middle of the form: the form still finishes here
        try:
            say(url, "张先生")
            read_back = say(url, "13912345678")
            assert "请核对" in texts(read_back) and "幸福路8号" in texts(read_back)
            done = say(url, "确认")
            assert "工单号是" in texts(done), done
            assert rasa.turns == []  # the draft was never handed to a bot that does not know it

            health = httpx.get(f"{url}/health", timeout=30).json()  # what a balancer polls
            assert health["dependencies"]["rasa"]["status"] == "ok"
            after = say(url, "谢谢")  # the next turn is Rasa's again
            assert texts(after) == "机器人：谢谢"
            assert rasa.turns == ["谢谢"]
        finally:
            rasa.stop()

    orders = store.list_orders(db, OrderFilter(conversation_id="web:down-1"), limit=10)
    assert len(orders) == 1
    order = orders[0]
    assert (order.address, order.citizen_name, order.citizen_phone) == (
        "江北区幸福路8号", "张先生", "13912345678",
    )  # fmt: skip
    assert order.number in texts(done)
    said = [t.user_text for t in turns_of(db, "web:down-1")]  # every turn in the log
    assert said[2:] == ["小区门口的路灯坏了一个星期了，晚上很黑", "江北区幸福路8号",
                    "上周开始", "张先生", "13912345678", "确认", "谢谢"]  # fmt: skip
