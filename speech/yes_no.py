"""The caller's answer to a read-back ("您说的是…对吗？"): yes, no (maybe with the correction in
the same breath), or something new."""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[\s，。！？、,.!?~…：:；;\"'“”]+")
_YES = {
    "对", "对的", "对啊", "对呀", "对对", "对对对", "是", "是的", "是啊", "没错", "正确", "确认",
    "嗯", "嗯嗯", "好", "好的", "可以", "行", "没问题", "对了",
}  # fmt: skip
_NO_PREFIXES = ("不对", "不是", "错了", "不正确", "重说", "重新说", "说错了")
_NO = {"不", "不要", "错", "错的", "否"}


def yes_or_no(text: str) -> tuple[bool | None, str]:
    """(True, "") for yes, (False, correction) for no (the correction may be empty), else
    (None, "") — then the utterance is something new."""
    cleaned = _PUNCT.sub("", text)
    if cleaned in _YES:
        return True, ""
    if cleaned in _NO:
        return False, ""
    for prefix in _NO_PREFIXES:
        if cleaned.startswith(prefix):
            rest = cleaned[len(prefix) :].lstrip("的啊呀吧哦呢嘛")
            return False, rest.removeprefix("应该是").removeprefix("是")
    if len(cleaned) <= 4 and cleaned[:1] in ("对", "是") and not cleaned.startswith("是不"):
        return True, ""
    return None, ""
