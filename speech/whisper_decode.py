"""Whisper decoding sized to the utterance, several utterances at once.

faster-whisper's ``transcribe`` pads every input to Whisper's 30-s window, so a 3-s phone
utterance costs the encoder as much as 30 s of audio: about 0.6 s of CPU for Whisper-base on
this machine's two cores, most of a decode (BENCHMARKS.md, "Voice: phone lines at centre
scale"). Here the encoder sees only the utterance and one second of silence after it (a tenth
of the work), and the utterances of several calls go through the encoder and the decoder as one
batch.

Whisper was trained on 30-s windows. Given a short one it tends to go on after the speech has
ended and repeat it ("退休以后养老金什么时候发放？退休以后养老金什么时候"). Two guards stop that:

* the output is capped at ``TOKENS_PER_SECOND`` tokens per second of audio (Mandarin is spoken at
  about 4–5 characters a second, Whisper spends 1–1.5 tokens per character), which bounds the
  decode's cost whatever happens;
* a transcript that is one piece of text said again and again (the last copy cut off by the
  cap) is reduced to the piece (:func:`cut_repeats`).

Timestamps, which would mark the repeat as text after the speech, did worse: Whisper often
repeats inside one timestamped segment, and the timestamp tokens made the text itself worse
(BENCHMARKS.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RATE = 16000
TAIL_SILENCE = 1.0  # s of silence after the utterance: the window shows where speech ended
TOKENS_PER_SECOND = 8
MAX_FRAMES = 3000  # Whisper's 30-s window: 100 mel frames a second
NO_SPEECH = (0.6, -1.0)  # Whisper's rule: no_speech_prob above and avg log-prob below → silence


@dataclass(frozen=True)
class Decoded:
    text: str  # Whisper's text, not yet cleaned (simplified, punctuation, hallucinations)
    avg_logprob: float
    no_speech_prob: float

    @property
    def silent(self) -> bool:
        return self.no_speech_prob > NO_SPEECH[0] and self.avg_logprob < NO_SPEECH[1]

    @property
    def confidence(self) -> float:
        return math.exp(min(0.0, self.avg_logprob))


class UtteranceDecoder:
    """Decodes utterances (float32, 16 kHz) with a loaded faster-whisper ``WhisperModel``."""

    def __init__(self, model: Any, language: str = "zh") -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.model = model
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        self._prompts: dict[str, list[int]] = {}

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The decoder's start: the initial prompt as previous text, then the task tokens."""
        tokens = self._prompts.get(prompt)
        if tokens is None:
            previous = self.tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
            tokens = self.model.get_prompt(self.tokenizer, previous, without_timestamps=True)
            self._prompts[prompt] = tokens
        return tokens

    def features(self, audio: np.ndarray, seconds: float) -> np.ndarray:
        """Log-mel features of the utterance followed by silence up to ``seconds`` (≤ 30 s).

        Silence is added to the audio, not to the features: Whisper scales each window's
        log-mel to its own loudest frame, so only real silence looks silent to the encoder.
        """
        padded = np.zeros(max(len(audio), int(seconds * RATE)), dtype=np.float32)
        padded[: len(audio)] = audio
        mel = self.model.feature_extractor(padded)
        frames = min(MAX_FRAMES, mel.shape[1] - mel.shape[1] % 2)  # the encoder halves it
        return mel[:, :frames]

    def decode(self, audios: Sequence[np.ndarray], prompt: str, beam_size: int) -> list[Decoded]:
        """Decode a batch of utterances that share one prompt; results in input order. Each is
        followed by silence up to the longest one's end plus ``TAIL_SILENCE``."""
        import ctranslate2

        longest = max(len(a) for a in audios) / RATE
        batch = np.stack([self.features(a, longest + TAIL_SILENCE) for a in audios])
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=False)
        start = self.prompt_tokens(prompt)
        results = self.model.model.generate(
            encoded,
            [start] * len(audios),
            beam_size=beam_size,
            max_length=min(448, len(start) + int(longest * TOKENS_PER_SECOND) + 10),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        return [self._text(result) for result in results]

    def _text(self, result: Any) -> Decoded:
        tokens: list[int] = result.sequences_ids[0]
        # CTranslate2 returns the length-normalised score; Whisper's average counts one more.
        avg = result.scores[0] * len(tokens) / (len(tokens) + 1)
        text = cut_repeats(self.tokenizer.decode(tokens).strip())
        return Decoded(text, avg, result.no_speech_prob)


_NOT_DIGIT = re.compile(r"\D")


def cut_repeats(text: str) -> str:
    """ "ABCABCAB" → "ABC": a transcript that only repeats its own beginning is said once.

    The repeated piece must hold something besides digits: "1212121212" may be a number. The
    token cap may cut the last copy inside a character (its UTF-8 bytes half there): that
    half character (U+FFFD) goes first, else the repeat stayed with a "�" at its end (4 of
    the consult tune split's 166 questions read aloud, BENCHMARKS.md).
    """
    text = text.rstrip("\ufffd")
    n = len(text)
    for k in range(2, n - 1):
        if text[k:] == text[: n - k] and _NOT_DIGIT.search(text[:k]):
            return text[:k]
    return text
