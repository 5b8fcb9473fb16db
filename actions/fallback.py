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

from actions.answer import TOPIC_SLOT, is_voice, say_outcome
from hotline.settings import get_settings
from knowledge.service import get_service

ACTION_NAME = "action_fallback_reply"
MISSES_SLOT = "misses"


def consecutive_misunderstandings(events: list[dict[str, Any]]) -> int:
    """Misses in a row, the message being answered now included."""
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return 1
    for event in events[users[-2] + 1 : users[-1]]:
        if event.get("event") == "slot" and event.get("name") == MISSES_SLOT:
            return int(event.get("value") or 0) + 1
    return 1


class ActionFallbackReply(Action):
    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        query = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if query and intent != "out_of_scope":
            outcome = get_service(get_settings()).search(
                query, k=3, topic=tracker.get_slot(TOPIC_SLOT)
            )
            events = say_outcome(dispatcher, outcome, is_voice(tracker))
            if events is not None:
                return events
        misses = consecutive_misunderstandings(tracker.events)
        # First miss: redirect chit-chat, or ask to rephrase with examples. Later misses in a
        # row: offer a person instead of repeating ourselves.
        if misses > 1:
            dispatcher.utter_message(response="utter_fallback_again")
        elif intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            dispatcher.utter_message(response="utter_fallback_first")
        return [SlotSet(MISSES_SLOT, misses)]
