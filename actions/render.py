"""One renderer per triage decision: what the citizen sees on chat (text, buttons) or hears on
the phone (numbers to say instead of buttons). The decision itself comes from triage/; the
renderers only phrase it, store what the decision says must be stored (an emergency order), and
return the tracker events."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen import (
    bound_phones,
    caller_number,
    channel_of,
    known_phone,
    phones_given,
    wechat_openid,
)
from actions.handoff import queue_for_person, queued_text
from hotline.conversations import record_handoff
from hotline.numbers import digits_aloud, number_aloud
from hotline.settings import get_settings
from hotline.zh import format_date, normalise_text
from knowledge.schema import Entry
from knowledge.service import get_service
from triage import (
    AboutBot,
    Abstain,
    Answer,
    Calm,
    Clarify,
    Decision,
    Emergency,
    Handoff,
    OrderDraft,
    ServiceHours,
    StatusQuery,
)
from triage.form import check_field, precise_address, tells_place
from triage.wording import (
    ABOUT_BOT,
    ABOUT_BOT_VOICE,
    BEFORE_CALLING,
    BEFORE_CALLING_VOICE,
    ORDER_BUTTON,
    PERSON_BUTTON,
    other_city_text,
)
from workorders import intake, store
from workorders.citizen_view import status_line
from workorders.edits import add_place
from workorders.emergency import is_emergency
from workorders.model import WorkOrder
from workorders.states import Actor
from workorders.store import Draft, InvalidField

Events = list[dict[str, Any]]

ASK_PHONE = (
    "为保护您的隐私，查询工单请提供工单号和登记时留的电话号码，例如：20261122-0001 13812345678。"
)
ASK_PHONE_VOICE = "为保护您的隐私，请说出工单号和登记时留的电话号码。"

TOPIC_SLOT = "kb_topic"  # the id of the entry last answered: context for short follow-ups
MISSES_SLOT = "misses"  # misunderstandings in a row (the triage context of the next turn)
FAILURES_SLOT = "wo_failures"
SERVICES = {"110": "报警电话", "119": "消防救援电话", "120": "急救电话"}
OPERATOR_CHANNELS = ("web", "wechat")  # where an operator can write to the citizen
SORRY = {"misunderstood": "抱歉，我还是没能理解您的问题。", "anger": "非常理解您的心情。",
         "abuse": "理解您着急的心情。"}  # fmt: skip


def is_voice(tracker: Tracker) -> bool:
    return channel_of(tracker) == "voice"


def render(decision: Decision, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
    """Say `decision` to the citizen; the events to apply. The decision itself travels with
    the reply as a custom message, for the chat API and the voice session."""
    voice = is_voice(tracker)
    match decision:
        case Answer():
            events = say_entry(dispatcher, decision.entry, voice)
        case Clarify():
            events = _clarify(dispatcher, list(decision.candidates), voice)
        case Abstain():
            events = _abstain(dispatcher, decision, voice)
        case OrderDraft():
            events = _start_order(dispatcher, tracker, decision, voice)
        case Handoff():
            events = _handoff(dispatcher, tracker, decision, voice)
        case Emergency():
            events = _emergency(dispatcher, tracker, decision, voice)
        case StatusQuery():
            events = _status(dispatcher, tracker, decision, voice)
        case Calm():
            dispatcher.utter_message(response="utter_abuse")
            events = []
        case AboutBot():
            dispatcher.utter_message(text=ABOUT_BOT_VOICE if voice else ABOUT_BOT,
                                     buttons=[] if voice else [PERSON_BUTTON])  # fmt: skip
            events = []
        case ServiceHours():
            settings = get_settings()
            today = datetime.now(ZoneInfo(settings.timezone)).date()
            dispatcher.utter_message(text=f"今天是{format_date(today)}。{settings.service_hours}")
            events = []
    dispatcher.utter_message(json_message={"triage": decision.public()})
    return events


def say_entry(dispatcher: CollectingDispatcher, entry: Entry, voice: bool) -> Events:
    if voice:
        dispatcher.utter_message(text=entry.spoken())
    else:
        dispatcher.utter_message(text=f"{entry.answer}\n{entry.source.line()}")
    return [SlotSet(TOPIC_SLOT, entry.id), SlotSet(MISSES_SLOT, 0)]


def _options(entries: list[Entry]) -> str:
    return "；".join(f"第{n}个，{e.question}" for n, e in enumerate(entries, 1))


def _entry_buttons(entries: list[Entry]) -> list[dict[str, str]]:
    return [
        {"title": e.question, "payload": f'/choose_entry{{"entry_id":"{e.id}"}}'} for e in entries
    ]


def _clarify(dispatcher: CollectingDispatcher, options: list[Entry], voice: bool) -> Events:
    if voice:
        dispatcher.utter_message(text=f"您想问的是哪一个？{_options(options)}。请说第几个。")
    else:
        dispatcher.utter_message(response="utter_kb_clarify", buttons=_entry_buttons(options))
    return [SlotSet(MISSES_SLOT, 0)]


def _abstain(dispatcher: CollectingDispatcher, decision: Abstain, voice: bool) -> Events:
    near = list(decision.suggestions)
    if decision.reason == "other_city":
        said = other_city_text(decision.city or "")
        dispatcher.utter_message(text=said, buttons=[] if voice else [ORDER_BUTTON, PERSON_BUTTON])
    elif near and voice:
        dispatcher.utter_message(
            text=f"抱歉，没有找到完全对应的答复。您是不是想问：{_options(near)}。"
            "请说第几个；都不是的话，可以说登记工单，或者说转人工。"
        )
    elif near:
        dispatcher.utter_message(
            text="抱歉，没有找到与您的问题完全对应的答复，我不想给您不准确的信息。"
            "您是不是想问下面的问题？都不是的话，可以登记工单或转人工。",
            buttons=[*_entry_buttons(near), ORDER_BUTTON, PERSON_BUTTON],
        )
    elif voice:
        dispatcher.utter_message(response="utter_fallback_first_voice")
    else:
        dispatcher.utter_message(response="utter_kb_abstain", buttons=[ORDER_BUTTON, PERSON_BUTTON])
    return [SlotSet(MISSES_SLOT, decision.misses)]


def _start_order(
    dispatcher: CollectingDispatcher, tracker: Tracker, draft: OrderDraft, voice: bool
) -> Events:
    """Guidance first when the KB has some, then the form, prefilled with what was said."""
    if draft.guidance:
        say_entry(dispatcher, draft.guidance, voice)
    dispatcher.utter_message(response="utter_wo_start")
    events: Events = [SlotSet("wo_kind", draft.order_kind), SlotSet(FAILURES_SLOT, 0),
                      SlotSet("wo_confirm", None), SlotSet(MISSES_SLOT, 0)]  # fmt: skip
    if draft.what:
        events.append(SlotSet("wo_what", draft.what))
    for entity, slot in (("address", "wo_where"), ("date", "wo_when"), ("person", "wo_name")):
        value = next(tracker.get_latest_entity_values(entity), None)
        if value and (slot != "wo_where" or precise_address(value)):
            events.append(SlotSet(slot, value))
    phone = next(tracker.get_latest_entity_values("phone"), None) or caller_number(tracker)
    if phone and (checked := check_field("wo_phone", phone)):
        events.append(SlotSet("wo_phone", checked))
    return [*events, FollowupAction("work_order_form")]


def _handoff(
    dispatcher: CollectingDispatcher, tracker: Tracker, decision: Handoff, voice: bool
) -> Events:
    if voice:  # the voice session transfers the call on this decision; recorded for the centre
        settings = get_settings()
        said = tracker.latest_message.get("text") or ""
        record_handoff(
            settings.database_url, tracker.sender_id, "voice", decision.reason, said, None
        )
        queue_for_person(tracker, decision.reason, always=True)  # the summary, for the operator
        dispatcher.utter_message(text="好的，正在为您转接话务员，请稍候。")
        return [SlotSet(MISSES_SLOT, 0), FollowupAction("action_listen")]
    # Operators reach web chat (its feed) and WeChat (customer-service messages); elsewhere the
    # callback order. Misunderstood twice: a person when one can come soon, otherwise the offer
    # of a person or an order (not a callback the citizen never asked).
    reachable = channel_of(tracker) in OPERATOR_CHANNELS
    if reachable and (queued := queue_for_person(tracker, decision.reason)):
        sorry = SORRY.get(decision.reason, "")
        dispatcher.utter_message(text=sorry + queued_text(queued))
        # Not the callback form the rule for request_human would run next: wait for a person.
        return [SlotSet(MISSES_SLOT, 0), FollowupAction("action_listen")]
    if decision.reason == "misunderstood":
        dispatcher.utter_message(
            response="utter_fallback_again", buttons=[PERSON_BUTTON, ORDER_BUTTON]
        )
        return [SlotSet(MISSES_SLOT, 2)]
    # No operator can take it soon (none on duty, outside hours, a long queue): a callback
    # order (the callback form asks for a number).
    dispatcher.utter_message(
        text="好的。现在话务员暂时不能直接接通，我先为您登记人工回电，您也可以直接拨打12345热线。"
    )
    phone = known_phone(tracker)
    return [SlotSet(MISSES_SLOT, 0), *([SlotSet("wo_phone", phone)] if phone else []),
            FollowupAction("callback_form")]  # fmt: skip


def _emergency(
    dispatcher: CollectingDispatcher, tracker: Tracker, decision: Emergency, voice: bool
) -> Events:
    """The number to call first; an urgent order for a person to follow up, stored before it is
    mentioned; the handoff recorded."""
    settings = get_settings()
    channel = channel_of(tracker)
    address = next(tracker.get_latest_entity_values("address"), None)
    draft = Draft(
        channel=channel,
        request_text=decision.text or "市民报告紧急情况",
        kind="求助",
        citizen_phone=caller_number(tracker),
        address=address,
        priority="emergency",
        conversation_id=tracker.sender_id,
        wechat_openid=wechat_openid(tracker),
    )
    key = intake.idempotency_key(tracker.sender_id, "emergency", decision.text)
    encode = get_service(settings).encode
    order = None
    with contextlib.suppress(InvalidField):  # never delay the call to 110/119/120 over a field
        order = intake.submit(settings.database_url, draft, key, settings=settings, encode=encode)
    number = order.number if order else None
    record_handoff(
        settings.database_url, tracker.sender_id, channel, "emergency", decision.text, number
    )
    if channel in OPERATOR_CHANNELS:  # a call is transferred by the session (the handoff next)
        queue_for_person(tracker, "emergency", order_number=number)
    if voice:
        first = BEFORE_CALLING_VOICE.get(decision.situation, "")
        said = f"情况紧急，{first}请马上挂断电话，拨打{digits_aloud(decision.number)}。"
        if order:
            said += f"我们已登记紧急工单，号码是{number_aloud(order.number)}，话务员会马上跟进。"
        dispatcher.utter_message(text=said)
    else:
        service = SERVICES[decision.number]
        first = BEFORE_CALLING.get(decision.situation, "")
        said = f"情况紧急！{first}请立即拨打{decision.number}（{service}）求助，并保持电话畅通。"
        if order:
            said += f"\n我们已登记紧急工单{order.number}，话务员会马上跟进。"
        dispatcher.utter_message(text=f"{said}\n{ASK_PLACE}", buttons=[PERSON_BUTTON])
    return [SlotSet("last_order", number)]  # None when no order was made: no stale one


ASK_PLACE = "如果方便，请告诉我具体地点。"  # after an emergency's number, on chat


def emergency_awaiting_place(tracker: Tracker) -> str | None:
    """The emergency order whose place the bot asked for in its turn before this message, when
    this message names a place (a new emergency, a request for a person, 取消 or anything that
    names no place is handled as usual), else None."""
    number = tracker.get_slot("last_order")
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if not number or len(users) < 2:
        return None
    last_turn = tracker.events[users[-2] + 1 : users[-1]]
    asked = any(e.get("event") == "bot" and ASK_PLACE in (e.get("text") or "") for e in last_turn)
    text = normalise_text(tracker.latest_message.get("text") or "")
    address = next(tracker.get_latest_entity_values("address"), None) is not None
    return str(number) if asked and tells_place(text, address) else None


def take_place(dispatcher: CollectingDispatcher, tracker: Tracker, number: str) -> bool:
    """The place told after an emergency goes on its order (for the operator and the
    responders) and the number to call is said again; False when the order already has one
    (then the message is handled as usual)."""
    place = (tracker.latest_message.get("text") or "").strip()
    settings = get_settings()
    order = add_place(settings.database_url, number, place, Actor.citizen(channel_of(tracker)))
    if order is None:
        return False
    said = f"好的，地点已补充到紧急工单{number}，话务员会马上跟进。"
    if call := is_emergency(order.request_text):
        said += f"如果还没有拨打{call}，请立即拨打。"
    dispatcher.utter_message(text=said, buttons=[PERSON_BUTTON])
    return True


def _status(
    dispatcher: CollectingDispatcher, tracker: Tracker, decision: StatusQuery, voice: bool
) -> Events:
    """The state of the order named, else of the citizen's own recent orders (by the caller's
    number on the phone, else by this conversation). An order named by number is told only to
    whoever shows it is theirs: it was made in this conversation, or its phone is the caller's
    or one given here; without a phone the citizen is asked for it, and a number that does not
    match answers as an unknown one, so no other citizen's order is revealed or confirmed."""
    settings = get_settings()
    url = settings.database_url
    number = decision.order_number or tracker.get_slot("last_order")
    if number:
        order: WorkOrder | None = None
        with contextlib.suppress(store.OrderNotFound, InvalidField):
            order = store.get(url, number)
        phones = phones_given(tracker) | set(bound_phones(tracker))
        mine = order is not None and (
            order.conversation_id == tracker.sender_id or order.citizen_phone in phones
        )
        if not mine and not phones:
            dispatcher.utter_message(text=ASK_PHONE_VOICE if voice else ASK_PHONE)
            return [SlotSet(MISSES_SLOT, 0)]
        if not mine or order is None:
            dispatcher.utter_message(response="utter_order_not_found")
            return []
        orders = [order]
    else:
        caller = caller_number(tracker)
        own = {"phone": caller} if caller else {"conversation_id": tracker.sender_id}
        orders = store.list_orders(url, limit=3, **own)
        for phone in bound_phones(tracker):  # 绑定手机 on WeChat: phone orders count as theirs
            orders += store.list_orders(url, limit=3, phone=phone)
        unique = {o.number: o for o in orders}.values()
        orders = sorted(unique, key=lambda o: (o.created_at, o.id), reverse=True)[:3]
    if not orders:
        dispatcher.utter_message(response="utter_ask_order_number")
        return []
    for order in orders:
        events = store.timeline(url, order.number)
        dispatcher.utter_message(text=status_line(order, events, settings.timezone, voice))
    return [SlotSet(MISSES_SLOT, 0)]
