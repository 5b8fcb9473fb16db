"""The call-session state machine, driven like a caller would: speech, silence, keys, hang-up.

The recogniser, TTS and bot are scripted doubles (tests/speech/doubles.py) so each rule of the
dialogue can be produced on demand; prompts are short and timeouts small so the calls are quick.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from speech.lexicon import Lexicon
from speech.playback import split_sentences
from speech.prompts import BOT_DOWN, GREETING, REPROMPTS, SAY_AGAIN, TRANSFER
from speech.session import BotReply, CallOutcome, CallSession, SessionConfig
from speech.yes_no import yes_or_no
from tests.speech.doubles import (
    ANSWER,
    PERSON,
    LengthTTS,
    RecordingTransport,
    ScriptedASR,
    ScriptedBot,
    emergency,
    handoff,
    silence,
    tone,
)

FAST = SessionConfig(no_input_seconds=0.3, dtmf_zero_seconds=0.2, max_call_seconds=60)


class Call:
    """One session under test with its doubles."""

    def __init__(
        self,
        bot: ScriptedBot | None = None,
        config: SessionConfig = FAST,
        tts: LengthTTS | None = None,
        normalize: Callable[[str], str] | None = None,
    ) -> None:
        self.asr = ScriptedASR()
        self.tts = tts or LengthTTS()
        self.bot = bot or ScriptedBot()
        self.transport = RecordingTransport()
        self.marks: dict[str, Any] = {}
        self.session = CallSession(
            "call-1",
            self.transport,
            self.asr,
            self.tts,
            self.bot,
            config,
            caller_number="13912345678",
            normalize=normalize,
        )

    async def say(self, text: str, confidence: float = 0.9) -> None:
        """The caller says something: audio goes in and the recogniser hears `text`."""
        self.asr.hear(text, confidence)
        await self.session.audio(tone(60))

    async def keys(self, keys: str) -> None:
        for key in keys:
            self.session.dtmf(key)

    async def answered(self, count: int) -> None:
        """Until the bot has had `count` turns and the session listens again."""
        await self.transport.wait(lambda: len(self.bot.turns) >= count)


def run_call(
    script: Callable[[Call], Awaitable[None]], call: Call | None = None
) -> tuple[Call, CallOutcome]:
    call = call or Call()

    async def main() -> CallOutcome:
        runner = asyncio.create_task(call.session.run())
        try:
            async with asyncio.timeout(30):  # guards against a hang only
                await script(call)
                return await runner
        finally:
            runner.cancel()

    return call, asyncio.run(main())


async def until_listening(call: Call, count: int = 1) -> None:
    await call.transport.wait_state("listening", count)


# --------------------------------------------------------------------------------------------
# Text rules


def test_yes_and_no_answers() -> None:
    assert yes_or_no("对。") == (True, "")
    assert yes_or_no("是的") == (True, "")
    assert yes_or_no("不对") == (False, "")
    assert yes_or_no("不对，是13812345679") == (False, "13812345679")
    assert yes_or_no("不是的") == (False, "")
    assert yes_or_no("我想问一下公积金") == (None, "")


def test_replies_are_spoken_in_sentence_pieces() -> None:
    assert split_sentences("您好。请问有什么可以帮您？我们全天二十四小时服务。") == [
        "您好。请问有什么可以帮您？",  # a short sentence goes with the next
        "我们全天二十四小时服务。",
    ]
    assert split_sentences("您说的号码是：幺三八，幺二三四，五六七八。对吗？") == [
        "您说的号码是：幺三八，幺二三四，五六七八。对吗？"
    ]


class GatedTTS(LengthTTS):
    """Text with the reply's second sentence waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        if "第二句" in text:
            self.gate.wait(20)
        return super().synthesize(text, sample_rate)


def test_a_long_reply_starts_playing_before_it_is_all_synthesised() -> None:
    tts = GatedTTS()
    reply = "第一句是这样的回答。第二句还有更多内容。"
    bot = ScriptedBot(lambda text: BotReply([{"text": reply}]))

    async def script(call: Call) -> None:
        await until_listening(call)
        greeting_frames = len(call.transport.frames)
        await call.say("请问")
        await call.answered(1)
        await call.transport.wait_state("speaking", 2)
        await call.transport.wait(lambda: len(call.transport.frames) > greeting_frames)
        call.marks["first_piece_frames"] = len(call.transport.frames) - greeting_frames
        tts.gate.set()
        await until_listening(call, 2)
        call.marks["all_frames"] = len(call.transport.frames) - greeting_frames
        call.session.hangup()

    call, _ = run_call(script, Call(bot, tts=tts))
    assert call.marks["first_piece_frames"] > 0  # heard while the second sentence waited
    assert call.marks["all_frames"] == pytest.approx(len(reply) * 5 / 20, abs=2)


