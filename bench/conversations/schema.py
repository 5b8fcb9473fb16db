"""The conversation set (tests/conversations/*.yml, schema in its README.md) and the KB entries
whose answers the bench looks for in the bot's replies."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotline.settings import PROJECT_ROOT
from knowledge.loaders import load_yaml
from knowledge.schema import Entry

CONVERSATIONS_DIR = PROJECT_ROOT / "tests" / "conversations"
KB_DIR = PROJECT_ROOT / "knowledge" / "kb"

FIELDS = ("what", "where", "when", "name", "phone")
FIELD_LABELS = {"what": "问题", "where": "地址", "when": "时间", "name": "称呼", "phone": "电话"}
Kind = Literal["consult", "no_answer", "complaint", "status", "emergency", "handoff", "smalltalk"]
Point = Literal["what", "where", "when", "name", "phone", "confirm"]


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
