"""A citizen asks for a person (转人工). On the phone the call is transferred by the voice
session; on chat no operator console is connected yet, so the bot says so honestly, records the
request and opens a callback work order (asking for a number when it has none)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import answer_question
from actions.citizen import (
    channel_of,
    form_in_progress,
    known_phone,
    recent_user_texts,
    resume_form,
)
from hotline.conversations import record_handoff
from hotline.settings import get_settings
from workorders import intake
from workorders.citizen_view import local_time
from workorders.store import Draft, InvalidField

# The NLU sometimes hears 转人工 in a name ("郑工") or a policy question; only a message that
# talks about a person, an operator or the bot itself is taken as a request for a person.
_ASKS_FOR_PERSON = re.compile(
    r"人工|话务|客服|真人|接线|坐席|机器人|听不懂|听不明白|说不清|找(个)?人|叫(个)?人|人来|领导|"
    r"工作人员|转接|转一下|回电|打给我|^\s*(0|零|按零|按0)\s*$|/request_human"
)


def asks_for_person(text: str) -> bool:
    return bool(_ASKS_FOR_PERSON.search(text))


def open_callback(
    dispatcher: CollectingDispatcher, tracker: Tracker, phone: str
) -> list[dict[str, Any]]:
    """Store a callback order for `phone`, record the handoff, then tell the citizen."""
    settings = get_settings()
    channel = channel_of(tracker)
    said = "；".join(t for t in recent_user_texts(tracker) if t) or "（未说明）"
    draft = Draft(
        channel=channel,
        request_text=f"市民要求人工服务，请回电。市民所说：{said}",
        summary="市民要求人工回电",
        kind="求助",
        citizen_phone=phone,
        conversation_id=tracker.sender_id,
    )
    key = hashlib.sha256(f"{tracker.sender_id}|callback|{said}|{phone}".encode()).hexdigest()[:32]
    try:
        order = intake.submit(settings.database_url, draft, idempotency_key=key, auto_route=False)
    except InvalidField as exc:
        dispatcher.utter_message(text=f"抱歉，回电请求没有登记成功：{exc}。")
        return [SlotSet("wo_phone", None)]
    record_handoff(settings.database_url, tracker.sender_id, channel, "asked", said, order.number)
    text = f"已为您登记回电请求，工单号{order.number}。话务员会尽快给您回电"
    if order.reply_due:
        text += f"，最迟{local_time(order.reply_due, settings.timezone)}前"
    dispatcher.utter_message(text=text + "。紧急情况请直接拨打110、119或120。")
    return [SlotSet("last_order", order.number)]


class ActionRequestHuman(Action):
    """Say what happens next; the callback form then asks for a number unless one is known."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if not asks_for_person(text):
            if form_in_progress(tracker):  # it was an answer to the form
                return resume_form(tracker)
            return [*answer_question(dispatcher, tracker), FollowupAction("action_listen")]
        if channel_of(tracker) == "voice":
            # The voice session sees the request_human intent and transfers the call; the
            # callback order is the fallback when no operator picks up.
            dispatcher.utter_message(text="好的，正在为您转接话务员，请稍候。")
        else:
            dispatcher.utter_message(
                text="好的。目前网上渠道还不能直接接通话务员，我先为您登记人工回电，"
                "您也可以直接拨打12345热线。"
            )
        phone = known_phone(tracker)
        return [SlotSet("wo_phone", phone)] if phone else []


class ActionSubmitCallback(Action):
    def name(self) -> str:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        phone = tracker.get_slot("wo_phone")
        if not phone:
            dispatcher.utter_message(
                text="没有留下电话，回电请求未登记。您可以直接拨打12345热线找话务员。"
            )
            return []
        return open_callback(dispatcher, tracker, phone)
