"""Hotline vocabulary correction of transcripts at the pinyin level.

Recognisers write a hotline word with other characters of the same sound: 进读 for 进度, 公单
for 工单, 设保 for 社保, 身份正 for 身份证. :func:`correct_transcript` replaces a stretch of a
transcript whose toneless pinyin is that of a hotline word, when the stretch as written is not
how the hotline's own texts write anything. It is the knowledge base's corrector
(:class:`knowledge.spelling.HomophoneCorrector`, which has the rules that keep real words and
phrases alone) fitted on the texts the hotline itself writes:

* the knowledge base's standard questions and answers (``knowledge/kb/*.yml``; not the
  alternatives, which keep citizens' own misspellings on purpose);
* the bot's replies (``responses`` in ``bot/domain.yml``).

A word enters the lexicon when these texts use it often enough (three times, six for two
characters); the texts are read once per process (1–3 s, mostly jieba's dictionary:
:func:`hotline_corrector` is cached, and the call centre warms it up before the first call).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from speech.normalize import normalize_transcript

if TYPE_CHECKING:
    from knowledge.spelling import HomophoneCorrector

log = logging.getLogger(__name__)


def kb_texts(kb_dir: Path | None = None) -> Iterator[str]:
    """Standard questions and answers of the knowledge base files under ``kb_dir`` (default:
    the sample KB the service imports, ``knowledge.service.SAMPLE_KB``)."""
    from knowledge.loaders import load_path
    from knowledge.service import SAMPLE_KB

    for result in load_path(kb_dir or SAMPLE_KB):
        for entry in result.entries:
            yield entry.question
            yield entry.answer
            if entry.voice_answer:
                yield entry.voice_answer


def bot_texts(domain: Path | None = None) -> Iterator[str]:
    """Every reply text of a Rasa domain file (``responses``; default: the bot's own)."""
    from hotline.bot import BOT_DIR

    domain = domain or BOT_DIR / "domain.yml"
    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    for variants in (data.get("responses") or {}).values():
        for variant in variants or ():
            if isinstance(variant, dict) and isinstance(variant.get("text"), str):
                yield variant["text"]


@lru_cache(maxsize=1)
def hotline_corrector() -> HomophoneCorrector:
    """The corrector fitted on the hotline's own texts (built once per process)."""
    # Imported here: the knowledge package (jieba, scipy) and the settings cost half a second
    # to import, and importing the call session should not.
    from hotline.bot import BOT_DIR
    from knowledge.service import SAMPLE_KB
    from knowledge.spelling import HomophoneCorrector

    domain = BOT_DIR / "domain.yml"
    texts: list[str] = []
    if SAMPLE_KB.is_dir():
        texts += kb_texts(SAMPLE_KB)
    if domain.is_file():
        texts += bot_texts(domain)
    corrector = HomophoneCorrector(texts)
    if not len(corrector):
        log.warning("no hotline texts in %s or %s: transcripts kept as heard", SAMPLE_KB, domain)
    return corrector


def correct_transcript(text: str) -> str:
    """``text`` with misheard hotline words replaced ("查询工单进读" → "查询工单进度")."""
    return hotline_corrector().correct(text)


def transcript_for_bot(text: str) -> str:
    """What the bot sees of a final: :func:`normalize_transcript`, then the lexicon."""
    return correct_transcript(normalize_transcript(text))
