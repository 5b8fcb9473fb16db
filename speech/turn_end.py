"""Has the caller finished? A transcript that sounds complete ends the turn early.

An utterance normally ends after 0.6 s of silence (``end_silence``): callers pause inside
sentences ("我想问一下……公积金怎么取"), and a shorter wait would answer half a request. But
the recogniser has the text early (it starts decoding after 0.15 s of silence), and some texts
cannot go on: a question that has its question word or particle, a complete phone or work-order
number, a yes or no to a read-back. For those the wait is cut to ``COMPLETE_SILENCE`` (issue
20: about 0.3 s off the answer); less would cut off a caller who only draws breath. Statements
and complaints ("楼下饭店太吵了") are never cut: they often continue.
"""

from __future__ import annotations

import re

from hotline.numbers import find_phone_or_order
from speech.normalize import normalize_transcript
from speech.yes_no import yes_or_no

COMPLETE_SILENCE = 0.3  # s of silence after a complete-sounding transcript that end the turn
_QUESTION_END = re.compile(r"(吗|呢|么|没有|不)?[？?]$|(吗|呢)[。！!]?$")
# A question word with at least two characters after it: "怎么补办", "哪里申请", "多少钱".
_QUESTION_WORD = re.compile(
    r"(怎么|怎样|什么|哪里|哪儿|哪个|多少|几个|多久|多长时间|如何|能不能|可不可以).."
)


def sounds_complete(text: str) -> bool:
    """True when ``text`` (a final transcript) cannot sensibly go on."""
    text = text.strip()
    if not text:
        return False
    if _QUESTION_END.search(text) or _QUESTION_WORD.search(text):
        return True
    number = find_phone_or_order(normalize_transcript(text))
    if number and normalize_transcript(text).rstrip("。.！!").endswith(number):
        return True  # the number has all its digits and is the last thing said
    answer, _ = yes_or_no(text)
    return answer is not None and len(text) <= 6
