"""The WeChat channel's state in one app process: the API client, the replies still being
prepared, and the customer-service sends (a reply WeChat refuses goes to the operators' queue,
never lost). Used by `/wechat` (gateway/wechat_api.py) and by operators' messages
(gateway/outbound.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter

from handoffs import intake as handoff_intake
from hotline.conversations import conversation_id, recent_citizen_texts
from hotline.settings import Settings
from speech.engine import ASREngine
from wechat import messages, store
from wechat.api import OUT_OF_WINDOW, WechatApi, WechatApiError
from workorders.model import mask_openid

log = logging.getLogger(__name__)

WECHAT_MESSAGES = Counter(
    "hotline_wechat_messages_total",
    "WeChat messages by how they were answered",
    ["outcome"],  # passive, deferred, retry, refused, sent, failed
)
PRUNE_EVERY = 3600.0  # seconds
KEEP_KEYS = timedelta(days=1)


class WechatChannel:
    """Per app process: the API client and the replies still being prepared."""

    def __init__(self, settings: Settings, asr: Callable[[], ASREngine] | None = None) -> None:
        self.settings = settings
        self.api = WechatApi(settings)
        self.asr = asr or (lambda: _load_asr(settings))  # the phone calls' engine, loaded once
        self.pending: set[asyncio.Task[Any]] = set()
        self.pruned_at = time.monotonic()

    def prune_now_and_then(self) -> None:
        """Drop message keys a day old (WeChat retries within a minute), hourly per process."""
        if time.monotonic() - self.pruned_at < PRUNE_EVERY:
            return
        self.pruned_at = time.monotonic()
        before = datetime.now(UTC) - KEEP_KEYS
        task = asyncio.create_task(
            asyncio.to_thread(store.forget_before, self.settings.database_url, before)
        )
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def deliver_later(self, reply: asyncio.Task[str] | list[str], key: str, openid: str) -> None:
        """Send a turn's reply when it is ready, or the parts a passive reply could not hold."""
        task = asyncio.create_task(self._deliver(reply, key, openid))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _deliver(self, reply: asyncio.Task[str] | list[str], key: str, openid: str) -> None:
        url = self.settings.database_url
        parts = messages.split_text(await reply) if isinstance(reply, asyncio.Task) else reply
        parts = [p for p in parts if p.strip()]
        if not parts:  # nothing to say (the citizen's message went to an operator)
            if isinstance(reply, asyncio.Task):
                await asyncio.to_thread(store.settle, url, key, "none")
            return
        left = await self.send_parts(openid, parts)
        outcome = "failed" if left else "sent"
        if left:  # not lost: an operator gets it (and calls the citizen back)
            await self.undelivered(openid, "\n".join(left))
        WECHAT_MESSAGES.labels(outcome).inc()
        if isinstance(reply, asyncio.Task):  # a passive reply's rest leaves its state as is
            await asyncio.to_thread(store.settle, url, key, outcome)

    async def send_parts(self, openid: str, parts: list[str]) -> list[str]:
        """Send customer-service texts in order; the parts not delivered ([] when all were).
        45015 (the citizen's 48 h window is over) and the other refusals are permanent: the
        caller puts what is left before an operator."""
        for i, part in enumerate(parts):
            try:
                if not self.api.configured:
                    raise WechatApiError(
                        0, "no HOTLINE_WECHAT_APPID/SECRET for the customer-service API"
                    )
                await self.api.send_text(openid, part)
            except (WechatApiError, httpx.HTTPError) as exc:
                why = "48 h window over" if getattr(exc, "errcode", None) == OUT_OF_WINDOW else exc
                log.warning("WeChat message to %s not delivered: %s", mask_openid(openid), why)
                return parts[i:]
            except Exception:
                log.exception("WeChat message to %s not delivered", mask_openid(openid))
                return parts[i:]
        return []

    async def undelivered(self, openid: str, text: str) -> None:
        """Put a reply WeChat refused into the operators' queue, with the citizen's last
        messages and the undelivered text in its summary."""
        conversation = conversation_id("wechat", openid)

        def queue_it() -> None:
            said = recent_citizen_texts(self.settings.database_url, conversation)
            handoff_intake.undelivered(self.settings, conversation, "wechat", text, said)

        try:
            await asyncio.to_thread(queue_it)
        except Exception:
            log.exception("undelivered WeChat reply of %s not queued", mask_openid(openid))


def wechat_channel(app: Any) -> WechatChannel:
    """The app process's WeChat channel (made on first use)."""
    channel = getattr(app.state, "wechat", None)
    if channel is None:
        channel = app.state.wechat = WechatChannel(app.state.settings)
    return channel


def _load_asr(settings: Settings) -> ASREngine:
    from gateway.calls_api import load_asr  # the phone's module imports the chat turn: late

    return load_asr(settings)
