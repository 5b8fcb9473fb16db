"""The one entry action for a citizen's message (every intent that is not small talk): ask the
triage layer what to do and render its decision."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import channel_of, form_in_progress, resume_form
from actions.render import (
    MISSES_SLOT,
    TOPIC_SLOT,
    emergency_awaiting_place,
    render,
    take_place,
)
from hotline.settings import get_settings
from hotline.zh import normalise_text
from triage import Context, Emergency, Handoff, get_triage, wording


def previous_misses(events: list[dict[str, Any]]) -> int:
    """Misunderstandings in a row before the latest message: the count set in the turn just
    before it (any other turn in between breaks the streak)."""
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return 0
    for event in events[users[-2] + 1 : users[-1]]:
        if event.get("event") == "slot" and event.get("name") == MISSES_SLOT:
            return int(event.get("value") or 0)
    return 0


def previous_text(events: list[dict[str, Any]]) -> str | None:
    """The citizen's message before the latest one."""
    users = [e for e in events if e.get("event") == "user"]
    return (users[-2].get("text") or None) if len(users) >= 2 else None


UPSET_LOOKBACK = 4  # earlier messages in which anger or abuse still counts


def previous_upset(events: list[dict[str, Any]]) -> int:
    """How many of the citizen's recent messages before the latest were angry or abusive
    (triage/wording.py decides; the count is read from the texts, so no slot is needed)."""
    texts = [e.get("text") or "" for e in events if e.get("event") == "user"][:-1]
    recent = [normalise_text(t) for t in texts[-UPSET_LOOKBACK:] if not t.startswith("/")]
    return sum(1 for t in recent if wording.upset(t))


def context_of(tracker: Tracker) -> Context:
    metadata = tracker.latest_message.get("metadata") or {}
    return Context(
        channel=channel_of(tracker),
        topic=tracker.get_slot(TOPIC_SLOT),
        misses=previous_misses(tracker.events),
        chosen_entry=next(tracker.get_latest_entity_values("entry_id"), None),
        dtmf=metadata.get("dtmf"),
        previous=previous_text(tracker.events),
        upset=previous_upset(tracker.events),
    )


class ActionTriage(Action):
    def name(self) -> str:
        return "action_triage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        if text == "/consult":  # the "咨询政策" button: ask for the question itself
            dispatcher.utter_message(response="utter_ask_question")
            return []
        decision = get_triage(get_settings()).decide(text, context_of(tracker))
        number = emergency_awaiting_place(tracker)
        if number and take_place(dispatcher, tracker, number):  # the place the bot asked for
            # an open form carries on and asks its field again (the place is not its answer)
            form = FollowupAction("work_order_form")
            return [form] if form_in_progress(tracker) else [action_listen()]
        if form_in_progress(tracker) and not isinstance(decision, Emergency | Handoff):
            return resume_form(tracker)  # the NLU took an answer to the form for an interruption
        events = render(decision, dispatcher, tracker)
        if not any(e.get("event") == "followup" for e in events):
            # The decision is complete: listen, whatever the rule for the NLU's intent would
            # have run next (report_problem's rule opens the form; an answer must not).
            events.append(action_listen())
        return events


def action_listen() -> dict[str, Any]:
    return FollowupAction("action_listen")