# --------------------------------------------------------------------------------------------
# A plain call


def test_caller_speaks_bot_answers_then_caller_hangs_up() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("公积金怎么提取")
        await call.answered(1)
        await call.transport.wait_said("您说了公积金怎么提取")
        await until_listening(call, 2)
        call.session.hangup()

    call, outcome = run_call(script)
    assert call.transport.said()[0] == GREETING
    text, metadata = call.bot.turns[0]
    assert text == "公积金怎么提取"
    assert metadata["caller_number"] == "13912345678"
    assert metadata["call_id"] == "call-1"
    assert metadata["input"] == "speech"
    assert metadata["asr_confidence"] == 0.9
    assert metadata["call"]["turn"] == 1
    assert metadata["call"]["previous_prompt"]["text"] == GREETING
    # The greeting and the reply went out as audio: 20 ms frames at 8 kHz.
    assert call.transport.frames and all(len(f) == 320 for f in call.transport.frames)
    played = len(call.transport.frames) * 0.02
    expected = (len(GREETING) + len("您说了公积金怎么提取。")) * 0.005
    assert played == pytest.approx(expected, abs=0.05)
    assert (outcome.outcome, outcome.reason, outcome.queue) == ("hangup", "caller", None)
    who = [(e["who"], e["text"]) for e in outcome.transcript]
    assert who == [
        ("ivr", GREETING),
        ("caller", "公积金怎么提取"),
        ("bot", "您说了公积金怎么提取。"),
    ]
    assert outcome.transcript[2]["audio_end"] >= outcome.transcript[2]["audio_start"]


def test_the_bot_gets_the_transcript_with_misheard_hotline_words_corrected() -> None:
    # The vocabulary is the caller's (the gateway's, tests/speech/test_lexicon.py); a stand-in here.
    lexicon = Lexicon(lambda: lambda text: text.replace("以保暴销", "医保报销"))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("以保暴销的比例是多少")  # Whisper-base on a recording of 医保报销…
        await call.answered(1)
        call.session.hangup()

    call, outcome = run_call(script, Call(normalize=lexicon.transcript_for_bot))
    assert call.bot.turns[0][0] == "医保报销的比例是多少"
    assert ("caller", "医保报销的比例是多少") in [(e["who"], e["text"]) for e in outcome.transcript]


def test_goodbye_completes_the_call() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "感谢来电，再见"}], intent="goodbye"))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("没有了再见")

    call, outcome = run_call(script, Call(bot))
    assert (outcome.outcome, outcome.reason) == ("completed", "goodbye")
    assert call.transport.said()[-1] == "感谢来电，再见。"


# --------------------------------------------------------------------------------------------
# No input


def test_silence_gets_two_reprompts_then_a_person() -> None:
    messages = [{"text": "好的，正在为您转接话务员，请稍候。"}, {"text": "请问电话？"}]
    bot = ScriptedBot(
        lambda text: BotReply(messages, intent="request_human", decision=handoff("asked"))
    )

    async def script(call: Call) -> None:
        await call.session.audio(silence(200))  # an open line, nobody speaking

    call, outcome = run_call(script, Call(bot))
    assert call.transport.said() == [
        GREETING,
        REPROMPTS[0],
        REPROMPTS[1],
        "好的，正在为您转接话务员，请稍候。",  # only the transfer line, not the chat form
    ]
    assert call.bot.texts == ["/request_human"]
    assert call.bot.turns[0][1]["call"]["reason"] == "no_input"
    assert (outcome.outcome, outcome.reason, outcome.queue) == ("transfer", "asked", "12345")


def test_silence_after_the_bot_kept_the_call_ends_it() -> None:
    # The bot may answer "/request_human" without a transfer (e.g. a callback form).
    bot = ScriptedBot(lambda text: BotReply([{"text": "请问您的联系电话是多少？"}]))

    async def script(call: Call) -> None:
        pass

    call, outcome = run_call(script, Call(bot, SessionConfig(no_input_seconds=0.2)))
    assert call.bot.texts == ["/request_human"]
    assert call.transport.said()[-1].startswith("很抱歉，一直没有听到您的声音")
    assert (outcome.outcome, outcome.reason) == ("completed", "no_input")


