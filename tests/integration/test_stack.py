"""The real stack, started as `hotline serve` starts it: real Rasa, real app, real database."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from hotline.conversations import ratings_of, turns_of
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


def test_two_misses_in_a_row_never_loop(chat) -> None:
    first = chat("fb-1", "体验个人水电费测试")["messages"][0]["text"]
    second = chat("fb-1", "卡了个巴子随便打的")["messages"][0]["text"]
    assert first != second
    assert "话务员" in second  # the second miss offers a person


def test_the_order_button_offered_after_a_miss_opens_the_form(chat) -> None:
    """登记工单, offered after the first and after the second miss, starts an order whose form
    asks what happened; it is not one more message the bot fails to understand."""
    for misses in (1, 2):
        sender = f"order-button-{misses}"
        for said in ["体验个人水电费测试", "卡了个巴子随便打的"][:misses]:
            offer = chat(sender, said)["messages"]
        assert {"title": "登记工单", "payload": "/report_problem"} in offer[-1]["buttons"]
        reply = chat(sender, "/report_problem")
        texts = [m["text"] for m in reply["messages"]]
        assert texts[0].startswith("好的，我来帮您登记"), texts
        assert texts[-1] == "请您说一下具体是什么问题？", texts
        assert reply["decision"]["kind"] == "order_draft"


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


def _answer(chat, sender: str, text: str, title_word: str) -> str:  # type: ignore[no-untyped-def]
    """The answer, directly or after pressing the clarification button naming `title_word`."""
    first = chat(sender, text)["messages"][0]
    if not first["buttons"]:
        return first["text"]
    chosen = next(b for b in first["buttons"] if title_word in b["title"])
    return chat(sender, chosen["payload"])["messages"][0]["text"]


def test_policy_question_is_answered_with_its_source(chat) -> None:
    text = _answer(chat, "kb-1", "请问荆州门诊慢性病报销比例是多少", "报销比例")
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


def test_complaint_becomes_a_stored_work_order_with_its_number(
    stack: Isolated, chat, staff: dict[str, str]
) -> None:
    sender = "wo-1"
    first = chat(sender, "我要投诉小区门口的路灯坏了一个星期了晚上很黑")
    assert first["decision"]["kind"] == "order_draft"
    assert any("登记" in m["text"] for m in first["messages"])  # after the KB's guidance
    asked = first["messages"][-1]["text"]
    assert "地址" in asked or "哪里" in asked
    chat(sender, "城东区幸福路12号幸福小区门口")
    chat(sender, "上周五开始的")
    chat(sender, "张先生")
    bad = chat(sender, "12345")["messages"][0]["text"]
    assert "号码好像不对" in bad
    readback = chat(sender, "138 1234 5678")["messages"][-1]
    assert "13812345678" in readback["text"] and "幸福小区" in readback["text"]
    assert [b["title"] for b in readback["buttons"]] == ["确认提交", "修改"]
    done = chat(sender, "确认")["messages"][0]["text"]
    number = re.search(r"工单号是(\d{8}-\d{4})", done)[1]
    shown = httpx.get(f"{stack.url}/api/v1/work-orders/{number}", headers=staff, timeout=10)
    order = shown.json()["order"]
    assert order["kind"] == "投诉" and order["citizen_phone"] == "138****5678"
    assert order["conversation_id"] == f"web:{sender}"
    assert "路灯" in order["request_text"] and order["address"].startswith("城东区")
    status = chat(sender, "我上次反映的事情处理得怎么样了")["messages"][0]["text"]
    assert number in status and ("已受理" in status or "已转交" in status)
    assert order["department"] == "城东区人民政府"  # 智能派单: 路灯 in 城东区 is the district's


def test_a_field_can_be_corrected_before_submitting(chat) -> None:
    sender = "wo-2"
    for text in ("楼下烧烤店天天半夜吵得睡不着", "城西区人民路8号", "每天晚上", "李女士"):
        chat(sender, text)
    chat(sender, "13900001111")
    chat(sender, "修改")
    chat(sender, "电话说错了")
    readback = chat(sender, "13900002222")["messages"][-1]["text"]
    assert "13900002222" in readback and "13900001111" not in readback


def test_a_long_form_conversation_still_stores_the_order(stack: Isolated, chat) -> None:
    """Every action call carries the whole tracker: after a dozen corrections it passed the
    64 KB body limit, each later call was refused, and 确认 (or 救命) got no reply at all."""
    sender = "wo-long"
    for text in ("楼上天天半夜蹦迪一样 咚咚咚的 吵得我神经衰弱了 我要投诉",
                 "咸安区温泉路88号桂花园小区5栋", "每天晚上", "刘先生", "13800138127"):  # fmt: skip
        chat(sender, text)
    for _ in range(6):  # the citizen changes the time and the name back and forth
        chat(sender, "时间不对 是每天晚上十二点以后")
        chat(sender, "称呼改成刘女士")
        chat(sender, "称呼改成刘先生")
    done = chat(sender, "确认")["messages"]
    assert done and "工单号" in done[0]["text"]
    number = re.search(r"工单号是(\d{8}-\d{4})", done[0]["text"])[1]
    assert [o["number"] for o in _orders_of(stack, sender)] == [number]


def test_an_order_number_and_its_phone_may_come_in_two_messages(
    stack: Isolated, chat, staff: dict[str, str]
) -> None:
    """Asked for the phone after giving the number, 我电话… got a knowledge-base miss; asked
    for the number after giving the phone, the number got the request for the phone again."""
    body = {"channel": "api", "kind": "投诉", "request_text": "拖欠工资三个月了",
            "citizen_phone": "15071234568"}  # fmt: skip
    made = httpx.post(f"{stack.url}/api/v1/work-orders", json=body,
                      headers={**staff, "Idempotency-Key": "two-messages"}, timeout=30)  # fmt: skip
    number = made.json()["order"]["number"]
    asked = chat("st-1", f"我上礼拜投诉的那个工资的事 单号{number} 现在咋样了")["messages"][0]
    assert "电话" in asked["text"]
    told = chat("st-1", "我电话15071234568")["messages"][0]["text"]
    assert number in told
    chat("st-2", "我之前反映过工资的事 电话15071234568 帮我查下进度")
    told = chat("st-2", number)["messages"][0]["text"]
    assert number in told and "提供工单号和登记时留的电话" not in told


def test_the_form_can_be_cancelled(chat) -> None:
    sender = "wo-3"
    chat(sender, "我要举报")
    reply = chat(sender, "算了不办了")["messages"][0]["text"]
    assert "已取消" in reply


def _orders_of(stack: Isolated, sender: str) -> list[dict]:
    from accounts.service_accounts import service_token

    params = {"conversation_id": f"web:{sender}"}
    staff = {"Authorization": f"Bearer {service_token(stack.database_url, 'manager')}"}
    resp = httpx.get(f"{stack.url}/api/v1/work-orders", params=params, headers=staff, timeout=10)
    return resp.json()["items"]


def test_an_emergency_gets_119_first_and_an_urgent_order(stack: Isolated, chat) -> None:
    text = chat("em-1", "救命 我家厨房着火了")["messages"][0]["text"]
    assert text.startswith("情况紧急") and "119" in text
    (order,) = _orders_of(stack, "em-1")
    assert order["priority"] == "emergency" and order["number"] in text


def test_an_emergency_typed_as_a_complaint_still_gets_the_emergency_path(
    stack: Isolated, chat
) -> None:
    text = chat("em-2", "我要反映 我们楼道里一股煤气味 好像漏气了")["messages"][0]["text"]
    assert "119" in text
    # a phone used in the gas can set it off: leave first, then call
    assert text.index("离开到室外") < text.index("119") and "不要在室内打电话" in text
    assert _orders_of(stack, "em-2")[0]["priority"] == "emergency"


def test_the_place_told_after_an_emergency_goes_on_its_order(stack: Isolated, chat) -> None:
    """The bot asks where; the answer was searched in the knowledge base (a miss while the fire
    grew) or taken as an open form's field, and the emergency order kept no address."""
    chat("em-3", "楼道里电动车烧起来了 好大的烟")
    reply = chat("em-3", "城东区东湖路40号3单元 火越来越大了")["messages"][0]["text"]
    assert "地点已补充" in reply and "119" in reply
    (order,) = _orders_of(stack, "em-3")
    assert order["address"].startswith("城东区东湖路40号3单元")
    for text in ("我们小区停车位被外面的车占了 我要投诉", "城东区东湖路50号", "楼下冒烟了 着火了"):
        chat("em-4", text)
    replies = chat("em-4", "就在东湖路50号3栋楼下")["messages"]
    assert "地点已补充" in replies[0]["text"] and "什么时候" in replies[-1]["text"]
    emergency = [o for o in _orders_of(stack, "em-4") if o["priority"] == "emergency"]
    assert [o["address"] for o in emergency] == ["就在东湖路50号3栋楼下"]
    # a second emergency told next is no place: its own number comes first
    chat("em-5", "楼道里电动车烧起来了 好大的烟")
    second = chat("em-5", "我邻居被烟呛晕了 叫不醒")["messages"][0]["text"]
    assert "120" in second and "地点已补充" not in second


