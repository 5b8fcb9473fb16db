"""`/wechat`: the server URL a centre gives its WeChat Official Account (公众号服务器配置).

GET answers WeChat's URL check (signature, echostr). POST takes one message (plain, compatible
or safe mode), deduplicates WeChat's retries, and answers within WeChat's 5 s: passively when
the bot is done within `wechat_reply_seconds`, otherwise "success" at once and the reply later
through the customer-service message API. The openid WeChat signs for is the citizen's identity
(one conversation per openid). Public route: WeChat's signature is the authentication. Off
(404) while HOTLINE_WECHAT_TOKEN is unset.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from gateway import rate_limits, takeover
from gateway.chat_api import APOLOGY, run_turn
from gateway.outbound import outbound_of
from gateway.wechat_channel import WECHAT_MESSAGES, WechatChannel, wechat_channel
from handoffs import queue
from hotline.conversations import Turn, conversation_id, last_replies, record_turn
from hotline.settings import Settings
from wechat import binding, messages, store
from wechat.api import MediaTooLarge, WechatApiError
from wechat.protocol import (
    MAX_BODY,
    Incoming,
    Refused,
    WechatConfig,
    check_request,
    read_message,
    render_text,
)
from wechat.protocol import dedupe_key as key_of
from wechat.protocol import echo as echo_of
from wechat.voice import VoiceUnavailable, transcribe
from workorders import pictures
from workorders import store as orders
from workorders.model import WorkOrder, mask_phone

log = logging.getLogger(__name__)
router = APIRouter(tags=["wechat"])

SUCCESS = "success"  # WeChat's "received, no passive reply"
PICTURE_LINE = "[图片：已保存，登记工单时附上]"  # in the operator's transcript


def state(settings: Settings) -> dict[str, Any]:
    """The channel's state for /health (a channel, not a dependency: off is not degraded)."""
    if WechatConfig.from_settings(settings) is None:
        return {"status": "off", "reason": "HOTLINE_WECHAT_TOKEN is not set"}
    mode = "safe" if settings.wechat_aes_key else "plain"
    customer_service = bool(settings.wechat_appid and settings.wechat_secret)
    return {"status": "ok", "mode": mode, "customer_service": customer_service}


def _channel(request: Request) -> WechatChannel:
    return wechat_channel(request.app)


def _config(request: Request) -> WechatConfig:
    config = WechatConfig.from_settings(request.app.state.settings)
    if config is None:
        raise HTTPException(404, "WeChat channel not configured (HOTLINE_WECHAT_TOKEN)")
    return config


def _refused(exc: Refused) -> HTTPException:
    WECHAT_MESSAGES.labels("refused").inc()
    log.warning("WeChat request refused: %s", exc.reason)
    return HTTPException(exc.status, exc.reason)


@router.get("/wechat", response_class=PlainTextResponse)
async def verify(request: Request) -> str:
    """WeChat's URL check when the centre saves the server configuration."""
    config = _config(request)
    try:
        return echo_of(config, dict(request.query_params))
    except Refused as exc:
        raise _refused(exc) from exc


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, "message too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "message too large")
    return body


