"""Driving one conversation through the running app: the HTTP calls (`Stack`), the citizen who
answers the bot (`Driver`) and the whole set in order (`run_all`)."""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from bench.conversations.replies import (
    INTENT_CHOICE,
    ORDER_TOLD,
    Answers,
    asked,
    button,
    clarify_options,
    intent_buttons,
    joined,
    squash,
)
from bench.conversations.schema import FIELD_LABELS, FIELDS, Conversation, Inject, Setup

MAX_TURNS = 12  # citizen messages per conversation
NUDGE = "我要反映一下"  # said once when a complaint ends without a form: an opening, no content
LOOP_REPEATS = 3  # the same bot reply this many times in a row is a loop
By = Literal["script", "answer", "inject", "nudge"]  # who wrote what the citizen said


@dataclass
class Exchange:
    said: str
    by: By
    script_index: int  # the scripted turn this exchange follows (or is)
    messages: list[dict[str, Any]]
    state: str
    status: int
    asked: str | None = None
    handoff: bool = False  # the triage decision said a person must take over


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
    """A running app. `token`: a bearer token of an operator account, for the work-order API
    and for speaking as the voice channel (which an anonymous client cannot claim)."""

    def __init__(self, url: str, timeout: float = 60, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.token = token

    @property
    def staff(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def chat(self, run: Run, text: str) -> tuple[int, dict[str, Any]]:
        metadata: dict[str, Any] = {}
        if run.conv.channel == "voice" and run.conv.facts.get("phone"):
            metadata["caller"] = run.conv.facts["phone"]
        body = {"sender": run.sender, "text": text, "channel": run.conv.channel}
        # Web turns go as a citizen's browser sends them; voice as the trusted phone gateway.
        headers = self.staff if run.conv.channel in ("voice", "wechat") else {}
        try:
            resp = self.http.post(
                "/api/v1/chat", json={**body, "metadata": metadata}, headers=headers
            )
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
            "/api/v1/work-orders", json=draft, headers={"Idempotency-Key": run.sender, **self.staff}
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
            page = {"limit": 200, "offset": len(items)}
            resp = self.http.get("/api/v1/work-orders", params=page, headers=self.staff)
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

    def send(self, text: str, by: By, idx: int) -> None:
        status, body = self.stack.chat(self.run, text)
        messages = body.get("messages") or []
        if body.get("error"):
            messages = [*messages, {"text": f"[error: {body['error']}]", "buttons": []}]
        decision = body.get("decision") or {}
        ex = Exchange(
            text, by, idx, messages, body.get("state") or "bot", status,
            handoff=bool(decision.get("handoff")),
        )  # fmt: skip
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
                phone = self.facts.get("phone")  # the proof that the order is this citizen's
                return (f"{number} 电话{phone}" if phone else number), "answer"
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
            by: By
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
            self.send(text, by, idx)
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
