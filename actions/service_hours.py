"""Tell the citizen the hotline's service hours and today's date (in the centre's timezone)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import answer_question
from hotline.settings import get_settings
from hotline.zh import format_date

# The NLU sometimes takes a policy question for one about our hours ("专项附加扣除几点能办"
# is about tax); only a message that talks about time or availability gets the hours.
_ABOUT_HOURS = re.compile(
    r"几点|时间|上班|下班|营业|值班|周末|节假日|假期|过年|春节|国庆|晚上|半夜|夜里|中午|24小时|"
    r"有人接|有人吗|打得通|能打|什么时候(能|可以)?打|今天几号|星期几|礼拜几|几月几"
)

# Hours of another place (游泳馆几点关门) are a question for the knowledge base, not ours.
_OTHER_PLACE = re.compile(
    r"馆|医院|窗口|大厅|办事处|派出所|银行|局|站|公园|景区|商场|超市|学校|中心"
)
_US = re.compile(r"热线|12345|你们|人工|客服|话务")


class ActionServiceHours(Action):
    def name(self) -> str:
        return "action_service_hours"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if not _ABOUT_HOURS.search(text) or (_OTHER_PLACE.search(text) and not _US.search(text)):
            return answer_question(dispatcher, tracker)
        settings = get_settings()
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        dispatcher.utter_message(text=f"今天是{format_date(today)}。{settings.service_hours}")
        return []
