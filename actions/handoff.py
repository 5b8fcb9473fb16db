"""The callback order for a citizen who asked for a person on chat (no operator console yet):
the callback form asks for a number unless one is known; the order is stored before the citizen
is told its number."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import channel_of, recent_user_texts
from hotline.conversations import record_handoff
from hotline.settings import get_settings
from workorders import intake
from workorders.citizen_view import local_time
from workorders.store import Draft, InvalidField


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
    key = intake.idempotency_key(tracker.sender_id, "callback", said, phone)
    try:
        order = intake.submit(
            settings.database_url, draft, key, settings=settings, auto_route=False
        )
    except InvalidField as exc:
        dispatcher.utter_message(text=f"抱歉，回电请求没有登记成功：{exc}。")
        return [SlotSet("wo_phone", None)]
    record_handoff(settings.database_url, tracker.sender_id, channel, "asked", said, order.number)
    text = f"已为您登记回电请求，工单号{order.number}。话务员会尽快给您回电"
    if order.reply_due:
        text += f"，最迟{local_time(order.reply_due, settings.timezone)}前"
    dispatcher.utter_message(text=text + "。紧急情况请直接拨打110、119或120。")
    return [SlotSet("last_order", order.number)]


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
