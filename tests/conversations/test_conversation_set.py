"""The conversation benchmark's set itself: schema, size, references, and no copied text.

Fast: nothing is started; the bench that drives these conversations is bench/conversations/.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator

import pytest
import yaml

from bench.conversations.driver import Driver, Run
from bench.conversations.replies import Answers, asked
from bench.conversations.schema import (
    CONVERSATIONS_DIR,
    Conversation,
    SetError,
    load_conversations,
    load_entries,
)
from bench.conversations.scoring import score
from hotline.numbers import is_phone
from hotline.settings import PROJECT_ROOT
from knowledge.schema import Entry
from workorders.config import default_config
from workorders.emergency import is_emergency
from workorders.routing import resolve_district


@pytest.fixture(scope="module")
def conversations() -> list[Conversation]:
    return load_conversations()


@pytest.fixture(scope="module")
def entries() -> dict[str, Entry]:
    return load_entries()


def test_the_set_loads_with_at_least_150_conversations(conversations) -> None:
    assert len(conversations) >= 150


def test_the_mix_of_kinds(conversations) -> None:
    kinds = Counter(c.kind for c in conversations)
    assert kinds["consult"] + kinds["no_answer"] >= 70
    assert kinds["no_answer"] >= 10
    assert kinds["complaint"] >= 50
    assert kinds["status"] >= 10
    assert kinds["emergency"] >= 10
    assert kinds["handoff"] + kinds["smalltalk"] >= 10
    follow_ups = [c for c in conversations if c.kind == "consult" and len(c.turns) > 1]
    assert len(follow_ups) >= 10
    complaints = [c for c in conversations if c.kind == "complaint"]
    cancels = [c for c in complaints if c.expect.no_order]
    corrections = [c for c in complaints if any(i.set for i in c.inject)]
    questions = [c for c in complaints if any(not i.set and not i.cancel for i in c.inject)]
    assert len(cancels) >= 3 and len(corrections) >= 3 and len(questions) >= 3
    assert sum(c.channel == "voice" for c in conversations) >= 10


def test_ids_are_unique(conversations) -> None:
    counts = Counter(c.id for c in conversations)
    assert [i for i, n in counts.items() if n > 1] == []


def test_a_bad_conversation_is_refused_with_its_file_and_id(tmp_path) -> None:
    (tmp_path / "bad.yml").write_text(
        "conversations:\n  - id: x-1\n    kind: consult\n    turns: [你好]\n"
        "    expect: {entries: [a, b]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SetError, match=r"(?s)bad\.yml: x-1: .*one item"):
        load_conversations(tmp_path)


def test_expected_entries_exist_and_may_be_served_today(conversations, entries) -> None:
    today = dt.date.today()
    wanted = [(c.id, e) for c in conversations for e in c.expect.entries or [] if e is not None]
    assert len(wanted) >= 60
    missing = [(cid, e) for cid, e in wanted if e not in entries]
    assert missing == []
    expired = [(cid, e) for cid, e in wanted if not entries[e].valid_on(today)]
    assert expired == []


def test_departments_are_the_ones_the_configuration_assigns(conversations) -> None:
    cfg = default_config()
    wrong = []
    for c in conversations:
        if c.kind != "complaint" or c.expect.no_order:
            continue
        category, department = c.expect.category, c.expect.department
        assert category in cfg.category_by_name, (c.id, category)
        assert department in cfg.all_departments, (c.id, department)
        district = resolve_district(c.facts["where"], cfg)
        if cfg.default_department(category, district) != department:
            wrong.append((c.id, category, district, department))
    assert wrong == []


def test_every_category_is_covered(conversations) -> None:
    covered = {c.expect.category for c in conversations if c.kind == "complaint"}
    assert covered >= {cat.name for cat in default_config().categories}


def test_addresses_name_a_configured_district_or_none(conversations) -> None:
    with_district = [
        c.id
        for c in conversations
        if c.facts.get("where") and resolve_district(c.facts["where"], default_config())
    ]
    assert len(with_district) >= 50


def test_phone_numbers_are_valid(conversations) -> None:
    phones = [
        (c.id, phone)
        for c in conversations
        for phone in [c.facts.get("phone"), *(i.set.get("phone") for i in c.inject)]
        if phone
    ]
    assert [(cid, phone) for cid, phone in phones if not is_phone(phone)] == []


def test_injects_fire_once_per_point(conversations) -> None:
    for c in conversations:
        points = [i.at for i in c.inject]
        assert len(points) == len(set(points)), c.id


def test_order_placeholders_need_a_set_up_order(conversations) -> None:
    for c in conversations:
        texts = [*c.turns, *c.facts.values()]
        if any("{order" in t for t in texts):
            assert c.setup is not None, c.id


def test_emergencies_are_emergencies_by_the_projects_rules(conversations) -> None:
    """The number expected is the one workorders.routing's 110/119/120 rules give."""
    for c in conversations:
        if c.kind == "emergency":
            assert is_emergency(c.turns[0]) == c.expect.emergency, (c.id, c.turns[0])


