"""Conversation benchmark: scripted multi-turn conversations through POST /api/v1/chat.

Each conversation of tests/conversations/*.yml (schema in its README.md) is driven against the
running stack: the citizen's scripted turns are sent in order and the driver answers the bot the
way a citizen would — a form question from the conversation's facts (by the keywords of the
question: 什么问题 / 哪里·地址 / 什么时候 / 称呼 / 电话), a read-back with 确认, a clarify
button by pressing the one that names the expected entry — with at most 12 citizen turns.

Scores: consultations answered with the right entry within two bot turns (the entry's answer text
from knowledge/kb in the reply), no-answer questions answered honestly, complaints ending in a
stored order with the right department (GET /api/v1/work-orders, matched on the conversation id
"<channel>:<sender>"), cancelled forms leaving no order, status queries, emergencies reaching the
emergency path (110/119/120 told and an order with priority "emergency"), handoff requests, small
talk, and loops (the same bot reply three times in a row, or the cap reached while the bot still
asks). Run:

    .venv/bin/python -m bench.conversations            # starts an isolated stack
    .venv/bin/python -m bench.conversations --url http://127.0.0.1:8000 --verbose
    .venv/bin/python -m bench.conversations --json > result.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotline.numbers import digits_aloud, written_digits
from hotline.settings import PROJECT_ROOT
from knowledge.loaders import load_yaml
from knowledge.schema import Entry

CONVERSATIONS_DIR = PROJECT_ROOT / "tests" / "conversations"
KB_DIR = PROJECT_ROOT / "knowledge" / "kb"
MAX_TURNS = 12  # citizen messages per conversation
NUDGE = "我要反映一下"  # said once when a complaint ends without a form: an opening, no content
LOOP_REPEATS = 3  # the same bot reply this many times in a row is a loop

FIELDS = ("what", "where", "when", "name", "phone")
FIELD_LABELS = {"what": "问题", "where": "地址", "when": "时间", "name": "称呼", "phone": "电话"}
Kind = Literal["consult", "no_answer", "complaint", "status", "emergency", "handoff", "smalltalk"]
Point = Literal["what", "where", "when", "name", "phone", "confirm"]

# ---------------------------------------------------------------------------------------------
# The conversation set


class Inject(BaseModel):
    """Said instead of answering, the first time the bot asks `at` (or at the read-back)."""

    model_config = ConfigDict(extra="forbid")
    at: Point
    say: str = Field(min_length=1)
    set: dict[str, str] = Field(default_factory=dict)
    cancel: bool = False

    @model_validator(mode="after")
    def known_fields(self) -> Inject:
        unknown = set(self.set) - set(FIELDS)
        if unknown:
            raise ValueError(f"set names unknown fields {sorted(unknown)}")
        return self


class Setup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: dict[str, str]
    own: bool = True

    @model_validator(mode="after")
    def has_text(self) -> Setup:
        if not self.order.get("request_text"):
            raise ValueError("setup.order needs request_text")
        return self


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[str | None] | None = None
    no_answer: bool = False
    category: str | None = None
    department: str | None = None
    no_order: bool = False
    status: Literal["found", "not_found", "ask_number"] | None = None
    emergency: Literal["110", "119", "120"] | None = None
    handoff: bool = False
    polite: bool = False


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, pattern=r"^[\w-]+$")
    kind: Kind
    channel: Literal["web", "wechat", "voice", "api"] = "web"
    turns: list[str] = Field(min_length=1)
    facts: dict[str, str] = Field(default_factory=dict)
    inject: list[Inject] = Field(default_factory=list)
    setup: Setup | None = None
    expect: Expect

    @model_validator(mode="after")
    def consistent(self) -> Conversation:
        unknown = set(self.facts) - {*FIELDS, "order_number"}
        if unknown:
            raise ValueError(f"facts has unknown keys {sorted(unknown)}")
        if any(not t.strip() for t in self.turns):
            raise ValueError("a turn is empty")
        e, kind = self.expect, self.kind
        if kind == "consult":
            if not e.entries or len(e.entries) != len(self.turns) or not any(e.entries):
                raise ValueError("consult: expect.entries needs one item (id or null) per turn")
        elif kind == "no_answer" and not e.no_answer:
            raise ValueError("no_answer: expect.no_answer must be true")
        elif kind == "complaint":
            cancels = any(i.cancel for i in self.inject)
            if e.no_order != cancels:
                raise ValueError("complaint: expect.no_order exactly when an inject cancels")
            if not e.no_order and not (e.category and e.department):
                raise ValueError("complaint: expect.category and expect.department are needed")
            if not e.no_order and set(FIELDS) - set(self.facts) - {"what"}:
                raise ValueError("complaint: facts need where, when, name and phone")
        elif kind == "status" and not e.status:
            raise ValueError("status: expect.status is needed")
        elif kind == "emergency" and not e.emergency:
            raise ValueError("emergency: expect.emergency is needed")
        elif kind == "handoff" and not e.handoff:
            raise ValueError("handoff: expect.handoff must be true")
        elif kind == "smalltalk" and not e.polite:
            raise ValueError("smalltalk: expect.polite must be true")
        return self


class SetError(ValueError):
    """The conversation set does not load; the message names the file and the conversation."""


def load_conversations(folder: Path = CONVERSATIONS_DIR) -> list[Conversation]:
    conversations: list[Conversation] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        items = data.get("conversations")
        if not isinstance(items, list):
            raise SetError(f"{path.name}: no list under 'conversations'")
        for n, item in enumerate(items):
            name = item.get("id", f"#{n}") if isinstance(item, dict) else f"#{n}"
            try:
                conversations.append(Conversation.model_validate(item))
            except ValidationError as exc:
                raise SetError(f"{path.name}: {name}: {exc}") from None
    return conversations


def load_entries(folder: Path = KB_DIR) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for path in sorted(folder.glob("*.yml")):
        for entry in load_yaml(path).entries:
            entries[entry.id] = entry
    return entries


# ---------------------------------------------------------------------------------------------
# Reading the bot's replies

_SPACE = re.compile(r"\s+")
ORDER_NUMBER = re.compile(r"20\d{6}-?\d{4}")
OFFER = re.compile(r"工单|登记|人工|话务员|坐席|工作人员|转接|转给")
PERSON = re.compile(r"人工|话务员|坐席|工作人员|接线员|客服人员|专人")
NOT_FOUND = re.compile(r"没有查到|没查到|未查到|查不到|不存在|未找到|没有找到")
_ASK_NUMBER = re.compile(r"工单号|工单编号|单号")
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
    if _ASK_NUMBER.search(last) and _ASK_VERB.search(last) and not NOT_FOUND.search(last):
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


# ---------------------------------------------------------------------------------------------
# Driving one conversation


@dataclass
class Exchange:
    said: str
    by: Literal["script", "answer", "inject", "nudge"]
    script_index: int  # the scripted turn this exchange follows (or is)
    messages: list[dict[str, Any]]
    state: str
    status: int
    asked: str | None = None


@dataclass
class Run:
    conv: Conversation
    sender: str
    conversation_id: str
    exchanges: list[Exchange] = field(default_factory=list)
    setup_order: str | None = None
    setup_error: str | None = None
    loop: str | None = None
    cancel_reply: list[dict[str, Any]] | None = None
    orders: list[dict[str, Any]] = field(default_factory=list)
    passed: bool = False
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    search: dict[int, dict[str, Any]] = field(default_factory=dict)  # failed consult turns


class Stack:
    def __init__(self, url: str, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def chat(self, run: Run, text: str) -> tuple[int, dict[str, Any]]:
        metadata: dict[str, Any] = {}
        if run.conv.channel == "voice" and run.conv.facts.get("phone"):
            metadata["caller"] = run.conv.facts["phone"]
        body = {"sender": run.sender, "text": text, "channel": run.conv.channel}
        try:
            resp = self.http.post("/api/v1/chat", json={**body, "metadata": metadata})
        except httpx.HTTPError as exc:
            return 0, {"messages": [], "state": "bot", "error": f"{type(exc).__name__}"}
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, {"messages": [], "state": "bot", "error": resp.text[:200]}

    def create_order(self, run: Run, setup: Setup) -> str:
        conv = run.conv
        conversation = run.conversation_id if setup.own else f"{run.conversation_id}-earlier"
        draft = {
            "channel": conv.channel,
            "kind": setup.order.get("kind", "投诉"),
            "conversation_id": conversation,
            **{k: v for k, v in setup.order.items() if k != "kind"},
        }
        if conv.facts.get("phone"):
            draft.setdefault("citizen_phone", conv.facts["phone"])
        resp = self.http.post(
            "/api/v1/work-orders", json=draft, headers={"Idempotency-Key": run.sender}
        )
        resp.raise_for_status()
        return resp.json()["order"]["number"]

    def search(self, query: str, channel: str) -> dict[str, Any]:
        resp = self.http.get(
            "/api/v1/knowledge/search", params={"q": query, "k": 3, "channel": channel}
        )
        resp.raise_for_status()
        return resp.json()

    def all_orders(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            resp = self.http.get("/api/v1/work-orders", params={"limit": 200, "offset": len(items)})
            resp.raise_for_status()
            page = resp.json()
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                return items

    def wait_ready(self, timeout: float = 600) -> None:
        """Until /health says ok (the knowledge index is built on first use)."""
        deadline, body = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            try:
                body = self.http.get("/health", timeout=10).json()
                if body.get("status") == "ok":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(2)
        raise RuntimeError(f"the stack at {self.url} is not healthy: {body}")


def fill(text: str, run: Run) -> str:
    number = run.setup_order or ""
    return text.replace("{order_digits}", number.replace("-", "")).replace("{order}", number)


class Driver:
    """Plays the citizen of one conversation."""

    def __init__(self, stack: Stack, answers: Answers, run: Run) -> None:
        self.stack, self.answers, self.run = stack, answers, run
        self.facts = dict(run.conv.facts)
        self.pending_injects = list(run.conv.inject)
        self.cancelled = False
        self.order_seen = False
        self.pressed: set[str] = set()
        self.declined: set[int] = set()
        self.gave_number = False
        self.correcting: list[str] = []
        self.nudged = False
        self.rated = False
        self.outside_form = 0

    def send(self, text: str, by: Literal["script", "answer", "inject", "nudge"], idx: int) -> None:
        status, body = self.stack.chat(self.run, text)
        messages = body.get("messages") or []
        if body.get("error"):
            messages = [*messages, {"text": f"[error: {body['error']}]", "buttons": []}]
        ex = Exchange(text, by, idx, messages, body.get("state") or "bot", status)
        ex.asked = asked(messages, self.answers)
        self.run.exchanges.append(ex)
        if ORDER_TOLD.search(joined(messages)):
            self.order_seen = True

    def expected_entry(self, idx: int) -> str | None:
        entries = self.run.conv.expect.entries
        return entries[idx] if entries and idx < len(entries) else None

    def wants_form(self) -> bool:
        return self.run.conv.kind in ("complaint", "emergency", "handoff") or bool(
            set(FIELDS) & set(self.facts)
        )

    def _inject_for(self, point: str) -> Inject | None:
        for inj in self.pending_injects:
            if inj.at == point or (point == "confirm" and inj.at != "confirm"):
                self.pending_injects.remove(inj)
                return inj
        return None

    def reply_to(self, ex: Exchange) -> tuple[str, Literal["answer", "inject"]] | None:
        """What the citizen answers to the bot's last reply, or None (nothing asked)."""
        what, idx = ex.asked, ex.script_index
        if what is None:
            return None
        expected = self.expected_entry(idx)
        if what == "clarify":
            for eid, payload in clarify_options(ex.messages):
                if eid == expected and payload not in self.pressed:
                    self.pressed.add(payload)
                    return payload, "answer"
            if idx in self.declined:
                return None
            self.declined.add(idx)
            return "都不是我要问的", "answer"
        if what == "clarify_voice":
            last = ex.messages[-1]["text"]
            entry = self.answers.entries.get(expected or "")
            if entry:
                found = re.search(rf"第(\d)个，{re.escape(entry.question)}", last)
                if found and f"voice:{idx}" not in self.pressed:
                    self.pressed.add(f"voice:{idx}")
                    return f"第{found.group(1)}个", "answer"
            if idx in self.declined:
                return None
            self.declined.add(idx)
            return "都不是", "answer"
        if what == "intents":
            choice = INTENT_CHOICE.get(self.run.conv.kind)
            if choice and idx not in self.declined and not self.order_seen:
                for b in intent_buttons(ex.messages):
                    if re.search(choice, b.get("title") or ""):
                        self.declined.add(idx)
                        return b["payload"], "answer"
            return None
        if self.cancelled or self.order_seen:
            if what == "satisfaction" and not self.rated:
                self.rated = True
                return "挺满意的", "answer"
            return None
        if what == "satisfaction":
            if self.rated:
                return None
            self.rated = True
            return "满意", "answer"
        if what == "order_number":
            number = fill(self.facts.get("order_number", ""), self.run)
            if number and not self.gave_number:
                self.gave_number = True
                return number, "answer"
            return None
        if what == "yes_no":
            if self.wants_form():
                return button(ex.messages, "affirm") or "好的", "answer"
            if idx in self.declined:
                return None
            self.declined.add(idx)
            return button(ex.messages, "deny") or "不用了", "answer"
        # the work-order form: a field, the read-back, or which field to change
        point = "confirm" if what == "which_field" else what
        if what != "which_field" and (inj := self._inject_for(point)):
            self.facts.update(inj.set)
            self.correcting = list(inj.set)
            if inj.cancel:
                self.cancelled = True
            return inj.say, "inject"
        if what == "which_field":
            if not self.correcting:
                return "没有要改的了 确认提交", "answer"
            name = self.correcting[0]
            for m in ex.messages:
                for b in m.get("buttons") or []:
                    if f"wo_{name}" in (b.get("payload") or ""):
                        return b["payload"], "answer"
            return f"改{FIELD_LABELS[name]}", "answer"
        if what == "confirm":
            return button(ex.messages, "affirm") or "对的 确认", "answer"
        if what in self.facts:
            return self.facts[what], "answer"
        kind = self.run.conv.kind
        if what == "what" and kind in ("complaint", "emergency"):
            return self.run.conv.turns[0], "answer"
        if what == "what" and kind == "handoff":
            return "想请人工客服给我回个电话", "answer"
        if what == "when" and self.wants_form():
            return ("就在刚才" if kind == "emergency" else "不太清楚"), "answer"
        if what == "where" and kind == "handoff":
            return "不涉及具体地点", "answer"
        # a form the citizen did not come for (or a field the script does not know)
        self.outside_form += 1
        return ("我不是要登记 就是问问", "answer") if self.outside_form == 1 else None

    def play(self) -> None:
        run, turns = self.run, self.run.conv.turns
        next_turn, said = 0, 0
        while True:
            last = run.exchanges[-1] if run.exchanges else None
            move = self.reply_to(last) if last else None
            if move is not None:
                text, by = move
                idx = last.script_index if last else 0
            elif next_turn < len(turns):
                text, by, idx = fill(turns[next_turn], run), "script", next_turn
                next_turn += 1
            elif self._nudge_needed():
                self.nudged = True
                text, by, idx = NUDGE, "nudge", len(turns) - 1
            else:
                return
            if said >= MAX_TURNS:
                run.loop = f"cap of {MAX_TURNS} citizen turns reached while the bot still asks"
                return
            self.send(text, by, idx)  # type: ignore[arg-type]
            said += 1
            if by == "inject" and self.cancelled and run.cancel_reply is None:
                run.cancel_reply = run.exchanges[-1].messages
            replies = [squash(joined(e.messages)) for e in run.exchanges[-LOOP_REPEATS:]]
            if len(replies) == LOOP_REPEATS and len(set(replies)) == 1:
                run.loop = f"the same bot reply {LOOP_REPEATS} times in a row"
                return

    def _nudge_needed(self) -> bool:
        return (
            self.run.conv.kind == "complaint"
            and not self.run.conv.expect.no_order
            and not self.order_seen
            and not self.nudged
        )


