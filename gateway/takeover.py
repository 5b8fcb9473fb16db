"""What happens around a handoff's state changes, shared by the operators' API and the citizen's
chat: the bot paused or resumed in Rasa, the notice the citizen gets, the live notifications.
The queue itself (who wins, which states allow what) is handoffs/queue.py."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from gateway.rasa_client import RasaClient, RasaUnavailable
from handoffs import live, queue
from handoffs.model import Handoff
from hotline.conversations import RATINGS, record_to_citizen

log = logging.getLogger(__name__)

ACCEPTED = "话务员已接入，正在为您服务，请直接输入您的问题。"
RELEASED = "话务员已将对话转回智能客服，您可以继续提问。"
CLOSED = (
    "本次人工服务已结束，感谢您的耐心。请问您对本次服务满意吗？如还有问题，可以继续向智能客服提问。"
)
# The bot's own rating buttons: a click is a chat turn that Rasa's rate_service rule stores.
RATING_BUTTONS = [{"title": r, "payload": f'/rate_service{{"rating":"{r}"}}'} for r in RATINGS]
CANCELLED = "已取消排队，您可以继续向智能客服提问。"
NOTICE = "system"  # the operator column of a notice (not written by a person)


class Outbound(Protocol):
    """Delivery to channels no page of ours reads (WeChat's customer-service messages):
    gateway/outbound.py. The web chat reads the conversation log itself; None: web only."""

    async def to_citizen(self, item: Handoff, text: str, author: str,
                         buttons: list[dict[str, str]] | None = None) -> None: ...  # fmt: skip

    async def queue_moved(self) -> None: ...


async def set_bot(rasa: RasaClient, item: Handoff, event: str) -> None:
    """Pause or resume the bot for the conversation. A failure is logged, not raised: while a
    handoff is active the app itself keeps the citizen's messages from the bot, so a missed
    pause never lets the bot talk over the operator."""
    if item.channel == "voice":
        return  # the call went to the PBX's queue; no bot turn follows
    try:
        await rasa.append_event(item.conversation_id, event)
    except RasaUnavailable as exc:
        log.warning("%s of conversation %s not applied in Rasa: %s", event, item.id, exc)


async def tell_citizen(url: str, item: Handoff, text: str, author: str,
                       buttons: list[dict[str, str]] | None = None,
                       outbound: Outbound | None = None) -> int:  # fmt: skip
    """Store a message for the citizen in the conversation log and wake its page; on WeChat
    also send it (`outbound`)."""
    row = await asyncio.to_thread(tell_citizen_now, url, item, text, author, buttons)
    if outbound is not None:
        await outbound.to_citizen(item, text, author, buttons)
    return row


def tell_citizen_now(url: str, item: Handoff, text: str, author: str,
                     buttons: list[dict[str, str]] | None = None) -> int:  # fmt: skip
    """tell_citizen in the calling thread (for a caller already in a worker thread)."""
    channel, _, sender = item.conversation_id.partition(":")
    row = record_to_citizen(url, channel, sender, text, author, buttons)
    event = {"type": "message", "id": row, "from": "notice" if author == NOTICE else "operator"}
    notify(item, event, queue_changed=author == NOTICE)  # notices come with state changes
    return row


def notify(item: Handoff, event: dict[str, Any], *, queue_changed: bool = False) -> None:
    """Wake the conversation's readers (the citizen's page, the operator's view) and, when
    the queue changed, every console and every waiting citizen (their places moved). A plain
    message wakes only its own conversation's readers."""
    hub = live.hub()
    hub.publish(live.conversation_topic(item.conversation_id), {"handoff": item.id, **event})
    if queue_changed:
        hub.publish(live.QUEUE, {"type": "queue", "id": item.id, "status": item.status})


async def accept(url: str, rasa: RasaClient, handoff_id: int, operator: str,
                 outbound: Outbound | None = None) -> Handoff:  # fmt: skip
    item = await asyncio.to_thread(queue.accept, url, handoff_id, operator)
    await set_bot(rasa, item, "pause")
    await tell_citizen(url, item, ACCEPTED, NOTICE, outbound=outbound)
    if outbound is not None:  # everyone behind moved up
        await outbound.queue_moved()
    return item


async def release(url: str, rasa: RasaClient, handoff_id: int, operator: str | None,
                  outbound: Outbound | None = None) -> Handoff:  # fmt: skip
    item = await asyncio.to_thread(queue.release, url, handoff_id, operator)
    await set_bot(rasa, item, "resume")
    await tell_citizen(url, item, RELEASED, NOTICE, outbound=outbound)
    return item


async def close(url: str, rasa: RasaClient, handoff_id: int, operator: str | None,
                outbound: Outbound | None = None) -> Handoff:  # fmt: skip
    before = await asyncio.to_thread(queue.get, url, handoff_id)
    item = await asyncio.to_thread(queue.close, url, handoff_id, operator)
    if before.status == "active":
        await set_bot(rasa, item, "resume")
    # 满意度: asked at the end
    await tell_citizen(url, item, CLOSED, NOTICE, RATING_BUTTONS, outbound=outbound)
    if outbound is not None and before.status == "pending":
        await outbound.queue_moved()
    return item


async def cancel(url: str, handoff_id: int, outbound: Outbound | None = None) -> Handoff:
    """The citizen leaves the queue; they are answered in their own turn (no outbound)."""
    item = await asyncio.to_thread(queue.cancel, url, handoff_id)
    await tell_citizen(url, item, CANCELLED, NOTICE)
    if outbound is not None:
        await outbound.queue_moved()
    return item
