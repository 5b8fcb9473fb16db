"""The AudioSocket listener with a real TCP client playing Asterisk's side of AudioSocket().

Engines and bot are the scripted doubles of tests/speech/doubles.py; framing, concurrency,
refusal, malformed frames and disconnects are real.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

import pytest

from speech.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_ID,
    AudioSocketServer,
    frame,
)
from speech.calls import CallCenter
from speech.lexicon import Lexicon
from speech.prompts import BUSY, GREETING, OVERFLOW, OVERFLOW_CALLBACK
from speech.session import BotReply, CallOutcome, SessionConfig
from tests.speech.doubles import LengthTTS, MemoryHooks, ScriptedASR, ScriptedBot, tone

CONFIG = SessionConfig(
    no_input_seconds=2.0, dtmf_zero_seconds=0.2, max_call_seconds=60, overflow_wait_seconds=1.0
)
TTS_MS_PER_CHAR = 5


class Asterisk:
    """Asterisk's end of one AudioSocket() call: sends the UUID, audio, DTMF, hang-up."""

    def __init__(self, port: int, call_id: str | None = None) -> None:
        self.port = port
        self.call_id = call_id or str(uuid.uuid4())
        self.audio = bytearray()
        self.frame_sizes: set[int] = set()
        self.hung_up = asyncio.Event()  # the server sent 0x00
        self.closed = asyncio.Event()  # the server closed the connection
        self._audio_seen = asyncio.Event()

    async def connect(self, send_id: bool = True) -> Asterisk:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        if send_id:
            await self.send(frame(KIND_ID, uuid.UUID(self.call_id).bytes))
        self._reading = asyncio.create_task(self._read())
        return self

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def speak(self, pcm: bytes) -> None:
        for i in range(0, len(pcm), 320):
            await self.send(frame(KIND_AUDIO, pcm[i : i + 320]))

    async def dtmf(self, key: str) -> None:
        await self.send(frame(KIND_DTMF, key.encode()))

    async def hangup(self) -> None:
        await self.send(frame(KIND_HANGUP))

    def abort(self) -> None:
        self.writer.transport.abort()

    async def heard(self, seconds: float) -> None:
        """Until at least `seconds` of audio came from the server."""
        while len(self.audio) < seconds * 16000:
            self._audio_seen.clear()
            await self._audio_seen.wait()

    async def _read(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(3)
                kind, length = header[0], int.from_bytes(header[1:], "big")
                payload = await self.reader.readexactly(length)
                if kind == KIND_AUDIO:
                    self.audio += payload
                    self.frame_sizes.add(length)
                    self._audio_seen.set()
                elif kind == KIND_HANGUP:
                    self.hung_up.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed.set()


class Rig:
    def __init__(
        self,
        max_calls: int = 4,
        bot: Callable[[], ScriptedBot] | None = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.asr = ScriptedASR()
        self.tts = LengthTTS(TTS_MS_PER_CHAR)
        self.hooks = MemoryHooks(bot)
        self.center = CallCenter(
            CONFIG, max_calls, lambda: self.asr, lambda: self.tts, self.hooks, lexicon=lexicon
        )
        self.server = AudioSocketServer(self.center, "127.0.0.1", 0)

    async def call(self, call_id: str | None = None) -> Asterisk:
        return await Asterisk(self.server.port, call_id).connect()

    async def outcome(self, call_id: str) -> CallOutcome:
        while True:
            for outcome in self.hooks.outcomes:
                if outcome.call_id == call_id:
                    return outcome
            self.hooks.ended.clear()
            await self.hooks.ended.wait()


def run(test: Callable[[Rig], Awaitable[None]], rig: Rig | None = None) -> Rig:
    rig = rig or Rig()

    async def main() -> None:
        await rig.server.start()
        try:
            async with asyncio.timeout(30):  # guards against a hang only
                await test(rig)
        finally:
            await rig.server.stop()
            rig.center.close()

    asyncio.run(main())
    return rig


GREETING_SECONDS = len(GREETING) * TTS_MS_PER_CHAR / 1000


def test_a_call_talks_both_ways_and_zero_transfers_it() -> None:
    async def test(rig: Rig) -> None:
        call_id = str(uuid.uuid4())
        rig.hooks.callers[call_id] = "13912345678"  # registered by the dialplan beforehand
        pbx = await rig.call(call_id)
        await pbx.heard(GREETING_SECONDS)
        rig.asr.hear("我想咨询公积金")
        await pbx.speak(tone(200))
        reply = "您说了我想咨询公积金。"
        await pbx.heard(GREETING_SECONDS + len(reply) * TTS_MS_PER_CHAR / 1000)
        await pbx.dtmf("0")
        await pbx.hung_up.wait()  # the server ends AudioSocket(): the dialplan continues
        await pbx.closed.wait()
        outcome = await rig.outcome(call_id)
        assert (outcome.outcome, outcome.reason, outcome.queue) == ("transfer", "dtmf_0", "12345")
        assert outcome.channel == "audiosocket"
        assert outcome.caller_number == "13912345678"
        bot = rig.hooks.bots[call_id]
        assert bot.texts == ["我想咨询公积金", "0"]  # the bot's triage decided the transfer
        assert bot.turns[0][1]["caller_number"] == "13912345678"
        assert pbx.frame_sizes == {320}  # 20 ms of 8 kHz slin16 each
        assert rig.asr.heard_bytes == len(tone(200))

    run(test)


def test_every_call_corrects_transcripts_with_the_call_centres_lexicon() -> None:
    built: list[int] = []

    def vocabulary() -> Callable[[str], str]:
        built.append(1)
        return lambda text: text.replace("工单的进读", "工单的进度")

    async def test(rig: Rig) -> None:
        for _ in range(2):
            pbx = await rig.call()
            await pbx.heard(GREETING_SECONDS)
            rig.asr.hear("我想查一下工单的进读")
            await pbx.speak(tone(200))
            while pbx.call_id not in rig.hooks.bots or not rig.hooks.bots[pbx.call_id].texts:
                await asyncio.sleep(0.01)
            await pbx.hangup()
            await rig.outcome(pbx.call_id)
            assert rig.hooks.bots[pbx.call_id].texts == ["我想查一下工单的进度"]

    run(test, Rig(lexicon=Lexicon(vocabulary)))
    assert built == [1]  # once per call centre, not per call


def test_hangup_frame_ends_the_call() -> None:
    async def test(rig: Rig) -> None:
        pbx = await rig.call()
        await pbx.heard(0.1)
        await pbx.hangup()
        await pbx.closed.wait()
        outcome = await rig.outcome(pbx.call_id)
        assert (outcome.outcome, outcome.reason) == ("hangup", "caller")
        assert not pbx.hung_up.is_set()  # nothing to hang up: the caller already did
        assert rig.center.active == 0

    run(test)


def test_abrupt_disconnect_mid_frame_is_a_hangup() -> None:
    async def test(rig: Rig) -> None:
        pbx = await rig.call()
        await pbx.heard(0.1)
        await pbx.send(frame(KIND_AUDIO, b"\0" * 320)[:100])  # half a frame, then gone
        pbx.abort()
        outcome = await rig.outcome(pbx.call_id)
        assert (outcome.outcome, outcome.reason) == ("hangup", "disconnect")
        assert rig.center.active == 0

    run(test)


@pytest.mark.parametrize(
    "bad",
    [
        bytes([0x42, 0, 1, 0]),  # unknown kind
        frame(KIND_AUDIO, b"\0" * 321),  # half a sample
        bytes([KIND_AUDIO, 0xFF, 0xFF]),  # 64 KiB of audio announced
        frame(KIND_DTMF, b"12"),  # two digits in one DTMF frame
        frame(KIND_DTMF, b"x"),  # not a key
        frame(KIND_ID, uuid.uuid4().bytes),  # a second UUID
    ],
    ids=["unknown-kind", "odd-audio", "oversized", "dtmf-length", "dtmf-key", "second-uuid"],
)
def test_malformed_frame_closes_only_that_call(
    bad: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def test(rig: Rig) -> None:
        good, broken = await rig.call(), await rig.call()
        await broken.heard(0.1)
        await broken.send(bad)
        await broken.closed.wait()
        outcome = await rig.outcome(broken.call_id)
        assert (outcome.outcome, outcome.reason) == ("hangup", "protocol_error")
        # The other call goes on: it is still heard and answered.
        rig.asr.hear("你好")
        await good.speak(tone(100))
        await rig.hooks.bots[good.call_id].entered.wait()
        assert rig.hooks.bots[good.call_id].texts == ["你好"]
        assert not good.closed.is_set()
        await good.hangup()
        await good.closed.wait()

    with caplog.at_level(logging.WARNING, logger="speech.audiosocket"):
        run(test)
    assert any("malformed" in r.getMessage() for r in caplog.records)


def test_a_connection_without_uuid_first_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    async def test(rig: Rig) -> None:
        pbx = await Asterisk(rig.server.port).connect(send_id=False)
        await pbx.speak(tone(40))
        await pbx.closed.wait()
        assert rig.hooks.outcomes == [] and rig.center.active == 0

    with caplog.at_level(logging.WARNING, logger="speech.audiosocket"):
        run(test)
    assert any("no call UUID" in r.getMessage() for r in caplog.records)


def test_calls_past_capacity_are_told_and_offered_a_call_back_or_a_person() -> None:
    async def test(rig: Rig) -> None:
        first, second = await rig.call(), await rig.call()
        await first.heard(0.1)
        await second.heard(0.1)
        # The third caller (number registered by the dialplan) presses 1: a call-back order.
        third_id = str(uuid.uuid4())
        rig.hooks.callers[third_id] = "13912345678"
        third = await rig.call(third_id)
        await third.heard(len(OVERFLOW) * TTS_MS_PER_CHAR / 1000)  # told at once, no silence
        await third.dtmf("1")
        await third.hung_up.wait()
        back = await rig.outcome(third_id)
        assert (back.outcome, back.reason, back.work_order) == (
            "refused",
            "callback",
            "20261207-0001",
        )
        assert rig.hooks.callbacks == [(third_id, "13912345678")]
        assert OVERFLOW_CALLBACK.format(number="20261207-0001") in [
            t["text"] for t in back.transcript
        ]
        # The fourth presses nothing: after the wait a person takes the call.
        fourth = await rig.call()
        await fourth.hung_up.wait()
        queued = await rig.outcome(fourth.call_id)
        assert (queued.outcome, queued.reason, queued.queue) == ("transfer", "overflow", "12345")
        assert rig.tts.texts.count(BUSY) == 0 and rig.asr.recognizers == 2
        # The two calls up are unaffected, and a freed line takes the next call.
        await first.hangup()
        await rig.outcome(first.call_id)
        fifth = await rig.call()
        await fifth.heard(GREETING_SECONDS)
        assert not fifth.hung_up.is_set()
        assert rig.center.active == 2

    run(test, Rig(max_calls=2))


def test_a_full_process_hands_a_call_back_to_the_dialplan_when_another_follows() -> None:
    async def test(rig: Rig) -> None:
        first = await rig.call()
        await first.heard(0.1)
        passed_id = str(uuid.uuid4())
        rig.hooks.pass_on.add(passed_id)  # registered with pass_on=1 by the dialplan
        passed = await rig.call(passed_id)
        await passed.hung_up.wait()  # at once, without a word: the next process will answer
        outcome = await rig.outcome(passed_id)
        assert (outcome.outcome, outcome.reason) == ("refused", "full")
        assert len(passed.audio) == 0 and OVERFLOW not in rig.tts.texts
        assert rig.center.active == 1 and rig.center.overflowing == 0

    run(test, Rig(max_calls=1))


def test_the_bot_ending_the_call_hangs_up_audiosocket() -> None:
    def bot() -> ScriptedBot:
        return ScriptedBot(lambda text: BotReply([{"text": "再见"}], intent="goodbye"))

    async def test(rig: Rig) -> None:
        pbx = await rig.call()
        await pbx.heard(GREETING_SECONDS)
        rig.asr.hear("没有了，再见")
        await pbx.speak(tone(100))
        await pbx.hung_up.wait()
        await pbx.closed.wait()
        outcome = await rig.outcome(pbx.call_id)
        assert (outcome.outcome, outcome.reason) == ("completed", "goodbye")
        assert len(pbx.audio) >= (len(GREETING) + 3) * TTS_MS_PER_CHAR * 16  # goodbye heard

    run(test, Rig(bot=bot))


def test_stopping_the_server_ends_calls_as_hangups() -> None:
    async def test(rig: Rig) -> None:
        pbx = await rig.call()
        await pbx.heard(0.1)
        await rig.server.stop()
        await pbx.closed.wait()
        outcome = await rig.outcome(pbx.call_id)
        assert (outcome.outcome, outcome.reason) == ("hangup", "server_stop")

    run(test)
