"""Reply to a message the bot did not understand (or chit-chat it cannot serve), without ever
repeating itself in a loop.

The knowledge base gets the first try: what the NLU could not place may still be a question it
answers. A genuine miss is recorded in the `misses` slot, so the next miss in a row can offer a
person instead of asking to rephrase again; any other turn leaves the slot untouched, which
breaks the streak because only the turn right before is looked at.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import (
    MISSES_SLOT,
    answer_if_found,
    answer_if_sure,
    consecutive_misunderstandings,
    is_voice,
)
from actions.emergency import handle_emergency

ACTION_NAME = "action_fallback_reply"
# What the clarification buttons offer: the intents a citizen most likely meant, in their words.
DESCRIPTIONS = {
    "consult": "咨询政策或办事流程",
    "report_problem": "投诉、举报或反映问题",
    "query_status": "查询工单办理进度",
    "ask_service_hours": "了解热线服务时间",
    "request_human": "转人工服务",
}


def clarify_buttons(latest_message: dict[str, Any], n: int = 3) -> list[dict[str, str]]:
    """Stage one of the fallback: the n likeliest intents (by the NLU's ranking) as buttons,
    then a person always as the last choice."""
    ranked = [
        r.get("name")
        for r in latest_message.get("intent_ranking") or []
        if r.get("name") in DESCRIPTIONS and r.get("name") != "request_human"
    ]
    for name in DESCRIPTIONS:  # fill up with the commonest needs
        if name not in ranked and name not in ("request_human", "ask_service_hours"):
            ranked.append(name)
    chosen = [*ranked[:n], "request_human"]
    return [{"title": DESCRIPTIONS[i], "payload": f"/{i}"} for i in chosen]


class ActionFallbackReply(Action):
    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        emergency = handle_emergency(dispatcher, tracker)
        if emergency is not None:
            return emergency
        if next(tracker.get_latest_entity_values("order_number"), None):  # 20261122-0023
            from actions.work_order import ActionQueryStatus  # it imports this module's users

            return await ActionQueryStatus().run(dispatcher, tracker, domain)
        query = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if query and intent == "out_of_scope":  # 有没有免费的心理咨询热线: ours if the KB is sure
            events = answer_if_sure(dispatcher, tracker)
            if events is not None:
                return events
        elif query:
            events = answer_if_found(dispatcher, tracker)
            if events is not None:
                return events
        misses = consecutive_misunderstandings(tracker.events)
        # First miss: redirect chit-chat, or offer the likeliest meanings as buttons (two-stage
        # fallback). A second miss in a row: offer a person or a work order, never a third ask.
        voice = is_voice(tracker)
        if misses > 1:
            buttons = [] if voice else [
                {"title": "转人工", "payload": "/request_human"},
                {"title": "登记工单", "payload": "/report_problem"},
            ]  # fmt: skip
            dispatcher.utter_message(response="utter_fallback_again", buttons=buttons)
        elif intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        elif voice:
            dispatcher.utter_message(response="utter_fallback_first_voice")
        else:
            dispatcher.utter_message(
                response="utter_fallback_first", buttons=clarify_buttons(tracker.latest_message)
            )
        return [SlotSet(MISSES_SLOT, misses)]
