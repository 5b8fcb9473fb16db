"""What an operator (or a handoff's notice) says to a citizen whose channel no page of ours
reads: WeChat, through the customer-service message API. The web chat reads the conversation
log itself (gateway/chat_feed.py) and the phone call went to the PBX, so both need nothing here.

Also the waiting WeChat citizen's place in the queue: when it changes they are sent the new
place and expected wait, at most every HOTLINE_WECHAT_QUEUE_NOTICE_SECONDS and a few times per
wait (WeChat limits customer-service messages; a place that changes every few seconds must not
spend them).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from gateway.takeover import NOTICE, notify
from gateway.wechat_channel import wechat_channel
from handoffs import intake, queue
from handoffs.model import Handoff
from hotline.conversations import record_to_citizen
from hotline.settings import Settings
from wechat import messages
from workorders.model import mask_text

log = logging.getLogger(__name__)

MOST_PLACE_NOTICES = 3  # per wait: WeChat allows few customer-service messages per citizen
UNDELIVERED = "以下消息未能送达市民（微信客服消息被拒绝，例如市民超过48小时未发消息），请电话联系："


def place_text(place: queue.Place) -> str:
    return (
        f"排队进展：您现在排在第{place.position}位，预计等待约{place.expected_wait_minutes}分钟。"
        "话务员接入后会在这里回复您，回复“取消排队”可回到智能客服。"
    )


class ChannelOutbound:
    """takeover.Outbound for one app: sends on WeChat, nothing for the other channels."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @property
    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings

    async def to_citizen(self, item: Handoff, text: str, author: str,
                         buttons: list[dict[str, str]] | None = None) -> None:  # fmt: skip
        if item.channel != "wechat":
            return
        body = messages.render_bot([{"text": text, "buttons": buttons or []}])
        left = await wechat_channel(self.app).send_parts(item.sender, messages.split_text(body))
        if left and author != NOTICE:  # the operator must know their words did not arrive
            await asyncio.to_thread(self._undelivered, item, "\n".join(left))

    def _undelivered(self, item: Handoff, text: str) -> None:
        url = self.settings.database_url
        queue.note_undelivered(url, item.id, text)
        channel, _, sender = item.conversation_id.partition(":")
        row = record_to_citizen(url, channel, sender, UNDELIVERED + mask_text(text), NOTICE)
        notify(item, {"type": "message", "id": row, "from": "notice"}, queue_changed=True)

    async def queue_moved(self) -> None:
        """Tell each waiting WeChat citizen their new place (rate-limited; one replica each)."""
        channel = wechat_channel(self.app)
        if not channel.api.configured:
            return
        every = timedelta(seconds=self.settings.wechat_queue_notice_seconds)
        for item, place in await asyncio.to_thread(self._claims, every):
            await channel.send_parts(item.sender, [place_text(place)])

    def _claims(self, every: timedelta) -> list[tuple[Handoff, queue.Place]]:
        url, claimed = self.settings.database_url, []
        for item in queue.pending_of_channel(url, "wechat"):
            place = intake.place_of(self.settings, item)
            if place and queue.claim_notice(url, item.id, place.position, every,
                                            MOST_PLACE_NOTICES):  # fmt: skip
                claimed.append((item, place))
        return claimed


def outbound_of(app: Any) -> ChannelOutbound:
    return ChannelOutbound(app)
