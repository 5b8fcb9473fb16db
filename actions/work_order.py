"""The work-order dialogue: start, validate the form, read back, correct, submit, status query.

Thin: the rules (validation, kind, wording of states, storage) live in workorders/.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import (
    ASKS,
    answer_if_found,
    answer_if_sure,
    answer_question,
    is_voice,
    say_entry,
    say_outcome,
)
from actions.citizen import caller_number, channel_of
from actions.emergency import handle_emergency
from hotline.settings import get_settings
from knowledge.service import get_service
from workorders import intake, store
from workorders.citizen_view import confirmation, kind_of, status_line
from workorders.config import default_config
from workorders.repeats import link_repeats_quietly
from workorders.routing import resolve_district
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
        emergency = handle_emergency(dispatcher, tracker)
        if emergency is not None:  # never a form for a fire: 119 first
            return [*emergency, FollowupAction("action_listen")]
        answered = answer_if_sure(dispatcher, tracker)  # "离职要提前几天说" is a question
        if answered is not None:
            return [*answered, FollowupAction("action_listen")]
        text = (tracker.latest_message.get("text") or "").strip()
        if text.startswith("/"):  # a button ("反映问题") rather than words
            text = ""
        events = [SlotSet("wo_kind", kind_of(text)), SlotSet(FAILURES_SLOT, 0)]
        if text and not _OPENING.match(text) and len(text) >= 6:
            events.append(SlotSet("wo_what", text))  # the first message already says what
        # Whatever else the first message already gives is not asked again; an address only
        # when it names a district, a known place or a road (a bare 小区 is asked for).
        for entity, slot in (("address", "wo_where"), ("date", "wo_when"), ("person", "wo_name")):
            value = next(tracker.get_latest_entity_values(entity), None)
            if value and (slot != "wo_where" or _precise_address(value)):
                events.append(SlotSet(slot, value))
        phone = next(tracker.get_latest_entity_values("phone"), None) or caller_number(tracker)
        if phone:
            with contextlib.suppress(InvalidField):
                events.append(SlotSet("wo_phone", normalise_phone(phone)))
        dispatcher.utter_message(response="utter_wo_start")
        return events


FAILURES_SLOT = "wo_failures"  # failed validations in a row for the field being asked
MAX_FAILURES = 2  # the second failure offers a person and never asks a third time
_NAME_PREFIX = re.compile(r"^(我(叫|是|姓)|叫我|免贵姓)")


_ROAD = re.compile(r"路|街|大道|巷")


def _precise_address(value: str) -> bool:
    return bool(_ROAD.search(value) or resolve_district(value, default_config()))


class ValidateWorkOrderForm(FormValidationAction):
    """Check each answer; answer a question asked mid-form and resume; never loop a third time."""

    def name(self) -> str:
        return "validate_work_order_form"

    async def get_validation_events(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        slot = tracker.get_slot("requested_slot")
        if slot and slot != "wo_what" and _is_question(tracker):
            _answer_aside(dispatcher, tracker)
            return [SlotSet(slot, None)]
        if slot and (fixed := _fixes_other_field(tracker, slot)):
            other, value = fixed  # 刚才名字没说清楚 叫我谢女士, said when the phone was asked
            dispatcher.utter_message(text=f"好的，{FIELDS[other]}改为：{value}。")
            return [SlotSet(other, value), SlotSet(slot, None)]
        return await super().get_validation_events(dispatcher, tracker, domain)

    def validate_wo_what(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if isinstance(value, str) and len(value.strip()) >= 4:
            return _ok("wo_what", value.strip())
        return _failed("wo_what", value, "utter_wo_what_hint", dispatcher, tracker)

    def validate_wo_where(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if isinstance(value, str) and len(value.strip()) >= 2:
            return _ok("wo_where", value.strip())
        return _failed("wo_where", value, "utter_wo_where_hint", dispatcher, tracker)

    def validate_wo_when(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return _ok(
            "wo_when", value.strip() if isinstance(value, str) and value.strip() else "未说明"
        )

    def validate_wo_name(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        name = _NAME_PREFIX.sub("", str(value or "")).strip(" 。，,")
        if 1 <= len(name) <= 20:
            return _ok("wo_name", name)
        return _failed("wo_name", value, "utter_wo_name_hint", dispatcher, tracker)

    def validate_wo_phone(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return _validate_phone(value, dispatcher, tracker)


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_callback_form"

    def validate_wo_phone(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return _validate_phone(value, dispatcher, tracker)


def _validate_phone(value: Any, dispatcher, tracker) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    given = next(tracker.get_latest_entity_values("phone"), None) or str(value or "")
    try:
        return _ok("wo_phone", normalise_phone(given))
    except InvalidField:
        return _failed("wo_phone", value, "utter_wo_phone_hint", dispatcher, tracker)


def _ok(slot: str, value: str) -> dict[str, Any]:
    return {slot: value, FAILURES_SLOT: 0}


# After the second failed answer the form moves on with what it has (an operator checks it), so
# the citizen is never asked the same thing a third time.
_GIVE_UP = {
    "wo_what": lambda v: str(v or "").strip() or "（市民未说清，请话务员回电核实）",
    "wo_where": lambda v: str(v or "").strip() or "未说明",
    "wo_name": lambda v: "市民",
    "wo_phone": lambda v: "未留",
}


def _failed(slot: str, value: Any, hint: str, dispatcher, tracker) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    failures = int(tracker.get_slot(FAILURES_SLOT) or 0) + 1
    if failures < MAX_FAILURES:
        dispatcher.utter_message(response=hint)
        return {slot: None, FAILURES_SLOT: failures}
    dispatcher.utter_message(response="utter_wo_give_up")
    return {slot: _GIVE_UP[slot](value), FAILURES_SLOT: 0}


def _question(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _is_question(tracker: Tracker) -> bool:
    """A question rather than an answer: the NLU says so, or it reads like one and the knowledge
    base has an answer for it (addresses and names rarely do)."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    text = tracker.latest_message.get("text") or ""
    if intent == "choose_entry":  # a clarification button pressed mid-form
        return True
    if not ASKS.search(text):
        return False
    if intent in ("consult", "ask_service_hours"):
        return True
    return get_service(get_settings()).search(text, k=3).decision != "abstain"


