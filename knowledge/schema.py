"""A knowledge entry: one answer the hotline may give, with where it comes from and when it holds.

Two kinds share the shape: curated FAQ entries (a standard question, alternative phrasings, a chat
answer and a short voice answer) and passages of policy documents (the passage is the answer
text; `doc_id` and `position` say where it sits in its document).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

VOICE_ANSWER_MAX = 120  # characters; read aloud in about 20 seconds


class Source(BaseModel):
    title: str = Field(min_length=1)
    article: str | None = None
    date: dt.date | None = None
    url: str | None = None

    def line(self) -> str:
        """The citation shown under an answer: 来源：title article（date）."""
        parts = [self.title]
        if self.article:
            parts.append(self.article)
        text = "来源：" + " ".join(parts)
        if self.date:
            text += f"（{self.date.isoformat()}）"
        return text


class Entry(BaseModel):
    id: str = Field(min_length=1, max_length=80, pattern=r"^[\w.#:-]+$")
    kind: Literal["faq", "passage"] = "faq"
    question: str = Field(min_length=1)
    alternatives: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1)
    voice_answer: str | None = Field(default=None, max_length=VOICE_ANSWER_MAX)
    source: Source
    domain: str = ""
    department: str = ""
    category: str = ""
    region: str = ""
    effective: dt.date | None = None
    expires: dt.date | None = None
    reviewed: dt.date | None = None
    sample: bool = False
    doc_id: str | None = None  # passages: the document they come from
    position: int | None = None  # passages: index of the passage within its document

    @field_validator("question", "answer")
    @classmethod
    def strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("alternatives")
    @classmethod
    def clean_alternatives(cls, values: list[str]) -> list[str]:
        return [v.strip() for v in values if v and v.strip()]

    @model_validator(mode="after")
    def dates_in_order(self) -> Entry:
        if self.effective and self.expires and self.expires <= self.effective:
            raise ValueError(f"expires {self.expires} is not after effective {self.effective}")
        return self

    def phrasings(self) -> list[str]:
        """Every text a citizen's question may match: the standard question and alternatives."""
        return [self.question, *self.alternatives]

    def valid_on(self, day: dt.date) -> bool:
        """Expired or not-yet-effective entries are never served."""
        if self.effective and day < self.effective:
            return False
        return not (self.expires and day >= self.expires)

    def spoken(self) -> str:
        return self.voice_answer or self.answer

    def content_hash(self) -> str:
        data = self.model_dump(mode="json")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
