"""What a call session exchanges with the outside: the bot's reply to one turn and the turn
function that gets it (the gateway's), the transport it speaks through, its settings, and the
outcome the PBX asks for when the call is over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from speech.prompts import GREETING

Outcome = Literal["completed", "transfer", "hangup", "refused"]


@dataclass
class BotReply:
    """What one bot turn produced: its messages, the conversation state, the intent, an error,
    and the triage decision the bot acted on (gateway TurnOutcome.decision): a dict such as
    {"kind": "handoff", "handoff": True, "reason": "asked"}, or None (small talk, bot down)."""

    messages: list[dict[str, Any]]
    state: str = "bot"  # "bot" | "waiting_human" | "human"
    intent: str | None = None
    error: str | None = None
    decision: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(_sentence(m.get("text") or "") for m in self.messages).strip()


def _sentence(text: str) -> str:
    """Join messages into speech: each ends with punctuation so TTS pauses between them."""
    text = text.strip()
    if text and text[-1] not in "。！？!?.；;，,：:…":
        text += "。"
    return text


TurnFn = Callable[[str, dict[str, Any]], Awaitable[BotReply]]


class Transport(Protocol):
    """Where a session's output goes. Both methods may be called after the caller has gone: a
    transport then drops the data quietly (its reader reports the hang-up)."""

    sample_rate: int

    async def send_audio(self, pcm: bytes) -> None:
        """One 20 ms frame of slin16 at sample_rate."""
        ...

    async def send_event(self, event: dict[str, Any]) -> None:
        """A transcript or state event (docs/voice.md); transports without a side channel
        (AudioSocket) ignore it."""
        ...


@dataclass(frozen=True)
class SessionConfig:
    no_input_seconds: float = 6.0
    max_reprompts: int = 2
    min_confidence: float = 0.6
    transfer_queue: str = "12345"
    barge_in_rms: float = 900.0
    barge_in_ms: int = 200
    max_call_seconds: float = 1800.0
    dtmf_zero_seconds: float = 1.5  # a lone 0 waits this long for more digits (landlines)
    inbox_frames: int = 50  # inbound audio queued before the transport is made to wait (1 s)
    overflow_wait_seconds: float = 8.0  # a caller past capacity has this long to press 1 or 2
    greeting: str = GREETING

    @classmethod
    def from_settings(cls, settings: Any) -> SessionConfig:
        return cls(
            no_input_seconds=settings.voice_no_input_seconds,
            max_reprompts=settings.voice_max_reprompts,
            min_confidence=settings.voice_min_confidence,
            transfer_queue=settings.voice_transfer_queue,
            barge_in_rms=settings.voice_barge_in_rms,
            barge_in_ms=settings.voice_barge_in_ms,
            max_call_seconds=settings.voice_max_call_seconds,
        )


@dataclass
class CallOutcome:
    """How a call ended; what the PBX asks for after the session (GET /api/v1/calls/{id}/outcome).

    outcome: completed (the caller was served and the call ended), transfer (to `queue`),
    hangup (the caller hung up), refused (all lines busy)."""

    call_id: str
    outcome: Outcome
    reason: str
    channel: str
    caller_number: str | None = None
    queue: str | None = None
    work_order: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    turns: int = 0
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """The fields a PBX or the call page may see (no transcript: it holds personal data)."""
        return {
            "call_id": self.call_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "queue": self.queue,
            "work_order": self.work_order,
        }
