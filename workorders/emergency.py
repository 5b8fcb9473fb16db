"""Emergencies: someone is in danger now, so the number to call comes before anything else.

The triage layer answers with it first (triage/policy.py); every stored order is flagged by it
(workorders/routing.py, intake), so an emergency sent through the REST API is flagged too.

A message is read as what is happening, clause by clause, not as a list of alarm words:

* a **danger in progress** (fire, a gas leak, water flooding in, a live wire down, violence), or
* a **person in a dangerous state**: someone (a person word, or a state only a person can be in)
  who is not breathing or struggling to breathe, unconscious or collapsed, bleeding badly,
  trapped, in the water, or missing where it is dangerous (a flooded garage, a child gone);

and it is not **hedged**: a hazard (燃气泄漏隐患), a hypothesis (万一着火), prevention (防溺水宣传)
or someone saying nobody is hurt (蹭了一下 没人受伤) is a complaint or a question for the
knowledge base, not a call for 119. Hedges count only next to the match, so that a transcript
without punctuation keeps its real emergency.

The first matching situation decides the number (fire and gas before the injuries they cause;
violence before its injuries: the police bring the ambulance).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Situation:
    kind: str
    number: str  # 110 police, 119 fire and rescue, 120 ambulance


_GAS = "(煤气|燃气|天然气|液化气|然气|燃起)"  # ASR: 然气, 燃起
_CHILD = "(小孩|孩子|儿童|婴儿|宝宝|小朋友|娃|女儿|儿子|闺女)"
# Someone: a person word, a relative, a pronoun.
_SOMEONE = (
    "(人|老人|他|她|我妈|我爸|我爷爷|我奶奶|我老公|我老婆|我媳妇|老公|老婆|媳妇|丈夫|妻子|孩子|"
    "老太太|老大爷|大爷|大妈|阿姨|叔叔|爷爷|奶奶|外婆|外公|姥姥|姥爷|邻居|同事|工人|司机|朋友|"
    "儿子|女儿|小孩|宝宝|老头|老太|病人|家人|一个|有个)"
)
# States only a person (or animal) can be in: the state alone says someone is in danger.
_BODY_STATE = (
    "晕倒|昏倒|倒地|倒下(了|去)|栽倒|不省人事|昏迷|没有?(了)?(呼吸|意识|知觉|心跳)|"
    "叫不醒|喊不醒|叫不应|抽搐|抽过去|口吐白沫|喘不(上|过)气|透不过气|上不来气|呼吸困难|憋气憋得|"
    "(脸|嘴唇|嘴)(都)?(发紫|发青)|休克|噎住|卡住了?(喉咙|嗓子)|心脏病(发作|犯)|心梗|突然中风|"
    "大出血|流了?(很多|好多|一地|一身)血|血流不止|满(脸|身|头)是血|止不住血|重伤|"
    "中毒|喝了?(农药|敌敌畏|百草枯)|吞了?(药|安眠药)|割腕|触电|被电(到|了|击)|"
    # a stroke's signs as they come (突然: 中风以后半边身子不能动 is a lasting state); no answer
    # when called; a bleeding head
    "突然.{0,6}(说不出话|嘴(也|都)?歪|口眼歪斜|半边(身子|身体)?(动不了|不能动|麻了))|"
    "(摔倒|摔了|晕|倒地|倒下|昏).{0,10}(叫|喊)(她|他|人)?(也|都)?不答应|"
    "(摔|撞|砸|磕).{0,8}(头|头上|脑袋)(上)?.{0,2}(在)?(流血|出血)"
)
_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gas_leak", "119", (
        rf"{_GAS}.{{0,6}}(泄漏|泄露|漏气|漏了|在漏)", rf"{_GAS}的?味",
        rf"{_GAS}(管|罐|瓶|阀|表).{{0,4}}(漏|裂|爆)",
    )),
    ("fire", "119", (
        "(?<!打不)(?<!点不)(?<!打)着火|起火|失火|火灾|烧起来|火烧|火苗|爆炸|火势",
        "(电线|电表|电箱|电瓶|电动车|插座|配电|屋|家|楼|厨房|车).{0,4}冒(黑|浓)?烟",
    )),
    ("violence", "110", (
        "打人|打架|斗殴|砍人|持刀|拿刀|拿着刀|动刀|杀人|要杀|砍死|家暴",
        "捅(了|伤|死)?(我|他|她|人)", "(弄|打|整)死(我|你|他|她|人)",
        "(又|动手|还)打(我|人)|打了我|打我(了|一顿|耳光)",
        "被(他|她|人|老公|丈夫|男人)?打(了|伤|得|成)",
        "抢劫|抢钱|抢包|绑架|强奸|性侵|非礼|扬言|恐吓|闹事", "威胁(我|他|她|我们|说)",
        "(要|说要)报复", "砸(门|车|店|东西)",
        "(要|想|准备)跳楼|跳楼了|(要|想|准备)跳(河|江|湖)|自杀|轻生|不想活",
        "(楼顶|天台|阳台|窗|桥|楼上).{0,12}(要|想|准备)跳(下去|下来)",
        "有人.{0,4}(撬门|撬锁|闯进|进我家)",
    )),
    ("child_missing", "110", (
        rf"{_CHILD}走?丢了", rf"{_CHILD}.{{0,8}}(走丢|走失|不见了|找不到了|被人?(拐|抱走|带走))",
        "拐卖|拐走",
    )),
    ("person_missing", "110", (
        "(老人|老爷子|老太太|我爸|我妈|爷爷|奶奶|姥姥|姥爷|外公|外婆|痴呆|智力).{0,16}"
        "(走丢|走失|找不到了|不见了|联系不上)",
    )),
    ("child_trapped", "119", (
        rf"{_CHILD}.{{0,8}}(被(锁|困|卡)|(锁|困|卡)(在|住)|关在.{{0,3}}(车|屋|房))",  # not 困难
        rf"{_CHILD}.{{0,8}}(掉(进|到|下)|掉(水|河|湖|塘|池塘|江|井)里|落水|溺水|坠楼|"
        r"爬(到|上|出).{0,4}(窗|阳台|楼))",
    )),
    ("trapped", "119", (
        "困在电梯|电梯里?(困|关)(了|着)?(人|住)|有人被困|被困|困住了|(卡|困|关)在.{0,6}(里面|里头|下面)出不来",
        "电梯.{0,12}(卡|停)(在|住).{0,12}(里面|里头)(有人|还有人)",
        rf"{_SOMEONE}.{{0,6}}(被)?(压在|埋在|卡在).{{0,8}}(下面|底下|里)",
        "(塌|倒塌|塌方).{0,10}(压|埋)(住|了)?(人|他|她)",
    )),
    ("flood", "119", (
        "(水|洪水|河水|大水).{0,6}(淹|漫|灌|冲).{0,6}(屋|家|房|车|人|楼|进来)",
        "被(水|洪水|大水)(困|淹|冲)|困在水|有人落水|掉(进|到)(河|水|湖|塘|江)|溺水",
        rf"{_SOMEONE}.{{0,4}}掉(进|到)?(河|水|湖|塘|池塘|江|井)里",
        # someone went where the water is and is not back: a flooded garage, a river bank
        "(淹|进水|灌水|积水|涨水|发大水|水漫|水很深|洪水).{0,24}"
        "(没(有)?(上|出|回)来|找不到|联系不上|失联|不见了|人还在|困在|出不来)",
        "(没(有)?(上|出|回)来|找不到|联系不上|失联|人还在|困在|出不来).{0,16}"
        "(淹|进水|灌水|积水|涨水|水很深|洪水)",
    )),
    ("live_wire", "119", (
        "(电线|高压线|电缆).{0,4}(断|掉|落)(了|下来)?.{0,6}(地上|路上|水里|人)",
        "漏电.{0,6}(人|伤|倒)",
    )),
    ("hurt", "120", (
        _BODY_STATE,
        "摔(伤|倒|下来).{0,6}(起不来|动不了|不能动|昏)",
        rf"{_SOMEONE}.{{0,3}}快?不行了",
        rf"{_SOMEONE}.{{0,4}}(没气了|倒在(地上|路边|路上|地下|马路上))",
        rf"{_SOMEONE}.{{0,10}}一动不动",
        # 没反应 only of someone: a gas meter or a card "没反应" is a complaint
        rf"{_SOMEONE}.{{0,6}}没有?(了)?反应",
        rf"{_SOMEONE}.{{0,6}}(被车撞|被撞|撞伤|撞倒|撞飞)",
        rf"{_CHILD}.{{0,6}}(吃|吞|喝)了.{{0,6}}(药片|药丸|安眠药|洗衣液|消毒液|农药|纽扣电池|电池)",
    )),
    # a cry for help with nothing else said: the police come first and bring what is needed
    ("help", "110", ("救命|快来人|来人啊|救救我|快救",)),
)  # fmt: skip
_COMPILED = tuple((kind, number, re.compile("|".join(alts))) for kind, number, alts in _RULES)

# A hazard, a hypothesis, prevention or the past is a complaint or a question, not a call now.
_CUE_BEFORE = re.compile(
    r"防|避免|万一|担心|如果|一旦|假如|要是|怕|容易|会不会|以前|去年|上次|会|可能|听说|差点|险些|差一点"
)
_CUE_AFTER = re.compile(
    r"隐患|风险|演练|宣传|知识|培训|检查|教育|预案|怎么办理|补贴|赔偿|的话|会战|专项|排查|整治行动"
)
# The citizen asks to learn about a danger (家里闻到燃气味应该怎么办 想提前了解一下; 小孩溺水了
# 怎么急救 学校让我们学习一下) or about a benefit (摔了一跤头上流血了 缝针能报销吗): a question
# for the knowledge base, whatever it names ...
_LEARNING = re.compile(
    r"提前了解|学习一下|科普|急救知识|报销|医保|怎么申请|补贴|残疾证|鉴定|理赔|赔偿"
)
# ... unless the message says it is happening now (我老公突然晕倒了 叫不醒 怎么急救).
_HAPPENING = re.compile(r"现在|正在|还在|刚才|刚刚|突然|快|救命|赶紧|马上")
_CUE_WINDOW = 5
_CUE_INSIDE = re.compile(r"差点|险些|差一点|万一|会不会")  # 小孩差点掉下去: it did not happen
# A clause about the past (去年楼道里烧起来过) reports what happened, not what is happening; so
# do the clauses after it, until one says now (昨天下了场雨 车库淹了 | 现在人还在里面).
_PAST = re.compile(
    r"去年|前年|上个月|上月|几年前|那年|那次|上次|昨天|昨晚|前天|上周|上礼拜|上星期|前几天|"
    r"前段时间|前阵子"
)
_NOW = re.compile(r"现在|正在|还在|刚才|刚刚|此刻|这会儿|马上|赶紧|快来|到现在|一直没")
# A habit (天天在楼道里打架) is a complaint about what keeps happening, not a call for now.
_HABIT = re.compile(r"天天|经常|总是|老是|每天|每晚|每次|动不动|时不时|三天两头")
# The citizen says nobody is hurt, or that the danger is over (a complaint or a KB question).
_CALM = {
    "hurt": re.compile(r"没有?人?(受伤|事)|人(都)?没事|都没事|不严重|(要|需要|用|该|得)报警吗"),
    "fire": re.compile(r"(火|烟).{0,4}(已经|早就)?(灭|扑灭|散)了"),
    "gas_leak": re.compile(r"(阀门|气).{0,4}(已经|早就)?(关|关掉|关好)了"),
}


def _hedged(clause: str, match: re.Match[str]) -> bool:
    before = clause[max(0, match.start() - _CUE_WINDOW) : match.start()]
    after = clause[match.end() : match.end() + _CUE_WINDOW]
    inside = match.group()
    return bool(
        _CUE_BEFORE.search(before)
        or _CUE_AFTER.search(after)
        or _CUE_INSIDE.search(inside)
        or _HABIT.search(clause[: match.start()])
        or _HABIT.search(inside)  # 电梯经常卡在三楼 里面有人的时候
        or _HABIT.search(after)  # 有个醉汉倒在路边 天天这样
    )


def _present(clauses: list[str]) -> list[bool]:
    """Which clauses are about now: a past clause and those after it are not, until a clause
    says now (which is)."""
    now, past = [], False
    for clause in clauses:
        if _NOW.search(clause):
            past = False
        elif _PAST.search(clause):
            past = True
        now.append(not past)
    return now


def is_emergency(text: str | None) -> str | None:
    """The number to call at once (110/119/120), or None: the flag a stored order carries."""
    found = recognise(text)
    return found.number if found else None


def recognise(text: str | None) -> Situation | None:
    """The kind of emergency and the number to call, or None for an ordinary message."""
    if not text:
        return None
    clean = unicodedata.normalize("NFKC", text).strip()
    tokens = clean.split()
    if tokens and sum(len(t) == 1 for t in tokens) * 2 > len(tokens):
        clean = "".join(tokens)  # a transcript spaced character by character: one text
    # Otherwise citizens type spaces where punctuation would be: a clause break (倒 地沟 is not
    # 倒地). Each clause is read alone and with its neighbour, so that a situation told over
    # two clauses is seen (地下车库进水了，我老公下去挪车一直没上来), one told in the past is not.
    clauses = [c for c in re.split(r"[。！？!?；;，,\s]+", clean) if c]
    now = _present(clauses)
    # A clause about now is read alone and after the clause before it (which may set the
    # scene in the past: 我爸昨天出门 | 到现在联系不上); a match must end in the clause about
    # now (去年烧起来过 | 现在还堆着 is no fire). A window: its text, where "now" starts in it.
    windows = [(c, 0) for c, n in zip(clauses, now, strict=True) if n]
    pairs = zip(itertools.pairwise(clauses), now[1:], strict=True)
    windows += [(f"{a}，{b}", len(a) + 1) for (a, b), n in pairs if n]
    if _LEARNING.search(clean) and not _HAPPENING.search(clean):
        return None
    for kind, number, pattern in _COMPILED:
        if kind in _CALM and _CALM[kind].search(clean):
            continue
        for window, start in windows:
            if any(m.end() > start and not _hedged(window, m) for m in pattern.finditer(window)):
                return Situation(kind, number)
    return None