# ---------------------------------------------------------------------------------------------
# Scoring


def _window(run: Run, idx: int, size: int = 2) -> list[Exchange]:
    """The first `size` bot turns after scripted turn `idx` (the turn's reply, then a press)."""
    return [e for e in run.exchanges if e.script_index == idx][:size]


def _last_script_onwards(run: Run) -> list[Exchange]:
    last = len(run.conv.turns) - 1
    return [e for e in run.exchanges if e.script_index == last]


def _said(number: str) -> tuple[str, ...]:
    """110/119/120 as written and as read on the phone (1 is 幺 in phone numbers)."""
    return number, digits_aloud(number, one="一"), digits_aloud(number)


def score(run: Run, answers: Answers) -> None:
    conv, e = run.conv, run.conv.expect
    reasons, checks = run.reasons, run.checks
    orders = run.orders
    if run.setup_error:
        reasons.append(f"setup failed: {run.setup_error}")
    if conv.kind == "consult":
        for idx, eid in enumerate(e.entries or []):
            if eid is None:
                continue
            window = _window(run, idx)
            ok = any(answers.has(joined(x.messages), eid) for x in window)
            checks[f"turn {idx + 1}"] = ok
            if not ok:
                first = window[0].messages if window else []
                got = answers.found(joined(first))
                options = [o for o, _ in clarify_options(first)]
                if got:
                    why = f"answered {','.join(got)}"
                elif options:
                    why = f"clarify without it ({','.join(options)})"
                else:
                    why = behaviour(joined(first))
                reasons.append(f"turn {idx + 1}: expected {eid}: {why}")
    elif conv.kind == "no_answer":
        for idx in range(len(conv.turns)):
            window = _window(run, idx)
            text = "\n".join(joined(x.messages) for x in window)
            titles = " ".join(b.get("title") or "" for x in window for m in x.messages
                              for b in m.get("buttons") or [])  # fmt: skip
            invented = answers.found(text)
            offered = bool(OFFER.search(text + titles))
            checks["honest"] = not invented
            checks["offer"] = offered
            if invented:
                reasons.append(f"gave an answer that does not fit: {','.join(invented)}")
            if not offered:
                reasons.append(f"no offer of a work order or a person ({behaviour(text)})")
        if orders:
            reasons.append("stored an order nobody asked for")
    elif conv.kind == "complaint" and e.no_order:
        fired = run.cancel_reply is not None
        stopped = fired and not is_field_question(asked(run.cancel_reply or [], answers))
        checks.update(cancel_said=fired, stopped=stopped, no_order=not orders)
        if not fired:
            first = joined(run.exchanges[0].messages) if run.exchanges else ""
            reasons.append(
                f"the form never reached the cancel point (first reply: {behaviour(first)})"
            )
        elif not stopped:
            reasons.append(f"kept asking after the cancel ({_snippet(run.cancel_reply or [])})")
        if orders:
            reasons.append("an order was stored although the citizen cancelled")
    elif conv.kind == "complaint":
        stored = bool(orders)
        dept = any(o.get("department") == e.department for o in orders)
        cat = any(o.get("category") == e.category for o in orders)
        checks.update(order=stored, category=cat, department=dept)
        corrected = {k: v for i in conv.inject for k, v in i.set.items()}
        if corrected:
            backs = [x for x in run.exchanges if x.asked == "confirm"]
            last_back = squash(joined(backs[-1].messages)) if backs else ""
            applied = all(squash(v) in last_back for v in corrected.values())
            checks["correction_read_back"] = applied
            if not applied:
                fields = ", ".join(corrected)
                reasons.append(f"the correction of {fields} was not in the last read-back")
        if "phone" in corrected:
            checks["corrected_phone"] = any(
                _phone_matches(o.get("citizen_phone"), conv_phone(run)) for o in orders
            )
            if stored and not checks["corrected_phone"]:
                reasons.append("the corrected phone number was not stored")
        if not stored:
            first = joined(run.exchanges[0].messages) if run.exchanges else ""
            reasons.append(
                f"no order stored (first reply: {behaviour(first)}; last: {_last_reply(run)})"
            )
        elif not dept:
            got = ", ".join(f"{o.get('category')}/{o.get('department')}" for o in orders)
            reasons.append(f"department: expected {e.category}/{e.department}, got {got}")
    elif conv.kind == "status":
        after = "\n".join(joined(x.messages) for x in _last_script_onwards(run))
        if e.status == "found":
            number = run.setup_order or next((o["number"] for o in orders), "")
            told = bool(number) and (
                number in after
                or number.replace("-", "") in after
                or number.replace("-", "") in squash(after).replace("杠", "")
            )
            checks["told"] = told
            if not told:
                reasons.append(f"order {number or '?'} not told ({_snippet_text(after)})")
        elif e.status == "not_found":
            checks["not_found"] = bool(NOT_FOUND.search(after))
            if not checks["not_found"]:
                reasons.append(f"did not say the order is not found ({_snippet_text(after)})")
        else:
            checks["asks"] = bool(_ASK_NUMBER.search(after)) and not ORDER_NUMBER.search(after)
            if not checks["asks"]:
                reasons.append(f"did not ask for the order number ({_snippet_text(after)})")
    elif conv.kind == "emergency":
        first = "\n".join(joined(x.messages) for x in run.exchanges[:2])
        told = e.emergency is not None and any(n in first for n in _said(e.emergency))
        urgent = any(o.get("priority") == "emergency" for o in orders)
        checks.update(number_told=told, emergency_order=urgent)
        if not told:
            others = [n for n in ("110", "119", "120") if n in first]
            said = f"said {','.join(others)}" if others else _snippet_text(first)
            reasons.append(f"{e.emergency} not told in the first two replies ({said})")
        if not urgent:
            got = ", ".join(str(o.get("priority")) for o in orders) or "none"
            reasons.append(f"no order with priority emergency (orders: {got})")
    elif conv.kind == "handoff":
        window = _last_script_onwards(run)[:2]
        text = "\n".join(joined(x.messages) for x in window)
        offered = bool(PERSON.search(text))
        recorded = any(x.state in ("waiting_human", "human") for x in run.exchanges) or bool(orders)
        checks.update(person_offered=offered, recorded=recorded)
        if not offered:
            reasons.append(f"no person offered ({_snippet_text(text)})")
        if not recorded:
            reasons.append("the request was not recorded (state stayed bot, no callback order)")
    elif conv.kind == "smalltalk":
        answered = all(x.status == 200 and joined(x.messages).strip() for x in run.exchanges)
        checks.update(answered=answered, no_order=not orders)
        if not answered:
            reasons.append("a turn was not answered")
        if orders:
            reasons.append("an order was stored for small talk")
    if run.loop:
        reasons.append(f"loop: {run.loop}")
    errors = [x for x in run.exchanges if x.status != 200]
    if errors:
        reasons.append(f"{len(errors)} turn(s) answered HTTP {errors[0].status}")
    run.passed = not reasons


