"""A call past this process's capacity (speech/capacity.py): told at once, never left in silence.

The caller hears that the lines are busy and chooses with a key: 1 — a call-back to the number
they call from (a work order is stored and its number read out before the call ends); 2, or no
key within ``wait_seconds`` — a person (outcome "transfer": the dialplan queues the call for
the operators, docs/voice.md). A call the dialplan registered with ``pass_on`` (another speech
process follows) is handed back at once instead, silently: outcome refused, reason "full", and
the dialplan tries the next process. Nothing is recognised: the caller's audio is dropped, so an
overflow call costs the recogniser nothing. Transports drive it like a `CallSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

from hotline.numbers import number_aloud
from speech.call_types import CallOutcome, Outcome, SessionConfig, Transport
from speech.engine import TTSEngine
from speech.playback import send_paced
from speech.prompts import OVERFLOW, OVERFLOW_CALLBACK, OVERFLOW_NO_NUMBER, TRANSFER

log = logging.getLogger(__name__)

# (call id, caller's number) → the call-back work order's number (gateway: GatewayCallHooks)
RequestCallback = Callable[[str, str], Awaitable[str]]


class OverflowSession:
    def __init__(
        self,
        call_id: str,
        transport: Transport,
        tts: TTSEngine,
        config: SessionConfig,
        request_callback: RequestCallback,
        *,
        caller_number: str | None,
        channel: str,
        executor: Executor | None = None,
        wait_seconds: float = 8.0,
        pass_on: bool = False,
    ) -> None:
        self.pass_on = pass_on
        self.call_id = call_id
        self.transport = transport
        self.channel = channel
        self.caller_number = caller_number
        self._tts, self._config, self._request_callback = tts, config, request_callback
        self._executor = executor
        self._wait = wait_seconds
        self._keys: asyncio.Queue[str | None] = asyncio.Queue()  # None: hung up / stopping
        self._hung_up = False
        self._started_at = datetime.now(UTC)
        self._transcript: list[dict[str, Any]] = []

    async def audio(self, pcm: bytes) -> None:
        """The caller's audio: not recognised here."""

    def dtmf(self, key: str) -> None:
        self._keys.put_nowait(key)

    def hangup(self, reason: str = "caller") -> None:
        self._hung_up = True
        self._keys.put_nowait(None)

    def shut_down(self) -> None:
        self._keys.put_nowait(None)  # stopping: a person takes the call

    async def run(self) -> CallOutcome:
        outcome: Outcome = "transfer"
        reason, order = "overflow", None
        if self.pass_on:
            return self._outcome("refused", "full")
        try:
            if not await self._say(OVERFLOW):
                return self._outcome("refused", "caller_hung_up")
            key = await self._key()
            if key is None and self._hung_up:
                return self._outcome("refused", "caller_hung_up")
            if key == "1" and self.caller_number:
                order = await self._request_callback(self.call_id, self.caller_number)
                spoken = OVERFLOW_CALLBACK.format(number=number_aloud(order))
                await self._say(OVERFLOW_CALLBACK.format(number=order), spoken)
                outcome, reason = "refused", "callback"
            elif key == "1":  # an anonymous caller: no number to call back
                await self._say(OVERFLOW_NO_NUMBER)
            else:
                await self._say(TRANSFER)
        except Exception:  # the caller must not be dropped: a person takes the call
            log.exception("call %s: overflow handling failed; transferring", self.call_id)
            outcome, reason = "transfer", "overflow"
        result = self._outcome(outcome, reason)
        result.work_order = order
        return result

    async def _key(self) -> str | None:
        """The first key 1 or 2 within the wait; None for none (or a hang-up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while (left := deadline - loop.time()) > 0:
            try:
                key = await asyncio.wait_for(self._keys.get(), left)
            except TimeoutError:
                return None
            if key is None or key in "12":
                return key
        return None

    async def _say(self, text: str, spoken: str | None = None) -> bool:
        """Play a prompt (``spoken`` to TTS when it differs) in real time; False when the
        caller is gone."""
        self._transcript.append({"who": "ivr", "text": text})
        if self._hung_up:
            return False
        loop = asyncio.get_running_loop()
        pcm = await loop.run_in_executor(
            self._executor, self._tts.synthesize, spoken or text, self.transport.sample_rate
        )
        audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        audio.put_nowait(pcm)
        audio.put_nowait(None)
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await self.transport.send_event({"type": "bot", "text": text, "source": "ivr"})
            await send_paced(self.transport, audio)
        return not self._hung_up

    def _outcome(self, outcome: Outcome, reason: str) -> CallOutcome:
        return CallOutcome(
            call_id=self.call_id,
            outcome=outcome,
            reason=reason,
            channel=self.channel,
            caller_number=self.caller_number,
            queue=self._config.transfer_queue if outcome == "transfer" else None,
            started_at=self._started_at,
            ended_at=datetime.now(UTC),
            transcript=self._transcript,
        )
