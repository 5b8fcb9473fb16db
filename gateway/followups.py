"""回访 on the citizen's channel, and the operators' call list.

After 办结 (`start`): a web chat citizen gets a message in their conversation's feed with
满意 / 基本满意 / 不满意 buttons (and a comment box on the chat page); a WeChat citizen a
customer-service text to answer with one of the three words (and a comment after it); everyone
else, and anyone the message could not reach, is on /console/followups for an operator to call
with the script shown there. The citizen's answer goes through `workorders.followup.rate`
(不满意 reopens the order to the same department).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accounts.roles import ROLE_LABELS, Role
from gateway.auth import audit_of, settings_of
from handoffs import live
from hotline.conversations import record_to_citizen
from hotline.privacy import mask_numbers
from hotline.settings import Settings
from wechat.api import WechatApi, WechatApiError
from workorders import followup, store
from workorders.states import SATISFACTION, Action, WorkOrderError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

PAYLOAD = "/回访"  # a rating button's payload: /回访{"number": …, "satisfaction": …}
THANKS = "感谢您的评价！"
REOPENED = "很抱歉没有让您满意，工单已重新交办给承办部门，我们会继续跟进。"
WECHAT_ASK = "请回复“满意”“基本满意”或“不满意”，也可以在后面写上您的意见。"


def buttons(number: str) -> list[dict[str, str]]:
    return [
        {"title": s, "payload": PAYLOAD + json.dumps({"number": number, "satisfaction": s},
                                                     ensure_ascii=False)}
        for s in SATISFACTION
    ]  # fmt: skip


def _answer_of(number: str, url: str) -> str:
    """What the citizen was told: the centre's 办结 note, else the department's reply."""
    for event in reversed(store.timeline(url, number)):
        if event.action in (Action.CLOSE.value, Action.FEEDBACK.value) and event.note:
            return event.note
    return ""


def invitation(number: str, answer: str) -> str:
    said = f"办理结果：{answer}\n" if answer else ""
    return f"您好，您反映的问题（工单号{number}）已办结。\n{said}请您对办理结果进行评价。"


async def start(settings: Settings, number: str) -> str:
    """Send the 回访 on the order's channel and record it; returns the channel used."""
    url = settings.database_url
    order = await asyncio.to_thread(store.get, url, number)
    channel = followup.channel_of(order)
    answer = await asyncio.to_thread(_answer_of, order.number, url)
    text = invitation(order.number, answer)
    delivered = True
    if channel == "web":
        conversation = order.conversation_id or ""
        sender = conversation.partition(":")[2]
        row = await asyncio.to_thread(
            record_to_citizen, url, "web", sender, text, "system", buttons(order.number)
        )
        live.hub().publish(live.conversation_topic(conversation), {"type": "message", "id": row,
                                                                   "from": "notice"})  # fmt: skip
    elif channel == "wechat":
        delivered = await _send_wechat(settings, order.wechat_openid or "", f"{text}{WECHAT_ASK}")
    await asyncio.to_thread(followup.record_start, url, order.number, channel, delivered)
    return channel


async def _send_wechat(settings: Settings, openid: str, text: str) -> bool:
    api = WechatApi(settings)
    try:
        if not api.configured:
            return False
        await api.send_text(openid, text)
        return True
    except (WechatApiError, OSError) as exc:  # e.g. outside the 48 h window: an operator calls
        log.warning("回访 not delivered on WeChat: %s", exc)
        return False
    finally:
        await api.close()


def _rating_in(channel: str, text: str) -> tuple[str | None, str, str | None] | None:
    """(order number or None, satisfaction, comment) if the turn answers a 回访."""
    if text.startswith(PAYLOAD):
        try:
            data = json.loads(text[len(PAYLOAD) :])
            comment = str(data.get("comment") or "").strip()[:500] or None
            return str(data["number"]), str(data["satisfaction"]), comment
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
    if channel == "wechat" and (found := followup.parse_rating(text)):
        return None, found[0], found[1]
    return None


def answer(settings: Settings, channel: str, conversation: str, text: str) -> str | None:
    """The reply to a turn that rates this conversation's order, or None (not a rating)."""
    rating = _rating_in(channel, text)
    if rating is None:
        return None
    number, satisfaction, comment = rating
    url = settings.database_url
    order = followup.awaiting(url, conversation)
    if order is None or (number is not None and number != order.number):
        return "该工单的回访已结束，感谢您的关注。" if number else None
    try:
        followup.rate(url, order.number, satisfaction, comment, channel)
    except WorkOrderError as exc:
        log.warning("回访 rating of %s refused: %s", order.number, exc)
        return "评价未能记录，请稍后再试或拨打12345。"
    return REOPENED if satisfaction == "不满意" else THANKS


CALL_SCRIPT = (
    "您好，这里是12345政务服务便民热线，我是话务员{operator}。您之前反映的「{summary}」"
    "（工单号{number}）已由{department}办结，办理结果是：{answer}。"
    "请问您对办理结果是满意、基本满意还是不满意？还有什么意见需要转达吗？"
)


@router.get("/console/followups")
async def followups_page(request: Request) -> Response:
    """回访: orders to call back (phone citizens, messages not delivered), with a call script and
    the rating form (it posts to the order's action route as 回访)."""
    from gateway.console import TEMPLATES, session_of  # console imports this module's router

    session = await session_of(request)
    if session is None:
        return RedirectResponse("/login?next=/console/followups", status_code=303)
    user, csrf = session
    if user.role not in (Role.OPERATOR, Role.ADMIN):
        return HTMLResponse("<p>回访页面仅供坐席和管理员使用。</p>", status_code=403)
    settings = settings_of(request)
    url, zone = settings.database_url, ZoneInfo(settings.timezone)
    items = await asyncio.to_thread(followup.call_list, url)
    if items:  # the list shows contact data unmasked, to call: audited as a reveal
        await asyncio.to_thread(audit_of, request, user, "order.reveal", "followups",
                                numbers=[i.order.number for i in items])  # fmt: skip
    rows: list[dict[str, Any]] = []
    for item in items:
        o = item.order
        answer_text = await asyncio.to_thread(_answer_of, o.number, url)
        shown = o.to_dict(reveal=True, now=datetime.now(UTC))
        # The phone to call is its own field; numbers inside the text (an ID number the citizen
        # gave) stay masked: the script is read aloud to the citizen.
        summary = mask_numbers(o.summary or "")
        shown["summary"] = summary
        by = (o.department or "有关部门") if o.dispatched_at else "12345热线"  # 当即办结
        rows.append({
            "order": shown, "reason": item.reason, "by": by,
            "closed": o.closed_at.astimezone(zone).strftime("%m-%d %H:%M") if o.closed_at else "",
            "script": CALL_SCRIPT.format(operator=user.name, summary=summary, number=o.number,
                                         department=by,
                                         answer=mask_numbers(answer_text).rstrip("。")
                                         or "（见工单）"),
        })  # fmt: skip
    context = {"user": user, "role_label": ROLE_LABELS[user.role], "csrf": csrf, "rows": rows,
               "satisfaction": SATISFACTION, "hours": settings.followup_hours}  # fmt: skip
    page = TEMPLATES.TemplateResponse(request, "followups.html", context)
    page.headers["Cache-Control"] = "no-store"
    return page
