"""The offline Chinese ASR engine: faster-whisper (Whisper-base on CPU) made streaming.

Whisper decodes whole utterances, so streaming comes from voice activity detection
(:mod:`speech.vad`): :meth:`WhisperRecognizer.accept` buffers the call's audio, and when the VAD
has heard at least ``end_silence`` seconds (default 0.6 s) of silence after speech, the
utterance is returned as a final :class:`~speech.engine.Recognition`. The decoding itself
starts earlier, after ``early_final`` seconds of silence (default 0.15 s): the speech the final
will carry is known by then, so the result is ready when the pause is confirmed (if the caller
speaks again, that decode is dropped). Set ``early_final=0`` to decode only at the end. When
that early text sounds complete (a question with its question word, a whole phone or order
number, a yes or no: :mod:`speech.turn_end`) it is the final once ``COMPLETE_SILENCE`` (0.3 s)
of the pause has passed, without waiting for the rest (``end_when_complete``). Starting the
decode before that point takes the time the decode needs off the answer; the 0.3 s itself is
what keeps a caller who only draws breath from being cut off.

Partials: by default a partial with the text "…" is returned once, when speech starts — cheap,
and enough for barge-in and "the caller is talking" displays. With ``partial_interval`` > 0 the
audio heard so far is also decoded every ``partial_interval`` seconds of speech, and the
partial carries that text; each such decode costs as much CPU as a final one, so keep it off on
small machines with many calls.

Decoding: language zh, beam search, no temperature fallback, no conditioning on earlier text,
an initial prompt in simplified Chinese with hotline vocabulary (it steers Whisper towards
simplified characters and the domain's words; per-stream phrases are appended to it). When the
result is empty or mostly copied from the prompt (Whisper's habits on short or unclear audio)
the utterance is decoded again without it.
8 kHz phone audio is upsampled to 16 kHz. The text is converted to simplified characters and
its punctuation normalised; turning spoken digits into numbers is left to
:func:`speech.normalize.normalize_transcript` so callers can keep the raw transcript.

Weights: ``compute_type="int8"`` (the default: about 150 MB, the fastest) or ``"float32"``
(about 225 MB, half as much CPU again per decode; BENCHMARKS.md compares their accuracy).

Window: by default (``window="utterance"``) the encoder sees only the utterance, and the
utterances of several calls are decoded as one batch (:mod:`speech.whisper_decode`); with
``window="30s"`` each is decoded alone in faster-whisper's padded 30-s window, which is more
accurate and costs about six times as much (BENCHMARKS.md, "Voice: phone lines at centre scale").

Threads: one :class:`WhisperEngine` (one model in memory) serves every call. Every decode goes
through one :class:`~speech.decode_queue.DecodeQueue`: ``decode_workers`` worker threads, each
decode using ``cpu_threads`` threads, serve the utterance that ended first (``greedy_from``
waiting utterances switch to greedy decoding). A recogniser belongs to one call and is not
thread-safe; it blocks while its utterance waits in the queue.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hotline.numbers import DIGIT_VALUES
from speech.audio import float_to_pcm, pcm_to_float, resample
from speech.decode_queue import DecodeQueue
from speech.engine import Recognition
from speech.metrics import observe_decode
from speech.models import whisper_base_dir
from speech.normalize import normalize_punctuation, to_simplified
from speech.turn_end import COMPLETE_SILENCE, sounds_complete
from speech.vad import (
    FRAME_SECONDS,
    TRAILING_KEPT,
    VAD_RATES,
    Segmenter,
    SpeechEnd,
    SpeechStart,
)
from speech.whisper_decode import NO_SPEECH, UtteranceDecoder

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
WINDOWS = ("utterance", "30s")  # what the encoder sees: the utterance, or a padded 30-s window

# Whisper continues the style of its prompt: simplified characters, full-width punctuation.
# A little hotline vocabulary steers it towards the domain's words; on unclear audio Whisper
# may parrot the prompt back instead, which echo_of_prompt() catches.
DEFAULT_PROMPT = (
    "以下是普通话的句子，市民拨打12345热线咨询社保、公积金、医保，投诉噪音，查询工单进度。"
)
# Text Whisper produces from silence or noise (learnt from subtitled video); never a caller's.
HALLUCINATIONS = (
    "字幕",
    "谢谢观看",
    "谢谢大家",
    "请不吝点赞",
    "订阅",
    "明镜",
    "点点栏目",
    "优优独播",
    "Amara",
)
_LOOP = re.compile(r"(.{1,4}?)\1{2,}")
_DIGITISH = re.compile(f"[0-9{''.join(DIGIT_VALUES)}]")
MAX_DIGIT_REPEAT = 12  # a repeated digit run longer than this is no phone or order number


class WhisperEngine:
    """A loaded faster-whisper model shared by all calls (see the module docstring)."""

    name = "whisper"

    def __init__(
        self,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
        cpu_threads: int = 1,
        beam_size: int = 5,
        prompt: str = DEFAULT_PROMPT,
        decode_workers: int = 2,
        end_silence: float = 0.6,
        partial_interval: float = 0.0,
        vad_aggressiveness: int = 2,
        language: str = "zh",
        early_final: float = 0.15,
        compute_type: str = "int8",
        window: str = "utterance",
        greedy_from: int = 0,
        max_batch: int = 4,
        end_when_complete: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel

        if window not in WINDOWS:
            raise ValueError(f"unknown Whisper window {window!r} (one of {', '.join(WINDOWS)})")
        path = Path(model_dir) if model_dir else whisper_base_dir(cache_dir)
        self.model_dir = path
        self.compute_type = compute_type
        self.model = WhisperModel(
            str(path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=decode_workers,  # CTranslate2 runs that many decodes in parallel
        )
        self.decoder = UtteranceDecoder(self.model, language)
        self.window = window
        self.beam_size = beam_size
        self.prompt = prompt
        self.end_silence = end_silence
        self.partial_interval = partial_interval
        self.early_final = early_final
        self.end_when_complete = end_when_complete  # speech/turn_end.py
        self.vad_aggressiveness = vad_aggressiveness
        self.language = language
        # Every call's decodes go through this one queue (speech/decode_queue.py).
        self.queue: DecodeQueue[tuple[str, float]] = DecodeQueue(
            self._decode_batch,
            beam_size,
            greedy_from,
            max_batch if window == "utterance" else 1,
            observe=observe_decode,
            workers=decode_workers,
            # more workers than cores can run at once only share them
            parallel=(os.cpu_count() or 1) // max(1, cpu_threads),
        )

    @property
    def decodes(self) -> int:
        """How many utterances the model decoded (finals and partials), for metrics and tests."""
        return self.queue.stats.decodes

    def recognizer(
        self, sample_rate: int, phrases: Sequence[str] | None = None
    ) -> WhisperRecognizer:
        return WhisperRecognizer(self, sample_rate, phrases)

    def build_prompt(self, phrases: Sequence[str] | None) -> str:
        """The initial prompt for one stream: the default one plus the stream's phrases."""
        extra = "、".join(p.strip() for p in phrases or () if p.strip())
        return f"{self.prompt}{extra}。" if extra else self.prompt

    def transcribe(
        self, audio16k: np.ndarray, prompt: str | None = None, ended: float | None = None
    ) -> tuple[str, float]:
        """Decode one utterance (float32 at 16 kHz) → (simplified text, confidence 0..1).

        Blocks until the decode queue has served it; ``ended`` (``time.monotonic()`` when the
        utterance ended, default now) sets its place in the queue.
        """
        return self.queue.decode(audio16k, self.prompt if prompt is None else prompt, ended)

    def close(self) -> None:
        self.queue.close()

    def _decode_batch(
        self, audios: Sequence[np.ndarray], prompt: str, beam_size: int
    ) -> list[tuple[str, float]]:
        """The queue's decode: a batch sharing one prompt → (text, confidence) each."""
        if self.window == "30s":
            return [self._decode_full(a, prompt, beam_size) for a in audios]
        out: list[tuple[str, float]] = []
        results = self.decoder.decode(audios, prompt, beam_size)
        for audio, result in zip(audios, results, strict=True):
            text = "" if result.silent else clean_transcript(result.text)
            # The VAD heard speech: nothing at all (Whisper sometimes ends a short answer such
            # as "满意" at once after a long prompt) or a copy of the prompt means the prompt won.
            if prompt and (not text or echo_of_prompt(text, prompt)):
                out.extend(self._decode_batch([audio], "", beam_size))
                continue
            out.append((text, result.confidence if text else 0.0))
        return out

    def _decode_full(self, audio16k: np.ndarray, prompt: str, beam_size: int) -> tuple[str, float]:
        """faster-whisper's own decode of the padded 30-s window (``window="30s"``)."""
        segments, _info = self.model.transcribe(
            audio16k,
            language=self.language,
            task="transcribe",
            beam_size=beam_size,
            initial_prompt=prompt or None,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            # No sampling fallback: on phone audio most decodes fall under the log-probability
            # threshold, and re-decoding them at temperatures 0.2…1.0 costs up to six decodes
            # for text that is rarely better (and often invented). Loops are cut afterwards.
            temperature=0.0,
        )
        texts: list[str] = []
        scores: list[float] = []
        for seg in segments:
            # Whisper's own no-speech rule: a likely-silent window decoded with low confidence.
            if seg.no_speech_prob > NO_SPEECH[0] and seg.avg_logprob < NO_SPEECH[1]:
                continue
            texts.append(seg.text)
            scores.append(math.exp(min(0.0, seg.avg_logprob)))
        text = clean_transcript("".join(texts))
        if prompt and (not text or echo_of_prompt(text, prompt)):
            return self._decode_full(audio16k, "", beam_size)
        confidence = float(np.mean(scores)) if scores and text else 0.0
        return text, confidence


