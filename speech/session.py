"""The IVR call session: one phone call from greeting to hang-up, independent of the transport.

A transport (AudioSocket, the voice WebSocket) feeds the caller's audio, DTMF keys and hang-up in
(`audio`, `dtmf`, `hangup`) and plays what the session sends out (`Transport`). The session
recognises speech with an ASR stream, runs one bot turn per caller input through the `turn`
function the gateway gives it, and speaks the replies with TTS in 20 ms frames paced in real time.

The dialogue, in the order the rules apply (docs/voice.md has the caller's view):
- greeting, then listen; every prompt can be interrupted by the caller (barge-in: speech energy,
  a partial or final result, or a key stops playback at once);
- no input for `no_input_seconds`: reprompt, at most `max_reprompts` times; the next silence
  asks the bot for a person (payload "/request_human"); silence after that ends the call;
- DTMF 0 alone: a person (transfer); digits then #: a typed number sent to the bot as text;
  * repeats the last reply;
- a final below `min_confidence`, and any utterance holding a phone or work-order number, is read
  back (numbers digit by digit) and confirmed by voice (对/不对) or keys (1 confirm, 2 say again);
- the bot understanding a request for a person (intent request_human) or an emergency, handing
  over (state != "bot") or failing: announce and transfer; the bot saying goodbye: completed.
Hang-up at any point ends the session; a bot turn already running finishes first, so every turn
the bot saw is in the conversation log. A half-filled work-order form simply stays in that
call's own conversation (call ids are never reused), nothing else is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import numpy as np

from speech.engine import ASREngine, Recognition, TTSEngine
from speech.normalize import normalize_transcript, spoken_digits

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.02
PLAYBACK_LEAD_FRAMES = 3  # frames sent ahead of real time, to absorb scheduling jitter

GREETING = (
    "您好，欢迎致电12345政务服务便民热线。请直接说出您要咨询或反映的问题，需要人工服务请按0。"
)
REPROMPTS = (
    "您好，请问您还在线吗？请说出您要咨询或反映的问题。",
    "如果不方便说话，可以按0转人工服务。请问有什么可以帮您？",
)
CONFIRM_TEXT = "您说的是：{text}。对吗？请说对或者不对，也可以按1确认、按2重说。"
CONFIRM_NUMBER = "您说的号码是：{number}。对吗？请说对或者不对，也可以按1确认、按2重说。"
SAY_AGAIN = "好的，请您再说一遍，号码也可以用按键输入，以井号键结束。"
TRANSFER = "正在为您转接人工服务，请稍候。"
BOT_DOWN = "抱歉，系统暂时繁忙，正在为您转接人工服务，请稍候。"
NO_INPUT_BYE = "很抱歉，一直没有听到您的声音，本次通话将结束。如需帮助请再次拨打12345，再见。"
TOO_LONG = "本次通话时间较长，正在为您转接人工服务，请稍候。"
BUSY = "您好，当前线路全忙，请稍后再拨。紧急情况请直接拨打110、119或120。"
REQUEST_HUMAN = "/request_human"

# Fixed prompts are worth caching as audio (speech/calls.py).
PROMPTS = (GREETING, *REPROMPTS, SAY_AGAIN, TRANSFER, BOT_DOWN, NO_INPUT_BYE, TOO_LONG, BUSY)

Outcome = Literal["completed", "transfer", "hangup", "refused"]


@dataclass
class BotReply:
    """What one bot turn produced: its messages, the conversation state, the intent, an error."""

    messages: list[dict[str, Any]]
    state: str = "bot"  # "bot" | "waiting_human" | "human"
    intent: str | None = None
    error: str | None = None

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


# --------------------------------------------------------------------------------------------
# Text helpers: numbers and yes/no answers


_NUMBERS = (
    re.compile(r"(?<!\d)20\d{6}\d{4}(?!\d)"),  # work-order number 20261122-0042, compacted
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)0\d{9,11}(?!\d)"),  # landline with area code
)


def find_number(text: str) -> str | None:
    """The phone or work-order number in normalised text (digit groups joined), if any."""
    for pattern in _NUMBERS:
        match = pattern.search(text)
        if match:
            return match.group()
    return None


def group_digits(number: str) -> list[str]:
    """Groups read with a pause between: 138 1234 5678, 20261122 0042, 0571 8812 3456."""
    if len(number) == 11 and number.startswith("1"):
        return [number[:3], number[3:7], number[7:]]
    if len(number) == 12 and number.startswith("20"):
        return [number[:8], number[8:]]
    head = 3 if number.startswith(("010", "02")) else 4
    rest = number[head:]
    return [number[:head], *[rest[i : i + 4] for i in range(0, len(rest), 4)]]


def spell_digits(number: str) -> str:
    """Digit by digit as a caller hears it on 12345: 1 is 幺, groups apart (幺三八，…)."""
    return "，".join(spoken_digits(g) for g in group_digits(number))


_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def split_sentences(text: str, min_chars: int = 8) -> list[str]:
    """TTS pieces: sentences, a short one joined to the next (so the first can be played while
    the rest is synthesised, without choppy one-word pieces)."""
    pieces: list[str] = []
    for part in _SENTENCE_END.split(text):
        if not part.strip():
            continue
        if pieces and len(pieces[-1]) < min_chars:
            pieces[-1] += part
        else:
            pieces.append(part)
    if len(pieces) > 1 and len(pieces[-1]) < min_chars:
        last = pieces.pop()
        pieces[-1] += last
    return pieces or [text]


_PUNCT = re.compile(r"[\s，。！？、,.!?~…：:；;\"'“”]+")
_YES = {
    "对", "对的", "对啊", "对呀", "对对", "对对对", "是", "是的", "是啊", "没错", "正确", "确认",
    "嗯", "嗯嗯", "好", "好的", "可以", "行", "没问题", "对了",
}  # fmt: skip
_NO_PREFIXES = ("不对", "不是", "错了", "不正确", "重说", "重新说", "说错了")
_NO = {"不", "不要", "错", "错的", "否"}


def yes_or_no(text: str) -> tuple[bool | None, str]:
    """(True, "") for yes, (False, correction) for no (the correction may be empty), else
    (None, "") — then the utterance is something new."""
    cleaned = _PUNCT.sub("", text)
    if cleaned in _YES:
        return True, ""
    if cleaned in _NO:
        return False, ""
    for prefix in _NO_PREFIXES:
        if cleaned.startswith(prefix):
            rest = cleaned[len(prefix) :].lstrip("的啊呀吧哦呢嘛")
            return False, rest.removeprefix("应该是").removeprefix("是")
    if len(cleaned) <= 4 and cleaned[:1] in ("对", "是") and not cleaned.startswith("是不"):
        return True, ""
    return None, ""


# --------------------------------------------------------------------------------------------
# The session


class _HungUp(Exception):
    pass


@dataclass
class _Event:
    kind: str  # partial | final | speech | dtmf | hangup | played
    text: str = ""
    confidence: float = 1.0
    token: int = 0
    at: float = 0.0


@dataclass
class _Input:
    kind: str  # speech | digits | key | timeout
    text: str = ""
    confidence: float = 1.0
    start: float | None = None
    end: float | None = None


@dataclass
class _Confirm:
    text: str  # what goes to the bot when confirmed
    number: str | None
    confidence: float
    start: float | None
    end: float | None


class CallSession:
    def __init__(
        self,
        call_id: str,
        transport: Transport,
        asr: ASREngine,
        tts: TTSEngine,
        turn: TurnFn,
        config: SessionConfig | None = None,
        *,
        caller_number: str | None = None,
        channel: str = "audiosocket",
        normalize: Callable[[str], str] | None = None,
        executor: Executor | None = None,
        phrases: Sequence[str] | None = None,
    ) -> None:
        self.call_id = call_id
        self.transport = transport
        self.caller_number = caller_number
        self.channel = channel
        self.config = config or SessionConfig()
        self.rate = transport.sample_rate
        self._asr, self._tts, self._turn = asr, tts, turn
        self._normalize = normalize or normalize_transcript
        self._executor = executor
        self._phrases = phrases
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(self.config.inbox_frames)
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._pending: deque[_Event] = deque()
        self._hung_up = False
        self._hangup_reason = "caller"
        self._started_at = datetime.now(UTC)
        self._t0 = 0.0
        self._frame_samples = self.rate // 50
        self._barge_frames = max(1, round(self.config.barge_in_ms / 20))
        self._voiced_run = 0
        self._last_voice = -1e9
        self._utterance_start: float | None = None
        self._awaiting_final = False
        self._token = 0
        self._playing: asyncio.Task[None] | None = None
        self._transcript: list[dict[str, Any]] = []
        self._last_spoken: dict[str, Any] | None = None
        self._last_reply = ""
        self._turns = 0
        self._silences = 0
        self._escalated = False
        self._confirm: _Confirm | None = None
        self._result: tuple[Outcome, str] | None = None

    # ---- transport side ----------------------------------------------------------------------

    async def audio(self, pcm: bytes) -> None:
        """Caller audio (slin16 at the transport's rate); waits when the inbox is full."""
        if not self._hung_up:
            await self._inbox.put(pcm)

    def dtmf(self, digit: str) -> None:
        self._events.put_nowait(_Event("dtmf", digit, at=self._now()))

    def hangup(self, reason: str = "caller") -> None:
        """The caller hung up; `reason` says how when it was not a plain hang-up ("disconnect",
        "protocol_error", "pbx_error", "server_stop")."""
        if not self._hung_up:
            self._hung_up = True
            self._hangup_reason = reason
            self._events.put_nowait(_Event("hangup", at=self._now()))

    # ---- running -----------------------------------------------------------------------------

    async def run(self) -> CallOutcome:
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._started_at = datetime.now(UTC)
        pump: asyncio.Task[None] | None = None
        try:
            recognizer = await self._in_thread(self._asr.recognizer, self.rate, self._phrases)
            pump = asyncio.create_task(self._pump(recognizer), name=f"asr-{self.call_id}")
            async with asyncio.timeout(self.config.max_call_seconds):
                await self._dialogue()
        except _HungUp:
            self._result = ("hangup", self._hangup_reason)
        except TimeoutError:
            await self._stop_playback()
            with contextlib.suppress(_HungUp):
                await self._say(TOO_LONG, source="ivr", interruptible=False)
            self._result = self._result or ("transfer", "max_duration")
        except Exception:
            log.exception("call %s: session failed", self.call_id)
            self._result = (
                ("hangup", self._hangup_reason) if self._hung_up else ("transfer", "error")
            )
        finally:
            await self._stop_playback()
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
        outcome, reason = self._result or ("hangup", self._hangup_reason)
        return CallOutcome(
            call_id=self.call_id,
            outcome=outcome,
            reason=reason,
            channel=self.channel,
            caller_number=self.caller_number,
            queue=self.config.transfer_queue if outcome == "transfer" else None,
            started_at=self._started_at,
            ended_at=datetime.now(UTC),
            turns=self._turns,
            transcript=self._transcript,
        )

    async def _dialogue(self) -> None:
        await self._say(self.config.greeting, source="ivr")
        while True:
            inp = await self._listen(confirming=self._confirm is not None)
            if inp.kind == "timeout":
                if await self._on_silence():
                    return
                continue
            self._silences = 0
            if await self._on_input(inp):
                return

    async def _on_input(self, inp: _Input) -> bool:
        """Handle one caller input; True when the call is over."""
        if inp.kind == "key":
            self._log_caller(f"[按键{inp.text}]", "dtmf")
            if inp.text == "0":
                reply = await self._ask_bot(REQUEST_HUMAN, "dtmf", extra={"reason": "dtmf_0"})
                first = "" if reply.error else BotReply(reply.messages[:1]).text
                await self._announce_transfer(first or TRANSFER, "dtmf_0")
                return True
            if inp.text == "*":
                await self._say(self._last_reply or self.config.greeting, source="ivr")
                return False
            confirm, self._confirm = self._confirm, None
            if inp.text == "1" and confirm:
                return await self._send(confirm.text, "speech", confirm.confidence, confirm)
            await self._say(SAY_AGAIN, source="ivr")  # "2": say it again
            return False
        if inp.kind == "digits":
            self._confirm = None
            self._log_caller(inp.text, "dtmf")
            await self._emit(
                {"type": "final", "text": inp.text, "confidence": 1.0, "input": "dtmf"}
            )
            return await self._send(inp.text, "dtmf", None, None)
        # speech
        text = self._normalize(inp.text).strip()
        self._log_caller(text, "speech", inp)
        if self._confirm:
            answer, correction = yes_or_no(text)
            confirm, self._confirm = self._confirm, None
            if answer is True:
                return await self._send(confirm.text, "speech", confirm.confidence, confirm)
            if answer is False:
                if not correction:
                    await self._say(SAY_AGAIN, source="ivr")
                    return False
                text = correction
            # anything else is a new utterance
        number = find_number(text)
        if number or inp.confidence < self.config.min_confidence:
            self._confirm = _Confirm(text, number, inp.confidence, inp.start, inp.end)
            if number:
                shown = CONFIRM_NUMBER.format(number=" ".join(group_digits(number)))
                spoken = CONFIRM_NUMBER.format(number=spell_digits(number))
            else:
                shown = spoken = CONFIRM_TEXT.format(text=text)
            await self._say(shown, source="ivr", spoken=spoken)
            return False
        return await self._send(text, "speech", inp.confidence, inp)

    async def _send(
        self, text: str, kind: str, confidence: float | None, timing: _Input | _Confirm | None
    ) -> bool:
        """One bot turn with the caller's text, then speak the reply; True when the call ends."""
        extra: dict[str, Any] = {}
        if timing is not None:
            extra["speech_start_s"] = timing.start
            extra["speech_end_s"] = timing.end
        reply = await self._ask_bot(text, kind, confidence=confidence, extra=extra)
        return await self._speak_reply(reply)

    async def _speak_reply(self, reply: BotReply) -> bool:
        if reply.error:
            await self._announce_transfer(BOT_DOWN, "bot_unavailable")
            return True
        if reply.intent == "request_human":
            # Only the first message: what follows is the chat callback form, which the
            # operator the call goes to makes unnecessary.
            first = BotReply(reply.messages[:1]).text
            await self._announce_transfer(first or TRANSFER, "request_human")
            return True
        if reply.intent == "emergency":
            await self._announce_transfer(reply.text or TRANSFER, "emergency")
            return True
        if reply.state != "bot":
            await self._announce_transfer(reply.text or TRANSFER, "bot_handoff")
            return True
        if reply.intent == "goodbye":
            await self._say(reply.text, interruptible=False)
            self._result = ("completed", "goodbye")
            return True
        if reply.text:
            self._last_reply = reply.text
            await self._say(reply.text)
        return False

    async def _announce_transfer(self, text: str, reason: str) -> None:
        self._result = ("transfer", reason)
        await self._say(text, interruptible=False)

    async def _on_silence(self) -> bool:
        """No input for no_input_seconds; True when the call is over."""
        self._confirm = None
        self._silences += 1
        if self._silences <= self.config.max_reprompts:
            prompt = REPROMPTS[min(self._silences, len(REPROMPTS)) - 1]
            await self._say(prompt, source="ivr")
            return False
        if not self._escalated:
            self._escalated = True
            reply = await self._ask_bot(REQUEST_HUMAN, "ivr", extra={"reason": "no_input"})
            return await self._speak_reply(reply)
        self._result = ("completed", "no_input")
        await self._say(NO_INPUT_BYE, source="ivr", interruptible=False)
        return True

    async def _ask_bot(
        self,
        text: str,
        kind: str,
        *,
        confidence: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> BotReply:
        if self._hung_up:
            raise _HungUp
        await self._emit({"type": "state", "state": "thinking"})
        call: dict[str, Any] = {
            "id": self.call_id,
            "transport": self.channel,
            "started_at": self._started_at.isoformat(),
            "turn": self._turns + 1,
            "sent_s": self._now(),
        }
        call.update({k: v for k, v in (extra or {}).items() if v is not None})
        if self._last_spoken:
            call["previous_prompt"] = {
                k: self._last_spoken.get(k) for k in ("text", "audio_start", "audio_end")
            } | {"barged_in": bool(self._last_spoken.get("barged_in"))}
        metadata: dict[str, Any] = {"call_id": self.call_id, "input": kind, "call": call}
        if self.caller_number:
            metadata["caller_number"] = self.caller_number
            metadata["caller"] = self.caller_number  # the name actions/work_order.py reads today
        if confidence is not None:
            metadata["asr_confidence"] = round(confidence, 3)
        self._turns += 1
        try:
            return await self._turn(text, metadata)
        except Exception as exc:
            log.exception("call %s: bot turn failed", self.call_id)
            return BotReply([], error=type(exc).__name__)

    # ---- listening ---------------------------------------------------------------------------

    async def _listen(self, confirming: bool = False) -> _Input:
        """The next caller input, or a timeout after no_input_seconds of silence."""
        await self._emit({"type": "state", "state": "confirming" if confirming else "listening"})
        loop = asyncio.get_running_loop()
        wait = self.config.no_input_seconds
        deadline = loop.time() + wait
        zero_deadline = 0.0  # a lone 0 is a person unless more digits follow by then
        digits = ""
        while True:
            if self._pending:
                ev = self._pending.popleft()
            else:
                # Silence is counted from the caller's last voiced frame, and doubled while the
                # recogniser has heard speech but not given its result yet (a slow decode).
                after_voice = wait * 2 if self._awaiting_final else wait
                deadline = max(deadline, self._t0 + self._last_voice + after_voice)
                timeout = (zero_deadline if digits == "0" else deadline) - loop.time()
                if timeout <= 0:
                    if digits == "0":
                        return _Input("key", "0")
                    if digits:
                        return _Input("digits", digits)
                    return _Input("timeout")
                try:
                    ev = await asyncio.wait_for(self._events.get(), timeout)
                except TimeoutError:
                    continue
            if ev.kind == "hangup":
                raise _HungUp
            if ev.kind in ("speech", "partial"):
                deadline = loop.time() + wait
            elif ev.kind == "final":
                if ev.text.strip():
                    start, self._utterance_start = self._utterance_start, None
                    return _Input("speech", ev.text.strip(), ev.confidence, start, ev.at)
            elif ev.kind == "dtmf":
                deadline = loop.time() + wait
                key = ev.text
                if not digits and (key == "*" or (confirming and key in "12")):
                    return _Input("key", key)
                if key == "#":
                    if digits == "0":
                        return _Input("key", "0")
                    if digits:
                        return _Input("digits", digits)
                elif key.isdigit():
                    digits += key
                    if digits == "0":
                        zero_deadline = loop.time() + self.config.dtmf_zero_seconds

    async def _pump(self, recognizer: Any) -> None:
        """Inbound audio -> energy detector and recogniser -> events, in arrival order."""
        while True:
            chunks = [await self._inbox.get()]
            while len(chunks) < 10 and not self._inbox.empty():  # catch up in one call
                chunks.append(self._inbox.get_nowait())
            data = b"".join(chunks)
            self._detect_speech(data)
            try:
                results: list[Recognition] = await self._in_thread(recognizer.accept, data)
            except Exception:
                log.exception("call %s: recogniser failed; audio dropped", self.call_id)
                continue
            for r in results:
                kind = "final" if r.final else "partial"
                if r.final or r.text.strip():
                    self._awaiting_final = not r.final
                self._events.put_nowait(_Event(kind, r.text, r.confidence, at=self._now()))
                if r.text.strip():
                    await self._emit(
                        {"type": kind, "text": r.text, "confidence": round(r.confidence, 3)}
                        if r.final
                        else {"type": kind, "text": r.text}
                    )

    def _detect_speech(self, data: bytes) -> None:
        n = len(data) // (2 * self._frame_samples)
        if n == 0:
            return
        samples = np.frombuffer(data[: n * 2 * self._frame_samples], dtype="<i2")
        frames = samples.astype(np.float32).reshape(n, self._frame_samples)
        now = self._now()
        for voiced in np.sqrt((frames * frames).mean(axis=1)) > self.config.barge_in_rms:
            if not voiced:
                self._voiced_run = 0
                continue
            self._voiced_run += 1
            self._last_voice = now
            if self._voiced_run == self._barge_frames:
                if self._utterance_start is None:
                    self._utterance_start = round(now - self.config.barge_in_ms / 1000, 3)
                self._events.put_nowait(_Event("speech", at=now))

    # ---- speaking ----------------------------------------------------------------------------

    async def _say(
        self,
        text: str,
        *,
        interruptible: bool = True,
        source: str = "bot",
        spoken: str | None = None,
    ) -> bool:
        """Speak `text` (`spoken` to TTS when it differs); True when the caller barged in."""
        text = text.strip()
        if not text:
            return False
        if self._hung_up:
            raise _HungUp
        entry: dict[str, Any] = {"who": source, "text": text, "at": self._now()}
        self._transcript.append(entry)
        self._last_spoken = entry
        await self._emit({"type": "bot", "text": text, "source": source})
        # The first sentence plays while the next ones are synthesised.
        pieces = split_sentences(spoken or text)
        audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        audio.put_nowait(await self._in_thread(self._tts.synthesize, pieces[0], self.rate))
        producer = asyncio.create_task(self._synthesize(pieces[1:], audio))
        await self._emit({"type": "state", "state": "speaking"})
        self._token += 1
        token = self._token
        self._playing = asyncio.create_task(self._play(audio, token, entry))
        barged = False
        try:
            while True:
                ev = self._pending.popleft() if self._pending else await self._events.get()
                if ev.kind == "hangup":
                    raise _HungUp
                if ev.kind == "played":
                    if ev.token == token:
                        return False
                    continue
                if not interruptible:
                    continue  # the call ends after these prompts: what is said now is dropped
                if ev.kind in ("final", "dtmf") and (ev.kind == "dtmf" or ev.text.strip()):
                    self._pending.append(ev)
                    barged = True
                elif ev.kind == "speech" or (ev.kind == "partial" and ev.text.strip()):
                    barged = True
                if barged:
                    entry["barged_in"] = True
                    return True
        finally:
            producer.cancel()
            await self._stop_playback()
            if barged:
                await self._emit({"type": "clear"})

    async def _synthesize(self, pieces: list[str], out: asyncio.Queue[bytes | None]) -> None:
        try:
            for piece in pieces:
                out.put_nowait(await self._in_thread(self._tts.synthesize, piece, self.rate))
        except Exception:
            log.exception("call %s: TTS failed; the rest of the prompt is skipped", self.call_id)
        finally:
            out.put_nowait(None)

    async def _play(
        self, audio: asyncio.Queue[bytes | None], token: int, entry: dict[str, Any]
    ) -> None:
        """Send the pieces in 20 ms frames on a real-time schedule (a few frames ahead)."""
        loop = asyncio.get_running_loop()
        size = 2 * self._frame_samples
        lead = PLAYBACK_LEAD_FRAMES * FRAME_SECONDS
        due = loop.time()  # when the caller hears the next frame
        entry["audio_start"] = self._now()
        try:
            while (pcm := await audio.get()) is not None:
                due = max(due, loop.time())  # a piece that came late is a pause, not a burst
                for offset in range(0, len(pcm), size):
                    await self.transport.send_audio(pcm[offset : offset + size].ljust(size, b"\0"))
                    due += FRAME_SECONDS
                    delay = due - lead - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
            # The caller hears the last frames only once their time has passed.
            rest = due - loop.time()
            if rest > 0:
                await asyncio.sleep(rest)
        except (ConnectionError, RuntimeError, OSError) as exc:
            # The caller is gone mid-prompt; the transport's reader reports the hang-up.
            log.debug("call %s: playback stopped: %s", self.call_id, exc)
        finally:
            entry["audio_end"] = self._now()
        self._events.put_nowait(_Event("played", token=token))

    async def _stop_playback(self) -> None:
        task, self._playing = self._playing, None
        if task and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- helpers -----------------------------------------------------------------------------

    def _now(self) -> float:
        """Seconds since the call started (the call clock of every timing)."""
        if not self._t0:
            return 0.0
        return round(asyncio.get_running_loop().time() - self._t0, 3)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _emit(self, event: dict[str, Any]) -> None:
        try:
            await self.transport.send_event(event)
        except Exception as exc:  # the caller is gone; the reader reports it
            log.debug("call %s: event not sent: %s", self.call_id, exc)

    def _log_caller(self, text: str, kind: str, inp: _Input | None = None) -> None:
        entry: dict[str, Any] = {"who": "caller", "text": text, "input": kind, "at": self._now()}
        if inp is not None:
            entry.update(confidence=round(inp.confidence, 3), start=inp.start, end=inp.end)
        self._transcript.append(entry)
