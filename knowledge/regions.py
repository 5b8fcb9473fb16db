"""Which city a question is about, and whether an entry may answer for it.

A KB entry whose `region` is a city answers only for that city (knowledge/kb/README.md): a
citizen in 武汉 asking how much 公积金 they may borrow must not get 咸宁's ceiling as the answer
(found by an exploratory test: 武汉的 灵活就业交公积金政府有补贴吗 got "有。根据咸宁…"). A
question that names no city, or names the entry's own, is answered as before; 全国 entries are
general guidance for every city. The cities known are data (knowledge/cities.yml).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

CITIES_FILE = Path(__file__).with_name("cities.yml")
NATIONAL = "全国"


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    names = yaml.safe_load(CITIES_FILE.read_text(encoding="utf-8"))["cities"]
    return re.compile("|".join(sorted(map(re.escape, names), key=len, reverse=True)))


def cities_named(question: str) -> list[str]:
    """The cities the question names, in order (武汉, 武汉市 → 武汉)."""
    return _pattern().findall(question)


def city_named(question: str) -> str | None:
    """The first city the question names, or None."""
    named = cities_named(question)
    return named[0] if named else None


def answers_for(region: str, question: str) -> bool:
    """Whether an entry of `region` may answer `question`: it is national, or the question
    names no city, or names the entry's own among others (在武汉打工 回荆州办社保卡)."""
    named = cities_named(question)
    own = region.removesuffix("市")
    return not named or not own or region == NATIONAL or own in named