@router.post("/wechat", response_class=PlainTextResponse)
async def receive(request: Request) -> Response:
    """One message or event from WeChat; the reply XML, or "success"."""
    config = _config(request)
    query = dict(request.query_params)
    settings: Settings = request.app.state.settings
    per_openid, per_address = rate_limits.wechat_rules(settings)
    try:
        check_request(config, query)  # a bad signature is 403 before anything is read
        await rate_limits.enforce(request, [(per_address, rate_limits.address_key(request))])
        incoming = read_message(config, query, await _read_body(request))
    except Refused as exc:
        raise _refused(exc) from exc
    message = incoming.message
    openid, key = str(message.source), key_of(message)
    # One citizen too fast: told so in WeChat (a 429 would make WeChat retry, then show the
    # citizen "该公众号暂时无法提供服务"); the message is not processed or stored.
    if (wait := await rate_limits.wait_needed(request, [(per_openid, openid)])) is not None:
        WECHAT_MESSAGES.labels("rate_limited").inc()
        slow_down = rate_limits.TOO_MANY.format(seconds=math.ceil(wait))
        return _passive(config, incoming, query, slow_down)
    _channel(request).prune_now_and_then()
    seen = await asyncio.to_thread(store.claim, settings.database_url, key, openid)
    if seen is not None:  # WeChat's retry: never a second turn or reply
        WECHAT_MESSAGES.labels("retry").inc()
        if seen.state == "replied" and seen.reply:  # the first answer may not have arrived
            return _passive(config, incoming, query, seen.reply)
        return PlainTextResponse(SUCCESS)
    try:
        text = await _answer(request, incoming, key, openid)
    except Exception:
        log.exception("WeChat message %s failed", key)
        text = APOLOGY
    if text is None:
        return PlainTextResponse(SUCCESS)
    channel = _channel(request)
    if not channel.api.configured:
        text = messages.shortened(text)
    elif len(parts := messages.split_text(text)) > 1:  # the rest follows as messages
        text = parts[0]
        channel.deliver_later(parts[1:], key, openid)
    await asyncio.to_thread(store.settle, settings.database_url, key, "replied", text)
    WECHAT_MESSAGES.labels("passive").inc()
    return _passive(config, incoming, query, text)


def _passive(config: WechatConfig, incoming: Incoming, query: dict[str, str], text: str) -> Any:
    xml = render_text(config, incoming, text, query.get("nonce", ""))
    return Response(xml, media_type="application/xml")


async def _answer(request: Request, incoming: Incoming, key: str, openid: str) -> str | None:
    """The passive reply's text, or None when there is none now (nothing to say, or the
    reply goes out later through the customer-service API)."""
    settings: Settings = request.app.state.settings
    url = settings.database_url
    meaning = messages.meaning(incoming.message)
    if meaning.kind == "reply":
        return meaning.text
    if meaning.kind == "none":
        await asyncio.to_thread(store.settle, url, key, "none")
        return None
    if meaning.kind == "orders":
        mine, bound = await asyncio.to_thread(_orders_of, url, openid)
        return messages.render_orders(mine, settings.timezone, bound)
    if meaning.kind == "bind":
        return await asyncio.to_thread(_bind, url, openid, meaning.text)
    if meaning.kind == "image":
        return await _keep_image(request, openid, meaning.text)
    said = meaning.text
    if meaning.kind == "location":
        asked = await asyncio.to_thread(last_replies, url, conversation_id("wechat", openid))
        if not (said and messages.asks_for_address(asked)):
            return messages.location_ack(said)
    if meaning.kind == "voice":
        if not _channel(request).api.configured:  # no media API without appid/secret
            return messages.VOICE_UNRECOGNISED
        turn = asyncio.create_task(_voice_turn(request, openid, meaning.text))
    else:
        turn = asyncio.create_task(_turn(request, openid, said[: settings.max_text_chars]))
    done, _ = await asyncio.wait({turn}, timeout=settings.wechat_reply_seconds)
    if done:
        if not (text := turn.result()):
            await asyncio.to_thread(store.settle, url, key, "none")
            return None
        return text
    _channel(request).deliver_later(turn, key, openid)
    WECHAT_MESSAGES.labels("deferred").inc()
    return None


async def _turn(request: Request, openid: str, text: str) -> str:
    """One bot turn for the openid (the identity WeChat signed for); the reply as WeChat text,
    empty while an operator has the conversation (the message went to them)."""
    settings: Settings = request.app.state.settings
    try:
        done = await run_turn(settings, request.app.state.rasa, "wechat", openid, text,
                              {"openid": openid}, outbound_of(request.app))  # fmt: skip
    except Exception:
        log.exception("WeChat turn of %s failed", conversation_id("wechat", openid))
        return APOLOGY
    if done.state == "human" and not done.messages:
        return ""  # the operator has it and sees it live; they answer, not the bot
    return messages.render_bot(done.messages) or APOLOGY


