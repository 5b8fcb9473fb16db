"""One call for a channel or the dialogue: `route` (category, department, district, gate and
the emergency flag of a request), and the emergency rules (110/119/120), checked before any
routing.

The router itself lives in workorders/router_model.py (model), router_calibration.py (gate),
router_source.py (which router: trained folder or table) and districts.py; its names stay
importable from here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from workorders.config import WorkOrderConfig
from workorders.districts import resolve_district
from workorders.router_calibration import (
    Gate,
    Prediction,
    Thresholds,
    TrainReport,
    calibrate,
    evaluate,
    gate,
)

# Names that used to be defined here: other parts and saved routers import them from this module.
# The private ones are named by routers pickled before the split (router.joblib refers to
# workorders.routing._Model and the vectorisers' preprocessors); keep them while such folders may
# exist.
from workorders.router_model import (  # noqa: F401
    EMBED_CHARS,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    Embedder,
    OutdatedRouterError,
    Router,
    RouterUnavailable,
    _head_text,
    _Model,
    _ngram_text,
    _words,
    normalise,
)
from workorders.router_source import table_examples

__all__ = [
    "EMBED_CHARS",
    "FORMAT_VERSION",
    "META_FILE",
    "MODEL_FILE",
    "Embedder",
    "Emergency",
    "Gate",
    "OutdatedRouterError",
    "Prediction",
    "Router",
    "RouterUnavailable",
    "Routing",
    "Thresholds",
    "TrainReport",
    "calibrate",
    "detect_emergency",
    "evaluate",
    "gate",
    "is_emergency",
    "normalise",
    "resolve_district",
    "route",
    "table_examples",
]

# ---------------------------------------------------------------------------------------------
# Emergencies: say the number at once, before any work order


@dataclass(frozen=True)
class Emergency:
    kind: str
    number: str  # 110 police, 119 fire and rescue, 120 ambulance


# Order matters: the first rule that matches decides the number (fire and gas before the
# injuries they cause; violence before its injuries: the police bring the ambulance).
_GAS = "(煤气|燃气|天然气|液化气|然气|燃起)"  # ASR: 然气, 燃起
_CHILD = "(小孩|孩子|儿童|婴儿|宝宝|小朋友|娃|女儿|儿子)"
_PERSON = "(人|老人|他|她|我妈|我爸|老公|老婆|孩子|老太太|大爷|阿姨)"
_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gas_leak", "119", (
        rf"{_GAS}.{{0,6}}(泄漏|泄露|漏气|漏了|在漏)", rf"{_GAS}的?味",
        rf"{_GAS}(管|罐|瓶|阀|表).{{0,4}}(漏|裂|爆)",
    )),
    ("fire", "119", (
        "着火|起火|失火|火灾|烧起来|火烧|火苗|爆炸",
        "(电线|电表|电箱|电瓶|电动车|插座|配电|屋|家|楼|厨房).{0,4}冒黑?烟",
    )),
    ("violence", "110", (
        "打人|打架|斗殴|砍人|持刀|拿刀|拿着刀|动刀|杀人|要杀|砍死|家暴",
        "捅(了|伤|死)?(我|他|她|人)", "(弄|打|整)死(我|你|他|她|人)",
        "(又|动手|还)打(我|人)|打了我|打我(了|一顿|耳光)",
        "被(他|她|人|老公|丈夫|男人)?打(了|伤|得|成)",
        "抢劫|抢钱|抢包|绑架|强奸|性侵|非礼|扬言|恐吓|闹事", "威胁(我|他|她|我们|说)",
        "(要|说要)报复", "砸(门|车|店|东西)", "(要|想|准备)跳楼|跳楼了|自杀|轻生",
    )),
    ("child_missing", "110", (
        rf"{_CHILD}走?丢了", rf"{_CHILD}.{{0,8}}(走丢|不见了|找不到了|被人?(拐|抱走|带走))",
        "拐卖|拐走",
    )),
    ("child_trapped", "119", (
        rf"{_CHILD}.{{0,8}}(被(锁|困|卡)|(锁|困|卡)(在|住)|关在.{{0,3}}(车|屋|房))",  # not 困难
        rf"{_CHILD}.{{0,8}}(掉(进|到|下)|落水|溺水|坠楼|爬(到|上|出).{{0,4}}(窗|阳台|楼))",
    )),
    ("trapped", "119", ("困在电梯|电梯里?困(人|住)|被困|困住了",)),
    ("hurt", "120", (
        "晕倒|昏倒|倒地|不省人事|昏迷|没有?(呼吸|意识|知觉|气了)|叫不醒|抽搐|口吐白沫",
        "心脏病(发作|犯)|心梗|突然中风|大出血|流了?(很多|好多|一地)血|血流不止|满(脸|身|头)是血",
        "重伤|被车撞|撞伤|撞倒", "摔(伤|倒|下来).{0,6}(起不来|动不了|不能动|昏)",
        rf"{_PERSON}.{{0,3}}快?不行了", "中毒|喝了?农药|割腕|触电|被电(到|了|击)",
    )),
    ("flood", "119", (
        "(水|洪水|河水|大水).{0,4}(淹|漫|灌|冲).{0,6}(屋|家|房|车|人|楼|进来)",
        "被(水|洪水|大水)(困|淹|冲)|困在水|洪水|有人落水|掉(进|到)(河|水|湖|塘)|溺水",
    )),
    ("live_wire", "119", (
        "(电线|高压线|电缆).{0,4}(断|掉|落)(了|下来)?.{0,6}(地上|路上|水里|人)",
        "漏电.{0,6}(人|伤|倒)",
    )),
)  # fmt: skip
_EMERGENCY_RULES = tuple(
    (kind, number, re.compile("|".join(alts))) for kind, number, alts in _RULES
)
# A hazard, a hypothesis or prevention is a complaint for the table, not a call to 119:
# 万一着火, 防溺水宣传, 燃气泄漏隐患. Only cues next to the match count, so that an ASR
# transcript without punctuation keeps its real emergency.
_CUE_BEFORE = re.compile(r"防|避免|万一|担心|如果|一旦|假如|要是")
_CUE_AFTER = re.compile(r"隐患|风险|演练|宣传|知识|培训|检查|教育|预案")
_CUE_WINDOW = 5


def _hedged(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - _CUE_WINDOW) : match.start()]
    after = text[match.end() : match.end() + _CUE_WINDOW]
    return bool(_CUE_BEFORE.search(before) or _CUE_AFTER.search(after))


def detect_emergency(text: str | None) -> Emergency | None:
    """The kind of emergency and the number to call, or None for an ordinary request."""
    if not text:
        return None
    clean = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    for clause in re.split(r"[。！？!?；;，,]", clean):
        for kind, number, pattern in _EMERGENCY_RULES:
            if any(not _hedged(clause, m) for m in pattern.finditer(clause)):
                return Emergency(kind, number)
    return None


def is_emergency(text: str | None) -> str | None:
    """Which number to call at once (110/119/120), or None."""
    found = detect_emergency(text)
    return found.number if found else None


# ---------------------------------------------------------------------------------------------
# One call for a channel or the dialogue


@dataclass(frozen=True)
class Routing:
    category: str  # the router's label
    department: str | None  # None when the label is not a category of the configuration
    district: str | None
    gate: Gate
    confidence: float
    top3: tuple[tuple[str, float], ...]
    emergency: str | None  # 110/119/120: tell the caller at once; the order is flagged


def route(
    text: str,
    router: Router,
    config: WorkOrderConfig,
    address: str | None = None,
    district: str | None = None,
) -> Routing:
    """Category, department (the district's unit for 区县-level types) and gate of a request.

    `district`, when the channel knows it, wins over the one found in the address or text.
    An emergency always goes to a person, whatever the classifier's confidence.
    """
    emergency = is_emergency(text)
    prediction = router.predict([text])[0]
    known = prediction.label in config.category_by_name
    district = district or resolve_district(address, config) or resolve_district(text, config)
    department = config.default_department(prediction.label, district) if known else None
    decided = router.gate(prediction) if known else "manual"
    return Routing(
        category=prediction.label,
        department=department,
        district=district,
        gate="manual" if emergency else decided,
        confidence=prediction.confidence,
        top3=prediction.top3,
        emergency=emergency,
    )
