"""Calls over AudioSocket with the real engines: the configured ASR (offline: faster-whisper) and
TTS (espeak-ng). The caller's voice is the TTS itself, so what is recognised is not asserted
word for word (docs/voice.md: synthetic Mandarin at 8 kHz is hard); what a caller would notice
is: the hotline answers what was said, stops talking when interrupted, and reads numbers back.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from hotline.settings import Settings
from speech.calls import CallCenter
from speech.engine import ASREngine, TTSEngine
from speech.prompts import GREETING
from speech.session import SessionConfig
from tests.conftest import unavailable
from tests.speech.doubles import MemoryHooks, silence
from tests.speech.test_audiosocket import Asterisk

CONFIG = SessionConfig(no_input_seconds=8.0, max_call_seconds=120)


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[ASREngine, TTSEngine]]:
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        unavailable("espeak-ng and sox (apt-get install espeak-ng sox)")
    from speech.asr import load_engine
    from speech.tts import load_tts

    settings = Settings()
    try:
        asr = load_engine(settings)
    except Exception as exc:  # no model or library: a missing service
        unavailable(f"the ASR engine ({exc})")
    yield asr, load_tts(settings)


def run_call(engines: tuple[ASREngine, TTSEngine], script) -> MemoryHooks:  # type: ignore[no-untyped-def]
    asr, tts = engines
    hooks = MemoryHooks()

    async def main() -> None:
        from speech.audiosocket import AudioSocketServer

        center = CallCenter(CONFIG, 2, lambda: asr, lambda: tts, hooks)
        server = AudioSocketServer(center, "127.0.0.1", 0)
        await server.start()
        try:
            async with asyncio.timeout(120):  # guards against a hang only
                pbx = await Asterisk(server.port).connect()
                await script(pbx, tts)
                await pbx.hangup()
                await pbx.closed.wait()
                await hooks.ended.wait()
        finally:
            await server.stop()
            center.close()

    asyncio.run(main())
    return hooks


async def stream(pbx: Asterisk, pcm: bytes) -> None:
    """Send audio in real time, 20 ms frames, as Asterisk does."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, offset in enumerate(range(0, len(pcm), 320)):
        await pbx.speak(pcm[offset : offset + 320].ljust(320, b"\0"))
        await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))


def greeting_seconds(tts: TTSEngine) -> float:
    return len(tts.synthesize(GREETING, 8000)) / 16000


def test_the_hotline_answers_what_the_caller_says(engines) -> None:  # type: ignore[no-untyped-def]
    async def script(pbx: Asterisk, tts: TTSEngine) -> None:
        await pbx.heard(greeting_seconds(tts))
        await stream(pbx, tts.synthesize("我想咨询一下公积金怎么提取", 8000) + silence(1500))
        heard = len(pbx.audio)
        while len(pbx.audio) == heard:  # the answer (or a read-back of what was heard) comes
            await stream(pbx, silence(200))

    hooks = run_call(engines, script)
    outcome = hooks.outcomes[0]
    caller = [e for e in outcome.transcript if e["who"] == "caller"]
    assert caller and caller[0]["text"] and 0 <= caller[0]["confidence"] <= 1
    said_after = [
        e for e in outcome.transcript if e["who"] != "caller" and e["at"] >= caller[0]["at"]
    ]
    assert said_after, "nothing was said after the caller spoke"
    bot = hooks.bots[outcome.call_id]
    if bot.turns:  # confident enough: sent as said, with the timings of the speech
        timing = bot.turns[0][1]["call"]
        assert timing["speech_end_s"] > timing["speech_start_s"] > greeting_seconds(engines[1]) - 1
    else:  # not confident: read back for confirmation
        assert said_after[0]["text"].startswith("您说的是")


def test_speaking_over_the_greeting_stops_it(engines) -> None:  # type: ignore[no-untyped-def]
    async def script(pbx: Asterisk, tts: TTSEngine) -> None:
        await pbx.heard(1.0)
        await stream(pbx, tts.synthesize("我要投诉", 8000) + silence(500))

    hooks = run_call(engines, script)
    greeting = hooks.outcomes[0].transcript[0]
    assert greeting["text"] == GREETING and greeting["barged_in"] is True
    assert greeting["audio_end"] - greeting["audio_start"] < greeting_seconds(engines[1]) / 2