def conv_phone(run: Run) -> str:
    phone = run.conv.facts.get("phone", "")
    for inj in run.conv.inject:
        phone = inj.set.get("phone", phone)
    return phone


def _phone_matches(masked: str | None, phone: str) -> bool:
    digits = re.sub(r"\D", "", phone)
    return bool(masked) and masked.endswith(digits[-4:]) and masked[:3] == phone[:3]


def behaviour(text: str) -> str:
    """What a reply did, in words: 'opened the work-order form', or the reply quoted."""
    for pattern, label in BEHAVIOUR:
        if re.search(pattern, text.strip()):
            return label
    return f"said “{_snippet_text(text, 40)}”"


def _snippet_text(text: str, limit: int = 60) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _snippet(messages: list[dict[str, Any]]) -> str:
    return _snippet_text(joined(messages))


def _last_reply(run: Run) -> str:
    return _snippet(run.exchanges[-1].messages) if run.exchanges else "none"


# ---------------------------------------------------------------------------------------------
# The report

MEASURES: list[tuple[str, str, str, str]] = [
    # (key, label, kinds, target)
    ("consult", "consultations answered with the right entry within two bot turns", "consult",
     "≥ 90%"),
    ("no_answer", "no-answer questions: honest, with an offer of an order or a person",
     "no_answer", "100%"),
    ("complaint", "complaints/requests ending in a stored order with the right department",
     "complaint", "≥ 90%"),
    ("cancel", "cancelled forms leaving no order", "complaint", "100%"),
    ("status", "status queries answered", "status", ""),
    ("emergency", "emergencies reaching the emergency path (110/119/120 + emergency order)",
     "emergency", "100%"),
    ("handoff", "requests for a person: offered and recorded", "handoff", ""),
    ("smalltalk", "small talk and abuse: answered politely, no order", "smalltalk", ""),
]  # fmt: skip


