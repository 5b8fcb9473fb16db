"""Choosing and loading the ASR engine, once per process.

``settings.asr_engine``:

* ``"vosk"``: Vosk with the model in ``settings.vosk_model_dir`` (an error when it is missing);
* ``"whisper"``: faster-whisper with ``settings.whisper_model_dir``, or by default Whisper-base
  joined from its two PyPI packages into ``<cache_dir>/models``;
* ``"auto"`` (default): Vosk when ``vosk_model_dir`` is set and holds a Vosk model, else
  Whisper. The choice and the reason are logged.

:func:`load_engine` returns the same engine object for the same configuration on every call
(models are large and loading takes seconds); engines are shared by all calls and threads —
each call opens its own recogniser with ``engine.recognizer(rate, phrases)``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from speech.engine import ASREngine
from speech.models import ModelError, is_vosk_model

log = logging.getLogger(__name__)

_engines: dict[tuple, ASREngine] = {}
_lock = threading.Lock()


def choose_engine(settings: Any) -> tuple[str, str]:
    """(engine name, reason) for ``settings`` without loading anything."""
    wanted = getattr(settings, "asr_engine", "auto")
    vosk_dir: Path | None = getattr(settings, "vosk_model_dir", None)
    if wanted in ("vosk", "whisper"):
        return wanted, f"HOTLINE_ASR_ENGINE={wanted}"
    if wanted != "auto":
        raise ModelError(f"unknown ASR engine {wanted!r} (auto, vosk or whisper)")
    if vosk_dir is not None and is_vosk_model(Path(vosk_dir)):
        return "vosk", f"auto: a Vosk model is installed in {vosk_dir}"
    if vosk_dir is not None:
        return "whisper", f"auto: {vosk_dir} holds no Vosk model, using the offline Whisper-base"
    return "whisper", "auto: no Vosk model configured, using the offline Whisper-base"


def _config_key(name: str, settings: Any) -> tuple:
    if name == "vosk":
        return ("vosk", str(settings.vosk_model_dir))
    return (
        "whisper",
        str(getattr(settings, "whisper_model_dir", None)),
        str(getattr(settings, "cache_dir", None)),
        getattr(settings, "asr_threads", 1),
        getattr(settings, "asr_decode_workers", 2),
        getattr(settings, "asr_beam_size", 5),
        getattr(settings, "asr_end_silence", 0.6),
        getattr(settings, "asr_partial_interval", 0.0),
        getattr(settings, "asr_compute_type", "int8"),
        getattr(settings, "asr_window", "utterance"),
        getattr(settings, "asr_max_batch", 4),
        getattr(settings, "asr_greedy_from", 2),
        getattr(settings, "asr_end_when_complete", True),
    )


def _build(name: str, settings: Any) -> ASREngine:
    if name == "vosk":
        from speech.asr_vosk import VoskEngine

        if getattr(settings, "vosk_model_dir", None) is None:
            raise ModelError(
                "HOTLINE_ASR_ENGINE=vosk needs HOTLINE_VOSK_MODEL_DIR (a Chinese Vosk model "
                "folder; `python -m speech.models vosk-cn` downloads one where the internet "
                "is reachable)"
            )
        engine = VoskEngine(Path(settings.vosk_model_dir))
        if engine.language not in (None, "zh"):
            log.warning(
                "the Vosk model in %s looks like a %r model, not Chinese",
                settings.vosk_model_dir,
                engine.language,
            )
        return engine
    from speech.asr_whisper import WhisperEngine

    cache = getattr(settings, "cache_dir", None)
    return WhisperEngine(
        model_dir=getattr(settings, "whisper_model_dir", None),
        cache_dir=Path(cache) / "models" if cache else None,
        cpu_threads=getattr(settings, "asr_threads", 1),
        decode_workers=getattr(settings, "asr_decode_workers", 2),
        beam_size=getattr(settings, "asr_beam_size", 5),
        end_silence=getattr(settings, "asr_end_silence", 0.6),
        partial_interval=getattr(settings, "asr_partial_interval", 0.0),
        compute_type=getattr(settings, "asr_compute_type", "int8"),
        window=getattr(settings, "asr_window", "utterance"),
        max_batch=getattr(settings, "asr_max_batch", 4),
        greedy_from=getattr(settings, "asr_greedy_from", 2),
        end_when_complete=getattr(settings, "asr_end_when_complete", True),
    )


def load_engine(settings: Any) -> ASREngine:
    """The ASR engine the settings choose, loaded on first use and shared afterwards."""
    name, reason = choose_engine(settings)
    key = _config_key(name, settings)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            log.info("ASR engine: %s (%s)", name, reason)
            engine = _build(name, settings)
            _engines[key] = engine
        return engine
