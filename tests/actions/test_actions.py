"""Custom actions with tracker fixtures, as Rasa calls them."""

import asyncio
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.render import render
from actions.triage_turn import previous_misses, previous_text, previous_upset
from triage import Calm, ServiceHours


def user(intent: str) -> dict[str, Any]:
    return {"event": "user", "text": "…", "parse_data": {"intent": {"name": intent}}}


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def listen() -> dict[str, Any]:
    return action("action_listen")


def tracker(events: list[dict[str, Any]]) -> Tracker:
    return Tracker("web:u1", {}, {"intent": {}}, events, False, None, {}, "action_listen")


def run(action_obj, events: list[dict[str, Any]]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    asyncio.run(action_obj.run(dispatcher, tracker(events), {}))
    return dispatcher.messages


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def test_no_miss_before_the_first() -> None:
    events = [listen(), user("greet"), action("utter_greet"), listen(), user("nlu_fallback")]
    assert previous_misses(events) == 0


def test_a_miss_right_before_counts() -> None:
    events = [
        listen(), user("nlu_fallback"), action("action_triage"), slot("misses", 1),
        listen(), user("nlu_fallback"),
    ]  # fmt: skip
    assert previous_misses(events) == 1


def test_an_understood_turn_breaks_the_streak() -> None:
    events = [
        listen(), user("nlu_fallback"), action("action_triage"), slot("misses", 1),
        listen(), user("greet"), action("utter_greet"), listen(), user("nlu_fallback"),
    ]  # fmt: skip
    assert previous_misses(events) == 0


def test_service_hours_tells_today_in_chinese() -> None:
    latest = {"text": "你们晚上几点下班", "intent": {"name": "ask_service_hours"}}
    t = Tracker("web:u1", {}, latest, [listen()], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    render(ServiceHours(), dispatcher, t)
    [message, _decision] = dispatcher.messages
    assert re.fullmatch(
        r"今天是\d{4}年\d{1,2}月\d{1,2}日，星期[一二三四五六日]。.*24小时.*", message["text"]
    )


def test_the_previous_message_is_the_one_before_the_latest() -> None:
    events = [
        {"event": "user", "text": "科技园能不能加一趟公交"},
        {"event": "bot", "text": "您是不是想问…"},
        {"event": "user", "text": "都不是我要问的"},
    ]
    assert previous_text(events) == "科技园能不能加一趟公交"
    assert previous_text(events[-1:]) is None


def said(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "abuse"}}}


def test_earlier_anger_and_abuse_are_counted_from_the_citizens_words() -> None:
    events = [said("路灯坏了"), said("你个破机器 废物"), said("气死我了！！！"), said("转人工")]
    assert previous_upset(events) == 2  # the latest message is not "earlier"
    assert previous_upset([said("你好"), said("废物")]) == 0
    long_ago = [said("废物"), *(said(f"第{n}个问题") for n in range(4)), said("气死了")]
    assert previous_upset(long_ago) == 0  # only the recent messages count


def test_insults_alone_get_the_calm_answer() -> None:
    dispatcher = CollectingDispatcher()
    events = render(Calm(), dispatcher, tracker([said("废物")]))
    assert events == [] and dispatcher.messages[0]["response"] == "utter_abuse"
