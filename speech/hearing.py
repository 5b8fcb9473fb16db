"""Hearing the caller: inbound audio becomes the session's events, in arrival order — speech
energy (the caller talks: it stops a prompt and holds off the silence timer) and the
recogniser's partial and final results."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from speech.call_types import SessionConfig
from speech.engine import Recognition

log = logging.getLogger(__name__)


@dataclass
class Event:
    kind: str  # partial | final | speech | dtmf | hangup | played | shutdown
    text: str = ""
    confidence: float = 1.0
    token: int = 0
    at: float = 0.0


class Hearing:
    """The inbound side of one call. `pump` runs for the whole call; the attributes tell the
    session's silence timer about the caller's voice (times on the call clock)."""

    def __init__(
        self,
        call_id: str,
        config: SessionConfig,
        rate: int,
        events: asyncio.Queue[Event],
        clock: Callable[[], float],
        emit: Callable[[dict[str, Any]], Awaitable[None]],
        in_thread: Callable[..., Awaitable[Any]],
    ) -> None:
        self.call_id = call_id
        self.config = config
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue(config.inbox_frames)
        self.last_voice = -1e9  # the caller's last voiced frame
        self.awaiting_final = False  # the recogniser heard speech but gave no result yet
        self._utterance_start: float | None = None
        self._events, self._clock, self._emit, self._in_thread = events, clock, emit, in_thread
        self._frame_samples = rate // 50
        self._barge_frames = max(1, round(config.barge_in_ms / 20))
        self._voiced_run = 0

    def take_utterance_start(self) -> float | None:
        """When the utterance that just ended began (its first voiced frames), once."""
        start, self._utterance_start = self._utterance_start, None
        return start

    async def pump(self, recognizer: Any) -> None:
        """Inbound audio -> energy detector and recogniser -> events, in arrival order."""
        while True:
            chunks = [await self.inbox.get()]
            while len(chunks) < 10 and not self.inbox.empty():  # catch up in one call
                chunks.append(self.inbox.get_nowait())
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
                    self.awaiting_final = not r.final
                self._events.put_nowait(Event(kind, r.text, r.confidence, at=self._clock()))
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
        now = self._clock()
        for voiced in np.sqrt((frames * frames).mean(axis=1)) > self.config.barge_in_rms:
            if not voiced:
                self._voiced_run = 0
                continue
            self._voiced_run += 1
            self.last_voice = now
            if self._voiced_run == self._barge_frames:
                if self._utterance_start is None:
                    self._utterance_start = round(now - self.config.barge_in_ms / 1000, 3)
                self._events.put_nowait(Event("speech", at=now))
