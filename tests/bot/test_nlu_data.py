"""The NLU training data: enough varied examples per intent, and entity annotations that the
regex extractors in the pipeline reproduce exactly (what the bot extracts at run time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

NLU = Path(__file__).resolve().parents[2] / "bot" / "data" / "nlu.yml"
ANNOTATION = re.compile(r"\[([^\]]+)\]\((\w+)\)|\[([^\]]+)\]\{\"entity\": \"(\w+)\"[^}]*\}")
PAYLOAD_ONLY = {"choose_entry"}  # reached by button payloads, never typed


def _data() -> list[dict]:
    return yaml.safe_load(NLU.read_text(encoding="utf-8"))["nlu"]


def _examples(block: dict) -> list[str]:
    return [ln.strip()[2:] for ln in block["examples"].splitlines() if ln.strip().startswith("- ")]


def _patterns() -> dict[str, re.Pattern[str]]:
    return {b["regex"]: re.compile("|".join(_examples(b))) for b in _data() if "regex" in b}


def _plain(example: str) -> tuple[str, list[tuple[str, str]]]:
    """Example text without markup, and its (entity, value) annotations."""
    found: list[tuple[str, str]] = []

    def strip(m: re.Match[str]) -> str:
        value, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found.append((name, value))
        return value

    return ANNOTATION.sub(strip, example), found


def test_every_typed_intent_has_at_least_30_distinct_examples() -> None:
    for block in _data():
        if "intent" in block and block["intent"] not in PAYLOAD_ONLY:
            examples = _examples(block)
            assert len(set(examples)) >= 30, block["intent"]
            assert len(set(examples)) == len(examples), f"duplicates in {block['intent']}"


def test_no_example_is_given_two_intents() -> None:
    seen: dict[str, str] = {}
    for block in _data():
        for ex in _examples(block) if "intent" in block else []:
            text, _ = _plain(ex)
            assert seen.setdefault(text, block["intent"]) == block["intent"], text


@pytest.mark.parametrize("entity", ["phone", "order_number", "address", "date", "person"])
def test_the_extractor_finds_exactly_the_annotated_entities(entity: str) -> None:
    pattern = _patterns()[entity]
    for block in _data():
        for ex in _examples(block) if "intent" in block else []:
            text, annotations = _plain(ex)
            expected = [v for n, v in annotations if n == entity]
            assert [m.group(0) for m in pattern.finditer(text)] == expected, ex


@pytest.mark.parametrize(
    ("entity", "text", "values"),
    [
        ("phone", "我电话是138 0013 8000谢谢", ["138 0013 8000"]),
        ("phone", "座机0716-8123456", ["0716-8123456"]),
        ("phone", "工单20261122-0001", []),
        ("address", "我家住城东区东湖路12号", ["城东区东湖路12号"]),
        ("address", "在西山路那边的玉泉小区门口", ["西山路", "玉泉小区"]),
        ("address", "我要投诉小区门口的路灯坏了", []),
        ("address", "我们小区停水了", []),
        ("date", "昨天晚上十点多", ["昨天晚上"]),
        ("date", "上周三开始的", ["上周三"]),
        ("person", "我姓王", ["王"]),
        ("order_number", "帮我查202611220007", ["202611220007"]),
    ],
)
def test_entities_in_the_way_citizens_write_them(entity: str, text: str, values: list[str]) -> None:
    assert [m.group(0) for m in _patterns()[entity].finditer(text)] == values
