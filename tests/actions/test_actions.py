"""Custom actions with tracker fixtures, as Rasa calls them."""

import asyncio
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallbackReply, consecutive_misunderstandings
from actions.service_hours import ActionServiceHours


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


def test_first_misunderstanding_asks_to_rephrase() -> None:
    events = [listen(), user("greet"), action("utter_greet"), listen(), user("nlu_fallback")]
    assert consecutive_misunderstandings(events) == 1
    assert run(ActionFallbackReply(), events)[0]["response"] == "utter_fallback_first"


def test_second_misunderstanding_in_a_row_offers_a_person_not_a_loop() -> None:
    events = [
        listen(), user("nlu_fallback"), action("action_extract_slots"),
        action("action_fallback_reply"), listen(), user("nlu_fallback"),
    ]  # fmt: skip
    assert consecutive_misunderstandings(events) == 2
    assert run(ActionFallbackReply(), events)[0]["response"] == "utter_fallback_again"


def test_an_understood_turn_resets_the_count() -> None:
    events = [
        listen(), user("nlu_fallback"), action("action_fallback_reply"), listen(),
        user("greet"), action("utter_greet"), listen(), user("nlu_fallback"),
    ]  # fmt: skip
    assert consecutive_misunderstandings(events) == 1


def test_service_hours_tells_today_in_chinese() -> None:
    [message] = run(ActionServiceHours(), [listen(), user("ask_service_hours")])
    assert re.fullmatch(
        r"今天是\d{4}年\d{1,2}月\d{1,2}日，星期[一二三四五六日]。.*24小时.*", message["text"]
    )
