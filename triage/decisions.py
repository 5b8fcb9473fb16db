"""The typed decisions of the triage layer: what happens to one citizen message.

Every channel renders the same decision in its own medium (buttons on the web, numbers to say on
the phone). `public()` is the JSON a channel, the chat API (`ChatResponse.decision`) and the
conversation log see: `kind`, `handoff` (whether a person must take over now) and the kind's
fields, without the citizen's personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from knowledge.schema import Entry


def _entry(entry: Entry) -> dict[str, str]:
    return {"id": entry.id, "title": entry.question, "source": entry.source.line()}


@dataclass(frozen=True)
class Answer:
    """The knowledge base answers: `entry` is the answer, `confidence` its calibrated score."""

    entry: Entry
    confidence: float
    query: str = ""  # what was searched (normalised; with the topic for a follow-up)
    kind: Literal["answer"] = "answer"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False, "entry": _entry(self.entry),
                "confidence": round(self.confidence, 4)}  # fmt: skip


@dataclass(frozen=True)
class Clarify:
    """Several entries are close: the citizen picks one (titles as buttons, numbers on the
    phone). Never an answer by itself."""

    candidates: tuple[Entry, ...]
    kind: Literal["clarify"] = "clarify"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False,
                "candidates": [_entry(e) for e in self.candidates]}  # fmt: skip


AbstainReason = Literal["no_answer", "figure_missing", "out_of_scope", "other_city"]


@dataclass(frozen=True)
class Abstain:
    """No answer the hotline may give; said honestly, with a work order and a person offered.
    `suggestions` are near entries shown as "您是不是想问" (never as an answer)."""

    reason: AbstainReason
    suggestions: tuple[Entry, ...] = ()
    misses: int = 1  # misunderstandings in a row, this one included
    kind: Literal["abstain"] = "abstain"
    handoff: bool = False
    city: str | None = None  # other_city: the city asked about (the KB holds another's rule)

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False, "reason": self.reason,
                "suggestions": [_entry(e) for e in self.suggestions],
                "misses": self.misses, "city": self.city}  # fmt: skip


@dataclass(frozen=True)
class OrderDraft:
    """A grievance or a request for action: a work order to write with the citizen.

    `request_text` is what they said; `what` is the same when it already says what happened (the
    form does not ask it again), None for an opening such as 我要投诉. The routing preview says
    where it would go; the order is routed again, with the final text and address, when it is
    stored, and linked to its repeats then (workorders.intake). An emergency never gets here: it
    is its own decision. `guidance` is a KB entry that helps meanwhile (劳动监察 for unpaid
    wages), shown before the form starts."""

    request_text: str
    what: str | None
    order_kind: str  # 投诉 / 举报 / 求助 / 建议 / 表扬 (workorders.citizen_view.kind_of)
    category: str | None = None
    department: str | None = None
    routing_confidence: float | None = None
    gate: str | None = None  # the router's auto / confirm / manual
    top3: tuple[tuple[str, float], ...] = ()
    guidance: Entry | None = None
    kind: Literal["order_draft"] = "order_draft"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "handoff": False,
            "order_kind": self.order_kind,
            "category": self.category,
            "department": self.department,
            "routing_confidence": (
                round(self.routing_confidence, 4) if self.routing_confidence is not None else None
            ),
            "gate": self.gate,
            "top3": [[c, round(p, 4)] for c, p in self.top3],
            "guidance": _entry(self.guidance) if self.guidance else None,
        }


HandoffReason = Literal["asked", "misunderstood", "dtmf_0", "anger", "abuse"]


@dataclass(frozen=True)
class Handoff:
    """A person must take over: the citizen asked, the bot failed twice in a row, the caller
    pressed 0, or the citizen is angry or abusive again (or once while asking for a person).
    `summary` is what an operator reads first (what the citizen wants, what the bot tried)."""

    reason: HandoffReason
    summary: str = ""
    kind: Literal["handoff"] = "handoff"
    handoff: bool = True

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": True, "reason": self.reason}


@dataclass(frozen=True)
class Emergency:
    """Someone is in danger now: the number to call (110/119/120) comes first, then an urgent
    order and a person (handoff after the safety guidance)."""

    situation: str  # fire, gas_leak, hurt, trapped, flood, violence, child_missing, ...
    number: str
    text: str  # what the citizen said
    kind: Literal["emergency"] = "emergency"
    handoff: bool = True

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": True, "situation": self.situation,
                "number": self.number, "reason": "emergency"}  # fmt: skip


@dataclass(frozen=True)
class Calm:
    """Insults and nothing else to act on, the first time: a calm request to say what happened
    (the next angry or abusive message goes to a person)."""

    kind: Literal["calm"] = "calm"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False}


@dataclass(frozen=True)
class StatusQuery:
    """The citizen asks about an earlier order (by number, or their own recent ones)."""

    order_number: str | None = None
    kind: Literal["status"] = "status"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False, "order_number": self.order_number}


@dataclass(frozen=True)
class ServiceHours:
    """The hotline's own hours and today's date."""

    kind: Literal["service_hours"] = "service_hours"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False}


@dataclass(frozen=True)
class AboutBot:
    """The citizen asks whether they talk to a machine (你是机器人吗): said plainly, with the way
    to a person; not itself a request for one."""

    kind: Literal["about_bot"] = "about_bot"
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "handoff": False}


Decision = (
    Answer
    | Clarify
    | Abstain
    | OrderDraft
    | Handoff
    | Emergency
    | StatusQuery
    | ServiceHours
    | AboutBot
    | Calm
)
