"""A citizen who asks for a person: the operators' queue (handoffs/) when one can take the
conversation soon, otherwise a callback order (the callback form asks for a number unless one
is known; the order is stored before the citizen is told its number)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import channel_of, known_phone, recent_user_texts
from handoffs import intake as handoff_intake
from handoffs.summary import build
from hotline.conversations import record_handoff
from hotline.settings import get_settings
from triage.form import NO_PHONE
from triage.wording import asks_for_person
from workorders import intake
from workorders.citizen_view import local_time
from workorders.store import Draft, InvalidField


def queue_for_person(
    tracker: Tracker, reason: str, *, always: bool = False, order_number: str | None = None
) -> handoff_intake.Queued | None:
    """Put the conversation in the operators' queue with its five-second summary; None when no
    operator can take it soon (the caller then offers a call-back)."""
    settings = get_settings()
    said = recent_user_texts(tracker, 5)
    wants = next((t for t in reversed(said) if not asks_for_person(t)), "")
    summary = build(
        said=said, reason=reason, channel=channel_of(tracker), phone=known_phone(tracker),
        kb_hits=entries_tried(tracker), slots=tracker.current_slot_values(),
        order_number=order_number or tracker.get_slot("last_order"), wants=wants,
    )  # fmt: skip
    slots = tracker.current_slot_values()
    draft = {"request_text": slots.get("wo_what") or wants or "；".join(said),
             "address": slots.get("wo_where"), "citizen_name": slots.get("wo_name"),
             "citizen_phone": known_phone(tracker), "kind": slots.get("wo_kind")}  # fmt: skip
    return handoff_intake.request_person(
        settings, tracker.sender_id, summary, draft=draft, always=always
    )


def entries_tried(tracker: Tracker, n: int = 3) -> list[str]:
    """Titles of the knowledge entries the bot answered with or offered, latest first, read
    from the triage decisions its replies carried (bot events' custom data)."""
    titles: list[str] = []
    for event in reversed(tracker.events):
        decision = ((event.get("data") or {}).get("custom") or {}).get("triage")
        if event.get("event") != "bot" or not isinstance(decision, dict):
            continue
        found = [decision.get("entry"), decision.get("guidance")]
        found += [*(decision.get("candidates") or []), *(decision.get("suggestions") or [])]
        for entry in found:
            if isinstance(entry, dict) and entry.get("title") and entry["title"] not in titles:
                titles.append(entry["title"])
    return titles[:n]


def queued_text(queued: handoff_intake.Queued) -> str:
    """What the chat citizen is told on joining the queue: their place and the expected wait."""
    if queued.place is None:
        return "话务员已在为您服务，请直接输入您的问题。"
    return (
        f"好的，正在为您转接人工客服。您现在排在第{queued.place.position}位，"
        f"预计等待约{queued.place.expected_wait_minutes}分钟。话务员接入后会在这里回复您；"
        "等待时您说的话话务员都能看到，输入“取消排队”可回到智能客服。"
    )


def open_callback(
    dispatcher: CollectingDispatcher, tracker: Tracker, phone: str
) -> list[dict[str, Any]]:
    """Store a callback order for `phone`, record the handoff, then tell the citizen."""
    settings = get_settings()
    channel = channel_of(tracker)
    texts = [t for t in recent_user_texts(tracker) if t]
    what = tracker.get_slot("wo_what")  # a complaint the form had when a person was asked for
    if what and what not in texts:
        texts.insert(0, what)
    said = "；".join(texts) or "（未说明）"
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
        if not phone or phone == NO_PHONE:
            dispatcher.utter_message(
                text="没有电话号码，话务员没法给您回电，回电请求就先不登记了。"
                "您可以直接拨打12345热线找话务员，也可以在这里接着说您的问题。"
            )
            return [SlotSet("wo_phone", None)]
        return open_callback(dispatcher, tracker, phone)