def test_speech_keeps_the_silence_timer_from_firing() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        # Talking for longer than the no-input time, without a result yet: no reprompt.
        for _ in range(12):
            await call.session.audio(tone(60))
            await asyncio.sleep(0.06)
        await call.say("我要投诉噪音")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert REPROMPTS[0] not in call.transport.said()
    assert call.bot.texts == ["我要投诉噪音"]


def test_a_slow_recogniser_result_is_waited_for_not_reprompted() -> None:
    config = SessionConfig(no_input_seconds=1.0, max_call_seconds=60)

    async def script(call: Call) -> None:
        await until_listening(call)
        call.asr.hear("…", final=False)  # the recogniser heard speech start
        await call.session.audio(tone(300))
        await asyncio.sleep(1.4)  # the caller stopped; decoding takes longer than the timeout
        await call.say("我要投诉噪音")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script, Call(config=config))
    assert REPROMPTS[0] not in call.transport.said()
    assert call.bot.texts == ["我要投诉噪音"]


# --------------------------------------------------------------------------------------------
# Barge-in


def test_caller_speech_stops_the_prompt() -> None:
    slow = LengthTTS(ms_per_char=60)  # the greeting plays for about 3 s

    async def script(call: Call) -> None:
        await call.transport.wait_state("speaking")
        await asyncio.sleep(0.3)
        await call.session.audio(tone(300))  # speech energy: the caller talks over it
        await call.transport.wait(lambda: {"type": "clear"} in call.transport.events)
        await call.say("我要反映问题")
        await call.answered(1)
        call.session.hangup()

    call, outcome = run_call(script, Call(tts=slow))
    greeting_frames = len(GREETING) * 60 // 20
    assert len(call.transport.frames) < greeting_frames / 2
    assert outcome.transcript[0]["barged_in"] is True
    assert call.bot.texts == ["我要反映问题"]


def test_a_partial_result_stops_the_prompt() -> None:
    slow = LengthTTS(ms_per_char=60)

    async def script(call: Call) -> None:
        await call.transport.wait_state("speaking")
        call.asr.hear("我想", final=False)
        await call.session.audio(silence(40))  # quiet speech: only the recogniser notices
        await call.transport.wait(lambda: {"type": "clear"} in call.transport.events)
        call.session.hangup()

    call, _ = run_call(script, Call(tts=slow))
    assert len(call.transport.frames) < len(GREETING) * 60 // 20 / 2


def test_a_key_stops_the_prompt_and_counts() -> None:
    slow = LengthTTS(ms_per_char=60)

    async def script(call: Call) -> None:
        await call.transport.wait_state("speaking")
        await call.keys("0")

    call, outcome = run_call(script, Call(tts=slow))
    assert {"type": "clear"} in call.transport.events
    assert call.bot.texts == ["0"]
    assert (outcome.outcome, outcome.reason) == ("transfer", "dtmf_0")


# --------------------------------------------------------------------------------------------
# DTMF


def test_zero_goes_to_the_bot_and_its_handoff_decision_transfers() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.keys("0")

    call, outcome = run_call(script)
    assert call.bot.texts == ["0"]
    metadata = call.bot.turns[0][1]
    assert (metadata["input"], metadata["dtmf"]) == ("dtmf", "0")
    assert call.transport.said()[-1] == PERSON  # the transfer line, not the callback form
    assert (outcome.outcome, outcome.reason, outcome.queue) == ("transfer", "dtmf_0", "12345")


def test_zero_without_a_handoff_decision_keeps_the_call() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "请问您要咨询什么问题？"}], decision=ANSWER))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.keys("0")
        await call.answered(1)
        await until_listening(call, 2)
        call.session.hangup()

    call, outcome = run_call(script, Call(bot))
    assert call.bot.texts == ["0"]
    assert call.transport.said()[-1] == "请问您要咨询什么问题？"
    assert outcome.outcome == "hangup"


def test_zero_works_while_the_line_is_noisy() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.keys("0")
        for _ in range(30):  # background noise loud enough to count as voice, throughout
            if call.bot.turns:
                break
            await call.session.audio(tone(100))
            await asyncio.sleep(0.1)

    call, outcome = run_call(script)
    assert call.bot.texts == ["0"]
    assert outcome.outcome == "transfer"


