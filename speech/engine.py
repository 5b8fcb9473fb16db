"""The engine interfaces every ASR and TTS implementation follows.

Audio everywhere is signed 16-bit little-endian mono PCM ("slin16") at the stated sample rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Recognition:
    """A partial (final=False) or final result of one utterance; times in s from stream start."""

    text: str
    final: bool
    confidence: float  # 0..1; engines without a score report their best estimate
    start: float
    end: float


class Recognizer(Protocol):
    """One audio stream (one call leg). Not thread-safe; may block: call it off the event loop."""

    sample_rate: int

    def accept(self, pcm: bytes) -> list[Recognition]:
        """Feed a chunk; returns the partial and final results this chunk produced (often none)."""
        ...

    def finish(self) -> list[Recognition]:
        """End of stream: flush and return the last final result, if any."""
        ...

    def reset(self) -> None:
        """Drop buffered audio and start a new utterance (e.g. after barge-in or a prompt)."""
        ...


class ASREngine(Protocol):
    """A loaded model shared by all calls; `recognizer` opens one stream."""

    name: str

    def recognizer(self, sample_rate: int, phrases: Sequence[str] | None = None) -> Recognizer: ...


class TTSEngine(Protocol):
    name: str

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        """Chinese text -> slin16 PCM at sample_rate (8000 for phones, 16000+ for browsers)."""
        ...
