"""Masking personal numbers in free text: mobile and landline phone numbers and 18-digit
resident ID numbers (居民身份证号). Used by the log filter (hotline/logging.py) and by the
lists and exports that show a citizen's words to roles that do not need the numbers.

Order numbers (YYYYMMDD-NNNN, 12 digits starting with 2) are not personal and stay whole.
"""

from __future__ import annotations

import re

_NOT_DIGIT_BEFORE, _NOT_DIGIT_AFTER = r"(?<![0-9０-９])", r"(?![0-9０-９])"
# 身份证: 6-digit region, birth date 18xx-20xx, 3-digit sequence, check digit (or X).
_ID_CARD = re.compile(
    _NOT_DIGIT_BEFORE
    + r"([1-9][0-9]{5})((?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
    r"([0-9]{3}[0-9Xx])" + _NOT_DIGIT_AFTER
)
# Mobile, optionally +86 and grouped 3-4-4 with spaces or hyphens.
_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"((?:\+?86[ -]?)?1[3-9][0-9])[ -]?([0-9]{4})[ -]?([0-9]{4})"
    + _NOT_DIGIT_AFTER
)
# Landline with its area code: 0xx(x)-xxxxxxx(x), with or without the hyphen.
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE + r"(0[1-9][0-9]{1,2})([- ]?)([0-9]{3,4})([0-9]{4})" + _NOT_DIGIT_AFTER
)


def mask_numbers(text: str) -> str:
    """Phone and ID numbers in `text` masked: 13912345678 → 139****5678,
    0571-88123456 → 0571-****3456, 110105199001011234 → 110105********1234."""
    if not text or not any(c.isdigit() for c in text):
        return text
    text = _ID_CARD.sub(lambda m: f"{m[1]}********{m[3][-4:]}", text)
    text = _MOBILE.sub(lambda m: f"{m[1]}****{m[3]}", text)
    return _LANDLINE.sub(lambda m: f"{m[1]}{m[2]}{'*' * len(m[3])}{m[4]}", text)
