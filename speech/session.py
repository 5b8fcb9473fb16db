"""The IVR call session: one phone call from greeting to hang-up, independent of the transport.

A transport (AudioSocket, the voice WebSocket) feeds the caller's audio, DTMF keys and hang-up in
(`audio`, `dtmf`, `hangup`) and plays what the session sends out (`Transport`). The session
recognises speech with an ASR stream, runs one bot turn per caller input through the `turn`
function the gateway gives it, and speaks the replies with TTS in 20 ms frames paced in real time
(speech/playback.py).

The dialogue, in the order the rules apply (docs/voice.md has the caller's view):
- greeting, then listen; every prompt can be interrupted by the caller (barge-in: speech energy,
  a partial or final result, or a key stops playback at once);
- no input for `no_input_seconds`: reprompt, at most `max_reprompts` times; the next silence
  asks the bot for a person (payload "/request_human"; transferred when its decision says
  handoff); silence after that ends the call;
- DTMF 0 alone: sent to the bot as "0" (metadata dtmf "0"), whose triage decides (a handoff for
  a lone 0 on the phone); when the bot does not answer, a person at once. Digits then #: a typed
  number sent to the bot as text; * repeats the last reply;
- a final below `min_confidence`, and any utterance holding a phone or work-order number, is read
  back (numbers digit by digit) and confirmed by voice (对/不对) or keys (1 confirm, 2 say again);
- the transfer follows the bot's triage decision, never an intent alone: a decision with
  `handoff` true (a person asked for, an emergency) is announced and the call transferred, as is
  a conversation a person took over (state != "bot") and a bot that failed; the bot saying
  goodbye (intent goodbye): completed.
Hang-up at any point ends the session; a bot turn already running finishes first, so every turn
the bot saw is in the conversation log. A half-filled work-order form simply stays in that
call's own conversation (call ids are never reused), nothing else is written.

Around it: speech/hearing.py (audio in → events), speech/playback.py (TTS pieces, paced audio
out), speech/transfers.py (which replies transfer), speech/yes_no.py (answers to a read-back),
speech/prompts.py (what the IVR says), speech/call_types.py (the types the gateway and the
transports import from here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hotline.numbers import find_phone_or_order, group_digits, number_aloud
from speech.call_types import (
    BotReply,
    CallOutcome,
    Outcome,
    SessionConfig,
    Transport,
    TurnFn,
)
from speech.engine import ASREngine, TTSEngine
from speech.hearing import Event, Hearing
from speech.metrics import REPLY_SECONDS
from speech.normalize import normalize_transcript
from speech.playback import send_paced, split_sentences, synthesize_pieces
from speech.prompts import (
    CONFIRM_NUMBER,
    CONFIRM_TEXT,
    NO_INPUT_BYE,
    REPROMPTS,
    SAY_AGAIN,
    SHUTDOWN,
    TOO_LONG,
    TRANSFER,
)
from speech.transfers import transfer_for
from speech.yes_no import yes_or_no

# The session's types are imported from here by the gateway and the transports.
__all__ = [
    "BotReply",
    "CallOutcome",
    "CallSession",
    "Outcome",
    "SessionConfig",
    "Transport",
    "TurnFn",
]

log = logging.getLogger(__name__)

REQUEST_HUMAN = "/request_human"


class _HungUp(Exception):
    pass


class _ShuttingDown(Exception):
    """The process is stopping: the caller is told and transferred to a person."""


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
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._hearing = Hearing(
            call_id, self.config, self.rate, self._events, self._now, self._emit, self._in_thread
        )
        self._pending: deque[Event] = deque()
        self._hung_up = False
        self._hangup_reason = "caller"
        self._started_at = datetime.now(UTC)
        self._t0 = 0.0
        self._token = 0
        self._playing: asyncio.Task[None] | None = None
        self._transcript: list[dict[str, Any]] = []
        self._last_spoken: dict[str, Any] | None = None
        self._last_reply = ""
        self._turns = 0
        self._silences = 0
        self._escalated = False
        self._confirm: _Confirm | None = None
        self._answer_due: float | None = None  # the caller's last voice before the answer
        self._result: tuple[Outcome, str] | None = None

    # ---- transport side ----------------------------------------------------------------------

    async def audio(self, pcm: bytes) -> None:
        """Caller audio (slin16 at the transport's rate); waits when the inbox is full."""
        if not self._hung_up:
            await self._hearing.inbox.put(pcm)

    def dtmf(self, digit: str) -> None:
        self._events.put_nowait(Event("dtmf", digit, at=self._now()))

    def hangup(self, reason: str = "caller") -> None:
        """The caller hung up; `reason` says how when it was not a plain hang-up ("disconnect",
        "protocol_error", "pbx_error", "server_stop")."""
        if not self._hung_up:
            self._hung_up = True
            self._hangup_reason = reason
            self._events.put_nowait(Event("hangup", at=self._now()))

    def shut_down(self) -> None:
        """The process is stopping: at the next prompt or listen, after a bot turn already
        running, the caller hears SHUTDOWN and the call is transferred ("server_stop")."""
        self._events.put_nowait(Event("shutdown", at=self._now()))

    # ---- running -----------------------------------------------------------------------------

    async def run(self) -> CallOutcome:
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._started_at = datetime.now(UTC)
        pump: asyncio.Task[None] | None = None
        try:
            recognizer = await self._in_thread(self._asr.recognizer, self.rate, self._phrases)
            pump = asyncio.create_task(self._hearing.pump(recognizer), name=f"asr-{self.call_id}")
            async with asyncio.timeout(self.config.max_call_seconds):
                await self._dialogue()
        except _HungUp:
            self._result = ("hangup", self._hangup_reason)
        except _ShuttingDown:  # transferred once told; hung up if the line goes first
            await self._stop_playback()
            try:
                await self._say(SHUTDOWN, source="ivr", interruptible=False)
                self._result = ("transfer", "server_stop")
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
                # The bot's triage decides (a lone 0 on the phone: a person); a bot that does
                # not answer cannot decide, and the caller asked for a person: transfer.
                reply = await self._ask_bot(
                    "0", "dtmf", extra={"reason": "dtmf_0"}, metadata={"dtmf": "0"}
                )
                if reply.error:
                    await self._announce_transfer(TRANSFER, "bot_unavailable")
                    return True
                return await self._speak_reply(reply)
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
        # speech: the hotline's next words answer it (the caller hears how long that took)
        self._answer_due = self._hearing.last_voice
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
        number = find_phone_or_order(text)
        if number or inp.confidence < self.config.min_confidence:
            self._confirm = _Confirm(text, number, inp.confidence, inp.start, inp.end)
            if number:
                shown = CONFIRM_NUMBER.format(number=" ".join(group_digits(number)))
                spoken = CONFIRM_NUMBER.format(number=number_aloud(number))
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
        """Speak the bot's reply, or announce the transfer it calls for (speech/transfers.py:
        the triage decision, never the intent alone); True when the call ends."""
        transfer = transfer_for(reply)
        if transfer is not None:
            await self._announce_transfer(*transfer)
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
        metadata: dict[str, Any] | None = None,
    ) -> BotReply:
        """One bot turn; `extra` goes into metadata.call, `metadata` beside it."""
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
        sent: dict[str, Any] = {
            **(metadata or {}),
            "call_id": self.call_id,
            "input": kind,
            "call": call,
        }
        if self.caller_number:
            sent["caller_number"] = self.caller_number
            sent["caller"] = self.caller_number  # the name actions/work_order.py reads today
        if confidence is not None:
            sent["asr_confidence"] = round(confidence, 3)
        self._turns += 1
        try:
            return await self._turn(text, sent)
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
                after_voice = wait * 2 if self._hearing.awaiting_final else wait
                deadline = max(deadline, self._t0 + self._hearing.last_voice + after_voice)
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
            if ev.kind == "shutdown":
                raise _ShuttingDown
            if ev.kind in ("speech", "partial"):
                deadline = loop.time() + wait
            elif ev.kind == "final":
                if ev.text.strip():
                    start = self._hearing.take_utterance_start()
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
        audio.put_nowait(await self._synthesize(pieces[0]))
        producer = asyncio.create_task(
            synthesize_pieces(self._synthesize, pieces[1:], audio, self.call_id)
        )
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
                if ev.kind == "shutdown":
                    raise _ShuttingDown
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

    async def _synthesize(self, text: str) -> bytes:
        return await self._in_thread(self._tts.synthesize, text, self.rate)

    async def _play(
        self, audio: asyncio.Queue[bytes | None], token: int, entry: dict[str, Any]
    ) -> None:
        """Play a prompt, noting when its audio started and ended on the call clock."""
        entry["audio_start"] = self._now()
        if self._answer_due is not None:  # the first piece is ready: its first frame goes now
            entry["answer_s"] = round(entry["audio_start"] - self._answer_due, 3)
            REPLY_SECONDS.observe(entry["answer_s"])
            self._answer_due = None
        try:
            await send_paced(self.transport, audio)
        except (ConnectionError, RuntimeError, OSError) as exc:
            # The caller is gone mid-prompt; the transport's reader reports the hang-up.
            log.debug("call %s: playback stopped: %s", self.call_id, exc)
        finally:
            entry["audio_end"] = self._now()
        self._events.put_nowait(Event("played", token=token))

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