_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^turn \d+: expected [\w-]+: answered .*", "answered with another entry"),
    (r"^turn \d+: expected [\w-]+: clarify without it.*", "clarify buttons without the entry"),
    (r"^turn \d+: expected [\w-]+: said “.*", "another reply"),
    (r"^turn \d+: expected [\w-]+: ", ""),
    (r"^department: .*", "stored with another category/department"),
    (r"^no order stored \(first reply: (.*?); last: .*", r"no order (first reply: \1)"),
    (r"^(.*?) \(first reply: said “.*", r"\1 (first reply: another reply)"),
    (r"^(.*?) \((said “|said ).*", r"\1"),
    (r"^gave an answer that does not fit: .*", "gave an entry's answer"),
    (r"^order \S+ not told .*", "the order was not told"),
    (r"^(\d+ not told in the first two replies).*", r"\1"),
    (r"^no order with priority emergency .*", "no emergency order"),
    (r"^the correction of (.*) was not in the last read-back", r"correction of \1 not applied"),
    (r"^(kept asking after the cancel|did not say the order is not found) \(.*", r"\1"),
    (r"^(did not ask for the order number|no person offered) \(.*", r"\1"),
)


def pattern(reason: str) -> str:
    """A failure reason without its particulars, to count what goes wrong how often."""
    for regex, repl in _PATTERNS:
        reason = re.sub(regex, repl, reason)
    return reason