# ---------------------------------------------------------------------------------------------
# Written apart from the training and test data


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", "", text)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _texts(c: Conversation) -> Iterator[str]:
    yield from c.turns
    yield from (i.say for i in c.inject)
    if c.facts.get("what"):
        yield c.facts["what"]


def _nlu_examples() -> Iterator[str]:
    data = yaml.safe_load((PROJECT_ROOT / "bot" / "data" / "nlu.yml").read_text("utf-8"))
    for block in data.get("nlu") or []:
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line[2:])


def _heldout() -> Iterator[str]:
    data = yaml.safe_load((PROJECT_ROOT / "tests" / "knowledge" / "heldout.yml").read_text())
    for value in data.values():
        for item in value if isinstance(value, list) else []:
            yield item["q"] if isinstance(item, dict) else str(item)


def _router_examples() -> Iterator[str]:
    for cat in default_config().categories:
        yield from cat.examples


@pytest.fixture(scope="module")
def sources(entries) -> dict[str, str]:
    """Every text the bot or the knowledge search was trained or tested on -> where it is from."""
    out: dict[str, str] = {}
    for text in _nlu_examples():
        out[_norm(text)] = "bot/data/nlu.yml"
    for text in _heldout():
        out[_norm(text)] = "tests/knowledge/heldout.yml"
    for e in entries.values():
        for text in e.phrasings():
            out[_norm(text)] = f"knowledge/kb ({e.id})"
    for text in _router_examples():
        out[_norm(text)] = "workorders/defaults.yml examples"
    out.pop("", None)
    return out


def test_no_text_is_copied_from_training_or_test_data(conversations, sources) -> None:
    copied = [
        (c.id, t, sources[_norm(t)])
        for c in conversations
        for t in _texts(c)
        if _norm(t) in sources
    ]
    assert copied == []


def test_no_text_is_a_near_copy(conversations, sources) -> None:
    """Texts share under half of their character bigrams with any source text."""
    index: dict[str, list[int]] = {}
    grams = []
    keys = list(sources)
    for n, key in enumerate(keys):
        g = _bigrams(key)
        grams.append(g)
        for b in g:
            index.setdefault(b, []).append(n)
    close = []
    for c in conversations:
        for text in _texts(c):
            mine = _bigrams(_norm(text))
            if len(mine) < 5:
                continue
            shared = Counter(n for b in mine for n in index.get(b, ()))
            for n, common in shared.items():
                if common / len(mine | grams[n]) >= 0.5:
                    close.append((c.id, text, keys[n], sources[keys[n]]))
    assert close == []


def test_the_readme_documents_the_schema() -> None:
    readme = (CONVERSATIONS_DIR / "README.md").read_text(encoding="utf-8")
    for word in ("id:", "kind:", "channel:", "turns:", "facts:", "inject:", "setup:", "expect"):
        assert word in readme


# ---------------------------------------------------------------------------------------------
# The bench's citizen: it recognises the bot's questions and answers them from the facts


