"""What each WeChat message type means to the hotline: a text for the bot, a reply of the
channel's own (welcome, acknowledgements), a look-up of the citizen's orders, or nothing.

The channel adapter asks `meaning()` once per message and acts on the result; replies the bot
makes are rendered as WeChat text by `render_bot()` (buttons become numbered lines: replying the
number picks the option, gateway/choices.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from wechatpy.messages import BaseMessage

from wechat import binding
from workorders.citizen_view import status_line
from workorders.model import WorkOrder

WELCOME = (
    "您好，欢迎关注12345政务服务便民热线！\n"
    "在这里您可以：\n"
    "1. 咨询政策和办事流程，直接用文字提问即可；\n"
    "2. 投诉、举报、求助或提建议，我们会登记工单并转交责任部门；\n"
    "3. 查询您反映事项的办理进度（菜单“查询工单”）；\n"
    "4. 需要人工服务请点菜单“转人工”。\n"
    "紧急情况请直接拨打110、119或120。"
)
COMPLAINT_PROMPT = (
    "请直接用文字描述您要投诉或建议的事项，包括发生的地点和时间，我们会为您登记工单。"
)
IMAGE_KEPT = (
    "已收到您的图片，会附在您正在登记的工单中（还没有登记的话，附在您接下来登记的工单中）。"
    "请用文字描述您反映的问题和地点。"
)
IMAGE_TOO_LARGE = "图片太大，没能保存。请发送{limit}MB以内的图片，或用文字描述您反映的问题和地点。"
IMAGE_NOT_KEPT = "抱歉，这张图片没能保存。请稍后重新发送，或用文字描述您反映的问题和地点。"
VOICE_UNRECOGNISED = "抱歉，暂时无法识别这条语音，请改用文字描述您的问题。"
OTHER = "抱歉，暂时无法处理这类消息，请用文字描述您的问题；紧急情况请拨打110、119或120。"
NO_ORDERS = (
    "目前没有查到您通过本公众号反映的工单。如通过电话反映过，请发送工单号和登记时留的电话查询；"
    "也可以发送“绑定手机 工单号 电话”绑定手机号，以后电话反映的工单也会在这里显示。"
)
BIND_HOW = (
    "绑定手机请发送：绑定手机 工单号 登记该工单时留的电话，"
    "例如：绑定手机 20261122-0001 13812345678。"
)
BIND_REPLIES = {
    "bound": "已绑定手机{phone}。以后点“查询工单”，用这个号码反映的工单（电话、网页等）也会显示。"
    "发送“解除绑定”可以取消。",
    "no_match": "没有找到用这个电话登记的这张工单，绑定未成功。请核对工单号和登记时留的电话。",
    "too_many": "绑定尝试次数过多，请24小时后再试；也可以拨打12345查询工单。",
    "full": "一个微信最多绑定3个手机号，请先发送“解除绑定”。",
    "malformed": BIND_HOW,
}
UNBOUND = "已解除绑定的手机号，“查询工单”只显示您在本公众号反映的工单。"
NOTHING_BOUND = "您还没有绑定手机号。" + BIND_HOW

# Menu CLICK keys a centre configures (docs/wechat.md): the key or its Chinese name.
MENU_STATUS = {"查询工单", "QUERY_ORDERS", "query_orders"}
MENU_PERSON = {"转人工", "HUMAN", "human"}
MENU_COMPLAINT = {"投诉建议", "COMPLAINT", "complaint"}
ADDRESS_WORDS = ("地址", "地点", "哪里", "位置")


@dataclass(frozen=True)
class Meaning:
    kind: Literal["bot", "reply", "orders", "location", "voice", "image", "bind", "none"]
    text: str = ""


def meaning(message: BaseMessage) -> Meaning:
    kind = message.type
    if kind == "text":
        text = (getattr(message, "content", "") or "").strip()
        if text and binding.request_of(text) is not None:  # 绑定手机 …: the channel's own
            return Meaning("bind", text)
        return Meaning("bot", text) if text else Meaning("reply", OTHER)
    if kind == "voice":
        said = (getattr(message, "recognition", "") or "").strip()
        if said:  # WeChat's own recognition (语音识别 switched on for the account)
            return Meaning("bot", said)
        media, kind = getattr(message, "media_id", ""), str(getattr(message, "format", ""))
        if media and kind.lower() in ("amr", ""):  # downloaded and run through our ASR
            return Meaning("voice", str(media))
        return Meaning("reply", VOICE_UNRECOGNISED)
    if kind == "image":  # kept for the citizen's order (gateway/wechat_api.py)
        media = str(getattr(message, "media_id", "") or "")
        return Meaning("image", media) if media else Meaning("reply", IMAGE_NOT_KEPT)
    if kind == "location":
        return Meaning("location", (getattr(message, "label", "") or "").strip())
    if kind == "event":
        return _event(message)
    return Meaning("reply", OTHER)


def _event(message: BaseMessage) -> Meaning:
    event = str(getattr(message, "event", "")).lower()
    if event in ("subscribe", "subscribe_scan"):
        return Meaning("reply", WELCOME)
    if event == "click":
        key = str(getattr(message, "key", "") or "")
        if key in MENU_STATUS:
            return Meaning("orders")
        if key in MENU_PERSON:
            return Meaning("bot", "转人工")
        if key in MENU_COMPLAINT:
            return Meaning("reply", COMPLAINT_PROMPT)
        return Meaning("reply", OTHER)
    return Meaning("none")  # unsubscribe, view, template sent, ...: nothing to say


def asks_for_address(replies: list[dict[str, Any]]) -> bool:
    """Whether the bot's last message asked where (the order form's address question)."""
    last = replies[-1].get("text", "") if replies else ""
    return any(word in str(last) for word in ADDRESS_WORDS)


def location_ack(label: str) -> str:
    where = f"（{label}）" if label else ""
    return f"已收到您发送的位置{where}。如需反映问题，请用文字描述具体情况。"


def render_bot(messages: list[dict[str, Any]]) -> str:
    """The bot's messages as one WeChat text; options as numbered lines."""
    parts: list[str] = []
    for message in messages:
        text = str(message.get("text") or "").strip()
        buttons = message.get("buttons") or []
        if buttons:
            options = "\n".join(f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, 1))
            text = f"{text}\n{options}\n（回复数字选择）" if text else options
        if text:
            parts.append(text)
    return "\n\n".join(parts)


