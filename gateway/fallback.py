"""When Rasa is unreachable: the chat turn goes to the triage layer directly (降级服务).

Knowledge answers, clarifications, order drafts with their form and read-back, handoffs and
emergencies are served as the bot would, only plainer (no NLU entities: each form field is
asked, none is guessed from the first message). The state this needs (the last answered entry,
misunderstandings in a row, the form's fields) travels with each stored turn, under
`metadata.fallback`, so the next turn can be served by any replica and a form begun while Rasa
was down is finished here even after Rasa is back: nothing the citizen said is lost or asked
twice. A form begun with Rasa is finished here too when Rasa goes away in the middle: each turn
Rasa answers inside the form is stored with the form's draft (`rasa_form`: the slot asked and
the wo_* slots, from bot/hotline_connector.py), and the fallback goes on from the step Rasa was
at. Rasa's tracker still holds that form; the first turn Rasa gets afterwards first closes it
(`rasa_form_closed`, :data:`CLOSE_RASA_FORM`), so Rasa does not ask for a draft already stored
or given up. The voice channel does not come here: a call whose bot fails is transferred
(speech/session.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from handoffs import intake as handoff_intake
from handoffs.summary import build
from hotline.bot import BOT_DIR
from hotline.settings import Settings
from triage import (
    AboutBot,
    Abstain,
    Answer,
    Calm,
    Clarify,
    Context,
    Decision,
    Emergency,
    Handoff,
    OrderDraft,
    ServiceHours,
    StatusQuery,
    form_steps,
    get_triage,
)
from triage.wording import (
    ABOUT_BOT,
    BEFORE_CALLING,
    ORDER_BUTTON,
    PERSON_BUTTON,
    other_city_text,
)
from workorders.citizen_view import confirmation as confirmation_text
from workorders.store import InvalidField

_CHOSEN = re.compile(r"^/choose_entry(\{.*\})$")
STATUS_LATER = "工单进度查询暂时不可用，请稍后再试，或拨打12345热线查询。"
NO_OPERATOR = "抱歉，现在没有话务员可以马上接待。您可以拨打12345热线，或者把问题登记成工单。"
CALM = "理解您着急的心情。请说说遇到了什么问题，我来帮您。"


@lru_cache(maxsize=1)
def _responses() -> dict[str, str]:
    """The bot's own wording (bot/domain.yml), so the fallback says what the bot says."""
    domain = yaml.safe_load((BOT_DIR / "domain.yml").read_text(encoding="utf-8"))
    return {name: variants[0]["text"] for name, variants in domain["responses"].items()
            if variants and "text" in variants[0]}  # fmt: skip


def _say(name: str) -> str:
    return _responses()[name]


@dataclass
class Reply:
    messages: list[dict[str, Any]]
    state: dict[str, Any]  # stored as the turn's metadata.fallback
    decision: dict[str, Any] | None = None
    order: str | None = None  # the work order stored by this turn
    waiting_human: bool = False

    def add(self, text: str, buttons: list[dict[str, str]] | None = None) -> None:
        self.messages.append({"text": text, "buttons": buttons or []})


def in_form(state: dict[str, Any] | None) -> bool:
    """Whether a form begun in fallback is still open (the next turn stays here)."""
    return bool(state and state.get("form"))


def rasa_form_closed(state: dict[str, Any] | None) -> bool:
    """Whether the fallback finished a form Rasa had begun, and Rasa's tracker still has it
    open (the next turn that reaches Rasa closes it first with :data:`CLOSE_RASA_FORM`)."""
    return bool(state and state.get("rasa_form_closed")) and not in_form(state)


# Rasa tracker events that end the work-order form and empty its draft (wo_* slots).
CLOSE_RASA_FORM: list[dict[str, Any]] = [
    {"event": "active_loop", "name": None},
    {"event": "slot", "name": "requested_slot", "value": None},
    *({"event": "slot", "name": slot, "value": None}
      for slot in (*form_steps.FIELDS, "wo_kind", "wo_confirm", "wo_fix", "wo_failures")),
]  # fmt: skip


def _from_rasa(rasa_form: dict[str, Any]) -> dict[str, Any]:
    """The fallback's form state for the draft Rasa's form had when Rasa went away."""
    slots = rasa_form.get("slots") or {}
    fields = {slot: slots.get(slot) for slot in form_steps.FIELDS}
    asked = rasa_form.get("requested")
    if asked == "wo_confirm":
        asked = form_steps.READ_BACK
    elif asked not in form_steps.FIELDS or fields.get(asked):
        asked = form_steps.next_step(fields)
    return {"fields": fields, "kind": slots.get("wo_kind"), "asked": asked, "failures": 0,
            "from_rasa": True}  # fmt: skip