def _answer_aside(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Answer a question asked in the middle of the form; the form then asks its field again."""
    service, voice = get_service(get_settings()), is_voice(tracker)
    chosen = next(tracker.get_latest_entity_values("entry_id"), None)
    entry = service.get(chosen) if chosen else None
    if entry:
        say_entry(dispatcher, entry, voice)
    elif say_outcome(dispatcher, service.search(_question(tracker), k=3), voice) is None:
        dispatcher.utter_message(
            text="这个问题我暂时没找到准确答复，登记完后您可以再问我，或者拨打12345咨询。"
        )
    dispatcher.utter_message(text="我们接着登记刚才的问题。")


class ActionCancelWorkOrder(Action):
    """The citizen gives up: nothing is stored and the half-filled form is forgotten."""

    def name(self) -> str:
        return "action_cancel_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_wo_cancelled")
        return [SlotSet(s, None) for s in (*FIELDS, "wo_kind", FAILURES_SLOT)]


class ActionReadBackWorkOrder(Action):
    def name(self) -> str:
        return "action_read_back_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lines = [f"{label}：{_said(tracker, slot)}" for slot, label in FIELDS.items()]
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


def _said(tracker: Tracker, slot: str) -> str:
    value = tracker.get_slot(slot) or "未说明"
    return spoken_digits(value) if is_voice(tracker) and slot == "wo_phone" else value


def spoken_digits(value: str) -> str:
    """A phone number read digit by digit on the phone (1 as 幺, as operators say it)."""
    return "".join("零幺二三四五六七八九"[int(c)] if c.isdigit() else c for c in value)


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
    """Change the field the citizen names: to the new value when it was said with the
    correction (电话说错了，是139…), else cleared so that the form asks for it again."""

    def name(self) -> str:
        return "action_correct_field"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        field = next(tracker.get_latest_entity_values("field"), None)
        text = tracker.latest_message.get("text") or ""
        if field not in FIELDS:  # said in words: 电话说错了 / 地址不对
            field = next((s for s, label in FIELDS.items() if _mentions(text, s, label)), None)
        if not field:  # nothing named: an answer to the form the NLU took for a correction
            return _as_answer(text, tracker)
        return [SlotSet(field, _new_value(field, text, tracker))]


def _as_answer(text: str, tracker: Tracker) -> list[dict[str, Any]]:
    asked = tracker.get_slot("requested_slot")
    if asked not in FIELDS or not text or text.startswith("/"):
        return []
    if asked == "wo_phone":
        try:
            return [SlotSet(asked, normalise_phone(text))]
        except InvalidField:
            return []
    return [SlotSet(asked, text)]


# The new value follows the last cue: "我姓谢 言字旁那个谢 叫我谢女士" -> 谢女士.
_SAID_AFTER = re.compile(r".*(?:应该是|改成|换成|叫我|是|叫|姓)[:：，, ]*(.+)$")
_NOT_THAT = re.compile(r"[，, ]*(?:而)?不是(.+)$")  # 是创业路28号不是18号
_CORRECTING = re.compile(r"说错|错了|不对|没说清|搞错|更正|改一下|改成|应该是")


def _new_value(field: str, text: str, tracker: Tracker) -> str | None:
    """The corrected value said in the same message, validated like the form would; else None.
    "是28号不是18号" changes only that part of the value already given."""
    wrong = None
    if m := _NOT_THAT.search(text):
        wrong, text = m.group(1).strip(" 。，,！!"), text[: m.start()]
    entity = {"wo_phone": "phone", "wo_where": "address", "wo_when": "date", "wo_name": "person"}
    said = list(tracker.get_latest_entity_values(entity.get(field, "")))
    value = said[-1] if said else None
    if value and "不是" in value:
        value = value[: value.index("不是")]
    cue = _SAID_AFTER.match(text)
    if cue and (not value or field == "wo_name"):  # a name: the last one said (…叫我谢女士)
        value = cue.group(1).strip(" 。，,！!")
    if not value:
        return None
    if field == "wo_phone":
        try:
            return normalise_phone(value)
        except InvalidField:
            return None
    old = tracker.get_slot(field)
    if wrong and isinstance(old, str) and wrong in old:
        value = _splice(old, wrong, value)
    return value if len(value) >= (1 if field == "wo_name" else 2) else None


def _splice(old: str, wrong: str, new: str) -> str:
    """Replace `wrong` in `old` by `new`, where `new` may repeat what comes just before `wrong`:
    ("开发区创业路18号 电子厂", "18号", "创业路28号") -> "开发区创业路28号 电子厂"."""
    at = old.index(wrong)
    before = old[:at]
    overlap = next((k for k in range(len(new), 0, -1) if before.endswith(new[:k])), 0)
    return before[: len(before) - overlap] + new + old[at + len(wrong) :]


def _fixes_other_field(tracker: Tracker, asked: str) -> tuple[str, str] | None:
    """A correction of an earlier field said instead of the answer asked for, with its value."""
    text = tracker.latest_message.get("text") or ""
    if not _CORRECTING.search(text):
        return None
    for slot, label in FIELDS.items():
        if slot != asked and tracker.get_slot(slot) and _mentions(text, slot, label):
            value = _new_value(slot, text, tracker)
            return (slot, value) if value else None
    return None


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
        phone = slot("wo_phone")
        draft = Draft(
            channel=channel_of(tracker),
            request_text=request,
            kind=slot("wo_kind") or kind_of(what),
            citizen_name=slot("wo_name"),
            citizen_phone=phone if phone and phone != "未留" else None,
            address=slot("wo_where"),
            conversation_id=tracker.sender_id,
        )
        # Rasa may retry an action call: the same conversation and content make the same key.
        key = hashlib.sha256(f"{tracker.sender_id}|{draft.model_dump_json()}".encode()).hexdigest()[
            :32
        ]
        try:
            order = intake.submit(settings.database_url, draft, idempotency_key=key)
        except InvalidField as exc:
            dispatcher.utter_message(text=f"抱歉，登记没有成功：{exc}。请修改后再提交。")
            return []
        dispatcher.utter_message(text=confirmation(order, settings.timezone, is_voice(tracker)))
        link_repeats_quietly(settings.database_url, order.number, get_service(settings).encode)
        cleared = [SlotSet(s, None) for s in (*FIELDS, "wo_kind")]
        return [*cleared, SlotSet("last_order", order.number)]


_ABOUT_STATUS = re.compile(
    r"进度|处理|结果|办(好|完|得|了)|修(好|了)|工单|反映的|投诉的|举报的|回复|回音|有人管|"
    r"怎么样了|咋样了|到哪|查一?下|查询|状态|消息|答复|/query_status"
)

# Words that only fit the citizen's own earlier request.
_ABOUT_ORDER = re.compile(
    r"工单|进度|进展|(反映|投诉|举报)(的|过)|(之前|上次|以前|前几天|上个月|上周)(打电话)?"
    r"(反映|投诉|举报)|怎么样了|咋样了|(修|办|弄)(好|完)了?没|回音"
)


def about_own_order(text: str) -> bool:
    """Words that only fit the citizen's own earlier request (上个月反映过的事 有进展吗)."""
    return bool(_ABOUT_ORDER.search(text))


class ActionQueryStatus(Action):
    def name(self) -> str:
        return "action_query_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        settings = get_settings()
        url, voice = settings.database_url, is_voice(tracker)
        number = next(tracker.get_latest_entity_values("order_number"), None)
        text = tracker.latest_message.get("text") or ""
        # A question the NLU misfiled as a status query goes to the knowledge base; one that
        # only might be about an order (查一下违章在哪看) too, when the KB has something near.
        if not number and not about_own_order(text):
            if not _ABOUT_STATUS.search(text):
                return answer_question(dispatcher, tracker)
            answered = answer_if_found(dispatcher, tracker)
            if answered is not None:
                return answered
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
    caller = caller_number(tracker)
    return {"phone": caller} if caller else {"conversation_id": tracker.sender_id}
