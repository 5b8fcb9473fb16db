"""The real stack, started as `hotline serve` starts it: real Rasa, real app, real database."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from hotline.conversations import turns_of
from hotline.db import head_revision
from hotline.serve import Isolated, free_port, spawn

pytestmark = pytest.mark.stack


def test_greeting_is_answered_in_chinese(chat) -> None:
    reply = chat("greet-1", "喂 你好")
    assert reply["state"] == "bot"
    assert "您好" in reply["messages"][0]["text"]


def test_chit_chat_is_redirected_politely_to_the_service(chat) -> None:
    reply = chat("oos-1", "给我讲个笑话吧")
    text = reply["messages"][0]["text"]
    assert "抱歉" in text and "12345" in text


def test_custom_action_runs_through_the_apps_webhook(chat) -> None:
    reply = chat("hours-1", "你们几点上班啊")
    assert reply["messages"][0]["text"].startswith("今天是")
    assert "24小时" in reply["messages"][0]["text"]


def test_gibberish_twice_never_loops(chat) -> None:
    first = chat("fb-1", "阿斯顿发个红烧肉")["messages"][0]["text"]
    second = chat("fb-1", "的风格化就看了")["messages"][0]["text"]
    assert first != second
    assert "12345" in second  # the second miss offers a person


def test_every_turn_is_in_the_conversation_log(stack: Isolated, chat) -> None:
    chat("log-1", "你好")
    chat("log-1", "谢谢")
    turns = turns_of(f"sqlite:///{stack.var_dir / 'hotline.db'}", "web:log-1")
    assert [(t.user_text, t.intent) for t in turns] == [("你好", "greet"), ("谢谢", "thank")]
    assert all(t.confidence and t.confidence > 0.5 for t in turns)
    assert "您好" in turns[0].bot_replies[0]["text"]


def test_health_reports_each_dependency(stack: Isolated) -> None:
    for _ in range(120):  # the knowledge index may still be loading
        body = httpx.get(f"{stack.url}/health", timeout=10).json()
        if body["status"] == "ok":
            break
        time.sleep(1)
    assert body["status"] == "ok", body
    assert body["dependencies"]["knowledge"]["entries"] >= 300
    assert body["dependencies"]["rasa"]["status"] == "ok"
    assert body["dependencies"]["database"] == {
        "status": "ok",
        "backend": "sqlite",
        "revision": head_revision(),
    }


def test_docs_are_served(stack: Isolated) -> None:
    assert httpx.get(f"{stack.url}/docs", timeout=10).status_code == 200
    paths = httpx.get(f"{stack.url}/openapi.json", timeout=10).json()["paths"]
    assert "/api/v1/chat" in paths and "/health" in paths


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_sigterm_stops_both_processes(tmp_path) -> None:
    """A second, app-only serve: SIGTERM leaves no process behind."""
    port = free_port()
    env = {"HOTLINE_VAR_DIR": str(tmp_path), "HOTLINE_PORT": str(port), "HOTLINE_DATABASE_URL": ""}
    log = tmp_path / "serve.log"
    proc = spawn(env, log, part="app", timeout=120)
    children = _children(proc.pid)
    assert children, "the app runs as a child process"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    time.sleep(0.5)
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "stopped" in log.read_text()


def test_policy_question_is_answered_with_its_source(chat) -> None:
    reply = chat("kb-1", "请问荆州门诊慢性病报销比例是多少")
    text = reply["messages"][0]["text"]
    assert "50%" in text and "70%" in text
    assert "来源：" in text and "第十八条" in text


def test_follow_up_is_answered_in_the_topic_just_discussed(chat) -> None:
    chat("kb-2", "荆州门诊慢性病报销比例是多少")
    text = chat("kb-2", "那在哪买药能报")["messages"][0]["text"]
    assert "定点" in text


def test_unknown_policy_gets_an_honest_answer_not_an_invention(chat) -> None:
    text = chat("kb-3", "我想申请火星移民补贴去哪里办")["messages"][0]["text"]
    assert "抱歉" in text
    assert "来源：" not in text
