"""How a request for a person enters the queue, the same on every channel: joined when an
operator can take it soon, otherwise refused so the channel offers a call-back (nothing is
dropped)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from handoffs import live, presence, queue
from handoffs.model import Handoff
from handoffs.summary import Summary, build
from hotline.settings import Settings


@dataclass(frozen=True)
class Queued:
    handoff: Handoff
    place: queue.Place | None  # None once an operator has it
    new: bool


def idle_limit(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.operator_idle_minutes)


def operators_on_duty(settings: Settings) -> int:
    """Available operators now; 0 outside HOTLINE_OPERATOR_HOURS."""
    if not presence.within_hours(settings.operator_hours, settings.timezone):
        return 0
    return presence.available_count(settings.database_url, idle_limit(settings))


def place_of(settings: Settings, item: Handoff) -> queue.Place | None:
    operators = presence.available_count(settings.database_url, idle_limit(settings))
    return queue.place(settings.database_url, item, operators, settings.handoff_minutes_per_citizen)


def request_person(
    settings: Settings,
    conversation: str,
    summary: Summary,
    *,
    draft: dict[str, Any] | None = None,
    always: bool = False,
) -> Queued | None:
    """Queue the conversation for an operator; None when none can take it soon (no operator
    on duty, or the expected wait over HOTLINE_HANDOFF_MAX_WAIT_MINUTES) — the channel then
    offers a call-back. `always` queues regardless (a phone call transferred to the PBX's queue
    is shown to operators with its summary whatever the wait)."""
    url = settings.database_url
    if not always:
        existing = queue.open_for(url, conversation)
        if existing is None:
            operators = operators_on_duty(settings)
            if operators == 0:
                return None
            ahead = len(queue.listed(url, "pending"))
            wait = (ahead + 1) * settings.handoff_minutes_per_citizen / operators
            if wait > settings.handoff_max_wait_minutes:
                return None
    item, new = queue.enqueue(url, conversation, summary.channel, summary.reason,
                              summary.to_dict(), draft)  # fmt: skip
    if new:
        live.hub().publish(live.QUEUE, {"type": "queue", "id": item.id, "status": item.status})
    place = place_of(settings, item)
    if place is not None:  # the channel tells it now; later changes are sent when they come
        queue.mark_told(url, item.id, place.position)
    return Queued(item, place, new)


def undelivered(settings: Settings, conversation: str, channel: str, text: str,
                said: list[str]) -> Handoff:  # fmt: skip
    """A reply the channel could not deliver (WeChat's 48-hour window, 45015, or another
    permanent refusal) goes to the operators' queue with its text in the summary, whatever the
    wait: a person then reaches the citizen another way (the phone). An open handoff of the
    conversation gets the text added to its summary."""
    summary = build(said=said, reason="undelivered", channel=channel,
                    wants=said[-1] if said else "")  # fmt: skip
    item, _ = queue.enqueue(settings.database_url, conversation, channel, "undelivered",
                              summary.to_dict())  # fmt: skip
    item = queue.note_undelivered(settings.database_url, item.id, text)
    live.hub().publish(live.QUEUE, {"type": "queue", "id": item.id, "status": item.status})
    return item


# What a waiting citizen types to leave the queue (the chat tells them these words).
CANCEL_WORDS = frozenset({"取消排队", "取消", "不排了", "不等了", "算了"})


def is_cancel(text: str) -> bool:
    return text.strip().strip("。.!！") in CANCEL_WORDS