async def _voice_turn(request: Request, openid: str, media_id: str) -> str:
    """A voice message without WeChat's recognition: downloaded, recognised, then a turn."""
    channel = _channel(request)
    try:
        said = await transcribe(await channel.api.media(media_id), channel.asr)
    except (WechatApiError, VoiceUnavailable, httpx.HTTPError) as exc:
        log.warning("WeChat voice %s not recognised: %s", media_id, exc)
        said = ""
    if not said:
        return messages.VOICE_UNRECOGNISED
    return await _turn(request, openid, said[: request.app.state.settings.max_text_chars])


async def _keep_image(request: Request, openid: str, media_id: str) -> str:
    """Download the picture through the media API (size-limited) and keep it for the citizen's
    order being written, or their next one (workorders/pictures.py)."""
    settings: Settings = request.app.state.settings
    channel = _channel(request)
    limit = settings.wechat_image_max_bytes
    if not channel.api.configured:  # no media API without appid/secret
        return messages.IMAGE_NOT_KEPT
    try:
        content = await asyncio.wait_for(channel.api.media(media_id, limit),
                                         settings.wechat_reply_seconds)  # fmt: skip
        await asyncio.to_thread(pictures.keep, settings.database_url,
                                conversation_id("wechat", openid), content, limit)  # fmt: skip
    except (MediaTooLarge, pictures.TooLarge):
        return messages.IMAGE_TOO_LARGE.format(limit=max(1, limit // (1024 * 1024)))
    except (WechatApiError, httpx.HTTPError, TimeoutError, pictures.NotAPicture) as exc:
        log.warning("WeChat image %s not kept: %s", media_id[:16], exc)
        return messages.IMAGE_NOT_KEPT
    await asyncio.to_thread(_show_operator, settings.database_url, openid)
    return messages.IMAGE_KEPT


def _show_operator(url: str, openid: str) -> None:
    """An operator who has the conversation sees that a picture came (it goes with the order
    they make from it)."""
    item = queue.open_for(url, conversation_id("wechat", openid))
    if item is None:
        return
    now = datetime.now(UTC)
    row = record_turn(url, Turn(channel="wechat", sender=openid, user_text=PICTURE_LINE,
                                received_at=now, replied_at=now, state="human"))  # fmt: skip
    takeover.notify(item, {"type": "message", "id": row, "from": "citizen"})


def _orders_of(url: str, openid: str, limit: int = 5) -> tuple[list[WorkOrder], bool]:
    """The citizen's newest orders: made in this openid's conversation or with a phone bound
    to it (wechat/binding.py); and whether a phone is bound."""
    found = orders.list_orders(url, conversation_id=conversation_id("wechat", openid),
                               limit=limit)  # fmt: skip
    phones = binding.phones_of(url, openid)
    for phone in phones:
        found += orders.list_orders(url, phone=phone, limit=limit)
    unique = {order.number: order for order in found}.values()
    newest = sorted(unique, key=lambda o: (o.created_at, o.id), reverse=True)
    return newest[:limit], bool(phones)


def _bind(url: str, openid: str, text: str) -> str:
    """绑定手机 <order number> <phone> / 解除绑定."""
    asked = binding.request_of(text)
    if asked is None:
        return messages.BIND_HOW
    if asked.unbind:
        return messages.UNBOUND if binding.unbind(url, openid) else messages.NOTHING_BOUND
    outcome = binding.bind(url, openid, asked.order_number, asked.phone)
    phone = mask_phone((asked.phone or "").replace(" ", "").replace("-", ""))
    return messages.BIND_REPLIES[outcome].format(phone=phone)