def echo_of_prompt(text: str, prompt: str) -> bool:
    """True when most of ``text`` is copied from the prompt (3-character pieces)."""
    plain = re.sub(r"\W", "", text)
    source = re.sub(r"\W", "", prompt)
    grams = [plain[i : i + 3] for i in range(len(plain) - 2)]
    if not grams:
        return bool(plain) and plain in source
    return sum(g in source for g in grams) / len(grams) >= 0.5


def clean_transcript(text: str) -> str:
    """Simplified characters, normalised punctuation, known hallucinations removed."""
    text = normalize_punctuation(to_simplified(text))
    if any(h in text for h in HALLUCINATIONS):
        return ""
    # Whisper sometimes loops on one character or word ("琴琴琴琴琴"): keep two repeats.
    # Digit strings repeat legitimately (13888888888, 八八八八), but not beyond the length of
    # the longest number a caller gives ("零一零一零一…" a hundred characters long is a loop).
    text = _LOOP.sub(_cut_loop, text)
    return text if re.search(r"\w", text) else ""


def _cut_loop(m: re.Match[str]) -> str:
    if _DIGITISH.search(m.group(1)) and len(m.group(0)) <= MAX_DIGIT_REPEAT:
        return m.group(0)
    return m.group(1) * 2


def _same_speech(early: bytes, final: bytes, frame_bytes: int) -> bool:
    """The final's audio is the early decode's plus silence frames only: the early text holds.

    The early decode never outlives voice (it is dropped when the caller speaks again), so the
    final can only add the rest of the trailing silence it keeps, up to ``TRAILING_KEPT``.
    """
    extra = len(final) - len(early)
    kept = round(TRAILING_KEPT / FRAME_SECONDS) * frame_bytes
    return 0 <= extra <= kept and final.startswith(early)


