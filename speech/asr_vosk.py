"""The streaming ASR engine: Vosk (Kaldi), for a Chinese Vosk model where one is installed.

Vosk decodes as audio arrives: :meth:`VoskRecognizer.accept` returns a partial whenever the
best hypothesis changes and a final when Kaldi's endpointing fires (trailing silence after
speech; the rules are in the model's ``conf/model.conf``, 0.5 s after a confident word by
default). Any sample rate works: Vosk resamples to the model's rate inside (8 kHz phone audio
into a 16 kHz model is fine). A phrase list becomes a Vosk grammar (only models with a dynamic
graph, ``graph/HCLr.fst`` + ``Gr.fst``, i.e. the "small" models, support it): the recogniser
then only outputs those words, plus ``[unk]`` for anything else (dropped from the text).
Phrases are sequences of the model's words; for Chinese models separate words with spaces.

Confidence is the mean of Vosk's per-word confidences; times come from Vosk's word timings
(seconds from the start of the stream; :meth:`reset` keeps the clock running and drops
any audio not yet decoded). Empty finals
(noise that decoded to nothing) are not reported.

Threads: one :class:`VoskEngine` (the model, loaded once) serves every call; Vosk models are
safe to share between recognisers in different threads. A recogniser is one call leg and is
not thread-safe.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from speech.engine import Recognition
from speech.models import ModelError, is_vosk_model

if TYPE_CHECKING:
    import vosk  # imported where used: the optional engine costs nothing until chosen

log = logging.getLogger(__name__)

UNKNOWN = "[unk]"


def model_language(model_dir: Path) -> str | None:
    """A best guess of a Vosk model's language from its folder name and README ("zh", "ko")."""
    text = model_dir.name.lower()
    readme = model_dir / "README"
    if readme.is_file():
        text += " " + readme.read_text(errors="replace")[:400].lower()
    for code, marks in (("zh", ("-cn", "chinese", "mandarin", "-zh")), ("ko", ("korean", "-ko"))):
        if any(m in text for m in marks):
            return code
    return None


class VoskEngine:
    """A Vosk model loaded once (about 2 s and 100–300 MB for a small model)."""

    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        import vosk

        model_dir = Path(model_dir)
        if not is_vosk_model(model_dir):
            raise ModelError(
                f"{model_dir} is not a Vosk model folder (expected am/final.mdl and graph/); "
                "see docs/speech.md for how to install a Chinese model"
            )
        vosk.SetLogLevel(-1)
        self.model_dir = model_dir
        self.language = model_language(model_dir)
        self.model = vosk.Model(str(model_dir))
        self.supports_grammar = (model_dir / "graph" / "HCLr.fst").is_file()

    def recognizer(self, sample_rate: int, phrases: Sequence[str] | None = None) -> VoskRecognizer:
        if phrases and not self.supports_grammar:
            log.warning("%s has a static graph: phrase list ignored", self.model_dir.name)
            phrases = None
        return VoskRecognizer(self, sample_rate, phrases)


def _words(result: dict) -> list[dict]:
    return [w for w in result.get("result", []) if w.get("word") != UNKNOWN]


_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


def _text(raw: str) -> str:
    """Vosk's text without [unk]; no spaces between Chinese words (other scripts keep them)."""
    text = " ".join(w for w in raw.split() if w != UNKNOWN)
    return re.sub(f"(?<=[{_HAN}]) (?=[{_HAN}])", "", text)


class VoskRecognizer:
    """One call leg on a :class:`VoskEngine`. Not thread-safe; accept() blocks for decoding."""

    def __init__(
        self, engine: VoskEngine, sample_rate: int, phrases: Sequence[str] | None = None
    ) -> None:
        self.engine = engine
        self.sample_rate = sample_rate
        self.phrases = list(phrases) if phrases else None
        self._samples = 0  # fed since the stream started
        self._offset = 0.0  # stream time at which the current Kaldi recogniser started
        self._utt_start = 0.0
        self._last_partial = ""
        self._pending = b""
        self._rec = self._new_kaldi()

    def _new_kaldi(self) -> vosk.KaldiRecognizer:
        import vosk

        if self.phrases:
            grammar = json.dumps([*self.phrases, UNKNOWN], ensure_ascii=False)
            rec = vosk.KaldiRecognizer(self.engine.model, float(self.sample_rate), grammar)
        else:
            rec = vosk.KaldiRecognizer(self.engine.model, float(self.sample_rate))
        rec.SetWords(True)
        rec.SetPartialWords(True)
        return rec

    @property
    def now(self) -> float:
        return self._samples / self.sample_rate

    def _final(self, raw: str) -> list[Recognition]:
        result = json.loads(raw)
        self._last_partial = ""
        words = _words(result)
        text = _text(result.get("text", ""))
        start, self._utt_start = self._utt_start, self.now
        if not text:
            return []
        if words:
            confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words)
            start = self._offset + float(words[0]["start"])
            end = self._offset + float(words[-1]["end"])
        else:
            confidence, end = 0.0, self.now
        return [Recognition(text, True, min(1.0, max(0.0, confidence)), start, end)]

    def accept(self, pcm: bytes) -> list[Recognition]:
        data = self._pending + pcm
        usable = len(data) - len(data) % 2
        self._pending = data[usable:]
        if not usable:
            return []
        self._samples += usable // 2
        if self._rec.AcceptWaveform(data[:usable]):
            return self._final(self._rec.Result())
        result = json.loads(self._rec.PartialResult())
        partial = _text(result.get("partial", ""))
        if not partial or partial == self._last_partial:
            return []
        self._last_partial = partial
        words = [w for w in result.get("partial_result", []) if w.get("word") != UNKNOWN]
        start = self._offset + float(words[0]["start"]) if words else self._utt_start
        confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words) if words else 0.0
        return [Recognition(partial, False, min(1.0, max(0.0, confidence)), start, self.now)]

    def finish(self) -> list[Recognition]:
        self._pending = b""
        return self._final(self._rec.FinalResult())

    def reset(self) -> None:
        # KaldiRecognizer.Reset() keeps audio already in its feature pipeline (it is decoded
        # after the reset): a new recogniser really starts over. Times stay stream times.
        self._rec = self._new_kaldi()
        self._offset = self.now
        self._pending = b""
        self._last_partial = ""
        self._utt_start = self.now
