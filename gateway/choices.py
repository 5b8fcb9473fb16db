"""A numbered choice picks one of the options the bot just offered.

Callers cannot press a button: after "第1个，…；第2个，…" they say 第二个. Chat users often type
"2" instead of pressing the second button. Such a reply is turned into what the option stands
for before Rasa sees it: the button's payload on chat, the option's own wording on the phone
(the knowledge search then finds that entry first). The citizen's words are still what is logged.
"""

from __future__ import annotations

import re
from typing import Any

from hotline.numbers import written_digits

_ORDINAL = re.compile(
    r"^(?:就是|选|要|我要|我选)?第?([1-9一二两三四五六七八九])(?:个|条|项|种)?(?:吧|啊|呀|的)?[。.!！]?$"
)


def ordinal(text: str) -> int | None:
    """1 for 第一个 / 1 / 选第1个, ...; None when the text is not just a number choice."""
    found = _ORDINAL.match(re.sub(r"\s+", "", text))
    if not found:
        return None
    return int(written_digits(found.group(1)))


def resolve(choice: int, replies: list[dict[str, Any]]) -> str | None:
    """What option `choice` of the bot's last replies stands for, or None if there is none."""
    buttons = [b for m in replies for b in m.get("buttons") or []]
    if buttons:
        return buttons[choice - 1].get("payload") if choice <= len(buttons) else None
    for message in replies:  # spoken options: 第1个，新生儿怎么上户口？；第2个，…
        listed = re.search(rf"第{choice}个，(.+?)(?:；|。|$)", message.get("text") or "")
        if listed:
            return listed.group(1)
    return None
