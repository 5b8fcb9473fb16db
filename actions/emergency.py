"""The emergency path: tell the citizen to call 110/119/120 now, open an urgent work order for a
person to follow up at once, and record the handoff. Checked before anything else is done with
a message, whatever the NLU thought it was."""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import caller_number, channel_of, form_in_progress, resume_form
from hotline.conversations import record_handoff
from hotline.settings import get_settings
from workorders import intake
from workorders.citizen_view import spoken_number
from workorders.routing import detect_emergency
from workorders.store import Draft, InvalidField

SERVICES = {"110": "报警电话", "119": "消防救援电话", "120": "急救电话"}
SPOKEN = {"110": "幺幺零", "119": "幺幺九", "120": "幺二零"}


# Without a pattern match (workorders.routing), the NLU's emergency intent alone must be sure
# and the message must sound urgent: "快一个月了" is an answer, not a call for help.
_URGENT = re.compile(r"救命|快来|快点|紧急|出事|不好了|出人命|报警|急救|危险|快救|来人")
NLU_SURE = 0.85
# ...and must not say that nobody is hurt or ask whether to call the police: "蹭了一下 没人受伤
# 要报警吗" is a question for the knowledge base.
_CALM = re.compile(r"没有?人?(受伤|事)|都没事|不严重|(要|需要|用|该|得)报警吗|报不报警|要不要报警")


def handle_emergency(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, by_intent: bool = False
) -> list[dict[str, Any]] | None:
    """Run the emergency path when the latest message is one (or the NLU says so); else None."""
    text = (tracker.latest_message.get("text") or "").strip()
    found = detect_emergency(text)
    confidence = (tracker.latest_message.get("intent") or {}).get("confidence") or 0.0
    sure = by_intent and confidence >= NLU_SURE and _URGENT.search(text) and not _CALM.search(text)
    if found is None and not sure:
        return None
    number = found.number if found else "110"
    settings = get_settings()
    channel = channel_of(tracker)
    voice = channel == "voice"
    address = next(tracker.get_latest_entity_values("address"), None)
    draft = Draft(
        channel=channel,
        request_text=text or "市民报告紧急情况",
        kind="求助",
        citizen_phone=caller_number(tracker),
        address=address,
        priority="emergency",
        conversation_id=tracker.sender_id,
    )
    key = hashlib.sha256(f"{tracker.sender_id}|emergency|{text}".encode()).hexdigest()[:32]
    order = None
    with contextlib.suppress(InvalidField):  # never delay the call to 110/119/120 over a field
        order = intake.submit(settings.database_url, draft, idempotency_key=key)
    record_handoff(
        settings.database_url,
        tracker.sender_id,
        channel,
        "emergency",
        text,
        order.number if order else None,
    )
    if voice:
        said = f"情况紧急，请马上挂断电话，拨打{SPOKEN[number]}。"
        if order:
            said += f"我们已登记紧急工单，号码是{spoken_number(order.number)}，话务员会马上跟进。"
        dispatcher.utter_message(text=said)
    else:
        said = f"情况紧急！请立即拨打{number}（{SERVICES[number]}）求助，并保持电话畅通。"
        if order:
            said += f"\n我们已登记紧急工单{order.number}，话务员会马上跟进。"
        said += "\n如果方便，请告诉我具体地点。"
        dispatcher.utter_message(
            text=said, buttons=[{"title": "转人工", "payload": "/request_human"}]
        )
    return [SlotSet("last_order", order.number)] if order else []


class ActionEmergency(Action):
    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events = handle_emergency(dispatcher, tracker, by_intent=True)
        if events is not None:
            return events
        if form_in_progress(tracker):  # a misheard answer to the form
            return resume_form(tracker)
        from actions.answer import ASKS, answer_question  # they import this module
        from actions.fallback import ActionFallbackReply  # fallback checks emergencies too

        if ASKS.search(tracker.latest_message.get("text") or ""):  # 要报警吗: a question
            return answer_question(dispatcher, tracker)
        return await ActionFallbackReply().run(dispatcher, tracker, domain)
