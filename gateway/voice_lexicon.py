"""The hotline vocabulary the call sessions correct transcripts with (speech/lexicon.py).

It is the knowledge base's homophone corrector (:class:`knowledge.spelling.HomophoneCorrector`,
which has the rules that keep real words and phrases alone) fitted on the texts the hotline itself
writes:

* the knowledge base's standard questions and answers (``knowledge/kb/*.yml``; not the
  alternatives, which keep citizens' own misspellings on purpose);
* the bot's replies (``responses`` in ``bot/domain.yml``).

A word enters the vocabulary when these texts use it often enough (three times, six for two
characters). Built here, where the call centre is set up, because speech uses no other part.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import yaml

from hotline.bot import BOT_DIR
from knowledge.loaders import load_path
from knowledge.service import SAMPLE_KB
from knowledge.spelling import HomophoneCorrector
from speech.lexicon import Lexicon

log = logging.getLogger(__name__)
DOMAIN = BOT_DIR / "domain.yml"


def kb_texts(kb_dir: Path = SAMPLE_KB) -> Iterator[str]:
    """Standard questions and answers (chat and voice) of the knowledge base files under
    ``kb_dir`` (default: the sample KB the service imports)."""
    for result in load_path(kb_dir):
        for entry in result.entries:
            yield entry.question
            yield entry.answer
            if entry.voice_answer:
                yield entry.voice_answer


def bot_texts(domain: Path = DOMAIN) -> Iterator[str]:
    """Every reply text of a Rasa domain file (``responses``; default: the bot's own)."""
    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    for variants in (data.get("responses") or {}).values():
        for variant in variants or ():
            if isinstance(variant, dict) and isinstance(variant.get("text"), str):
                yield variant["text"]


@lru_cache(maxsize=4)
def hotline_corrector(kb_dir: Path = SAMPLE_KB, domain: Path = DOMAIN) -> HomophoneCorrector:
    """The corrector fitted on the hotline's own texts (built once per process: 1–3 s)."""
    texts: list[str] = []
    if kb_dir.is_dir():
        texts += kb_texts(kb_dir)
    if domain.is_file():
        texts += bot_texts(domain)
    corrector = HomophoneCorrector(texts, fuzzy=True)  # near sounds too: phone lines blur
    if not len(corrector):
        log.warning("no hotline texts in %s or %s: transcripts kept as heard", kb_dir, domain)
    return corrector


def hotline_lexicon() -> Lexicon:
    """What a call centre corrects transcripts with; the corrector is built on first use."""
    return Lexicon(lambda: hotline_corrector().correct)
