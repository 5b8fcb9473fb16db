"""Reading the bot's replies: which KB answer a reply holds, what it asks the citizen for, and
what it did, in words, for the failure list."""

from __future__ import annotations

import re
from typing import Any

from bench.conversations.schema import FIELDS
from hotline.numbers import written_digits
from knowledge.schema import Entry

_SPACE = re.compile(r"\s+")
ORDER_NUMBER = re.compile(r"20\d{6}-?\d{4}")
OFFER = re.compile(r"工单|登记|人工|话务员|坐席|工作人员|转接|转给")
PERSON = re.compile(r"人工|话务员|坐席|工作人员|接线员|客服人员|专人")
NOT_FOUND = re.compile(r"没有查到|没查到|未查到|查不到|不存在|未找到|没有找到")
ASK_NUMBER = re.compile(r"工单号|工单编号|单号")
_ASK_VERB = re.compile(r"告诉|提供|请说|输入|报一下|发一下|是多少")
ORDER_TOLD = re.compile(r"工单号是|已登记|登记成功|为您登记.{0,12}工单号")
# What a reply did, for the failure list (the bot's current wording; an unknown reply is quoted).
BEHAVIOUR: tuple[tuple[str, str], ...] = (
    ("情况紧急|请立即拨打|请马上.{0,6}拨打", "took the emergency path"),
    ("人工回电|给您回电|转人工|转接人工", "handled it as a request for a person"),
    ("我来帮您登记", "opened the work-order form"),
    ("请告诉我您的工单号|没有查到这个工单", "handled it as a status query"),
    ("24小时为您服务|^今天是", "gave the service hours"),
    ("知识库里暂时没有找到", "said the KB has no answer"),
    ("没太明白|没听明白|还是没能理解", "did not understand"),
    ("文明表达", "answered as abuse"),
    ("不在12345政务服务热线的服务范围", "called it out of scope"),
)
_QUESTION = re.compile(r"[？?]|请")
_FIELD_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("phone", ("电话", "手机号", "联系方式", "号码")),
    ("name", ("称呼", "姓名", "贵姓", "您的名字", "怎么叫您")),
    ("when", ("什么时候", "时间", "哪天", "几点")),
    ("where", ("哪里", "地址", "地点", "位置", "在哪", "哪个区")),
    ("what", ("什么问题", "具体说说", "具体是什么", "什么事", "具体情况", "描述一下")),
)


def squash(text: str) -> str:
    """Without spaces, with digits read out on the phone (幺三九…) written as digits and the
    pauses of a read-back between digit groups (幺三八，幺二三四) dropped."""
    return _READ_BACK_PAUSE.sub("", written_digits(_SPACE.sub("", text)))


_READ_BACK_PAUSE = re.compile(r"(?<=\d)[，,](?=\d)")


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


class Answers:
    """Which KB entries' answer texts appear in a reply (chat answer or voice answer)."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries
        self._texts = {eid: {squash(e.answer), squash(e.spoken())} for eid, e in entries.items()}

    def has(self, text: str, entry_id: str) -> bool:
        flat = squash(text)
        return any(t and t in flat for t in self._texts.get(entry_id, ()))

    def found(self, text: str) -> list[str]:
        flat = squash(text)
        return [eid for eid, texts in self._texts.items() if any(t in flat for t in texts)]


def clarify_options(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(entry id, payload) of the clarify buttons in a reply."""
    out = []
    for m in messages:
        for b in m.get("buttons") or []:
            found = re.search(r'"entry_id"\s*:\s*"([^"]+)"', b.get("payload") or "")
            if found:
                out.append((found.group(1), b["payload"]))
    return out


def intent_buttons(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Buttons that name an intent (a clarification of what the citizen wants), not yes/no."""
    return [
        b
        for m in messages
        for b in m.get("buttons") or []
        if (b.get("payload") or "").startswith("/")
        and not re.match(r"/(affirm|deny|choose_entry|correct_field)\b", b["payload"])
    ]


# Which clarification button each kind of citizen presses (by the button's title).
INTENT_CHOICE = {
    "complaint": "投诉|举报|反映|求助|建议|表扬",
    "status": "查询|进度|工单",
    "handoff": "人工|话务员",
    "emergency": "紧急|人工",
}


def button(messages: list[dict[str, Any]], intent: str) -> str | None:
    for m in messages:
        for b in m.get("buttons") or []:
            if (b.get("payload") or "").startswith(f"/{intent}"):
                return b["payload"]
    return None


def asked(messages: list[dict[str, Any]], answers: Answers) -> str | None:
    """What the bot's reply asks the citizen for: a form field, the read-back, a yes/no, an
    order number, a clarify choice, satisfaction — or None (nothing to answer)."""
    if not messages:
        return None
    if clarify_options(messages):
        return "clarify"
    last = messages[-1].get("text") or ""
    if "第1个" in last and "第几个" in last:
        return "clarify_voice"
    if answers.found(last):  # an answer from the KB, not a question
        return None
    if re.search(r"修改哪|改哪", last):
        return "which_field"
    read_back = ("核对" in last or "确认" in last) and (
        "确认" in last or button(messages, "affirm")
    )
    if read_back and not ORDER_NUMBER.search(last):
        return "confirm"
    if ASK_NUMBER.search(last) and _ASK_VERB.search(last) and not NOT_FOUND.search(last):
        return "order_number"
    if "满意" in last and re.search(r"评价|打分|满意吗|是否满意|满不满意", last):
        return "satisfaction"
    if button(messages, "affirm") and button(messages, "deny"):
        return "yes_no"
    if intent_buttons(messages):
        return "intents"
    if len(last) <= 100 and _QUESTION.search(last) and not ORDER_NUMBER.search(last):
        for name, words in _FIELD_WORDS:
            if any(w in last for w in words):
                return name
    return None


def is_field_question(what: str | None) -> bool:
    return what in (*FIELDS, "confirm", "which_field")


def behaviour(text: str) -> str:
    """What a reply did, in words: 'opened the work-order form', or the reply quoted."""
    for pattern, label in BEHAVIOUR:
        if re.search(pattern, text.strip()):
            return label
    return f"said “{snippet_text(text, 40)}”"


def snippet_text(text: str, limit: int = 60) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[:limit] + "…"


def snippet(messages: list[dict[str, Any]]) -> str:
    return snippet_text(joined(messages))
