"""Text to speech: espeak-ng's Mandarin pinyin voice, and a registry of engines.

:class:`EspeakTTS` turns Chinese text into slin16 PCM in four steps:

1. numbers are written as they are read (:func:`speech.normalize.to_spoken`: "12345" →
   幺二三四五, "98天" → 九十八天);
2. pypinyin converts the text to pinyin with tone numbers (tone sandhi of 一 and 不 applied),
   punctuation becomes a pause — Debian's espeak-ng 1.51 reads Chinese characters badly with its
   ``cmn`` voice but pronounces pinyin well with ``cmn-latn-pinyin``;
3. ``espeak-ng -v cmn-latn-pinyin --stdout`` synthesises a WAV at 22050 Hz;
4. ``sox`` resamples it (with its anti-aliasing filter) to the rate asked for: 8000 for phone
   calls, 16000 for the browser.

Caching: an in-memory LRU (bounded in bytes) holds recent results for every text. Fixed prompts
given to :meth:`EspeakTTS.preload` are also kept on disk (``<cache_dir>/tts``), so a restarted
process plays them without synthesising. Nothing else goes to disk: dynamic replies carry
citizens' phone numbers and addresses.

:func:`load_tts` picks an engine by name from :data:`TTS_ENGINES`; a name of the form
``package.module:factory`` loads any other engine by configuration (the factory is called
with the settings object and must return a :class:`speech.engine.TTSEngine`).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

from speech.engine import TTSEngine
from speech.normalize import to_spoken

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 2  # slin16
# Chinese marks → espeak pauses. A "." after a tone digit ("hao3.") makes no pause in espeak-ng
# 1.51, so sentence ends use ";" (a longer clause pause than ",").
_PAUSES = {"，": ",", "、": ",", "；": ";", "：": ",", "。": ";", "？": "?", "！": "!", "…": ";"}


class TTSError(RuntimeError):
    """Synthesis failed (tool missing or erroring); the message says what to do."""


def to_pinyin(text: str) -> str:
    """Chinese text (numbers already spoken) → space-separated pinyin with tone numbers.

    Punctuation becomes an ASCII mark espeak pauses on; Latin letters and digits pass through;
    anything else (symbols, emoji) is dropped.
    """
    syllables = lazy_pinyin(
        text, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True, errors="default"
    )
    out: list[str] = []
    for piece in syllables:
        if re.fullmatch(r"[a-z]+[1-5]", piece):
            out.append(piece)
            continue
        # A run pypinyin left as it was: punctuation, Latin letters, digits, symbols.
        for token in re.findall(r"[A-Za-z0-9]+|\S", piece):
            if token in _PAUSES:
                out.append(_PAUSES[token])
            elif token in ",:":
                out.append(",")
            elif token in ".;":
                out.append(";")
            elif token in "?!" or (token.isascii() and token.isalnum()):
                out.append(token)
    text = re.sub(r"\s+([,;?!])", r"\1", " ".join(out))
    return re.sub(r"\s+", " ", text).strip()


class _ByteLRU:
    """An LRU of bytes values bounded by their total size; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


