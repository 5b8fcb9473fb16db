"""What the bot sees of a caller's words: the transcript normalised, then corrected against the
hotline's vocabulary.

Recognisers write a hotline word with other characters of the same sound: 进读 for 进度, 公单
for 工单, 设保 for 社保, 身份正 for 身份证. The vocabulary that fixes them comes from the texts
the hotline itself writes (the knowledge base, the bot's replies), and speech uses no other part:
the caller gives a :class:`Lexicon` the function that builds the corrector
(gateway/voice_lexicon.py). Building it takes 1–3 s (mostly jieba's dictionary), so it happens
once, on first use; the call centre does it in a worker thread before the first call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from speech.normalize import normalize_transcript

Correct = Callable[[str], str]


def _keep(text: str) -> str:
    return text


class Lexicon:
    """Normalisation, then the vocabulary correction built by ``build`` (none: normalise only)."""

    def __init__(self, build: Callable[[], Correct] | None = None) -> None:
        self._build = build
        self._correct: Correct | None = None
        self._lock = threading.Lock()

    def load(self) -> Correct:
        """The correction, built on first use (once, whichever thread asks first)."""
        with self._lock:
            if self._correct is None:
                self._correct = self._build() if self._build is not None else _keep
            return self._correct

    def correct(self, text: str) -> str:
        """``text`` with misheard hotline words replaced ("查询工单进读" → "查询工单进度")."""
        return self.load()(text)

    def transcript_for_bot(self, text: str) -> str:
        """What the bot sees of a final: :func:`normalize_transcript`, then :meth:`correct`."""
        return self.correct(normalize_transcript(text))