def render_orders(orders: list[WorkOrder], timezone: str, bound: bool = False) -> str:
    """The citizen's orders from this account (and by the phones bound to it), newest first,
    each with its state."""
    if not orders:
        return NO_ORDERS
    lines = [status_line(order, [], timezone) for order in orders]
    head = "您的工单（含绑定手机号登记的）：" if bound else "您通过本公众号反映的工单："
    return head + "\n" + "\n".join(lines) + "\n发送工单号可查询详细进度。"


TEXT_BYTES = 2000  # WeChat drops a text reply or message over 2048 bytes (UTF-8)
CONTINUED = "\n（内容较长，未完全显示，详情请拨打12345咨询）"


def split_text(text: str, limit: int = TEXT_BYTES) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, cut at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit:  # one line too long: cut it by characters
            room = limit - len(current.encode())
            cut = len(line.encode()[:room].decode(errors="ignore"))
            if cut == 0:
                parts.append(current)
                current = ""
                continue
            parts.append(current + line[:cut])
            current, line = "", line[cut:]
        if len((current + line).encode()) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return [p.strip("\n") for p in parts if p.strip()] or [""]


def shortened(text: str) -> str:
    """The first part with a note, when the rest cannot follow (no customer-service API)."""
    parts = split_text(text, TEXT_BYTES - len(CONTINUED.encode()))
    return parts[0] + CONTINUED if len(parts) > 1 else parts[0]