class EspeakTTS:
    """espeak-ng (pinyin voice) + sox; see the module docstring. Thread-safe."""

    name = "espeak"

    def __init__(
        self,
        voice: str = "cmn-latn-pinyin+f3",
        speed: int = 175,
        pitch: int = 50,
        cache_dir: Path | None = None,
        memory_cache_bytes: int = 32 << 20,
        espeak: str = "espeak-ng",
        sox: str = "sox",
    ) -> None:
        self.espeak = shutil.which(espeak)
        self.sox = shutil.which(sox)
        missing = [n for n, p in ((espeak, self.espeak), (sox, self.sox)) if p is None]
        if missing:
            packages = " ".join("espeak-ng" if m == espeak else "sox" for m in missing)
            raise TTSError(
                f"{' and '.join(missing)} not found; install with `apt-get install {packages}`"
            )
        self.voice = voice
        self.speed = speed
        self.pitch = pitch
        self.disk_dir = Path(cache_dir) / "tts" if cache_dir else None
        self._memory = _ByteLRU(memory_cache_bytes)

    # ------------------------------------------------------------------ synthesis

    def _key(self, text: str, sample_rate: int) -> str:
        ident = f"espeak-ng\0{self.voice}\0{self.speed}\0{self.pitch}\0{sample_rate}\0{text}"
        return hashlib.sha256(ident.encode()).hexdigest()

    def _disk_path(self, key: str) -> Path | None:
        return self.disk_dir / f"{key}.pcm" if self.disk_dir else None

    def _render(self, text: str, sample_rate: int) -> bytes:
        pinyin = to_pinyin(to_spoken(text))
        if not re.search(r"[a-z0-9]", pinyin, re.IGNORECASE):  # only pauses
            return b""
        espeak_cmd = [
            str(self.espeak),
            "-v",
            self.voice,
            "-s",
            str(self.speed),
            "-p",
            str(self.pitch),
            "--stdout",
            "--stdin",
        ]
        try:
            wav = subprocess.run(
                espeak_cmd, input=pinyin.encode(), capture_output=True, check=True, timeout=60
            ).stdout
            pcm = subprocess.run(
                [
                    str(self.sox),
                    "-q",
                    "-D",  # no dither: the same text always gives the same bytes
                    "-t",
                    "wav",
                    "-",
                    *("-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1"),
                    *("-r", str(sample_rate), "-"),
                ],
                input=wav,
                capture_output=True,
                check=True,
                timeout=60,
            ).stdout
        except subprocess.CalledProcessError as exc:
            err = exc.stderr.decode(errors="replace").strip()
            raise TTSError(f"{exc.cmd[0]} failed ({exc.returncode}): {err}") from exc
        except subprocess.TimeoutExpired as exc:
            raise TTSError(f"{exc.cmd[0]} timed out") from exc
        return pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH]

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        """Chinese text → slin16 PCM at ``sample_rate`` (b"" for text with nothing to say)."""
        if sample_rate < 4000 or sample_rate > 48000:
            raise ValueError(f"unsupported sample rate {sample_rate}")
        key = self._key(text, sample_rate)
        pcm = self._memory.get(key)
        if pcm is not None:
            return pcm
        path = self._disk_path(key)
        if path is not None and path.is_file():
            pcm = path.read_bytes()
        else:
            pcm = self._render(text, sample_rate)
        self._memory.put(key, pcm)
        return pcm

    def preload(self, texts: Iterable[str], sample_rates: Iterable[int] = (8000, 16000)) -> int:
        """Synthesise fixed prompts now and keep them on disk; returns how many were rendered."""
        rates = list(sample_rates)
        rendered = 0
        for text in texts:
            for rate in rates:
                key = self._key(text, rate)
                path = self._disk_path(key)
                if path is not None and path.is_file():
                    continue
                pcm = self._render(text, rate)
                rendered += 1
                self._memory.put(key, pcm)
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tts-")
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(pcm)
                    os.replace(tmp, path)
        return rendered


# --------------------------------------------------------------------------- registry


def _espeak_from_settings(settings: Any) -> TTSEngine:
    return EspeakTTS(
        voice=getattr(settings, "tts_voice", "cmn-latn-pinyin+f3"),
        speed=getattr(settings, "tts_speed", 175),
        cache_dir=getattr(settings, "cache_dir", None),
    )


TTS_ENGINES: dict[str, Callable[[Any], TTSEngine]] = {"espeak": _espeak_from_settings}
_loaded: dict[str, TTSEngine] = {}
_load_lock = threading.Lock()


def register_tts(name: str, factory: Callable[[Any], TTSEngine]) -> None:
    """Make ``factory(settings)`` available as ``HOTLINE_TTS_ENGINE=name``."""
    TTS_ENGINES[name] = factory


def _factory(name: str) -> Callable[[Any], TTSEngine]:
    if name in TTS_ENGINES:
        return TTS_ENGINES[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise TTSError(f"cannot load the TTS engine {name!r}: {exc}") from exc
    raise TTSError(
        f"unknown TTS engine {name!r}; known: {', '.join(sorted(TTS_ENGINES))}, "
        "or give package.module:factory"
    )


def load_tts(settings: Any) -> TTSEngine:
    """The TTS engine ``settings.tts_engine`` names, created once per name and shared."""
    name = settings.tts_engine
    with _load_lock:
        engine = _loaded.get(name)
        if engine is None:
            engine = _factory(name)(settings)
            log.info("TTS engine: %s", getattr(engine, "name", name))
            _loaded[name] = engine
        return engine