def test_zero_with_the_bot_down_still_transfers_with_the_standard_line() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "抱歉"}], error="rasa timed out"))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.keys("0#")

    call, outcome = run_call(script, Call(bot))
    assert call.bot.texts == ["0"]
    assert call.transport.said()[-1] == TRANSFER
    assert (outcome.outcome, outcome.reason) == ("transfer", "bot_unavailable")


def test_typed_digits_with_hash_go_to_the_bot_without_confirmation() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.keys("13812345678#")
        await call.answered(1)
        await until_listening(call, 2)
        call.session.hangup()

    call, _ = run_call(script)
    assert call.bot.texts == ["13812345678"]
    assert call.bot.turns[0][1]["input"] == "dtmf"
    assert {"type": "final", "text": "13812345678", "confidence": 1.0, "input": "dtmf"} in (
        call.transport.events
    )


def test_a_landline_may_start_with_zero() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.keys("057188123456#")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert call.bot.texts == ["057188123456"]


def test_star_repeats_the_last_reply() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("公积金")
        await call.answered(1)
        await until_listening(call, 2)
        await call.keys("*")
        await until_listening(call, 3)
        call.session.hangup()

    call, _ = run_call(script)
    assert call.transport.said()[-2:] == ["您说了公积金。", "您说了公积金。"]
    assert len(call.bot.turns) == 1


# --------------------------------------------------------------------------------------------
# Confirmations


def test_low_confidence_is_confirmed_by_voice() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("我要查社保", confidence=0.3)
        await call.transport.wait_state("confirming")
        await call.say("对")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert "您说的是：我要查社保。对吗？" in call.transport.said()[1]
    assert call.bot.texts == ["我要查社保"]
    assert call.bot.turns[0][1]["asr_confidence"] == 0.3


def test_low_confidence_rejected_by_key_2_then_said_again() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("我要查设备", confidence=0.3)
        await call.transport.wait_state("confirming")
        await call.keys("2")
        await call.transport.wait_said(SAY_AGAIN)
        await until_listening(call, 2)
        await call.say("我要查社保", confidence=0.95)
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert call.bot.texts == ["我要查社保"]


def test_low_confidence_replaced_by_typed_digits() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("幺三八什么", confidence=0.2)
        await call.transport.wait_state("confirming")
        await call.keys("2")
        await call.transport.wait_said(SAY_AGAIN)
        await call.keys("13812345678#")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert call.bot.texts == ["13812345678"]


def test_a_spoken_phone_number_is_read_back_digit_by_digit_and_confirmed() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("我的电话是幺三八 幺二三四 五六七八", confidence=0.95)
        await call.transport.wait_state("confirming")
        await call.keys("1")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert "您说的号码是：138 1234 5678。对吗？" in call.transport.said()[1]
    assert any("幺三八，幺二三四，五六七八" in t for t in call.tts.texts)  # what the caller hears
    assert call.bot.texts == ["我的电话是13812345678"]


def test_a_wrong_number_is_corrected_in_one_breath() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("我的电话是13812345678")
        await call.transport.wait_state("confirming")
        await call.say("不对，是13812345679")
        await call.transport.wait_state("confirming", 2)
        await call.say("对的")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert "您说的号码是：138 1234 5679。" in call.transport.said()[2]
    assert call.bot.texts == ["13812345679"]


def test_a_new_request_during_confirmation_is_taken_as_new() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("查社保", confidence=0.3)
        await call.transport.wait_state("confirming")
        await call.say("我想问公积金怎么提取", confidence=0.9)
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    assert call.bot.texts == ["我想问公积金怎么提取"]


# --------------------------------------------------------------------------------------------
# Hand-over and failures


def test_bot_handing_over_transfers_the_call() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "已为您转接"}], state="human"))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("我要找人工")

    call, outcome = run_call(script, Call(bot))
    assert (outcome.outcome, outcome.reason) == ("transfer", "bot_handoff")
    assert call.transport.said()[-1] == "已为您转接。"


