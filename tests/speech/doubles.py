"""Test doubles for the call session: a recogniser that hears what the test scripts, a TTS
whose audio length follows the text, a transport that records, and a scripted bot that returns
triage decisions as the real bot does (gateway TurnOutcome.decision).

They stand in for the real engines only in the state-machine and transport tests; the real
engines are exercised in tests/speech/test_session_engines.py and the call-page test.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from speech.engine import Recognition
from speech.session import BotReply, CallOutcome

RATE = 8000


def tone(ms: int, rate: int = RATE, amplitude: int = 8000) -> bytes:
    """A 440 Hz tone: loud enough to count as caller speech."""
    n = rate * ms // 1000
    return b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n)
    )


def silence(ms: int, rate: int = RATE) -> bytes:
    return b"\0\0" * (rate * ms // 1000)


class ScriptedRecognizer:
    def __init__(self, engine: ScriptedASR, sample_rate: int) -> None:
        self.engine = engine
        self.sample_rate = sample_rate

    def accept(self, pcm: bytes) -> list[Recognition]:
        self.engine.heard_bytes += len(pcm)
        out = []
        while self.engine.script:
            out.append(self.engine.script.popleft())
        return out

    def finish(self) -> list[Recognition]:
        return []

    def reset(self) -> None:
        self.engine.resets += 1


class ScriptedASR:
    """Results the test queues come out with the next audio the session feeds it."""

    name = "scripted"

    def __init__(self) -> None:
        self.script: deque[Recognition] = deque()
        self.heard_bytes = 0
        self.resets = 0
        self.recognizers = 0  # opened: one per conversation (none for a call past capacity)

    def recognizer(self, sample_rate: int, phrases: Sequence[str] | None = None):  # type: ignore[no-untyped-def]
        self.recognizers += 1
        return ScriptedRecognizer(self, sample_rate)

    def hear(self, text: str, confidence: float = 0.9, final: bool = True) -> None:
        self.script.append(Recognition(text, final, confidence, 0.0, 0.0))


class LengthTTS:
    """Audio of `ms_per_char` per character, a constant level, so plays take known time."""

    name = "length"

    def __init__(self, ms_per_char: int = 5) -> None:
        self.ms_per_char = ms_per_char
        self.texts: list[str] = []

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        self.texts.append(text)
        return b"\x10\x00" * (sample_rate * self.ms_per_char * len(text) // 1000)


class RecordingTransport:
    def __init__(self, sample_rate: int = RATE) -> None:
        self.sample_rate = sample_rate
        self.frames: list[bytes] = []
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def send_audio(self, pcm: bytes) -> None:
        self.frames.append(pcm)
        self.changed.set()

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.changed.set()

    def said(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "bot"]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Until predicate() holds (the timeout only guards against a hang)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def wait_said(self, text: str, count: int = 1) -> None:
        await self.wait(lambda: sum(text in s for s in self.said()) >= count)

    async def wait_state(self, state: str, count: int = 1) -> None:
        await self.wait(
            lambda: sum(e == {"type": "state", "state": state} for e in self.events) >= count
        )


ANSWER: dict[str, Any] = {"kind": "answer", "handoff": False}
PERSON = "好的，正在为您转接话务员，请稍候。"


def handoff(reason: str) -> dict[str, Any]:
    return {"kind": "handoff", "handoff": True, "reason": reason}


def emergency(number: str) -> dict[str, Any]:
    return {"kind": "emergency", "handoff": True, "number": number}


def echo(text: str) -> BotReply:
    """The default bot: repeats what it got, as an answer; a lone key 0 ("0") is a request
    for a person, as the triage layer decides on the phone."""
    if text == "0":
        return BotReply(
            [{"text": PERSON}, {"text": "请问您的联系电话？"}], decision=handoff("dtmf_0")
        )
    return BotReply([{"text": f"您说了{text}"}], decision=ANSWER)


class ScriptedBot:
    """The bot: records every turn; `reply(text)` decides the answer (default: `echo`)."""

    def __init__(self, reply: Callable[[str], BotReply] | None = None) -> None:
        self.turns: list[tuple[str, dict[str, Any]]] = []
        self.reply = reply or echo
        self.gate: asyncio.Event | None = None  # set: turns wait for it (a slow bot)
        self.entered = asyncio.Event()

    async def __call__(self, text: str, metadata: dict[str, Any]) -> BotReply:
        self.turns.append((text, metadata))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.reply(text)

    @property
    def texts(self) -> list[str]:
        return [t for t, _ in self.turns]


class MemoryHooks:
    """CallCenter hooks without a database: outcomes in a list, bots per call."""

    def __init__(self, bot_factory: Callable[[], ScriptedBot] | None = None) -> None:
        self.outcomes: list[CallOutcome] = []
        self.bots: dict[str, ScriptedBot] = {}
        self.callers: dict[str, str] = {}
        self.callbacks: list[tuple[str, str]] = []  # (call id, number) of call-back orders
        self.pass_on: set[str] = set()  # calls the dialplan can try on another process
        self.ended = asyncio.Event()
        self._factory = bot_factory or ScriptedBot

    def turn_for(self, call_id: str):  # type: ignore[no-untyped-def]
        self.bots[call_id] = self._factory()
        return self.bots[call_id]

    async def caller_of(self, call_id: str) -> str | None:
        return self.callers.get(call_id)

    async def passes_on(self, call_id: str) -> bool:
        return call_id in self.pass_on

    async def request_callback(self, call_id: str, caller_number: str) -> str:
        self.callbacks.append((call_id, caller_number))
        return f"20261207-{len(self.callbacks):04d}"

    async def finished(self, outcome: CallOutcome) -> CallOutcome:
        self.outcomes.append(outcome)
        self.ended.set()
        return outcome