def measure_of(run: Run) -> str:
    if run.conv.kind == "complaint":
        return "cancel" if run.conv.expect.no_order else "complaint"
    return run.conv.kind


def summarise(runs: list[Run]) -> dict[str, Any]:
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[measure_of(run)].append(run)
    rates: dict[str, Any] = {}
    for key, label, _, target in MEASURES:
        group = groups.get(key, [])
        passed = sum(r.passed for r in group)
        sub, applies = Counter(), Counter()
        for r in group:
            for name, ok in r.checks.items():
                sub[name] += int(ok)
                applies[name] += 1
        rates[key] = {
            "label": label,
            "passed": passed,
            "total": len(group),
            "rate": passed / len(group) if group else None,
            "target": target,
            "checks": {name: f"{sub[name]}/{applies[name]}" for name in sorted(applies)}
            if key != "consult"
            else {},
        }
    questions = [ok for r in groups.get("consult", []) for ok in r.checks.values()]
    rates["consult"]["questions"] = {"passed": sum(questions), "total": len(questions)}
    patterns: dict[str, Counter[str]] = defaultdict(Counter)
    for run in runs:
        for reason in {pattern(r) for r in run.reasons}:
            patterns[measure_of(run)][reason] += 1
    loops = [r.conv.id for r in runs if r.loop]
    turns = [len(r.exchanges) for r in runs]
    return {
        "rates": rates,
        "loops": {"count": len(loops), "ids": loops},
        "conversations": len(runs),
        "passed": sum(r.passed for r in runs),
        "citizen_turns": sum(turns),
        "nudged": [r.conv.id for r in runs if any(x.by == "nudge" for x in r.exchanges)],
        "patterns": {k: dict(v.most_common()) for k, v in patterns.items()},
    }


