"""Hotline-vocabulary correction of transcripts (speech/lexicon.py), with the vocabulary the
gateway gives the call centre (gateway/voice_lexicon.py).

The misheard examples are Whisper-base's own output on the ASR benchmark's recordings
(`python -m bench.asr_cer --verbose`, 16 and 8 kHz).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from gateway.voice_lexicon import hotline_corrector
from speech.lexicon import Lexicon
from speech.normalize import normalize_transcript

UTTERANCES = Path(__file__).resolve().parents[2] / "bench" / "data" / "asr_utterances.yml"
LEXICON = Lexicon(lambda: hotline_corrector().correct)
transcript_for_bot = LEXICON.transcript_for_bot
correct_transcript = LEXICON.correct


@pytest.mark.parametrize(
    ("heard", "bot_sees"),
    [
        ("以保暴销的比例是多少？", "医保报销的比例是多少？"),
        ("我想查询一下工积金提取的进度。", "我想查询一下公积金提取的进度。"),
        ("居住政办理需要带哪些材料", "居住证办理需要带哪些材料"),
        ("歌体互营业职照在马里申请。", "个体户营业执照在马里申请。"),
        ("请问不动产灯记中心周六上班买", "请问不动产登记中心周六上班买"),
        ("然其在哪里可以交？", "燃气在哪里可以交？"),
        ("请问住防补贴什么时候到战艺。", "请问住房补贴什么时候到战艺。"),
        ("新华小区门口有人为规停车", "新华小区门口有人违规停车"),
        ("我想查一下工单的进读", "我想查一下工单的进度"),
    ],
)
def test_misheard_hotline_words_are_corrected(heard: str, bot_sees: str) -> None:
    assert transcript_for_bot(heard) == bot_sees


def test_numbers_are_normalised_before_the_words() -> None:
    assert transcript_for_bot("我的公单号是二零二六一一二二零零四二") == "我的工单号是202611220042"


@pytest.mark.parametrize(
    "text",
    [
        "是的。",
        "不对",
        "满意。",
        "转人工服务",
        "不是这个意思。",
        "没有了，谢谢。",
        "回放请打19812340987",  # 回放 is a word (回访 was meant, but 回放 is not misspelt)
        "我想查询以下公积金",
    ],
)
def test_real_words_and_short_answers_are_left_alone(text: str) -> None:
    assert correct_transcript(text) == text


def test_correct_transcripts_are_never_changed() -> None:
    """Every reference text of the ASR benchmark, i.e. what a perfect recogniser would write."""
    utterances = yaml.safe_load(UTTERANCES.read_text(encoding="utf-8"))["utterances"]
    texts = [normalize_transcript(u["text"]) for u in utterances]
    assert len(texts) >= 60
    assert [correct_transcript(t) for t in texts] == texts


def test_without_a_vocabulary_transcripts_are_only_normalised() -> None:
    plain = Lexicon()
    assert plain.transcript_for_bot("我想查一下工单的进读") == "我想查一下工单的进读"
    assert plain.transcript_for_bot("电话是幺三八零零幺三八零零零") == "电话是13800138000"


def test_the_vocabulary_is_built_once_on_first_use() -> None:
    built: list[int] = []

    def build() -> Callable[[str], str]:
        built.append(1)
        return lambda text: text.replace("进读", "进度")

    lexicon = Lexicon(build)
    assert not built  # building costs seconds: not before a call needs it
    threads = [threading.Thread(target=lexicon.load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lexicon.transcript_for_bot("工单的进读") == "工单的进度"
    assert built == [1]
