"""Voice messages without WeChat's own recognition: the AMR audio is downloaded through the
media API, decoded by sox (its amr-nb format, a Debian package the project already installs
for speech) and run through the product's ASR engine (speech/, the same as phone calls)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable

from speech.engine import ASREngine

RATE = 16000
SILENCE = b"\0\0" * RATE  # 1 s of silence after the speech: the recogniser's end of utterance


class VoiceUnavailable(Exception):
    """The audio could not be turned into text (no sox, not AMR, ...)."""


def decode_amr(audio: bytes) -> bytes:
    """AMR-NB (WeChat's voice format) → slin16 mono at 16 kHz."""
    if shutil.which("sox") is None:
        raise VoiceUnavailable("sox is not installed")
    done = subprocess.run(
        ["sox", "-q", "-t", "amr-nb", "-", "-t", "raw", "-e", "signed-integer", "-b", "16",
         "-c", "1", "-r", str(RATE), "-"],
        input=audio, capture_output=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0 or not done.stdout:
        raise VoiceUnavailable(f"not AMR audio: {done.stderr.decode(errors='replace')[:200]}")
    return done.stdout


def recognise(engine: ASREngine, pcm: bytes) -> str:
    """The whole message's text (every final result, in order). Blocking: run in a thread."""
    recognizer = engine.recognizer(RATE)
    results = []
    step = RATE // 50 * 2  # 20 ms frames, as the phone transports feed it
    audio = pcm + SILENCE
    for start in range(0, len(audio), step):
        results += recognizer.accept(audio[start : start + step])
    results += recognizer.finish()
    return "".join(r.text for r in results if r.final).strip()


async def transcribe(audio: bytes, engine: Callable[[], ASREngine]) -> str:
    pcm = await asyncio.to_thread(decode_amr, audio)
    return await asyncio.to_thread(lambda: recognise(engine(), pcm))
