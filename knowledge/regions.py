"""Which city a question is about, and whether an entry may answer for it.

A KB entry whose `region` is a city answers only for that city (knowledge/kb/README.md): a
citizen in 武汉 asking how much 公积金 they may borrow must not get 咸宁's ceiling as the answer
(found by an exploratory test: 武汉的 灵活就业交公积金政府有补贴吗 got "有。根据咸宁…"). A
question that names no city, or names the entry's own, is answered as before; 全国 entries are
general guidance for every city. The cities known are data (knowledge/cities.yml).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jieba
import yaml

CITIES_FILE = Path(__file__).with_name("cities.yml")
NATIONAL = "全国"
# A city named as a journey's end or start is not the citizen's own (去武汉看病, 药从长沙寄过来).
_NOT_HOME_BEFORE = frozenset({"去", "到", "往", "从", "飞"})
# Nor one that is part of a street or a thing's name (北京西路, 长沙路, 北京时间, 兰州拉面).
_NOT_A_CITY_AFTER = frozenset(
    [
        "路",
        "西路",
        "东路",
        "南路",
        "北路",
        "中路",
        "街",
        "大街",
        "大道",
        "大厦",
        "广场",
        "时间",
        "拉面",
        "烤鸭",
        "小吃",
        "银行",
    ]
)


@lru_cache(maxsize=1)
def _cities() -> frozenset[str]:
    return frozenset(yaml.safe_load(CITIES_FILE.read_text(encoding="utf-8"))["cities"])


def cities_named(question: str) -> list[str]:
    """The cities the question names as where the citizen is, in order (武汉, 武汉市 → 武汉):
    whole words only (城西安置房 names no 西安)."""
    tokens = [t for t in jieba.lcut(question) if t.strip()]
    named = []
    for i, token in enumerate(tokens):
        city = token.removesuffix("市")
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if city in _cities() and before not in _NOT_HOME_BEFORE and after not in _NOT_A_CITY_AFTER:
            named.append(city)
    return named


def city_named(question: str) -> str | None:
    """The first city the question names, or None."""
    named = cities_named(question)
    return named[0] if named else None


def answers_for(region: str, question: str, entry_text: str = "") -> bool:
    """Whether an entry of `region` may answer `question`: it is national, or the question
    names no city, or names the entry's own among others (在武汉打工 回荆州办社保卡), or only
    cities the entry itself speaks of (`entry_text`: its question, phrasings and answer)."""
    named = cities_named(question)
    own = region.removesuffix("市")
    if not named or not own or region == NATIONAL or own in named:
        return True
    return all(city in entry_text for city in named)
