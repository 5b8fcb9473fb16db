"""How the citizen's replies fill a work-order draft: each field's check, corrections of a field
already given, and the answer to the read-back (确认 / 修改 / a correction / unclear).

Pure functions over text and the draft's fields, so that every channel's form (the Rasa form on
chat and the phone today) reads replies the same way. A reply that does not fit is never a reason
to drop the draft: the form asks the step again (tests/triage/test_form.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hotline.numbers import InvalidPhone, canonical_phone, digits_aloud
from triage.wording import asks_for_person, asks_question
from workorders.config import default_config
from workorders.emergency import recognise as recognise_emergency
from workorders.routing import resolve_district

FIELDS = {  # slot -> how the read-back and the correction buttons name it
    "wo_what": "反映的问题",
    "wo_where": "地点",
    "wo_when": "发生时间",
    "wo_name": "您的称呼",
    "wo_phone": "联系电话",
}
MAX_FAILURES = 2  # the second failed answer to a field moves on; never a third ask
NOT_SAID = "未说明"
NO_PHONE = "未留"

_NAME_PREFIX = re.compile(r"^(我(叫|是|姓)|叫我|免贵姓|本人|姓名[:：]?|姓(?!名)|叫)")
_NAME_SUFFIX = re.compile(r"(就行|就可以|就好|就行了|吧)$")
# The citizen would rather not give a name (我不想留名字 可以匿名吗): the order says 市民.
_NO_NAME = re.compile(r"不想留|不留名|匿名|不想说|不告诉|保密")
# What follows a corrected value: the correction itself (周女士 名字改一下).
_CORRECTION_TAIL = re.compile(
    r"[\s，,。]*(名字|称呼|地址|地点|电话|时间)?(改一下|要改|说错了|写错了|错了|不对)[了吧啊。！!]*$"
)
_ROAD = re.compile(r"路|街|大道|巷|号")
# Words of a place, or of a purchase with no place (网上买的).
_PLACE = re.compile(
    r"路|街|巷|号|区|县|镇|乡|村|小区|花园|广场|公园|楼|栋|幢|单元|室|门口|附近|对面|旁边|边|"
    r"市场|商场|超市|医院|学校|公司|店|站|厂|工地|馆|厦|场|中心|码头|桥|河|江|车上|地铁|高铁|"
    r"网上|网购|淘宝|京东|拼多多|抖音|线上|家里|我家"
)
# A question that is no answer to "where": a protest or a question about the hotline.
_NOT_A_PLACE = re.compile(r"管不管|哪个部门|为什么|干嘛|谁管|有没有人|什么|怎么|能不能|是不是")


def looks_like_place(text: str) -> bool:
    """Whether `text` names a place (an address, a shop, 网上)."""
    return bool(_PLACE.search(text))


def tells_place(text: str, address_found: bool = False) -> bool:
    """Whether the reply to "请告诉我具体地点" (after an emergency's number) is that place: it
    names one (or the NLU found an address in it), and it is no new emergency, no request
    for a person and no 取消, which are handled as usual."""
    return (
        (looks_like_place(text) or address_found)
        and not cancels(text)
        and not asks_for_person(text)
        and recognise_emergency(text) is None
    )


# The citizen will not give a number for a callback (不想留电话, 就不留).
_REFUSES_PHONE = re.compile(r"不想留|不留|不给|不想给|不方便|就不|没有电话|没电话")


def refuses_phone(text: str) -> bool:
    return bool(_REFUSES_PHONE.search(text))


def precise_address(value: str) -> bool:
    """An address the department can find: a road, a house number or a district; a bare 小区
    name is asked for again."""
    return bool(_ROAD.search(value) or resolve_district(value, default_config()))


def check_field(slot: str, value: object) -> str | None:
    """The value to store for `slot`, or None when it does not do (the form asks again)."""
    text = str(value or "").strip()
    if slot == "wo_what":
        return text if len(text) >= 4 else None
    if slot == "wo_where":
        # 你们到底管不管啊 / 这种事归哪个部门管啊 said when the place was asked is no place: asked
        # again (it became the order's 地点, and each later answer slid one field down).
        if asks_question(text) and _NOT_A_PLACE.search(text) and not looks_like_place(text):
            return None
        return text if len(text) >= 2 else None
    if slot == "wo_when":
        return text or NOT_SAID
    if slot == "wo_name":
        return _name_in(text)
    if slot == "wo_phone":
        try:
            return canonical_phone(text)
        except InvalidPhone:
            return None
    raise KeyError(slot)


_HONORIFIC = "先生|女士|小姐|师傅|阿姨|老师|大爷|大妈"
_NAME_LIKE = re.compile(rf"[\u4e00-\u9fff]{{1,4}}?({_HONORIFIC})?")
_NOT_NAMES = frozenset(
    [
        "谢谢",
        "好的",
        "好",
        "对",
        "是的",
        "你记一下",
        "记一下",
        "就这样",
        "没有了",
        "麻烦了",
        "辛苦了",
    ]
)


def _name_in(text: str) -> str | None:
    """The name in a reply to 请问怎么称呼您: 我姓李，叫李建国 → 李建国, 周 周女士 → 周女士,
    王女士 谢谢 → 王女士, 张三 13800138000 → 张三; a refusal (匿名) → 市民; None when no part
    of the reply looks like a name (1–4 characters, perhaps with 先生/女士)."""
    clean = re.sub(rf"\s+({_HONORIFIC})", r"\1", text.strip())  # 李 先生 → 李先生
    parts = [_NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", p)).strip(" 。，,.！!")
             for p in re.split(r"[\s，,、。；;]+", clean)]  # fmt: skip
    names = [p for p in parts if _NAME_LIKE.fullmatch(p) and p not in _NOT_NAMES]
    if not names:
        return "市民" if _NO_NAME.search(text) else None
    # The first name said, or a later fuller one of the same surname (李 … 李建国, 周 … 周女士).
    fuller = [n for n in names[1:] if n[0] == names[0][0]]
    return fuller[-1] if fuller else names[0]


def give_up_value(slot: str, value: object) -> str:
    """After the second failed answer the form moves on with what it has (an operator checks
    it), so the citizen is never asked the same thing a third time."""
    said = str(value or "").strip()
    return {
        "wo_what": said or "（市民未说清，请话务员回电核实）",
        "wo_where": said or NOT_SAID,
        "wo_when": said or NOT_SAID,
        "wo_name": "市民",
        "wo_phone": NO_PHONE,
    }[slot]


# ------------------------------------------------------------------------------------------
# Corrections: "电话说错了，是139…", "是28号不是18号", "刚才名字没说清楚 叫我谢女士"

_FIELD_WORDS = {
    "wo_phone": ("电话", "手机", "号码"),
    "wo_where": ("地址", "地点", "位置"),
    "wo_name": ("名字", "称呼", "姓"),
    "wo_when": ("时间",),
    "wo_what": ("问题", "内容"),
}
_SAID_AFTER = re.compile(r".*(?:应该是|改成|换成|叫我|是|叫|姓)[:：，, ]*(.+)$")
_NOT_THAT = re.compile(r"[，, ]*(?:而)?不是(.+)$")
_CORRECTING = re.compile(r"说错|错了|不对|没说清|搞错|更正|改一下|改成|应该是")


def named_field(text: str) -> str | None:
    """The field a correction names (电话说错了 → wo_phone), if any."""
    return next((s for s in FIELDS if _mentions(text, s)), None)


def _mentions(text: str, slot: str) -> bool:
    return FIELDS[slot] in text or any(w in text for w in _FIELD_WORDS[slot])


def corrects(text: str) -> bool:
    return bool(_CORRECTING.search(text))


def new_value(field: str, text: str, old: str | None, said: str | None = None) -> str | None:
    """The corrected value of `field` said in `text`, checked like the form checks it; else
    None. `said` is a value the NLU extracted (a phone number, an address); "是28号不是18号"
    changes only that part of the `old` value."""
    wrong = None
    if m := _NOT_THAT.search(text):
        wrong, text = m.group(1).strip(" 。，,！!"), text[: m.start()]
    value = said
    if value and "不是" in value:
        value = value[: value.index("不是")]
    cue = _SAID_AFTER.match(text)
    dictated = _CORRECTION_TAIL.sub("", cue.group(1)).strip(" 。，,！!") if cue else None
    # A name: the last one said (…叫我谢女士). An address: all the citizen dictated after the
    # cue, of which the NLU may have picked a part (改成咸安区温泉路88号桂花园小区5栋 kept
    # only 桂花园小区, and lost the district the order is routed by).
    if dictated and (
        not value or field == "wo_name" or (field == "wo_where" and value in dictated)
    ):
        value = dictated
    if not value:
        return None
    if field in ("wo_phone", "wo_name"):
        return check_field(field, value)
    if wrong and old and wrong in old:
        value = _splice(old, wrong, value)
    elif field == "wo_where" and old:
        value = _same_road(old, value)
    return value if len(value) >= (1 if field == "wo_name" else 2) else None


_ROAD_NUMBER = re.compile(r"^([\u4e00-\u9fff]{1,8}?(?:路|街|大道|巷))(\d+号)$")


def _same_road(old: str, new: str) -> str:
    """A new house number on the road the old address names changes only that part:
    ("城西区西山路88号 万达工地", "西山路98号") -> "城西区西山路98号 万达工地"."""
    m = _ROAD_NUMBER.match(new)
    if not m or m.group(1) not in old:
        return new
    at = old.index(m.group(1))
    if at and old[at - 1] not in "区县市镇乡 ，,":  # 山路 inside 西山路: another road
        return new
    rest = re.match(r"\d+号", old[at + len(m.group(1)) :])
    if not rest:
        return new
    return old[:at] + new + old[at + len(m.group(1)) + rest.end() :]


def _splice(old: str, wrong: str, new: str) -> str:
    """Replace `wrong` in `old` by `new`, where `new` may repeat what comes just before `wrong`:
    ("开发区创业路18号 电子厂", "18号", "创业路28号") -> "开发区创业路28号 电子厂"."""
    at = old.index(wrong)
    before = old[:at]
    overlap = next((k for k in range(len(new), 0, -1) if before.endswith(new[:k])), 0)
    return before[: len(before) - overlap] + new + old[at + len(wrong) :]


def other_field_fix(
    text: str, asked: str | None, filled: Mapping[str, str | None], said: Mapping[str, str]
) -> tuple[str, str] | None:
    """A correction of an earlier field said instead of the answer asked for, with its new
    value (`said`: values the NLU extracted, by slot)."""
    if not corrects(text):
        return None
    for slot in FIELDS:
        if slot != asked and filled.get(slot) and _mentions(text, slot):
            value = new_value(slot, text, filled.get(slot), said.get(slot))
            return (slot, value) if value else None
    return None


# ------------------------------------------------------------------------------------------
# The read-back: "请核对您要登记的内容 … 确认 / 修改"


@dataclass(frozen=True)
class Confirmation:
    """The citizen's answer to the read-back. `answer`: yes (store it), no (which field?),
    fix (set `field` to `value`; a None value asks the field again), unclear (ask again)."""

    answer: str  # yes | no | fix | unclear
    field: str | None = None
    value: str | None = None


_YES = re.compile(
    r"^/affirm|^(对|对的|是|是的|确认|确定|没错|没问题|可以|好|好的|行|嗯|提交|没有问题|正确|"
    r"就这样|没错误|对着呢|都对)+[的了吧啊呀。！!，, ]*"
    r"(没问题|确认|提交|可以|对|正确|就这样)?[的了吧啊呀。！!]*$"
)
_NO = re.compile(
    r"^/deny|^(不对|不是|错了|有错|要改|修改|改一下|不正确|不行)[的了吧啊呀。！!，, ]*$"
)


def confirmation(
    text: str, filled: Mapping[str, str | None], said: Mapping[str, str] | None = None
) -> Confirmation:
    """Read the citizen's reply to the read-back of `filled`."""
    said = said or {}
    clean = text.strip()
    if _YES.match(clean):
        return Confirmation("yes")
    field = named_field(clean) if not clean.startswith("/") else None
    if field:  # 电话不对 / 地址改成幸福路8号
        return Confirmation(
            "fix", field, new_value(field, clean, filled.get(field), said.get(field))
        )
    if _NO.match(clean):
        return Confirmation("no")
    phone = said.get("wo_phone") or check_field("wo_phone", clean)
    if phone:  # the number said again: the same is a yes-in-passing, another one a fix
        if phone == filled.get("wo_phone"):
            return Confirmation("unclear")
        return Confirmation("fix", "wo_phone", phone)
    return Confirmation("unclear")


_CANCELS = re.compile(
    r"算了|不办了|不登记|^我?(不要|不想|不用)登记|就问问|不用了|不要了|取消|不弄了|不反映了|不投诉了|撤销|先不|以后再说|^/cancel"
)


def cancels(text: str) -> bool:
    """The citizen gives the draft up in so many words (算了 不办了); the NLU's cancel intent
    alone ("都不是我要问的" after a choice) is not enough to drop it."""
    return bool(_CANCELS.search(text))


def summary(filled: Mapping[str, str | None], spell: bool = False) -> str:
    """The read-back of the draft; `spell` reads the phone digit by digit (the phone)."""
    lines = []
    for slot, label in FIELDS.items():
        value = filled.get(slot) or NOT_SAID
        if spell and slot == "wo_phone":
            value = digits_aloud(value)
        lines.append(f"{label}：{value}")
    return "请核对您要登记的内容：\n" + "\n".join(lines)
