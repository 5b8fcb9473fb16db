"""Tell the citizen the hotline's service hours and today's date (in the centre's timezone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from hotline.settings import get_settings
from hotline.zh import format_date


class ActionServiceHours(Action):
    def name(self) -> str:
        return "action_service_hours"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        dispatcher.utter_message(text=f"今天是{format_date(today)}。{settings.service_hours}")
        return []
