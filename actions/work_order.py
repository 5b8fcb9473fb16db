"""The work-order dialogue: start, validate the form, read back, correct, submit, status query.

Thin: the rules (validation, kind, wording of states, storage) live in workorders/.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import is_voice
from hotline.settings import get_settings
from knowledge.service import get_service
from workorders import store
from workorders.citizen_view import confirmation, kind_of, status_line
from workorders.repeats import link_repeats_quietly
from workorders.store import Draft, InvalidField, normalise_phone

FIELDS = {  # slot -> how the read-back and the correction buttons name it
    "wo_what": "反映的问题",
    "wo_where": "地点",
    "wo_when": "发生时间",
    "wo_name": "您的称呼",
    "wo_phone": "联系电话",
}
# Openings that say "I want to report" without saying what; the form then asks what happened.
_OPENING = re.compile(
    r"^(我(要|想)?(投诉|举报|反映|求助|建议|表扬)(一下|个事|个问题)?|投诉|举报)[。！!，,]?$"
)


class ActionStartWorkOrder(Action):
    def name(self) -> str:
        return "action_start_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        events = [SlotSet("wo_kind", kind_of(text))]
        if text and not _OPENING.match(text) and len(text) >= 6:
            events.append(SlotSet("wo_what", text))  # the first message already says what
        dispatcher.utter_message(response="utter_wo_start")
        return events


class ValidateWorkOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_work_order_form"

    def validate_wo_what(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if isinstance(value, str) and len(value.strip()) >= 4:
            return {"wo_what": value.strip()}
        dispatcher.utter_message(response="utter_wo_what_hint")
        return {"wo_what": None}

    def validate_wo_where(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if isinstance(value, str) and len(value.strip()) >= 2:
            return {"wo_where": value.strip()}
        dispatcher.utter_message(response="utter_wo_where_hint")
        return {"wo_where": None}

    def validate_wo_when(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {"wo_when": value.strip() if isinstance(value, str) and value.strip() else "未说明"}

    def validate_wo_name(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        name = re.sub(r"^(我(叫|是|姓)|叫我)", "", str(value or "")).strip(" 。，,")
        if 1 <= len(name) <= 20:
            return {"wo_name": name}
        dispatcher.utter_message(response="utter_wo_name_hint")
        return {"wo_name": None}

    def validate_wo_phone(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        try:
            return {"wo_phone": normalise_phone(str(value or ""))}
        except InvalidField:
            dispatcher.utter_message(response="utter_wo_phone_hint")
            return {"wo_phone": None}


class ActionReadBackWorkOrder(Action):
    def name(self) -> str:
        return "action_read_back_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lines = [f"{label}：{tracker.get_slot(slot) or '未说明'}" for slot, label in FIELDS.items()]
        text = (
            "请核对您要登记的内容：\n"
            + "\n".join(lines)
            + "\n信息无误请回复“确认”，需要修改请回复“修改”。"
        )
        buttons = [] if is_voice(tracker) else [
            {"title": "确认提交", "payload": "/affirm"},
            {"title": "修改", "payload": "/deny"},
        ]  # fmt: skip
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionAskWhichField(Action):
    def name(self) -> str:
        return "action_ask_which_field"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        buttons = [
            {"title": label, "payload": f'/correct_field{{"field":"{slot}"}}'}
            for slot, label in FIELDS.items()
        ]
        dispatcher.utter_message(response="utter_wo_which_field", buttons=buttons)
        return []


class ActionCorrectField(Action):
    """Clear the field the citizen wants to change; the form then asks for it again."""

    def name(self) -> str:
        return "action_correct_field"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        field = next(tracker.get_latest_entity_values("field"), None)
        text = tracker.latest_message.get("text") or ""
        if field not in FIELDS:  # said in words: 电话说错了 / 地址不对
            field = next((s for s, label in FIELDS.items() if _mentions(text, s, label)), None)
        return [SlotSet(field, None)] if field else []


_FIELD_WORDS = {
    "wo_phone": ("电话", "手机", "号码"),
    "wo_where": ("地址", "地点", "位置"),
    "wo_name": ("名字", "称呼", "姓"),
    "wo_when": ("时间",),
    "wo_what": ("问题", "内容"),
}


def _mentions(text: str, slot: str, label: str) -> bool:
    return label in text or any(w in text for w in _FIELD_WORDS[slot])


class ActionSubmitWorkOrder(Action):
    """Store the order durably, and only then tell the citizen its number and deadline."""

    def name(self) -> str:
        return "action_submit_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        slot = tracker.get_slot
        what, when = slot("wo_what") or "", slot("wo_when")
        request = what if not when or when == "未说明" else f"{what}（时间：{when}）"
        channel = tracker.get_latest_input_channel() or "api"
        draft = Draft(
            channel=channel if channel in ("web", "wechat", "voice", "api") else "api",
            request_text=request,
            kind=slot("wo_kind") or kind_of(what),
            citizen_name=slot("wo_name"),
            citizen_phone=slot("wo_phone"),
            address=slot("wo_where"),
            conversation_id=tracker.sender_id,
        )
        # Rasa may retry an action call: the same conversation and content make the same key.
        key = hashlib.sha256(f"{tracker.sender_id}|{draft.model_dump_json()}".encode()).hexdigest()[
            :32
        ]
        try:
            order = store.create(settings.database_url, draft, idempotency_key=key)
        except InvalidField as exc:
            dispatcher.utter_message(text=f"抱歉，登记没有成功：{exc}。请修改后再提交。")
            return []
        dispatcher.utter_message(text=confirmation(order, settings.timezone, is_voice(tracker)))
        link_repeats_quietly(settings.database_url, order.number, get_service(settings).encode)
        cleared = [SlotSet(s, None) for s in (*FIELDS, "wo_kind")]
        return [*cleared, SlotSet("last_order", order.number)]


class ActionQueryStatus(Action):
    def name(self) -> str:
        return "action_query_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        url, voice = settings.database_url, is_voice(tracker)
        number = next(tracker.get_latest_entity_values("order_number"), None)
        number = number or tracker.get_slot("last_order")
        orders = []
        if number:
            try:
                orders = [store.get(url, number)]
            except (store.OrderNotFound, InvalidField):
                dispatcher.utter_message(response="utter_order_not_found")
                return []
        else:
            orders = store.list_orders(url, limit=3, **_citizen_filter(tracker))
        if not orders:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        for order in orders:
            events = store.timeline(url, order.number)
            dispatcher.utter_message(text=status_line(order, events, settings.timezone, voice))
        return []


def _citizen_filter(tracker: Tracker) -> dict[str, Any]:
    """The citizen's own orders: by the caller's number on the phone, else by openid/sender."""
    caller = (tracker.latest_message.get("metadata") or {}).get("caller")
    if caller:
        try:
            return {"phone": normalise_phone(str(caller))}
        except InvalidField:
            pass
    return {"conversation_id": tracker.sender_id}
