"""The vocabulary the gateway gives the call centre (gateway/voice_lexicon.py): the hotline's own
texts, and every call session corrects its transcripts with it."""

from __future__ import annotations

from gateway.calls_api import make_call_center
from gateway.voice_lexicon import bot_texts, kb_texts
from hotline.settings import Settings
from speech.engine import ASREngine, TTSEngine


def test_the_vocabulary_comes_from_the_hotlines_own_texts() -> None:
    kb = list(kb_texts())
    replies = list(bot_texts())
    assert any("公积金" in t for t in kb)
    assert any("工单" in t for t in replies)
    # Alternatives keep citizens' misspellings on purpose: they are not part of the vocabulary.
    assert not any("公基金" in t for t in kb)


def test_the_call_centre_corrects_transcripts_with_it(sqlite_url: str) -> None:
    def no_engine() -> ASREngine | TTSEngine:
        raise AssertionError("not needed")

    center = make_call_center(
        Settings(database_url=sqlite_url), lambda: None, asr=no_engine, tts=no_engine
    )
    try:
        assert center.lexicon.transcript_for_bot("我想查一下工单的进读") == "我想查一下工单的进度"
    finally:
        center.close()