def test_asking_for_a_person_on_chat_opens_a_callback_order(stack: Isolated, chat) -> None:
    first = chat("hu-1", "我要转人工")["messages"]
    assert "不能直接接通" in first[0]["text"] and "电话" in first[-1]["text"]
    done = chat("hu-1", "13907165555")["messages"][0]["text"]
    (order,) = _orders_of(stack, "hu-1")
    assert order["number"] in done and "回电" in done
    assert order["citizen_phone"] == "139****5555"


def test_a_callback_asked_for_mid_form_keeps_the_complaint(stack: Isolated, chat) -> None:
    for text in ("我们单位拖欠工资半年了 我要投诉", "城北区北环路55号 宏达物流公司"):
        chat("hu-3", text)
    chat("hu-3", "转人工吧 跟你说不清楚")
    chat("hu-3", "13907165555")
    (order,) = _orders_of(stack, "hu-3")
    assert "拖欠工资" in order["request_text"]


def test_a_callback_without_a_number_is_not_promised(stack: Isolated, chat) -> None:
    """A refused number used to get 我先按您说的登记, then a validator's message in English."""
    chat("hu-2", "帮我转人工")
    said = " ".join(m["text"] for m in chat("hu-2", "不想留电话")["messages"])
    assert "没法给您回电" in said and "先按您说的登记" not in said and "not a" not in said
    assert _orders_of(stack, "hu-2") == []
    after = chat("hu-2", "菜市场有个摊主缺斤少两 一斤只给八两")["messages"]
    assert "号码好像不对" not in after[0]["text"]  # the conversation goes on