def transcript(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "citizen": x.said,
            "by": x.by,
            "bot": [m.get("text") for m in x.messages],
            "buttons": [b.get("title") for m in x.messages for b in m.get("buttons") or []],
            "state": x.state,
            "asked": x.asked,
        }
        for x in run.exchanges
    ]


def print_report(summary: dict[str, Any], runs: list[Run], verbose: bool, took: float) -> None:
    print(f"{summary['conversations']} conversations, {summary['citizen_turns']} citizen turns, "
          f"{took:.0f} s; passed {summary['passed']}")  # fmt: skip
    print()
    print("| measure | passed | total | rate | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for key, *_ in MEASURES:
        r = summary["rates"][key]
        rate = f"{r['rate']:.1%}" if r["rate"] is not None else "–"
        print(f"| {r['label']} | {r['passed']} | {r['total']} | {rate} | {r['target']} |")
    q = summary["rates"]["consult"]["questions"]
    loops = summary["loops"]
    print(f"| loops (same reply 3× in a row, or cap hit) | {loops['count']} | "
          f"{summary['conversations']} | | 0 |")  # fmt: skip
    print()
    print(f"consultation questions answered right: {q['passed']}/{q['total']}")
    for key, *_ in MEASURES:
        checks = summary["rates"][key]["checks"]
        if checks:
            print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    found = summary.get("search") or {}
    if found.get("failed_turns"):
        print(
            f"consultation turns missed: {found['failed_turns']}; the knowledge search alone ranks "
            f"the expected entry first in {found['expected_ranked_first']} of them "
            f"(its decision then: {found['decisions_when_ranked_first']})"
        )
    if summary["nudged"]:
        print(f"needed a nudge (我要反映一下): {', '.join(summary['nudged'])}")
    if summary["patterns"]:
        print()
        print("failure patterns (conversations):")
        for key, counts in summary["patterns"].items():
            for reason, n in counts.items():
                print(f"  {key}: {n} × {reason}")
    failed = [r for r in runs if not r.passed]
    if failed:
        print()
        print("failures:")
    for run in failed:
        print(f"- {run.conv.id} ({run.conv.kind}, {run.conv.channel}): {'; '.join(run.reasons)}")
        for idx, d in sorted(run.search.items()):
            top = ", ".join(f"{i} {sc}" for i, sc in d.get("top", []))
            print(f"    search for turn {idx + 1}: {d.get('decision', d.get('error'))}: {top}")
        if verbose:
            for x in run.exchanges:
                print(f"    citizen[{x.by}]: {x.said}")
                for m in x.messages:
                    text = (m.get("text") or "").replace("\n", " / ")
                    buttons = " ".join(f"[{b.get('title')}]" for b in m.get("buttons") or [])
                    print(f"    bot: {text} {buttons}".rstrip())
                if x.state != "bot":
                    print(f"    (state {x.state})")


# ---------------------------------------------------------------------------------------------


def run_all(
    stack: Stack, conversations: list[Conversation], answers: Answers, progress: bool
) -> list[Run]:
    tag = uuid.uuid4().hex[:8]
    runs = []
    for n, conv in enumerate(conversations, 1):
        sender = f"convbench-{tag}-{conv.id}"
        run = Run(conv, sender, f"{conv.channel}:{sender}")
        if conv.setup:
            try:
                run.setup_order = stack.create_order(run, conv.setup)
            except httpx.HTTPError as exc:
                run.setup_error = str(exc)
        Driver(stack, answers, run).play()
        runs.append(run)
        if progress:
            print(f"\r{n}/{len(conversations)} {conv.id:<14}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    by_conversation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in stack.all_orders():
        by_conversation[order.get("conversation_id") or ""].append(order)
    for run in runs:
        run.orders = [
            o for o in by_conversation[run.conversation_id] if o["number"] != run.setup_order
        ]
    return runs


def diagnose(stack: Stack, runs: list[Run]) -> None:
    """For each consultation turn the bot got wrong: what the knowledge search alone says (its
    decision and top three), to tell a retrieval miss from a dialogue miss."""
    for run in runs:
        for idx, eid in enumerate(run.conv.expect.entries or []):
            if eid is None or run.checks.get(f"turn {idx + 1}", True):
                continue
            try:
                found = stack.search(run.conv.turns[idx], run.conv.channel)
            except httpx.HTTPError as exc:
                run.search[idx] = {"error": str(exc)}
                continue
            top = [(r["id"], round(r["score"], 3)) for r in found.get("results", [])]
            run.search[idx] = {"decision": found.get("decision"), "top": top, "expected": eid}


def search_summary(runs: list[Run]) -> dict[str, Any]:
    seen = [d for r in runs for d in r.search.values() if "top" in d]
    first = [d for d in seen if d["top"] and d["top"][0][0] == d["expected"]]
    return {
        "failed_turns": len(seen),
        "expected_ranked_first": len(first),
        "decisions_when_ranked_first": dict(Counter(d["decision"] for d in first)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start an isolated stack)")
    parser.add_argument("--dir", type=Path, default=CONVERSATIONS_DIR, help="conversation files")
    parser.add_argument("--kind", action="append", help="only conversations of this kind")
    parser.add_argument("--id", action="append", dest="ids", help="only these conversation ids")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--verbose", action="store_true", help="transcripts of the failures")
    args = parser.parse_args(argv)

    conversations = load_conversations(args.dir)
    if args.kind or args.ids:  # either one selects
        kinds, ids = set(args.kind or ()), set(args.ids or ())
        conversations = [c for c in conversations if c.kind in kinds or c.id in ids]
    entries = load_entries()
    answers = Answers(entries)

    isolated = None
    if args.url:
        stack = Stack(args.url)
    else:
        from hotline.serve import start_isolated

        isolated = start_isolated(Path(tempfile.mkdtemp(prefix="hotline-conv-")))
        stack = Stack(isolated.url)
    try:
        stack.wait_ready()
        started = time.monotonic()
        runs = run_all(stack, conversations, answers, progress=not args.json)
        took = time.monotonic() - started
        for run in runs:
            score(run, answers)
        diagnose(stack, runs)
    finally:
        if isolated is not None:
            isolated.stop()
    summary = summarise(runs)
    summary["search"] = search_summary(runs)
    if args.json:
        out = {
            "summary": summary,
            "seconds": round(took, 1),
            "conversations": [
                {
                    "id": r.conv.id,
                    "kind": r.conv.kind,
                    "channel": r.conv.channel,
                    "passed": r.passed,
                    "reasons": r.reasons,
                    "checks": r.checks,
                    "search": {f"turn {i + 1}": d for i, d in r.search.items()},
                    "loop": r.loop,
                    "orders": [
                        {k: o.get(k) for k in ("number", "category", "department", "priority")}
                        for o in r.orders
                    ],
                    "transcript": transcript(r),
                }
                for r in runs
            ],
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print_report(summary, runs, args.verbose, took)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
