"""Streaming voice activity detection: cuts a call's audio into utterances.

WebRTC's VAD (``webrtcvad-wheels``: C code, no model file, a few microseconds per frame, native
at 8, 16, 32 and 48 kHz) classifies 20-ms frames; :class:`Segmenter` adds the hysteresis a
phone line needs:

* speech **starts** when at least ``start_voiced`` of the last ``start_window`` frames are voiced
  (default 6 of 10, i.e. 120 ms of voice within 200 ms), and the utterance then includes
  ``preroll`` seconds before that point so the first syllable is not clipped;
* speech **ends** after ``end_silence`` seconds of unvoiced frames in a row (default 0.6 s);
* an utterance with less than ``min_speech`` seconds of voiced frames is dropped (clicks,
  coughs, line noise), and one longer than ``max_utterance`` is cut (Whisper sees 30 s at most).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import webrtcvad

VAD_RATES = (8000, 16000, 32000, 48000)
FRAME_SECONDS = 0.02
TRAILING_KEPT = 0.3  # s of trailing silence an utterance keeps (the recogniser hears the end)


@dataclass(frozen=True)
class SpeechStart:
    time: float  # s from stream start (preroll included)


@dataclass(frozen=True)
class SpeechEnd:
    start: float
    end: float  # the last voiced frame
    pcm: bytes  # the utterance with its preroll and up to 0.3 s of trailing silence
    forced: bool = False  # cut at max_utterance or by flush(), not by silence


class Segmenter:
    """Feed slin16 PCM at ``sample_rate``; get start/end events. Not thread-safe."""

    def __init__(
        self,
        sample_rate: int,
        aggressiveness: int = 2,
        end_silence: float = 0.6,
        start_window: int = 10,
        start_voiced: int = 6,
        preroll: float = 0.3,
        min_speech: float = 0.2,
        max_utterance: float = 25.0,
    ) -> None:
        if sample_rate not in VAD_RATES:
            raise ValueError(f"the VAD runs at {VAD_RATES} Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        self.frame_bytes = int(sample_rate * FRAME_SECONDS) * 2
        self._vad = webrtcvad.Vad(aggressiveness)
        self.end_frames = max(1, round(end_silence / FRAME_SECONDS))
        self.start_window = start_window
        self.start_voiced = start_voiced
        self.preroll_frames = round(preroll / FRAME_SECONDS)
        self.min_voiced_frames = round(min_speech / FRAME_SECONDS)
        self.max_frames = round(max_utterance / FRAME_SECONDS)
        self.frames_seen = 0
        self.reset()

    def reset(self) -> None:
        """Forget buffered audio and any utterance in progress (the clock keeps running)."""
        self._pending = b""
        self._history: deque[tuple[bytes, bool]] = deque(
            maxlen=self.preroll_frames + self.start_window
        )
        self._speech: list[bytes] = []
        self._in_speech = False
        self._voiced_in_utt = 0
        self._silent_run = 0
        self._utt_start_frame = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def utterance_start(self) -> float:
        return self._utt_start_frame * FRAME_SECONDS

    @property
    def now(self) -> float:
        """Seconds of audio classified so far."""
        return self.frames_seen * FRAME_SECONDS

    @property
    def silence(self) -> float:
        """Seconds of unvoiced frames since the last voiced one in the utterance in progress."""
        return self._silent_run * FRAME_SECONDS if self._in_speech else 0.0

    def current_pcm(self) -> bytes:
        """The utterance in progress so far (empty when there is none)."""
        return b"".join(self._speech)

    def closing_pcm(self) -> bytes:
        """The audio the utterance in progress would end with if the silence went on.

        Once :attr:`silence` has reached 0.3 s, this is byte for byte the ``pcm`` of the
        :class:`SpeechEnd` that follows if no voice comes back: a recogniser can decode it
        early and reuse the result.
        """
        return b"".join(self._speech[: len(self._speech) - self._trailing_cut()])

    def _trailing_cut(self) -> int:
        return max(0, self._silent_run - round(TRAILING_KEPT / FRAME_SECONDS))

    def push(self, pcm: bytes) -> list[SpeechStart | SpeechEnd]:
        events: list[SpeechStart | SpeechEnd] = []
        data = self._pending + pcm
        n = len(data) - len(data) % self.frame_bytes
        self._pending = data[n:]
        for off in range(0, n, self.frame_bytes):
            frame = data[off : off + self.frame_bytes]
            voiced = self._vad.is_speech(frame, self.sample_rate)
            self.frames_seen += 1
            event = self._step(frame, voiced)
            if event is not None:
                events.append(event)
        return events

    def _step(self, frame: bytes, voiced: bool) -> SpeechStart | SpeechEnd | None:
        if not self._in_speech:
            self._history.append((frame, voiced))
            recent = list(self._history)[-self.start_window :]
            if sum(v for _, v in recent) < self.start_voiced:
                return None
            self._in_speech = True
            self._speech = [f for f, _ in self._history]
            self._voiced_in_utt = sum(v for _, v in self._history)
            self._silent_run = 0
            self._utt_start_frame = self.frames_seen - len(self._history)
            self._history.clear()
            return SpeechStart(self.utterance_start)
        self._speech.append(frame)
        if voiced:
            self._voiced_in_utt += 1
            self._silent_run = 0
        else:
            self._silent_run += 1
        if self._silent_run >= self.end_frames:
            return self._close(forced=False)
        if len(self._speech) >= self.max_frames:
            return self._close(forced=True)
        return None

    def _close(self, forced: bool) -> SpeechEnd | None:
        # Keep 0.3 s of the trailing silence: enough for the recogniser to hear the end.
        pcm = self.closing_pcm()
        start = self.utterance_start
        end = self.now - self._silent_run * FRAME_SECONDS
        enough = self._voiced_in_utt >= self.min_voiced_frames
        self._in_speech = False
        self._speech = []
        self._voiced_in_utt = 0
        self._silent_run = 0
        if not enough:
            return None
        return SpeechEnd(start=start, end=end, pcm=pcm, forced=forced)

    def flush(self) -> SpeechEnd | None:
        """End of stream: close the utterance in progress, if any."""
        self._pending = b""
        if not self._in_speech:
            return None
        return self._close(forced=True)
