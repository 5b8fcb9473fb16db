"""The work-order form's steps: which step comes next, what an answer to a field or to the
read-back does, the read-back itself, and the order a confirmed draft becomes.

One stepper for both forms: the Rasa form (actions/work_order.py keeps the state in slots and
translates them to and from these steps) and the triage fallback used while Rasa is down
(gateway/fallback.py keeps the state with each stored turn and calls `step`). How a reply is read
is triage/form.py; this module decides what follows from it. What to say comes back as `Say`,
which each caller utters in its medium.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.settings import Settings
from knowledge.service import get_service
from triage.form import (
    FIELDS,
    MAX_FAILURES,
    NO_PHONE,
    NOT_SAID,
    cancels,
    check_field,
    confirmation,
    give_up_value,
    named_field,
    summary,
)
from workorders import intake
from workorders.citizen_view import kind_of
from workorders.model import WorkOrder
from workorders.store import Draft

READ_BACK = "confirm"  # the step after the last field: the citizen checks the draft
WHICH_FIELD = "fix"  # after 修改: which field to change
CONFIRM_BUTTONS = (
    {"title": "确认提交", "payload": "/affirm"},
    {"title": "修改", "payload": "/deny"},
)
UNCLEAR = "抱歉，没明白您的意思。信息无误请回复“确认”，需要修改请回复“修改”，不登记了请回复“取消”。"
UNCLEAR_VOICE = "抱歉，没听清。信息无误请说确认，要修改请说修改，不登记了请说取消。"


@dataclass(frozen=True)
class Say:
    """One message: a bot response by name (bot/domain.yml) followed by `text`, or text only."""

    text: str = ""
    response: str | None = None
    buttons: tuple[dict[str, str], ...] = ()


def next_step(filled: Mapping[str, str | None]) -> str:
    """The first field not filled yet, else the read-back."""
    return next((slot for slot in FIELDS if not filled.get(slot)), READ_BACK)


def read_back(filled: Mapping[str, str | None], voice: bool = False) -> Say:
    """The draft read back, with how to confirm or change it (the phone: spoken digits)."""
    text = summary(filled, spell=voice)
    if voice:
        return Say(text + "\n信息无误请说确认，需要修改请说修改。")
    return Say(text + "\n信息无误请回复“确认”，需要修改请回复“修改”。", buttons=CONFIRM_BUTTONS)


@dataclass(frozen=True)
class FieldAnswer:
    """What an answer to `slot` leaves: the value to store (None: ask again), the failures
    in a row, and the response that says why."""

    value: str | None
    failures: int
    say: str | None = None


def answer_field(slot: str, value: object, failures: int) -> FieldAnswer:
    """Check the answer; a wrong one is asked again once with a hint, the second moves on
    with what was said (an operator checks it), never a third ask."""
    checked = check_field(slot, value)
    if checked is not None:
        return FieldAnswer(checked, 0)
    failures += 1
    if failures < MAX_FAILURES:
        return FieldAnswer(None, failures, f"utter_{slot}_hint")
    return FieldAnswer(give_up_value(slot, value), 0, "utter_wo_give_up")


@dataclass(frozen=True)
class ReadBackAnswer:
    """The citizen's reply to the read-back: `confirmed` (store it), `which_field` (修改: ask
    which), `changes` (a field set to a new value, None: asked again), else unclear (ask
    again, `failures` counts it). `say`: what to tell them first."""

    confirmed: bool = False
    which_field: bool = False
    changes: dict[str, str | None] = field(default_factory=dict)
    failures: int = 0
    say: str | None = None


def answer_read_back(
    text: str,
    filled: Mapping[str, str | None],
    said: Mapping[str, str] | None = None,
    failures: int = 0,
    voice: bool = False,
) -> ReadBackAnswer:
    reply = confirmation(text, filled, said)
    if reply.answer == "yes":
        return ReadBackAnswer(confirmed=True)
    if reply.answer == "no":
        return ReadBackAnswer(which_field=True)
    if reply.answer == "fix" and reply.field:
        told = f"好的，{FIELDS[reply.field]}改为：{reply.value}。" if reply.value else None
        return ReadBackAnswer(changes={reply.field: reply.value}, say=told)
    return ReadBackAnswer(failures=failures + 1, say=UNCLEAR_VOICE if voice else UNCLEAR)


def ask(form: dict[str, Any]) -> Say:
    """Move `form` to its next step and say it."""
    form["asked"] = next_step(form["fields"])
    if form["asked"] == READ_BACK:
        return read_back(form["fields"])
    return Say(response=f"utter_ask_{form['asked']}")


def which_field() -> Say:
    return Say("（" + "、".join(FIELDS.values()) + "）", response="utter_wo_which_field")


def start(what: str | None, kind: str | None) -> tuple[dict[str, Any], Say]:
    """A new form (JSON-able: fields, kind, asked, failures) and its first question."""
    form: dict[str, Any] = {"fields": dict.fromkeys(FIELDS) | {"wo_what": what},
                            "kind": kind, "failures": 0}  # fmt: skip
    return form, ask(form)


@dataclass
class Step:
    """What one reply did to the form: what to say, and whether it is now to be stored
    (`submit`) or was given up (`cancelled`)."""

    said: list[Say]
    submit: bool = False
    cancelled: bool = False


def step(form: dict[str, Any], text: str) -> Step:
    """One reply to the form kept in `form` (from `start`; changed in place): a field's answer,
    the read-back's answer, the field to change, or 算了."""
    fields = form["fields"]
    asked = form.get("asked")
    if cancels(text):
        return Step([Say(response="utter_wo_cancelled")], cancelled=True)
    said: list[Say] = []
    if asked == READ_BACK:
        reply = answer_read_back(text, fields, failures=int(form.get("failures") or 0))
        form["failures"] = reply.failures
        if reply.confirmed:
            return Step([], submit=True)
        if reply.which_field:
            form["asked"] = WHICH_FIELD
            return Step([which_field()])
        if reply.say:
            said.append(Say(reply.say))
        if not reply.changes:  # unclear: the read-back's question stands
            return Step(said)
        fields.update(reply.changes)
    elif asked == WHICH_FIELD:
        slot = named_field(text)
        if slot is None:
            return Step([which_field()])
        fields[slot] = None
    elif asked in FIELDS:
        answer = answer_field(asked, text, int(form.get("failures") or 0))
        form["failures"] = answer.failures
        if answer.say:
            said.append(Say(response=answer.say))
        if answer.value is None:
            return Step(said)
        fields[asked] = answer.value
    return Step([*said, ask(form)])


def submit(
    settings: Settings,
    fields: Mapping[str, str | None],
    kind: str | None,
    channel: str,
    conversation: str,
    wechat_openid: str | None = None,
) -> WorkOrder:
    """Store the confirmed draft once: a retried turn or action call (same conversation, same
    content) gets the same order back. Raises workorders.store.InvalidField."""
    what, when = fields.get("wo_what") or "", fields.get("wo_when")
    phone = fields.get("wo_phone")
    draft = Draft(
        channel=channel,
        request_text=what if not when or when == NOT_SAID else f"{what}（时间：{when}）",
        kind=kind or kind_of(what),
        citizen_name=fields.get("wo_name"),
        citizen_phone=phone if phone and phone != NO_PHONE else None,
        address=fields.get("wo_where"),
        conversation_id=conversation,
        wechat_openid=wechat_openid,
    )
    key = intake.idempotency_key(conversation, draft.model_dump_json())
    encode = get_service(settings).encode  # repeat detection, inside intake, once
    return intake.submit(settings.database_url, draft, key, settings=settings, encode=encode)
