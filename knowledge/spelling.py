"""Homophone correction of questions against the knowledge base's own vocabulary.

Speech recognition and pinyin input methods write a word with the wrong characters of the same
sound: 公基金 for 公积金, 身份正 for 身份证, 设保卡 for 社保卡. Such a word matches no text
lexically and moves the question's embedding away from the right entry. The corrector knows the
words of the indexed texts (jieba words of two to four characters) by their toneless pinyin; a
stretch of a question that sounds exactly like such a word, but is written in a way the texts
never use, is replaced by it.

Chinese is full of homophones, so most stretches must be left alone. A stretch is replaced only
if (1) it is written in a way the texts never write: for two characters, the pair never occurs in
the indexed texts (a real phrase such as 的时候 is written as the texts write it); for three or
four, the stretch itself never does (工基金: each of its pairs is somewhere in the texts, 职工基本
and 基金, yet the texts write the sound only as 公积金), (2) for two characters, it is not a word
of jieba's dictionary (意思 is not 遗失) and the replacement is a frequent KB word, (3) the
replacement is several times more frequent in the texts than the stretch, and (4) the stretch
starts and ends where jieba cuts the question (就|一直 holds no misspelt 就医) and holds no
grammatical character (的, 了, 在, 个, the modal verbs 会, 能…) unless the replacement has
that same character there and two other characters sound alike (个体互 → 个体户, but never
锁在 → 所在), and the replacement is not itself grammatical (不要). Nothing is learned from
questions.

Phone transcripts (``fuzzy=True``, speech only) may also be a near sound off: a narrowband line
blurs the hissing initials (驾驶证 heard as 下时正: j as x), n and l, f and h, and the nasal
endings -n/-ng. A stretch of three or more characters that differs from a KB word in one
syllable only, and only by such a blur, is replaced under the same rules.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import jieba
from pypinyin import Style, lazy_pinyin

from knowledge.index import char_bigrams

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_HAN_ONLY = re.compile(r"^[\u4e00-\u9fff]+$")
LENGTHS = (4, 3, 2)  # longest first
MIN_COUNT = 3  # a replacement appears at least this often in the texts
MIN_COUNT_SHORT = 6  # ... and a two-character one this often
DOMINANCE = 3  # the replacement is at least this many times more frequent than the stretch
# Grammatical characters: where a stretch holds one, that character is not the misheard part
# (锁在, 加个 are phrases; 个体互 keeps its 个), see replacement(). The modal verbs 会 能 可 想 该
# count too: a caller's 贷公积金会算二套吗 and 情况很急能不能 became 汇算 and 技能 (the consult
# tune split read aloud, BENCHMARKS.md). Not 要, which a phone line also makes of 药 (要房 → 药房).
FUNCTION_CHARS = frozenset("的了是在个有吗呢吧就都也还把被给着过会能可想该")
# A word of grammatical characters only (不要, 没有) is no KB term to correct towards:
# 上哪补要带啥 became 上哪不要带啥.
GRAMMAR_CHARS = FUNCTION_CHARS | frozenset("不要没")
FUZZY_MIN_CHARS = 3  # a near sound is trusted only in a word this long
# What an 8 kHz line blurs: initials mapped to one class, endings to the -ng form.
_BLURRED_INITIAL = {
    **dict.fromkeys(("j", "q", "x", "z", "c", "s", "zh", "ch", "sh"), "S"),
    **dict.fromkeys(("n", "l"), "N"),
    **dict.fromkeys(("f", "h"), "F"),
}
_BLURRED_FINAL = {"in": "ing", "en": "eng", "an": "ang", "ian": "iang", "uan": "uang"}


@lru_cache(maxsize=65536)
def _syllable(char: str) -> str:
    return lazy_pinyin(char)[0]


def sound(text: str) -> tuple[str, ...]:
    """Toneless pinyin of each character (its most common reading, the same on both sides:
    per-phrase readings cost milliseconds a call)."""
    return tuple(_syllable(c) for c in text)


@lru_cache(maxsize=65536)
def _blurred(char: str) -> tuple[str, str]:
    initial = lazy_pinyin(char, style=Style.INITIALS, strict=False)[0]
    final = lazy_pinyin(char, style=Style.FINALS, strict=False)[0]
    return _BLURRED_INITIAL.get(initial, initial), _BLURRED_FINAL.get(final, final)


def blurred_sound(text: str) -> tuple[tuple[str, str], ...]:
    """Each character's sound as a phone line may blur it (see the module doc)."""
    return tuple(_blurred(c) for c in text)