def answer(
    settings: Settings,
    channel: str,
    conversation: str,
    text: str,
    previous: tuple[str, dict[str, Any]] | None,
    metadata: dict[str, Any],
) -> Reply:
    """One turn without Rasa. `previous`: the last stored turn's text and fallback state."""
    last_text, state = previous or (None, {})
    state = dict(state or {})
    if not state.get("form") and isinstance(state.get("rasa_form"), dict):
        state["form"] = _from_rasa(state["rasa_form"])  # Rasa went away mid-form: go on
    state.pop("rasa_form", None)
    reply = Reply([], state)
    if state.get("form"):
        _form_turn(settings, channel, conversation, text, reply, metadata)
        return reply
    chosen = None
    if found := _CHOSEN.match(text):
        chosen = str(json.loads(found.group(1)).get("entry_id") or "")
    said = {"/request_human": "转人工", "/affirm": "好的", "/deny": "不是"}.get(text, text)
    context = Context(channel=channel, topic=state.get("topic"),
                      misses=int(state.get("misses") or 0), chosen_entry=chosen,
                      previous=last_text)  # fmt: skip
    decision = get_triage(settings).decide(said, context)
    reply.decision = decision.public()
    _render(settings, channel, conversation, said, decision, reply)
    return reply


def _render(
    settings: Settings, channel: str, conversation: str, text: str, decision: Decision, r: Reply
) -> None:
    state = r.state
    match decision:
        case Answer():
            r.add(f"{decision.entry.answer}\n{decision.entry.source.line()}")
            state.update(topic=decision.entry.id, misses=0)
        case Clarify():
            buttons = [{"title": e.question, "payload": f'/choose_entry{{"entry_id":"{e.id}"}}'}
                       for e in decision.candidates]  # fmt: skip
            r.add(_say("utter_kb_clarify"), buttons)
            state["misses"] = 0
        case Abstain() if decision.reason == "other_city":
            r.add(other_city_text(decision.city or ""), [ORDER_BUTTON, PERSON_BUTTON])
            state["misses"] = decision.misses
        case Abstain():
            r.add(_say("utter_kb_abstain"), [ORDER_BUTTON, PERSON_BUTTON])
            state["misses"] = decision.misses
        case OrderDraft():
            if decision.guidance:
                r.add(f"{decision.guidance.answer}\n{decision.guidance.source.line()}")
            r.add(_say("utter_wo_start"))
            form, first = form_steps.start(decision.what, decision.order_kind)
            state.update(misses=0, form=form)
            _say_all(r, [first])
        case Emergency():
            before = BEFORE_CALLING.get(decision.situation, "")
            r.add(f"情况紧急，{before}请立即拨打{decision.number}！")
            _to_person(settings, channel, conversation, text, "emergency", r, always=True)
        case Handoff():
            _to_person(settings, channel, conversation, text, decision.reason, r)
        case StatusQuery():
            r.add(STATUS_LATER)
        case ServiceHours():
            r.add(settings.service_hours)
        case AboutBot():
            r.add(ABOUT_BOT)
        case Calm():
            r.add(CALM)


def _to_person(
    settings: Settings,
    channel: str,
    conversation: str,
    text: str,
    reason: str,
    r: Reply,
    always: bool = False,
) -> None:
    brief = build(said=[text], reason=reason, channel=channel, wants=text)
    queued = handoff_intake.request_person(settings, conversation, brief, always=always)
    if queued is None:
        r.add(NO_OPERATOR, [ORDER_BUTTON])
        return
    r.waiting_human = True
    place, wait = queued.place, ""
    if place is not None:
        wait = f"您现在排在第{place.position}位，预计等待约{place.expected_wait_minutes}分钟。"
    r.add(f"好的，正在为您转接人工客服。{wait}输入“取消排队”可回到智能客服。")


# ---- the work-order form: stepped by triage/form_steps.py ----------------------------------


def _say_all(r: Reply, said: list[form_steps.Say]) -> None:
    for one in said:
        r.add((_say(one.response) if one.response else "") + one.text, list(one.buttons))


def _form_turn(
    settings: Settings,
    channel: str,
    conversation: str,
    text: str,
    r: Reply,
    metadata: dict[str, Any],
) -> None:
    form = r.state["form"] = dict(r.state["form"])
    form["fields"] = dict(form["fields"])
    done = form_steps.step(form, text)
    _say_all(r, done.said)
    if done.cancelled:
        r.state["form"] = None
    elif done.submit:
        _submit(settings, channel, conversation, r, metadata)
    if r.state["form"] is None and form.get("from_rasa"):
        r.state["rasa_form_closed"] = True  # Rasa's tracker still has the form open


def _submit(
    settings: Settings, channel: str, conversation: str, r: Reply, metadata: dict[str, Any]
) -> None:
    """Store the order, and only then tell its number (a retried turn stores it once)."""
    form = r.state["form"]
    openid = metadata.get("openid") if channel == "wechat" else None
    openid = openid if isinstance(openid, str) else None
    try:
        order = form_steps.submit(
            settings, form["fields"], form.get("kind"), channel, conversation, openid
        )
    except InvalidField as exc:
        form["asked"] = form_steps.WHICH_FIELD
        r.add(f"抱歉，登记没有成功：{exc}。请告诉我要修改哪一项。")
        return
    r.order = order.number
    r.state["form"] = None
    r.add(confirmation_text(order, settings.timezone))
