"""The work-order form: each field, the read-back as its last step, corrections, submit, cancel.

Thin: how a reply is read (a field's check, a correction, the answer to the read-back) is in
triage/form.py, what follows from it (a hint or giving up, the read-back, the stored order) in
triage/form_steps.py, which the Rasa-down fallback steps through too; these actions translate
slots to those steps and back. A reply that does not fit re-asks the step;
the draft is dropped only when the citizen cancels, and stored only once they confirmed.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import channel_of, form_in_progress, resume_form, wechat_openid
from actions.render import (
    FAILURES_SLOT,
    emergency_awaiting_place,
    is_voice,
    render,
    take_place,
)
from hotline.settings import get_settings
from triage import Abstain, Context, OrderDraft, ServiceHours, StatusQuery, form_steps, get_triage
from triage.form import (
    FIELDS,
    NO_PHONE,
    cancels,
    check_field,
    named_field,
    new_value,
    other_field_fix,
    refuses_phone,
)
from triage.wording import asks_question
from workorders.citizen_view import confirmation as confirmation_text
from workorders.store import InvalidField

Events = list[dict[str, Any]]
CONFIRM_SLOT = "wo_confirm"  # the read-back's answer: "yes" once the citizen confirmed
FIX_SLOT = "wo_fix"  # the citizen said the read-back is wrong: ask which field next
DRAFT_SLOTS = (*FIELDS, "wo_kind", CONFIRM_SLOT, FIX_SLOT, FAILURES_SLOT)
_ENTITY_OF = {"wo_phone": "phone", "wo_where": "address", "wo_when": "date", "wo_name": "person"}


def _said(tracker: Tracker) -> dict[str, str]:
    """Values the NLU extracted from the latest message, by the slot they would fill."""
    found = {}
    for slot, entity in _ENTITY_OF.items():
        values = list(tracker.get_latest_entity_values(entity))
        if values:
            found[slot] = values[-1]
    return found


def _filled(tracker: Tracker) -> dict[str, str | None]:
    return {slot: tracker.get_slot(slot) for slot in FIELDS}


class ValidateWorkOrderForm(FormValidationAction):
    """Check each answer; answer a question asked mid-form and resume; never loop a third time."""

    def name(self) -> str:
        return "validate_work_order_form"

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        asked = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        number = emergency_awaiting_place(tracker) if asked in FIELDS else None
        if number and take_place(dispatcher, tracker, number):  # an emergency came mid-form
            return [SlotSet(asked, None)]  # then the form asks its field again
        if asked in FIELDS and asked != "wo_what" and _aside(dispatcher, tracker, text):
            return [SlotSet(asked, None)]
        if asked in FIELDS and (
            fix := other_field_fix(text, asked, _filled(tracker), _said(tracker))
        ):
            other, value = fix  # 刚才名字没说清楚 叫我谢女士, said when the phone was asked
            dispatcher.utter_message(text=f"好的，{FIELDS[other]}改为：{value}。")
            return [SlotSet(other, value), SlotSet(asked, None)]
        return await super().get_validation_events(dispatcher, tracker, domain)

    def validate_wo_what(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _checked("wo_what", value, dispatcher, tracker)

    def validate_wo_where(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _checked("wo_where", value, dispatcher, tracker)

    def validate_wo_when(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _checked("wo_when", value, dispatcher, tracker)

    def validate_wo_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _checked("wo_name", value, dispatcher, tracker)

    def validate_wo_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _checked("wo_phone", _said(tracker).get("wo_phone") or value, dispatcher, tracker)

    def validate_wo_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if not value:  # cleared when a draft starts or a field changes: nothing was said yet
            return {}
        return _confirm(str(value), dispatcher, tracker)


class ValidateCallbackForm(FormValidationAction):
    """A callback needs a number: no number (refused, or wrong twice) is no callback order,
    never an order that cannot be called back (the citizen is told so: ActionSubmitCallback)."""

    def name(self) -> str:
        return "validate_callback_form"

    def validate_wo_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        said = _said(tracker).get("wo_phone") or value
        failures = int(tracker.get_slot(FAILURES_SLOT) or 0)
        answer = form_steps.answer_field("wo_phone", said, failures)
        if answer.value is None and refuses_phone(str(value or "")):
            return {"wo_phone": NO_PHONE, FAILURES_SLOT: 0}
        if answer.say == "utter_wo_give_up":
            return {"wo_phone": NO_PHONE, FAILURES_SLOT: 0}
        if answer.say:
            dispatcher.utter_message(response=answer.say)
        return {"wo_phone": answer.value, FAILURES_SLOT: answer.failures}


def _checked(slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict:
    answer = form_steps.answer_field(slot, value, int(tracker.get_slot(FAILURES_SLOT) or 0))
    if answer.say:
        dispatcher.utter_message(response=answer.say)
    return {slot: answer.value, FAILURES_SLOT: answer.failures}


def _aside(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> bool:
    """A question asked in the middle of the form is answered (then the form asks its field
    again); True if the message was one. An address or a name is rarely a question the
    knowledge base answers."""
    chosen = next(tracker.get_latest_entity_values("entry_id"), None)
    if not chosen and not asks_question(text):
        return False
    decision = get_triage(get_settings()).decide(text, Context(channel=channel_of(tracker),
                                                               chosen_entry=chosen))  # fmt: skip
    if isinstance(decision, Abstain | OrderDraft | StatusQuery | ServiceHours):
        return False  # not a question the KB knows: take it as the answer to the field
    render(decision, dispatcher, tracker)  # an answer, a choice, or an emergency's number
    dispatcher.utter_message(text="我们接着登记刚才的问题。")
    return True


def _confirm(text: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict:
    """The answer to the read-back: store on yes; anything else keeps the draft and asks
    again (a field to fix is set or asked for first)."""
    failures = int(tracker.get_slot(FAILURES_SLOT) or 0)
    reply = form_steps.answer_read_back(
        text, _filled(tracker), _said(tracker), failures, is_voice(tracker)
    )
    if reply.say:
        dispatcher.utter_message(text=reply.say)
    if reply.confirmed:
        return {CONFIRM_SLOT: "yes", FIX_SLOT: None, FAILURES_SLOT: 0}
    if reply.which_field:
        return {CONFIRM_SLOT: None, FIX_SLOT: True, FAILURES_SLOT: 0}
    if reply.changes:
        return {**reply.changes, CONFIRM_SLOT: None, FIX_SLOT: None, FAILURES_SLOT: 0}
    return {CONFIRM_SLOT: None, FAILURES_SLOT: reply.failures}


class ActionAskWoConfirm(Action):
    """The read-back (the form's last step), or which field to change after a 修改."""

    def name(self) -> str:
        return "action_ask_wo_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        voice = is_voice(tracker)
        if tracker.get_slot(FIX_SLOT):
            if voice:
                listed = "、".join(FIELDS.values())
                dispatcher.utter_message(text=f"请问要修改哪一项？{listed}。")
            else:
                buttons = [
                    {"title": label, "payload": f'/correct_field{{"field":"{slot}"}}'}
                    for slot, label in FIELDS.items()
                ]
                dispatcher.utter_message(response="utter_wo_which_field", buttons=buttons)
            return []
        read_back = form_steps.read_back(_filled(tracker), voice)
        dispatcher.utter_message(text=read_back.text, buttons=list(read_back.buttons))
        return []


class ActionCancelWorkOrder(Action):
    """The citizen gives up: nothing is stored, they are told so, the draft is forgotten."""

    def name(self) -> str:
        return "action_cancel_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        text = tracker.latest_message.get("text") or ""
        if form_in_progress(tracker) and not cancels(text):
            return resume_form(tracker)  # 都不是我要问的 is no reason to drop the draft
        dispatcher.utter_message(response="utter_wo_cancelled")
        return [SlotSet(s, None) for s in DRAFT_SLOTS]


class ActionCorrectField(Action):
    """Change the field the citizen names: to the new value when it was said with the
    correction (电话说错了，是139…), else cleared so that the form asks for it again; the
    read-back follows."""

    def name(self) -> str:
        return "action_correct_field"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        if not form_in_progress(tracker):  # no draft to correct: 号码 in a question
            return [FollowupAction("action_triage")]
        field = next(tracker.get_latest_entity_values("field"), None)
        text = tracker.latest_message.get("text") or ""
        if field not in FIELDS:  # said in words: 电话说错了 / 地址不对
            field = named_field(text)
        if not field:  # nothing named: an answer to the form the NLU took for a correction
            return _as_answer(text, tracker)
        value = new_value(field, text, tracker.get_slot(field), _said(tracker).get(field))
        return [SlotSet(field, value), SlotSet(CONFIRM_SLOT, None), SlotSet(FIX_SLOT, None)]


def _as_answer(text: str, tracker: Tracker) -> Events:
    asked = tracker.get_slot("requested_slot")
    if asked not in FIELDS or not text or text.startswith("/"):
        return []
    value = check_field(asked, text)
    return [SlotSet(asked, value)] if value else []


class ActionSubmitWorkOrder(Action):
    """Store the order durably, and only then tell the citizen its number and deadline."""

    def name(self) -> str:
        return "action_submit_work_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        settings = get_settings()
        fields = _filled(tracker)
        kind = tracker.get_slot("wo_kind")
        channel = channel_of(tracker)
        try:  # Rasa may retry an action call: the order is stored once
            order = form_steps.submit(
                settings, fields, kind, channel, tracker.sender_id, wechat_openid(tracker)
            )
        except InvalidField as exc:
            dispatcher.utter_message(text=f"抱歉，登记没有成功：{exc}。请修改后再提交。")
            return [SlotSet(CONFIRM_SLOT, None), FollowupAction("work_order_form")]
        dispatcher.utter_message(
            text=confirmation_text(order, settings.timezone, is_voice(tracker))
        )
        return [*(SlotSet(s, None) for s in DRAFT_SLOTS), SlotSet("last_order", order.number)]
