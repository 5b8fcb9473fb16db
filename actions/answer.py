"""Answer a citizen's question from the knowledge base: answer with the source, clarify with the
top three as buttons, or say honestly that no answer was found."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.emergency import handle_emergency
from hotline.settings import get_settings
from knowledge.schema import Entry
from knowledge.service import SearchOutcome, get_service

TOPIC_SLOT = "kb_topic"  # the id of the entry last answered: context for short follow-ups
MISSES_SLOT = "misses"  # turns in a row the bot could not resolve (actions/fallback.py)

# Wording that asks for information (how, where, whether, who is in charge).
ASKS = re.compile(
    r"[？?]|吗|呢$|怎么|怎样|如何|多少|哪里|哪儿|在哪|几点|能不能|可不可以|是否|要不要|需不需要|"
    r"是不是|找谁|哪个部门|啥|有没有(?!人管)"
)


def consecutive_misunderstandings(events: list[dict[str, Any]]) -> int:
    """Misses in a row, the message being answered now included."""
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return 1
    for event in events[users[-2] + 1 : users[-1]]:
        if event.get("event") == "slot" and event.get("name") == MISSES_SLOT:
            return int(event.get("value") or 0) + 1
    return 1


def is_voice(tracker: Tracker) -> bool:
    return tracker.get_latest_input_channel() == "voice"


def say_entry(dispatcher: CollectingDispatcher, entry: Entry, voice: bool) -> list[dict[str, Any]]:
    if voice:
        dispatcher.utter_message(text=entry.spoken())
    else:
        dispatcher.utter_message(text=f"{entry.answer}\n{entry.source.line()}")
    return [SlotSet(TOPIC_SLOT, entry.id)]


def say_outcome(
    dispatcher: CollectingDispatcher, outcome: SearchOutcome, voice: bool
) -> list[dict[str, Any]] | None:
    """Speak a search outcome; None when the KB abstains (the caller decides what follows)."""
    if outcome.decision == "answer":
        return say_entry(dispatcher, outcome.results[0].entry, voice)
    if outcome.decision == "clarify":
        options = [r.entry for r in outcome.results[:3]]
        if voice:
            listed = "；".join(f"第{n}个，{e.question}" for n, e in enumerate(options, 1))
            dispatcher.utter_message(text=f"您想问的是哪一个？{listed}。请说第几个。")
        else:
            dispatcher.utter_message(
                response="utter_kb_clarify",
                buttons=[
                    {"title": e.question, "payload": f'/choose_entry{{"entry_id":"{e.id}"}}'}
                    for e in options
                ],
            )
        return []
    return None


def answer_if_sure(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]] | None:
    """A question the NLU filed as something else (a complaint, a status query) is answered when
    the knowledge base is sure of its answer, with the work order still one button away; None
    when it is not a question or the knowledge base is not sure."""
    text = (tracker.latest_message.get("text") or "").strip()
    if text.startswith("/") or not ASKS.search(text):
        return None
    outcome = get_service(get_settings()).search(text, k=3, topic=tracker.get_slot(TOPIC_SLOT))
    if outcome.decision != "answer":
        return None
    voice = is_voice(tracker)
    events = say_entry(dispatcher, outcome.results[0].entry, voice)
    if voice:
        dispatcher.utter_message(text="如果还要反映具体问题，请说登记工单。")
    else:
        dispatcher.utter_message(
            text="如果还要反映具体问题，可以点“登记工单”。", buttons=ABSTAIN_BUTTONS[:1]
        )
    return events


ABSTAIN_BUTTONS = [
    {"title": "登记工单", "payload": "/report_problem"},
    {"title": "转人工", "payload": "/request_human"},
]


def answer_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """Answer the latest message from the knowledge base: answer with its source, clarify, or
    say honestly that there is no answer and offer a work order or a person."""
    service = get_service(get_settings())
    voice = is_voice(tracker)
    chosen = next(tracker.get_latest_entity_values("entry_id"), None)
    if chosen:  # a clarify button was pressed
        entry = service.get(chosen)
        if entry:
            return say_entry(dispatcher, entry, voice)
    query = tracker.latest_message.get("text") or ""
    if query.startswith("/"):  # the "咨询" button of a clarification: ask for the question
        dispatcher.utter_message(response="utter_ask_question")
        return []
    events = answer_if_found(dispatcher, tracker)
    if events is None:
        # No answer counts as a miss: a second one in a row offers a person, never a loop.
        misses = consecutive_misunderstandings(tracker.events)
        again = "utter_fallback_again" if misses > 1 else "utter_kb_abstain"
        dispatcher.utter_message(response=again, buttons=[] if voice else ABSTAIN_BUTTONS)
        return [SlotSet(MISSES_SLOT, misses)]
    return events


def answer_if_found(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]] | None:
    """Answer, clarify, or (no answer, but entries near enough) suggest; None when the knowledge
    base has nothing near the latest message. Suggestions still count as a miss."""
    service = get_service(get_settings())
    voice = is_voice(tracker)
    query = tracker.latest_message.get("text") or ""
    outcome = service.search(query, k=3, topic=tracker.get_slot(TOPIC_SLOT))
    events = say_outcome(dispatcher, outcome, voice)
    if events is not None:
        return events
    near = [r.entry for r in outcome.results[:3] if r.score >= service.thresholds.suggest]
    if not near:
        return None
    suggest(dispatcher, near, voice)
    return [SlotSet(MISSES_SLOT, consecutive_misunderstandings(tracker.events))]


def suggest(dispatcher: CollectingDispatcher, near: list[Entry], voice: bool) -> None:
    """No answer, said honestly, with the nearest entries offered as questions to pick from
    beside the work order and the person."""
    if voice:
        listed = "；".join(f"第{n}个，{e.question}" for n, e in enumerate(near, 1))
        dispatcher.utter_message(
            text=f"抱歉，没有找到完全对应的答复。您是不是想问：{listed}。"
            "请说第几个；都不是的话，可以说登记工单，或者说转人工。"
        )
        return
    dispatcher.utter_message(
        text="抱歉，没有找到与您的问题完全对应的答复，我不想给您不准确的信息。"
        "您是不是想问下面的问题？都不是的话，可以登记工单或转人工。",
        buttons=[
            *(
                {"title": e.question, "payload": f'/choose_entry{{"entry_id":"{e.id}"}}'}
                for e in near
            ),
            *ABSTAIN_BUTTONS,
        ],
    )


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        emergency = handle_emergency(dispatcher, tracker)
        if emergency is not None:
            return emergency
        from actions.work_order import ActionQueryStatus, about_own_order  # it imports us

        if about_own_order(tracker.latest_message.get("text") or ""):  # 反映过的事有进展吗
            answered = answer_if_sure(dispatcher, tracker)
            if answered is not None:
                return answered
            return await ActionQueryStatus().run(dispatcher, tracker, domain)
        return answer_question(dispatcher, tracker)