def test_a_question_in_the_middle_of_the_form_is_answered_then_the_form_resumes(chat) -> None:
    sender = "wo-4"
    chat(sender, "我要反映 小区里的垃圾好几天没人清运了")
    aside = chat(sender, "对了 请问荆州门诊慢性病报销比例是多少？")["messages"]
    first = aside[0]  # answered, or clarified with the right entry among the buttons
    assert "50%" in first["text"] or any("报销比例" in b["title"] for b in first["buttons"])
    assert "地址" in aside[-1]["text"] or "哪里" in aside[-1]["text"]  # the same field again


def test_goodbye_asks_for_satisfaction_and_stores_it(stack: Isolated, chat) -> None:
    asked = chat("sat-1", "好的没事了 再见")["messages"][0]
    assert [b["title"] for b in asked["buttons"]] == ["满意", "基本满意", "不满意"]
    thanks = chat("sat-1", asked["buttons"][1]["payload"])["messages"][0]["text"]
    assert "感谢您的评价" in thanks
    url = f"sqlite:///{stack.var_dir / 'hotline.db'}"
    assert ratings_of(url, "web:sat-1") == ["基本满意"]


def test_abuse_gets_a_calm_answer(chat) -> None:
    text = chat("ab-1", "你们就是一帮废物")["messages"][0]["text"]
    assert "文明" in text


def test_two_misunderstandings_offer_buttons_then_a_person(chat) -> None:
    first = chat("fb-2", "卡了个巴子随便打的")["messages"][0]
    assert any(b["payload"] == "/request_human" for b in first["buttons"])
    second = chat("fb-2", "体验个人水电费测试")["messages"][0]
    assert "话务员" in second["text"] and second["text"] != first["text"]


def _reused_after(url: str, path: str, idle: float) -> tuple[int, bool, int | None]:
    """Two GETs on one keep-alive connection `idle` seconds apart: the first status, whether
    the server had closed the connection during the pause, and the second status (None when
    it had, or when the second request needed a new connection)."""
    parsed = urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
    try:
        conn.request("GET", path)
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        assert sock is not None
        time.sleep(idle)
        sock.setblocking(False)
        try:
            closed = sock.recv(1, socket.MSG_PEEK) == b""  # the server's FIN has arrived
        except BlockingIOError:
            closed = False  # nothing to read: still open
        finally:
            sock.setblocking(True)
        if closed:
            return first.status, True, None
        conn.request("GET", path)
        second = conn.getresponse()
        second.read()
        return first.status, False, second.status if conn.sock is sock else None
    finally:
        conn.close()


def test_an_idle_connection_outlives_a_turn_interval(stack: Isolated) -> None:
    """A citizen's client that sends every ~5 s reuses its connection: the app must not close
    it at 5 s idle (uvicorn's default), or the next turn fails as it goes out. Rasa (120 s of
    its own) is checked too, against a change of that default in an upgrade."""
    with ThreadPoolExecutor(2) as pool:
        app = pool.submit(_reused_after, stack.url, "/health", 6.5)
        rasa = pool.submit(_reused_after, stack.rasa_url, "/", 6.5)
        results = {"app": app.result(), "rasa": rasa.result()}
    for name, (first, closed, second) in results.items():
        assert first == 200, name
        assert not closed, f"{name} closed an idle keep-alive connection within 6.5 s"
        assert second == 200, name