class WhisperRecognizer:
    """One call leg: VAD segmentation + Whisper decoding. Not thread-safe; may block."""

    def __init__(
        self, engine: WhisperEngine, sample_rate: int, phrases: Sequence[str] | None = None
    ) -> None:
        if sample_rate < 8000:
            raise ValueError(f"sample rate {sample_rate} is too low for speech recognition")
        self.engine = engine
        self.sample_rate = sample_rate
        # The VAD runs at the input rate when it can, else on audio resampled to 16 kHz.
        self._vad_rate = sample_rate if sample_rate in VAD_RATES else WHISPER_RATE
        self.prompt = engine.build_prompt(phrases)
        self._vad = Segmenter(
            self._vad_rate,
            aggressiveness=engine.vad_aggressiveness,
            end_silence=engine.end_silence,
        )
        self._last_partial_at = 0.0
        self._odd_pending = b""
        # (audio, text, confidence) of the utterance decoded early, during the closing silence.
        self._early: tuple[bytes, str, float] | None = None

    def _to_16k(self, pcm: bytes, rate: int) -> np.ndarray:
        return resample(pcm_to_float(pcm), rate, WHISPER_RATE)

    def _final(self, seg: SpeechEnd) -> list[Recognition]:
        early, self._early = self._early, None
        if early is not None and _same_speech(early[0], seg.pcm, self._vad.frame_bytes):
            text, conf = early[1], early[2]  # the caller did not speak again
        else:
            audio = self._to_16k(seg.pcm, self._vad_rate)
            text, conf = self.engine.transcribe(audio, self.prompt, self._ended(seg.end))
        if not text:
            return []
        return [Recognition(text=text, final=True, confidence=conf, start=seg.start, end=seg.end)]

    def accept(self, pcm: bytes) -> list[Recognition]:
        if self._vad_rate != self.sample_rate:
            pcm = self._resample_input(pcm)
        out: list[Recognition] = []
        for event in self._vad.push(pcm):
            if isinstance(event, SpeechStart):
                self._last_partial_at = event.time
                out.append(Recognition("…", False, 0.0, event.time, self._vad.now))
            else:
                out.extend(self._final(event))
        self._decode_early()
        if (
            self._early is not None
            and self.engine.end_when_complete
            and self._vad.silence >= COMPLETE_SILENCE
        ):
            _, text, conf = self._early
            if text and sounds_complete(text):  # the caller cannot go on: answer now
                start, end = self._vad.utterance_start, self._vad.now - self._vad.silence
                self._vad.reset()
                self._early = None
                out.append(Recognition(text, True, conf, start, end))
        interval = self.engine.partial_interval
        if (
            interval > 0
            and self._vad.in_speech
            and self._vad.now - self._last_partial_at >= interval
        ):
            self._last_partial_at = self._vad.now
            audio = self._to_16k(self._vad.current_pcm(), self._vad_rate)
            text, conf = self.engine.transcribe(audio, self.prompt)
            if text:
                out.append(Recognition(text, False, conf, self._vad.utterance_start, self._vad.now))
        return out

    def _decode_early(self) -> None:
        """Decode the utterance while its closing silence is still being confirmed.

        After ``early_final`` s of silence the speech the final will carry is already known
        (:meth:`Segmenter.closing_pcm`: the final only adds silence up to ``TRAILING_KEPT``);
        decoding it now instead of after ``end_silence`` s takes ``end_silence - early_final``
        s off every reply. When the caller speaks again the result is dropped (one decode
        wasted) and the utterance goes on.
        """
        early = self.engine.early_final
        if not 0 < early < self.engine.end_silence:
            return
        if not self._vad.in_speech or self._vad.silence < early:
            self._early = None  # voice again (or no utterance): any early result is stale
            return
        if self._early is None:
            pcm = self._vad.closing_pcm()
            ended = self._ended(self._vad.now - self._vad.silence)
            audio = self._to_16k(pcm, self._vad_rate)
            text, conf = self.engine.transcribe(audio, self.prompt, ended)
            self._early = (pcm, text, conf)

    def _ended(self, at: float) -> float:
        """A time on the stream's clock (s from its start) as ``time.monotonic()``."""
        return time.monotonic() - max(0.0, self._vad.now - at)

    def _resample_input(self, pcm: bytes) -> bytes:
        # Odd rates (e.g. 11025, 22050) are resampled to 16 kHz in whole 10-ms blocks.
        data = self._odd_pending + pcm
        block = self.sample_rate // 100 * 2
        n = len(data) - len(data) % block
        self._odd_pending = data[n:]
        return float_to_pcm(resample(pcm_to_float(data[:n]), self.sample_rate, WHISPER_RATE))

    def finish(self) -> list[Recognition]:
        seg = self._vad.flush()
        return self._final(seg) if seg is not None else []

    def reset(self) -> None:
        self._vad.reset()
        self._odd_pending = b""
        self._early = None
