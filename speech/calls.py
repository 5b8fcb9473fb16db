"""The call center: what both transports share — engines, the line count, refusals, outcomes.

A transport (AudioSocket, the voice WebSocket) asks `open` for a session when a call arrives.
`open` gives None when `max_calls` calls are already up; the transport then calls `refuse`,
which plays the busy prompt and records the outcome "refused". Otherwise the transport runs
`run(session)` while feeding the caller's audio in; `run` frees the line and hands the outcome
to the hooks (the gateway stores it and adds the work order filed during the call).

The engines load once, on the first call or in `warm_up`; ASR and TTS run in one thread pool
sized to the line count, so a busy line cannot starve the others of threads.

Stopping (`shut_down`, then `close`): live calls are told and transferred, no new call is
opened, and the warm-up stops between two prompts. Warm-up renders one prompt per pool job so
that stopping never waits for the whole list: the pool's threads are joined when the
interpreter exits, and rendering every prompt on a fresh cache took long enough under load to
keep `hotline voice audiosocket` alive past 30 s after SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from speech import metrics
from speech.audio import pcm_to_float
from speech.capacity import Capacity
from speech.engine import ASREngine, TTSEngine
from speech.lexicon import Lexicon
from speech.overflow import OverflowSession
from speech.playback import send_paced, split_sentences
from speech.prompts import BUSY, GREETING, PROMPTS
from speech.session import CallOutcome, CallSession, SessionConfig, Transport, TurnFn

log = logging.getLogger(__name__)

LiveSession = CallSession | OverflowSession
OVERFLOW_PER_LINE = 2  # overflow calls told at once per line; beyond, the short busy prompt


class CallHooks(Protocol):
    """What the gateway provides: the bot, the caller's number, storing outcomes."""

    def turn_for(self, call_id: str) -> TurnFn: ...

    async def caller_of(self, call_id: str) -> str | None:
        """The caller's number the PBX registered for this call id, if any."""
        ...

    async def finished(self, outcome: CallOutcome) -> CallOutcome:
        """Store the outcome (adding what the session cannot know); returns it."""
        ...

    async def passes_on(self, call_id: str) -> bool:
        """Whether the dialplan has another speech process for this call if this one is full."""
        ...

    async def request_callback(self, call_id: str, caller_number: str) -> str:
        """Store a call-back work order for a caller past capacity; returns its number."""
        ...


