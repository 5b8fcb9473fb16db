"""Reply to a message the bot did not understand without ever repeating itself in a loop."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

ACTION_NAME = "action_fallback_reply"
# Actions Rasa runs on its own around a turn; they are not the bot's answer to the citizen.
HOUSEKEEPING = {"action_listen", "action_extract_slots", "action_session_start"}


def consecutive_misunderstandings(events: list[dict[str, Any]]) -> int:
    """How many user messages in a row, the one being answered now included, were not understood.

    A message counts as not understood when the bot's first answer to it was this action (NLU
    fallback or core fallback alike).
    """
    answers: list[str | None] = []  # per user message: the first action that answered it
    for event in events:
        if event.get("event") == "user":
            answers.append(None)
        elif (
            event.get("event") == "action"
            and answers
            and answers[-1] is None
            and event.get("name") not in HOUSEKEEPING
        ):
            answers[-1] = event.get("name")
    count = 1
    for name in reversed(answers[:-1]):
        if name != ACTION_NAME:
            break
        count += 1
    return count


class ActionFallbackReply(Action):
    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        misses = consecutive_misunderstandings(tracker.events)
        # First miss: ask to rephrase with examples. Later misses: offer a person, never repeat.
        dispatcher.utter_message(
            response="utter_fallback_first" if misses == 1 else "utter_fallback_again"
        )
        return []
