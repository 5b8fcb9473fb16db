"""The voice bench's call generator (bench/voice_latency.py) over WS /voice/ws, end to end: the
app served as the bench serves it, the real engines (the configured ASR, espeak-ng) and a
recorded Mandarin caller through an 8 kHz phone line. What the bench reports must be what the
callers got: an answered turn is reply audio the caller heard after speaking, the words it
scores are the call's recorded transcript, and a call past capacity is counted as refused."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from bench.asr_cer import RECORDINGS, load_utterances, phone_quality, read_recording
from bench.voice_latency import CannedHooks, Said, WebSocketPhones, level
from gateway.voice_lexicon import hotline_lexicon
from hotline.settings import Settings
from speech.calls import CallCenter
from speech.prompts import OVERFLOW
from speech.session import SessionConfig
from tests.conftest import unavailable

# A question of the ASR set (bench/data/asr_utterances.yml, recorded in bench/data/asr_audio).
SENTENCE = "请问社保卡丢了怎么补办"


def test_ws_calls_are_answered_recorded_and_refusals_counted(tmp_path: Path) -> None:
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        unavailable("espeak-ng and sox (apt-get install espeak-ng sox)")
    from speech.asr import load_engine
    from speech.tts import load_tts

    settings = Settings(
        var_dir=tmp_path,
        database_url="",
        redis_url=None,
        knowledge_preload=False,
        sla_scan_seconds=0,
        max_calls=1,
    )
    try:
        asr = load_engine(settings)
    except Exception as exc:  # no model or library: a missing service
        unavailable(f"the ASR engine ({exc})")
    tts = load_tts(settings)
    [utt] = [u for u in load_utterances(None) if u.text.rstrip("？?。") == SENTENCE]
    said = Said(utt.text, phone_quality(read_recording(RECORDINGS / f"{utt.id}.flac"), seed=0))
    hooks = CannedHooks()
    # One line: of two callers, one is served and one hears the overflow prompt (pressing
    # nothing, it goes to a person after the wait).
    config = SessionConfig(overflow_wait_seconds=2.0)
    center = CallCenter(config, 1, lambda: asr, lambda: tts, hooks, lexicon=hotline_lexicon())

    async def main() -> dict[str, Any]:
        async with asyncio.timeout(120):  # guards against a hang only
            await center.warm_up(rates=(8000,))
            phones = WebSocketPhones(center, settings, 0)  # any free port
            await phones.start()
            try:
                return await level(center, phones, 2, [said], 1, {})
            finally:
                await phones.stop()
                center.close()

    row = asyncio.run(main())
    assert (row["calls"], row["refused"]) == (2, 1)
    # The served caller heard the hotline's reply after speaking: one answered turn.
    assert (row["turns"], row["misses"]) == (1, 0)
    served = [o for o in hooks.outcomes if o.reason != "overflow"]
    refused = [o for o in hooks.outcomes if o.reason == "overflow"]
    assert [(o.outcome, o.channel) for o in refused] == [("transfer", "websocket")]
    assert refused[0].transcript[0]["text"] == OVERFLOW
    assert [(o.outcome, o.reason, o.channel) for o in served] == [("hangup", "caller", "websocket")]
    # What the caller said is in the call's transcript, recognised from the audio the
    # WebSocket carried (audio at the wrong rate or cut up would not be recognised), and the
    # CER scores it (Whisper-base hears "请问是保卡丢了怎么不办": 2 of 11 characters wrong).
    heard = [e["text"] for e in served[0].transcript if e.get("input") == "speech"]
    assert len(heard) == 1 and "丢了" in heard[0]
    assert row["cer"] < 0.5