def test_the_driver_recognises_the_form_questions_of_the_domain(entries) -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    responses = domain.get("responses") or {}
    answers = Answers(entries)
    checked = 0
    for field in ("what", "where", "when", "name", "phone"):
        for name in (f"utter_ask_wo_{field}", f"utter_wo_{field}_hint"):
            for variant in responses.get(name) or []:
                assert asked([{"text": variant["text"], "buttons": []}], answers) == field, name
                checked += 1
    assert checked >= 5


class FakeStack:
    """Replies in order, whatever the citizen says; records what was said."""

    def __init__(self, replies: list[list[dict]]) -> None:
        self.replies, self.said = list(replies), []

    def chat(self, run: Run, text: str) -> tuple[int, dict]:
        self.said.append(text)
        messages = self.replies.pop(0) if self.replies else [{"text": "好的。", "buttons": []}]
        return 200, {"messages": messages, "state": "bot"}


def _m(text: str, *buttons: tuple[str, str]) -> list[dict]:
    return [{"text": text, "buttons": [{"title": t, "payload": p} for t, p in buttons]}]


READ_BACK = _m(
    "请核对您要登记的内容：……信息无误请回复“确认”。", ("确认提交", "/affirm"), ("修改", "/deny")
)


def test_the_driver_fills_the_form_and_corrects_at_the_read_back(entries) -> None:
    conv = Conversation.model_validate(
        {
            "id": "t-1",
            "kind": "complaint",
            "turns": ["楼道的灯坏了一个月"],
            "facts": {
                "where": "城东区东湖路1号",
                "when": "上个月",
                "name": "王先生",
                "phone": "13800000001",
            },
            "inject": [{"at": "confirm", "say": "电话说错了", "set": {"phone": "13800000002"}}],
            "expect": {"category": "城市管理", "department": "城东区人民政府"},
        }
    )
    stack = FakeStack(
        [
            _m("问题发生在哪里？请说一下详细地址。"),
            _m("大概是什么时候发生的？"),
            _m("请问怎么称呼您？"),
            _m("请留一个联系电话。"),
            READ_BACK,
            _m("请留一个联系电话。"),
            READ_BACK,
            _m("您的诉求已登记，工单号是20261122-0001。"),
        ]
    )
    run = Run(conv, "s", "web:s")
    Driver(stack, Answers(entries), run).play()  # type: ignore[arg-type]
    assert stack.said == [
        "楼道的灯坏了一个月", "城东区东湖路1号", "上个月", "王先生", "13800000001",
        "电话说错了", "13800000002", "/affirm",
    ]  # fmt: skip
    assert run.loop is None


def test_the_driver_presses_the_clarify_button_of_the_expected_entry(entries) -> None:
    conv = Conversation.model_validate(
        {"id": "t-2", "kind": "consult", "turns": ["公积金"], "expect": {"entries": ["gjj-013"]}}
    )
    payload = '/choose_entry{"entry_id":"gjj-013"}'
    stack = FakeStack(
        [
            _m(
                "您想问的是下面哪一个？",
                ("余额", payload),
                ("别的", '/choose_entry{"entry_id":"x"}'),
            ),
            [{"text": entries["gjj-013"].answer, "buttons": []}],
        ]
    )
    run = Run(conv, "s", "web:s")
    Driver(stack, Answers(entries), run).play()  # type: ignore[arg-type]
    assert stack.said == ["公积金", payload]
    score(run, Answers(entries))
    assert run.passed, run.reasons


def test_a_repeated_reply_is_a_loop(entries) -> None:
    conv = Conversation.model_validate(
        {
            "id": "t-3",
            "kind": "complaint",
            "turns": ["路灯坏了好几天了"],
            "facts": {"where": "城东区", "when": "上周", "name": "李", "phone": "13800000003"},
            "expect": {"category": "城市管理", "department": "城东区人民政府"},
        }
    )
    stack = FakeStack([_m("大概是什么时候发生的？")] * 5)
    run = Run(conv, "s", "web:s")
    Driver(stack, Answers(entries), run).play()  # type: ignore[arg-type]
    assert run.loop and len(stack.said) == 3