def test_an_emergency_decision_speaks_the_whole_guidance_then_transfers() -> None:
    guidance = [
        {"text": "情况紧急，请马上挂断电话，拨打幺幺零。"},
        {"text": "我们已登记紧急工单，话务员会马上跟进。"},
    ]
    bot = ScriptedBot(lambda text: BotReply(guidance, intent="fight", decision=emergency("110")))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("有人打架")

    call, outcome = run_call(script, Call(bot))
    assert (outcome.outcome, outcome.reason) == ("transfer", "emergency")
    assert call.transport.said()[-1] == (
        "情况紧急，请马上挂断电话，拨打幺幺零。我们已登记紧急工单，话务员会马上跟进。"
    )
    assert outcome.transcript[-1]["audio_end"] > outcome.transcript[-1]["audio_start"]


def test_a_handoff_decision_transfers_with_its_reason_after_the_first_message() -> None:
    messages = [{"text": "好的，马上为您转接。"}, {"text": "请问您的联系电话？"}]
    bot = ScriptedBot(lambda text: BotReply(messages, intent="complain", decision=handoff("asked")))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("我要找你们领导")

    call, outcome = run_call(script, Call(bot))
    assert (outcome.outcome, outcome.reason, outcome.queue) == ("transfer", "asked", "12345")
    assert call.transport.said()[-1] == "好的，马上为您转接。"
    assert not any("联系电话" in s for s in call.transport.said())


def test_the_intent_alone_never_transfers() -> None:
    # NLU thought "request_human", but triage answered the question: the call goes on.
    bot = ScriptedBot(
        lambda text: BotReply(
            [{"text": "人工服务时间是工作日。"}], intent="request_human", decision=ANSWER
        )
    )

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("人工服务几点上班")
        await call.answered(1)
        await until_listening(call, 2)
        call.session.hangup()

    call, outcome = run_call(script, Call(bot))
    assert call.transport.said()[-1] == "人工服务时间是工作日。"
    assert (outcome.outcome, outcome.reason) == ("hangup", "caller")


def test_an_emergency_intent_without_a_decision_does_not_transfer() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "请问具体是什么情况？"}], intent="emergency"))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("着火了吗")
        await call.answered(1)
        await until_listening(call, 2)
        call.session.hangup()

    _, outcome = run_call(script, Call(bot))
    assert outcome.outcome == "hangup"


def test_bot_down_apologises_and_transfers() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "抱歉"}], error="rasa unreachable"))

    async def script(call: Call) -> None:
        await until_listening(call)
        await call.say("你好")

    call, outcome = run_call(script, Call(bot))
    assert call.transport.said()[-1] == BOT_DOWN
    assert (outcome.outcome, outcome.reason) == ("transfer", "bot_unavailable")


def test_hang_up_during_a_bot_turn_lets_the_turn_finish_and_says_nothing_more() -> None:
    bot = ScriptedBot(lambda text: BotReply([{"text": "请问事情发生在哪里？"}]))

    async def script(call: Call) -> None:
        call.bot.gate = asyncio.Event()
        await until_listening(call)
        await call.say("小区门口垃圾没人清理")
        await call.bot.entered.wait()
        call.marks["frames"] = len(call.transport.frames)
        call.session.hangup()  # the caller hangs up while the bot fills the form
        await asyncio.sleep(0.05)
        call.bot.gate.set()

    call, outcome = run_call(script, Call(bot))
    assert outcome.outcome == "hangup"
    assert call.bot.texts == ["小区门口垃圾没人清理"]  # the turn the bot saw completed
    assert len(call.transport.frames) == call.marks["frames"]
    assert "请问事情发生在哪里？" not in call.transport.said()


def test_max_duration_hands_the_call_to_a_person() -> None:
    config = SessionConfig(no_input_seconds=5, max_call_seconds=0.5)

    async def script(call: Call) -> None:
        pass

    call, outcome = run_call(script, Call(config=config))
    assert (outcome.outcome, outcome.reason) == ("transfer", "max_duration")
    assert call.transport.said()[-1].startswith("本次通话时间较长")


def test_metadata_carries_speech_timings() -> None:
    async def script(call: Call) -> None:
        await until_listening(call)
        await call.session.audio(tone(300))
        await call.say("我要咨询")
        await call.answered(1)
        call.session.hangup()

    call, _ = run_call(script)
    timing: dict[str, Any] = call.bot.turns[0][1]["call"]
    assert timing["speech_start_s"] is not None
    assert timing["speech_start_s"] <= timing["speech_end_s"] <= timing["sent_s"]