class CallCenter:
    def __init__(
        self,
        config: SessionConfig,
        max_calls: int,
        load_asr: Callable[[], ASREngine],
        load_tts: Callable[[], TTSEngine],
        hooks: CallHooks,
        *,
        phrases: Sequence[str] | None = None,
        lexicon: Lexicon | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        self.config = config
        self.max_calls = max_calls
        self.capacity = capacity or Capacity(max_calls)
        self.overflowing = 0  # calls past capacity being told and offered a choice
        self.hooks = hooks
        self._load_asr, self._load_tts = load_asr, load_tts
        self._asr: ASREngine | None = None
        self._tts: TTSEngine | None = None
        self._lock = asyncio.Lock()
        self._phrases = phrases
        self.lexicon = lexicon or Lexicon()
        self.active = 0
        self.sessions: dict[str, LiveSession] = {}  # live calls, told when the process stops
        self.stopping = threading.Event()
        self._warming: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(max_calls + 2, thread_name_prefix="speech")

    async def engines(self) -> tuple[ASREngine, TTSEngine]:
        """Load the ASR and TTS engines once (in a thread; the first call waits for them)."""
        async with self._lock:
            asr, tts = self._asr, self._tts
            if asr is None or tts is None:
                loop = asyncio.get_running_loop()
                if tts is None:
                    tts = self._tts = await loop.run_in_executor(self.executor, self._load_tts)
                if asr is None:
                    asr = self._asr = await loop.run_in_executor(self.executor, self._load_asr)
                    metrics.watch_engine(asr)
                # The gateway's vocabulary that corrects transcripts (speech/lexicon.py).
                await loop.run_in_executor(self.executor, self.lexicon.load)
                log.info(
                    "speech engines ready: ASR %s, TTS %s",
                    getattr(asr, "name", "?"),
                    getattr(tts, "name", "?"),
                )
            return asr, tts

    async def warm_up(self, rates: Sequence[int] = (8000, 16000)) -> None:
        """Load the engines, render the fixed prompts and measure the recogniser (the
        capacity rests on it) before the first call."""
        asr, tts = await self.engines()
        preload = getattr(tts, "preload", None)
        if preload is not None:  # the pieces sessions synthesise (speech/playback.py)
            pieces = [piece for prompt in PROMPTS for piece in split_sentences(prompt)]
            loop = asyncio.get_running_loop()
            done = 0
            try:
                for piece in pieces:  # one job each: stopping waits for one piece at most
                    if self.stopping.is_set():
                        raise asyncio.CancelledError
                    await loop.run_in_executor(self.executor, preload, [piece], rates)
                    done += 1
            except asyncio.CancelledError:
                log.info("prompt warm-up stopped after %d of %d pieces", done, len(pieces))
                raise
            log.info("speech prompts ready (%d pieces)", len(pieces))
        transcribe = getattr(asr, "transcribe", None)
        if transcribe is not None and getattr(asr, "queue", None) is not None:
            # After the prompts (the first call needs them more): one decode, stopping waits
            # for it at most.
            loop = asyncio.get_running_loop()
            pcm = await loop.run_in_executor(self.executor, tts.synthesize, GREETING, 16000)
            await loop.run_in_executor(self.executor, transcribe, pcm_to_float(pcm))
            log.info("speech capacity measured: %d calls", self.admits())

    def warm_up_soon(self) -> asyncio.Task[None]:
        """`warm_up` in the background; a failure is logged and the first call retries."""

        async def warm() -> None:
            try:
                await self.warm_up()
            except Exception:
                log.exception("speech engines failed to load; the first call will retry")

        self._warming = asyncio.create_task(warm(), name="speech-warm-up")
        return self._warming

    @property
    def decode_queue(self) -> Any:
        """The loaded recogniser's decode queue (speech/decode_queue.py); None without one."""
        return getattr(self._asr, "queue", None)

    def admits(self) -> int:
        """How many calls the recogniser carries now (speech/capacity.py)."""
        queue = self.decode_queue
        calls = self.capacity.calls(queue.stats.recent_real_time_factor if queue else None)
        metrics.CAPACITY.set(calls)
        return calls

    async def open(
        self,
        call_id: str,
        channel: str,
        transport: Transport,
        caller_number: str | None = None,
    ) -> LiveSession | None:
        """A session for a new call: a conversation, or past capacity an `OverflowSession`
        (told, offered a call-back or a person); None when even those are full or the process
        is stopping. A session returned must be passed to `run`, which frees its line."""
        if self.stopping.is_set():
            return None
        if self.active >= self.admits():
            return await self._overflow(call_id, channel, transport, caller_number)
        self.active += 1
        metrics.ACTIVE_CALLS.inc()
        try:
            asr, tts = await self.engines()
            if caller_number is None:
                caller_number = await self.hooks.caller_of(call_id)
        except BaseException:
            self.active -= 1
            metrics.ACTIVE_CALLS.dec()
            raise
        session = self.sessions[call_id] = CallSession(
            call_id,
            transport,
            asr,
            tts,
            self.hooks.turn_for(call_id),
            self.config,
            caller_number=caller_number,
            channel=channel,
            normalize=self.lexicon.transcript_for_bot,
            executor=self.executor,
            phrases=self._phrases,
        )
        if self.stopping.is_set():  # stopping began while the engines loaded: told too
            session.shut_down()
        return session

    async def _overflow(
        self, call_id: str, channel: str, transport: Transport, caller_number: str | None
    ) -> OverflowSession | None:
        try:
            pass_on = await self.hooks.passes_on(call_id)
        except Exception:  # the database is away: tell this caller rather than drop them
            log.exception("call %s: could not read whether to pass the call on", call_id)
            pass_on = False
        if not pass_on and self.overflowing >= self.max_calls * OVERFLOW_PER_LINE:
            return None
        self.overflowing += 1
        try:
            _, tts = await self.engines()
            if caller_number is None:
                caller_number = await self.hooks.caller_of(call_id)
        except BaseException:
            self.overflowing -= 1
            raise
        log.warning("call %s (%s): %d calls up, past capacity", call_id, channel, self.active)
        session = OverflowSession(
            call_id,
            transport,
            tts,
            self.config,
            self.hooks.request_callback,
            caller_number=caller_number,
            channel=channel,
            executor=self.executor,
            wait_seconds=self.config.overflow_wait_seconds,
            pass_on=pass_on,
        )
        self.sessions[call_id] = session
        if self.stopping.is_set():
            session.shut_down()
        return session

    async def run(self, session: LiveSession) -> CallOutcome:
        overflow = isinstance(session, OverflowSession)
        try:
            outcome = await session.run()
        finally:
            if overflow:
                self.overflowing -= 1
            else:
                self.active -= 1
                metrics.ACTIVE_CALLS.dec()
            self.sessions.pop(session.call_id, None)
        if overflow:
            metrics.REFUSED.labels(outcome.reason).inc()
        log.info(
            "call %s (%s) ended: %s (%s), %d turns",
            session.call_id,
            session.channel,
            outcome.outcome,
            outcome.reason,
            outcome.turns,
        )
        return await self._store(outcome)

    async def refuse(
        self, call_id: str, channel: str, transport: Transport, caller_number: str | None = None
    ) -> CallOutcome:
        """All lines busy: play the busy prompt (paced in real time) and record "refused"."""
        started = datetime.now(UTC)
        log.warning("call %s (%s) refused: %d lines busy", call_id, channel, self.active)
        try:
            _, tts = await self.engines()
            loop = asyncio.get_running_loop()
            pcm = await loop.run_in_executor(
                self.executor, tts.synthesize, BUSY, transport.sample_rate
            )
            await transport.send_event({"type": "bot", "text": BUSY, "source": "ivr"})
            audio: asyncio.Queue[bytes | None] = asyncio.Queue()
            audio.put_nowait(pcm)
            audio.put_nowait(None)
            await send_paced(transport, audio)
        except (ConnectionError, OSError, RuntimeError) as exc:
            log.info("call %s: caller left during the busy prompt: %s", call_id, exc)
        outcome = CallOutcome(
            call_id=call_id,
            outcome="refused",
            reason="busy",
            channel=channel,
            caller_number=caller_number,
            started_at=started,
            ended_at=datetime.now(UTC),
            transcript=[{"who": "ivr", "text": BUSY, "at": 0.0}],
        )
        return await self._store(outcome)

    async def _store(self, outcome: CallOutcome) -> CallOutcome:
        try:
            return await self.hooks.finished(outcome)
        except Exception:
            log.exception("call %s: outcome not stored", outcome.call_id)
            return outcome

    def shut_down(self) -> None:
        """Stop taking calls and tell every live one (it is transferred to a person)."""
        self.stopping.set()
        for session in list(self.sessions.values()):
            session.shut_down()

    def close(self) -> None:
        self.stopping.set()
        if self._warming is not None:
            self._warming.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)


def describe(outcome: CallOutcome) -> dict[str, Any]:
    """The outcome as the transports announce it at the end ({"type": "end", ...})."""
    return {"type": "end", **outcome.public()}