class HomophoneCorrector:
    """Replaces stretches of a question that sound like a KB word but are not written like one
    (with ``fuzzy``: or sound nearly like one, for phone transcripts)."""

    def __init__(self, texts: Iterable[str], fuzzy: bool = False) -> None:
        texts = list(texts)
        self.fuzzy = fuzzy
        self._fit([jieba.lcut(t) for t in texts], [char_bigrams(t) for t in texts], texts)

    @classmethod
    def from_tokens(
        cls,
        words: Sequence[Sequence[str]],
        pairs: Sequence[Sequence[str]],
        written: Sequence[Sequence[str]] | None = None,
        written_texts: Sequence[str] = (),
    ) -> HomophoneCorrector:
        """From texts already cut into jieba words and character bigrams (the index's).
        `written`: the character bigrams of the texts whose spelling is authoritative (default:
        all of `pairs`), and `written_texts` those texts themselves; a stretch written like
        them is never replaced."""
        corrector = cls.__new__(cls)
        corrector.fuzzy = False
        corrector._fit(words, pairs if written is None else written, written_texts)
        return corrector

    def _fit(
        self,
        words: Sequence[Sequence[str]],
        pairs: Sequence[Sequence[str]],
        written_texts: Sequence[str],
    ) -> None:
        counts: Counter[str] = Counter()
        for tokens in words:
            counts.update(w for w in tokens if 2 <= len(w) <= max(LENGTHS) and _HAN_ONLY.match(w))
        self.counts = counts
        self.seen_pairs: set[str] = {pair for text in pairs for pair in text}
        # One string to search for longer stretches (a set of every 3- and 4-gram would cost
        # far more memory than the rare look-up it saves).
        self._written = "\n".join(written_texts)
        self.by_sound: dict[tuple[str, ...], list[str]] = defaultdict(list)
        self.by_blur: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
        for word, n in counts.items():
            if n >= MIN_COUNT:
                self.by_sound[sound(word)].append(word)
                if self.fuzzy and len(word) >= FUZZY_MIN_CHARS:
                    self.by_blur[blurred_sound(word)].append(word)
        self._dictionary = jieba.dt.FREQ  # jieba's own words (prefixes are stored with 0)

    def __len__(self) -> int:
        return sum(len(words) for words in self.by_sound.values())

    def replacement(self, stretch: str) -> str | None:
        """The KB word ``stretch`` was probably meant to be, or None."""
        if len(stretch) == 2 or not self._written:
            if all(pair in self.seen_pairs for pair in char_bigrams(stretch)):
                return None  # written as the texts write things: not a typo of theirs
        elif stretch in self._written:
            return None
        short = len(stretch) == 2
        if short and self._dictionary.get(stretch, 0) > 0:
            return None
        floor = max(MIN_COUNT_SHORT if short else MIN_COUNT, DOMINANCE * self.counts[stretch])
        # A grammatical character may stand in a stretch only where the word has it too
        # (个体互 -> 个体户): then it is not the misheard part.
        kept = [i for i, c in enumerate(stretch) if c in FUNCTION_CHARS]
        if len(stretch) - len(kept) < 2:
            return None  # 锁在 -> 所在: one sound of its own is too little to go on
        heard = sound(stretch)
        alike = list(self.by_sound.get(heard, ()))
        if not alike and self.fuzzy and len(stretch) >= FUZZY_MIN_CHARS:
            alike = [
                w
                for w in self.by_blur.get(blurred_sound(stretch), ())
                if sum(a != b for a, b in zip(sound(w), heard, strict=True)) <= 1
            ]
        candidates = [
            w
            for w in alike
            if w != stretch
            and self.counts[w] >= floor
            and all(w[i] == stretch[i] for i in kept)
            and not GRAMMAR_CHARS.issuperset(w)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda w: (self.counts[w], w))

    def correct(self, text: str) -> str:
        """``text`` with its misheard or mistyped KB words replaced (unchanged if none)."""
        if not self.by_sound:
            return text
        # Only stretches that start and end where jieba cuts the question: a stretch across
        # a word (就|一直 -> 就一) is no misspelt word.
        cuts, position = {0}, 0
        for token in jieba.lcut(text):
            position += len(token)
            cuts.add(position)
        out: list[str] = []
        last = 0
        for run in _HAN_RUN.finditer(text):
            out.append(text[last : run.start()])
            out.append(self._correct_run(run.group(), run.start(), cuts))
            last = run.end()
        out.append(text[last:])
        return "".join(out)

    def _correct_run(self, run: str, offset: int, cuts: set[int]) -> str:
        out: list[str] = []
        i = 0
        while i < len(run):
            for length in LENGTHS:
                stretch = run[i : i + length]
                if (
                    len(stretch) == length
                    and offset + i in cuts
                    and offset + i + length in cuts
                    and (fixed := self.replacement(stretch))
                ):
                    out.append(fixed)
                    i += length
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)
