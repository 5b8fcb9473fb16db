"""The satisfaction question when a conversation ends, and the rating stored with it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import channel_of
from hotline.conversations import RATINGS, record_rating
from hotline.settings import get_settings
from triage.wording import rating_of

RATED_SLOT = "rated"


class ActionAskSatisfaction(Action):
    def name(self) -> str:
        return "action_ask_satisfaction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if tracker.get_slot(RATED_SLOT):
            dispatcher.utter_message(response="utter_goodbye")
            return []
        if channel_of(tracker) == "voice":
            dispatcher.utter_message(text="请问您对这次服务满意吗？请说满意、基本满意或者不满意。")
        else:
            dispatcher.utter_message(
                text="请问您对本次服务满意吗？",
                buttons=[
                    {"title": r, "payload": f'/rate_service{{"rating":"{r}"}}'} for r in RATINGS
                ],
            )
        return []


class ActionStoreRating(Action):
    def name(self) -> str:
        return "action_store_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        given = next(tracker.get_latest_entity_values("rating"), None)
        rating = given if given in RATINGS else rating_of(tracker.latest_message.get("text") or "")
        record_rating(get_settings().database_url, tracker.sender_id, channel_of(tracker), rating)
        if rating == "不满意":
            dispatcher.utter_message(
                text="很抱歉没能让您满意，您的意见我们会认真改进。"
                "如需进一步帮助，可以拨打12345由话务员为您服务。再见！"
            )
        else:
            dispatcher.utter_message(text="感谢您的评价！祝您生活愉快，再见。")
        return [SlotSet(RATED_SLOT, True)]
