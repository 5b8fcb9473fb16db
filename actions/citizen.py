"""What the actions know about the citizen in a conversation: channel and caller number."""

from __future__ import annotations

from rasa_sdk import Tracker

from workorders.store import InvalidField, normalise_phone

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
        return normalise_phone(str(raw))
    except InvalidField:
        return None


def known_phone(tracker: Tracker) -> str | None:
    """A number to call the citizen back: one given in this conversation, else the caller's."""
    return tracker.get_slot("wo_phone") or caller_number(tracker)


def recent_user_texts(tracker: Tracker, n: int = 3) -> list[str]:
    """The citizen's last n messages (button payloads left out), oldest first."""
    texts = [
        e.get("text") or ""
        for e in tracker.events
        if e.get("event") == "user" and not (e.get("text") or "").startswith("/")
    ]
    return [t for t in texts if t][-n:]
