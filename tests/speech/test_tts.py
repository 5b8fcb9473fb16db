"""The espeak-ng TTS (speech/tts.py): audio format, number reading, caching, engine registry."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from speech import tts as tts_module
from speech.tts import EspeakTTS, TTSError, load_tts, register_tts, to_pinyin
from tests.speech.fixtures.synth import require_tools, rms

GREETING = "您好，这里是12345政务服务便民热线，请问有什么可以帮您？"


@pytest.fixture(scope="module")
def tts() -> EspeakTTS:
    require_tools()
    return EspeakTTS()


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


@pytest.mark.parametrize("rate", [8000, 16000])
def test_output_is_slin16_speech_of_a_sensible_length(tts: EspeakTTS, rate: int) -> None:
    pcm = tts.synthesize(GREETING, rate)
    assert len(pcm) % 2 == 0
    # 27 syllables: a person takes 4-8 s to say them.
    assert 3.0 < seconds(pcm, rate) < 10.0
    assert rms(pcm) > 500  # clearly audible, not silence


def test_both_rates_carry_the_same_speech(tts: EspeakTTS) -> None:
    phone = tts.synthesize(GREETING, 8000)
    browser = tts.synthesize(GREETING, 16000)
    assert seconds(phone, 8000) == pytest.approx(seconds(browser, 16000), abs=0.01)


def test_the_hotline_number_is_read_yao_er_san_si_wu(tts: EspeakTTS) -> None:
    assert to_pinyin("幺二三四五") == "yao1 er4 san1 si4 wu3"
    # The digits and their spoken form sound the same: the number is read digit by digit.
    assert tts.synthesize("请拨打12345", 8000) == tts.synthesize("请拨打幺二三四五", 8000)
    assert tts.synthesize("13800138000", 8000) == tts.synthesize("幺三八零零幺三八零零零", 8000)


def test_amounts_and_dates_are_read_as_numbers(tts: EspeakTTS) -> None:
    assert tts.synthesize("5000元", 8000) == tts.synthesize("五千元", 8000)
    assert tts.synthesize("98天", 8000) == tts.synthesize("九十八天", 8000)
    day = tts.synthesize("2026年11月22日", 8000)
    assert day == tts.synthesize("二零二六年十一月二十二日", 8000)


def test_pinyin_has_tone_numbers_polyphones_and_pauses() -> None:
    assert to_pinyin("银行行长") == "yin2 hang2 hang2 zhang3"
    assert to_pinyin("重庆，你好！") == "chong2 qing4, ni2 hao3!"  # 3-3 tone sandhi applied
    assert to_pinyin("好的。谢谢") == "hao3 de5; xie4 xie4"
    assert to_pinyin("APP打不开") == "APP da3 bu4 kai1"


def test_punctuation_makes_a_pause(tts: EspeakTTS) -> None:
    joined = tts.synthesize("您好您好", 8000)
    paused = tts.synthesize("您好。您好", 8000)
    assert seconds(paused, 8000) > seconds(joined, 8000) + 0.1


def test_nothing_to_say_gives_no_audio(tts: EspeakTTS) -> None:
    assert tts.synthesize("", 8000) == b""
    assert tts.synthesize("。？！", 8000) == b""


def test_preloaded_prompts_survive_a_restart(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    require_tools()
    first = EspeakTTS(cache_dir=tmp_path)
    assert first.preload(["请说出您的问题。"], [8000]) == 1
    assert first.preload(["请说出您的问题。"], [8000]) == 0  # already on disk
    expected = first.synthesize("请说出您的问题。", 8000)

    restarted = EspeakTTS(cache_dir=tmp_path)

    def no_synthesis(self: EspeakTTS, text: str, rate: int) -> bytes:
        raise AssertionError("a preloaded prompt was synthesised again")

    monkeypatch.setattr(EspeakTTS, "_render", no_synthesis)
    assert restarted.synthesize("请说出您的问题。", 8000) == expected


def test_dynamic_replies_are_not_written_to_disk(tmp_path: Path) -> None:
    require_tools()
    engine = EspeakTTS(cache_dir=tmp_path)
    engine.synthesize("您的电话是13800138000。", 8000)
    assert not any(tmp_path.rglob("*.pcm"))  # citizens' numbers stay in memory only


def test_memory_cache_is_bounded() -> None:
    require_tools()
    engine = EspeakTTS(memory_cache_bytes=80_000)
    for text in ("第一句话。", "第二句话。", "第三句话。", "第四句话。"):
        engine.synthesize(text, 16000)
    assert 0 < len(engine._memory) < 4
    assert engine._memory._size <= 80_000


def test_missing_espeak_is_a_clear_error() -> None:
    with pytest.raises(TTSError, match="apt-get install espeak-ng"):
        EspeakTTS(espeak="espeak-ng-not-installed")


class Beeper:
    """Another engine, plugged in by configuration."""

    name = "beeper"

    def __init__(self, settings: object) -> None:
        self.settings = settings

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        return b"\x10\x00" * sample_rate


def test_load_tts_picks_engines_by_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    require_tools()
    monkeypatch.setattr(tts_module, "_loaded", {})
    monkeypatch.setattr(tts_module, "TTS_ENGINES", dict(tts_module.TTS_ENGINES))
    settings = SimpleNamespace(tts_engine="espeak", tts_voice="cmn-latn-pinyin", tts_speed=160)
    engine = load_tts(settings)
    assert isinstance(engine, EspeakTTS) and engine.speed == 160
    assert load_tts(settings) is engine  # loaded once, shared

    register_tts("beeper", Beeper)
    assert load_tts(SimpleNamespace(tts_engine="beeper")).name == "beeper"
    by_path = load_tts(SimpleNamespace(tts_engine=f"{__name__}:Beeper"))
    assert by_path.synthesize("x", 8000) == b"\x10\x00" * 8000

    with pytest.raises(TTSError, match=r"unknown TTS engine 'nope'.*espeak"):
        load_tts(SimpleNamespace(tts_engine="nope"))
