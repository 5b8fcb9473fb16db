"""What the actions know about the citizen in a conversation: channel and caller number."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet

from hotline.numbers import InvalidPhone, canonical_phone
from triage.form import NO_PHONE

CHANNELS = ("web", "wechat", "voice", "api")


def channel_of(tracker: Tracker) -> str:
    channel = tracker.get_latest_input_channel() or "api"
    return channel if channel in CHANNELS else "api"


def caller_number(tracker: Tracker) -> str | None:
    """The caller's number the PBX gave (voice channel metadata), normalised; None if absent."""
    metadata = tracker.latest_message.get("metadata") or {}
    raw = metadata.get("caller_number") or metadata.get("caller")
    if not raw:
        return None
    try:
        return canonical_phone(str(raw))
    except InvalidPhone:
        return None


_OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}", re.ASCII)


def wechat_openid(tracker: Tracker) -> str | None:
    """The openid of a WeChat conversation (metadata only the signed WeChat transport sets,
    gateway/identity.py), for the order; None on other channels or when malformed."""
    if channel_of(tracker) != "wechat":
        return None
    openid = str((tracker.latest_message.get("metadata") or {}).get("openid") or "")
    return openid if _OPENID.fullmatch(openid) else None


def bound_phones(tracker: Tracker) -> list[str]:
    """Phones the WeChat citizen proved theirs and bound to the openid (wechat/binding.py)."""
    openid = wechat_openid(tracker)
    if openid is None:
        return []
    from hotline.settings import get_settings
    from wechat.binding import phones_of

    return phones_of(get_settings().database_url, openid)


def known_phone(tracker: Tracker) -> str | None:
    """A number to call the citizen back: one given in this conversation, else the caller's
    (未留, a form's "no number", is none: the callback form then asks)."""
    given = tracker.get_slot("wo_phone")
    return (given if given != NO_PHONE else None) or caller_number(tracker)


# A mobile number (3-4-4 groups may be spaced), or a landline with its area code, written in
# digits; digits run on either side (as in an order number) make it no phone.
_PHONE_IN_TEXT = re.compile(
    r"(?<![0-9])(1[3-9][0-9](?:[ -]?[0-9]{4}){2}|0[0-9]{2,3}-?[0-9]{7,8})(?![0-9])"
)


def phones_given(tracker: Tracker) -> set[str]:
    """Numbers that show whose orders this conversation may see: the caller's number from the
    PBX (trusted: only the voice transport sets it), the phone given in this conversation's
    form, and phones written in the citizen's last two messages ("20261206-0001 13812345678")."""
    found = {caller_number(tracker), tracker.get_slot("wo_phone")}
    # The latest message and the one before it: asked for the phone after giving the number
    # (or the other way round), the citizen gives it in the next message.
    for said in recent_user_texts(tracker, 2):
        text = unicodedata.normalize("NFKC", said)
        for raw in _PHONE_IN_TEXT.findall(text):
            try:
                found.add(canonical_phone(raw))
            except InvalidPhone:
                continue
    return {p for p in found if p}


def recent_user_texts(tracker: Tracker, n: int = 3) -> list[str]:
    """The citizen's last n messages (button payloads left out), oldest first."""
    texts = [
        e.get("text") or ""
        for e in tracker.events
        if e.get("event") == "user" and not (e.get("text") or "").startswith("/")
    ]
    return [t for t in texts if t][-n:]


FORM_SLOTS = ("wo_what", "wo_where", "wo_when", "wo_name", "wo_phone", "wo_confirm")


def form_in_progress(tracker: Tracker) -> bool:
    """A work-order form was started and neither submitted nor cancelled (wo_kind is set at the
    start and cleared by both)."""
    return bool(tracker.get_slot("wo_kind"))


def resume_form(tracker: Tracker) -> list[dict[str, Any]]:
    """A message that left the form (a misheard 转人工 or emergency) was an answer after all:
    put it into the field the form was asking for and carry on with the form."""
    asked = next(
        (
            e.get("value")
            for e in reversed(tracker.events)
            if e.get("event") == "slot" and e.get("name") == "requested_slot" and e.get("value")
        ),
        None,
    )
    text = unicodedata.normalize("NFKC", tracker.latest_message.get("text") or "")
    events: list[dict[str, Any]] = []
    if asked in FORM_SLOTS and text and not text.startswith("/"):
        events.append(SlotSet(asked, text))
    return [*events, FollowupAction("work_order_form")]
