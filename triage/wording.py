"""What a citizen's wording says about the kind of message, as small rules with tests
(tests/triage/test_wording.py): a question, a request for a person, a question about an earlier
order, about the hotline's hours, a grievance. The knowledge base and the router judge the
content; these rules only say which of them to ask and how to read the result.

Messages arrive normalised (triage.normalize: simplified characters, half-width, no spaces).
"""

from __future__ import annotations

import re

# Wording that asks for information (how, where, whether, who is in charge).
_ASKS = re.compile(
    r"[？?]|吗|呢$|么$|不$|没$|怎么|咋|怎样|如何|多少|多久|多长|几天|几个|哪(?!怕)|几点|"
    r"能不能|可不可以|可以.{0,8}吗|是否|要不要|需不需要|是不是|有没有|找谁|什么|啥|请问|问一下|问下|"
    r"想问|想知道|咨询|百分之几|几成|几折|([\u4e00-\u9fff])不\1"  # A-not-A: 给不给, 行不行
)


def asks_question(text: str) -> bool:
    return bool(_ASKS.search(text))


# The 登记工单 button's payload (chat): the citizen asks for an order; the form asks what about.
REPORT_PAYLOAD = "/report_problem"
# The chat buttons that offer an order or a person (after a miss, beside suggestions).
ORDER_BUTTON = {"title": "登记工单", "payload": REPORT_PAYLOAD}
PERSON_BUTTON = {"title": "转人工", "payload": "/request_human"}
# The answer to 你是机器人吗, on chat and on the phone.
ABOUT_BOT = "我是12345热线的智能客服，可以解答政策问题、帮您登记工单。需要人工服务请说“转人工”。"
ABOUT_BOT_VOICE = "我是12345热线的智能语音客服。需要人工服务，请说转人工，或者按0。"


# What to do before calling, where calling first is itself the danger: a phone used in a room
# full of gas can set it off (the KB's own guidance, sdq-004: leave, then call).
BEFORE_CALLING = {
    "gas_leak": "请马上离开到室外：不要开关电灯电器，不要在室内打电话，能顺手关阀门、开窗就做。",
}
BEFORE_CALLING_VOICE = {
    "gas_leak": "请马上离开房间到室外，不要开关电器，到了室外再打电话。",
}


def other_city_text(city: str) -> str:
    """Abstain "other_city": the KB holds another city's rule, not this one's."""
    return (
        f"抱歉，我这里没有{city}的具体规定，不想拿别的城市的政策答复您。"
        f"请以{city}当地的规定为准，可以咨询当地相关部门，也可以登记工单或转人工。"
    )


# A request for a person, not a mention of one ("平台客服也不理", "接线员说的政策"): a verb that
# asks for a person, the citizen saying the bot does not understand, or the button's payload.
_ASKS_FOR_PERSON = re.compile(
    r"人工(?!智能|湖|费|降雨|成本|岛|草坪)|真人(?!秀)|活人|话务员|"
    r"(转|找|要|接|叫|换)(个)?(接线员|客服|坐席)|(叫|找|要|换)(你们)?的?(工作人员|领导|负责人)|"
    r"(叫|找)(个)?人来|(不要|别用|不想跟|不跟)(跟)?机器|听不(懂|明白)|说不清楚?(了)?$|"
    r"(打|回)(个)?电话给我|给我回(个)?电(话)?|^/request_human"
)


def asks_for_person(text: str) -> bool:
    return bool(_ASKS_FOR_PERSON.search(text))


# Words that only fit the citizen's own earlier request (上个月反映过的事 有进展吗); a bare 工单
# or 进度 does not (12345的工单要求多久反馈, 护照办理进度怎么查).
_ABOUT_OWN_ORDER = re.compile(
    r"工单(号|进度|进展|办|处理|怎么样|咋样|到哪|有结果|有回复)|我的(工单|投诉|举报|反映)|"
    r"(反映|投诉|举报)(的|过)|(之前|上次|以前|前几天|上个月|上周|昨天)(打电话)?"
    r"(反映|投诉|举报|报)|(反映|投诉|举报)的(事|问题).{0,6}(怎么样|咋样|结果|回复)|"
    r"怎么样了|咋样了|(修|办|弄|处理)(好|完)了?没|回音|^/query_status|^(查|查询|查一下)?进度$|"
    r"(登记|报|提交|反映|投诉|举报)的(这个|那个)?(单子|工单|事|问题)|单子.{0,6}(进度|进展|怎么样|到哪)"
)


_PROGRESS = re.compile(
    r"进展|进度|怎么样了|咋样了|结果|回复|回音|答复|办(好|完)|修(好|完)|处理(得|好|完)|到哪|有没有人管|有人管没"
)


def asks_progress(text: str) -> bool:
    """The message asks how far something has got (进展, 修好了没, 有结果吗)."""
    return bool(_PROGRESS.search(text))


def about_own_order(text: str) -> bool:
    return bool(_ABOUT_OWN_ORDER.search(text))


# The hotline's own hours or today's date; another place's or another hotline's hours
# (游泳馆几点关门, 心理援助热线12356是不是24小时) are a question for the knowledge base.
_ABOUT_HOURS = re.compile(
    r"几点|时间|上班|下班|营业|值班|周末|节假日|假期|过年|春节|国庆|晚上|半夜|夜里|中午|24小时|"
    r"全天|随时"
)
_US = re.compile(r"12345|你们|政务(服务)?热线|便民热线|这个热线|人工|客服|话务")
_OTHER = re.compile(
    r"(?<!\d)(?!12345)1\d{4}(?!\d)|(?<!政务)(?<!便民)(?<!这个)(?<!12345)热线|"
    r"馆|医院|窗口|大厅|办事处|派出所|银行|局|站|公园|景区|商场|超市|学校|中心|所|队|部门|单位"
)


_CLAUSE_BREAK = re.compile(r"[，。！？,.!?；;\s]+")
# The question asks for something to be done, not when someone is there (你们能不能派人修一下).
_ASKS_ACTION = re.compile(
    r"派人|派个人|来人|过来看|来看看|来查|来修|修一下|修修|管一管|管管|整治|查处|"
    r"(能不能|可不可以|帮忙|帮我).{0,4}(处理|解决)"
)


# 你是机器人吗, 你是机器人还是真人啊: a question about the bot itself, the whole message.
_ASKS_IF_BOT = re.compile(
    r"^(请问)?((你|您)(到底)?(是|是不是)(个)?(机器人|真人|人工|智能客服|AI|ai|人)"
    r"(还是(真人|人|机器人|机器))?(吗|啊|呀|呢)?|(是|是不是)(机器人|真人)(吗|呢))[？?。!！]*$"
)


def asks_if_bot(text: str) -> bool:
    """Whether the message only asks if the citizen talks to a machine."""
    return bool(_ASKS_IF_BOT.match(text.strip()))


def about_service_hours(text: str) -> bool:
    """The hotline's own hours (你们几点上班, 12345晚上有人接吗) or today's date; asked, not
    told: the question itself names the time (it, or the clause just before it), and asks for
    no action (路灯坏了 晚上黑黢黢的 你们能不能派人修一下 is a grievance that mentions the
    night; it got the hours, and its complaint was lost: found by an exploratory test)."""
    if re.search(r"今天几号|今天星期几|今天礼拜几|今天几月几", text):
        return True
    if not _US.search(text) or _OTHER.search(text):
        return False
    clauses = [c for c in _CLAUSE_BREAK.split(text) if c]
    for i, clause in enumerate(clauses):
        if not asks_question(clause) or _ASKS_ACTION.search(clause):
            continue
        if _ABOUT_HOURS.search(clause if i == 0 else clauses[i - 1] + clause):
            return True
    return False


# "None of these": the citizen turns down the entries offered (a choice or suggestions).
_REJECTS_OFFER = re.compile(
    r"^(都|全都|全)?(不是|不对)(我要问的|我想问的|我要找的|这个|这些|这几个|的)?[。！!，,]?$"
    r"|^(没有|没)(一个是)?我(要|想)(问|找)的"
)


def rejects_offer(text: str) -> bool:
    """都不是我要问的 / 不是这个: none of the entries offered is what the citizen meant."""
    return len(text) <= 12 and bool(_REJECTS_OFFER.search(text.strip()))


# A message that only announces a report without saying what ("我要投诉"): the form asks what.
_OPENING_ONLY = re.compile(
    r"^(我(要|想)?(投诉|举报|反映|求助|建议|表扬)(一下|个事|个问题|件事)?|投诉|举报|反映问题)[。！!，,]?$"
)


# What is left of 哎 还是帮我登记吧 想了想还是要投诉 without its fillers and the words that
# announce a report: nothing, so it says no more than 我要投诉 (it became an order's text).
_ANNOUNCING = re.compile(
    r"哎|唉|嗯|那个?|算了|还是|想了想|我想|我要|要|帮我|给我|麻烦|你们|一下|吧|啊|呀|了|的|我|再|"
    r"就|个|件|事|问题|工单|登记|投诉|举报|反映|求助|[\s。！!，,？?]"
)


def announces_report_only(text: str) -> bool:
    if _OPENING_ONLY.match(text):
        return True
    return not _ANNOUNCING.sub("", text) and bool(re.search(r"登记|投诉|举报|反映", text))


# ------------------------------------------------------------------------------------------
# Grievances: the citizen tells what went wrong to them or asks for something to be done.

# Asking the hotline to act, or to register a report.
_ACTION_WANTED = re.compile(
    r"投诉|举报|曝光|检举|反映(一下|个|件|情况|问题)|我(要|想|来)反映|要求.{0,10}(处理|解决|赔|退|整改|查处|道歉)|"
    r"请(有关|相关)?(部门|政府|领导|你们)|管一管|管管|(有没有|没)人管|没人(管|理|处理)|不管不问|"
    r"(能不能|可不可以|能否|赶紧|尽快|马上|快点)(管|处理|解决|整改|查|修|派人|来人|清理|拆)|"
    r"给(个|我们|我)?(说法|交代)|讨(个)?说法|帮(忙|我|我们)(处理|解决|协调|要回|追回|维权)|"
    r"谁来管|找谁(管|处理|解决)|不作为|推诿|踢皮球|推来推去"
)
# Something wrong that happened: harm, damage, a nuisance, a broken promise.
_HARM = re.compile(
    r"拖欠|欠(我|我们|工人|俺)?的?(工资|薪|钱|款)|不(给|肯|愿意)?(退|发|开|赔|还|修|处理|管)|"
    r"不给(办|退|发|开|赔|修)|乱收费|多收|收了两次|重复(收|扣)|被?盗刷|乱扣|扣了|"
    r"扰民|噪音|吵(得|死|人)|太吵|(半夜|晚上|深夜|凌晨|天天|整夜|一直|每天)(都|还|在)*吵|臭(味|得|死)|异味|油烟|冒黑烟|漏水|渗水|堵(了|死|住)|"
    r"坏了|坏掉|(不|没)亮|(全|都)?灭了|黑漆漆|停水|停电|没水|没电|没气|丢件|(快递|包裹|件).{0,6}(丢|没收到|不见|损坏|破)|"
    r"占(道|用)|乱(停|摆|倒|扔|排|搭|建|贴)|违(建|章|规)|偷排|直排|骗|欺诈|霸王条款|"
    r"态度(差|恶劣|很差|不好)|刁难|吃拿卡要|私自|擅自|强行|强制|威胁|安全隐患|隐患|"
    r"塌|裂(了|缝)|歪了|积水|淹|脏|垃圾(没人|成堆|堆)|不合格|变质|过期的?(食品|药|东西)|"
    r"克扣|辞退|开除|不签(劳动)?合同|不交|不缴|没(给|交|缴)(我)?(交|缴)?(社保|公积金|保险)|"
    r"不开(发票|票)|假(货|冒)|缺斤少两|涨价|宰客|拒载|绕路|投诉无门"
)
# The citizen's own situation: where it happens, who did it, for how long.
_SITUATION = re.compile(
    r"我(家|们|的|妈|爸|老|儿|女|爷|奶|在|被|买|去|们家)|俺|咱|楼下|楼上|隔壁|邻居|对面|门口|附近|"
    r"小区|村里|单位|公司|老板|物业|房东|开发商|商家|店家|老师|学校|医院|司机|快递员|"
    r"天天|每天|每晚|一直|好几|好久|很久|多次|三番五次|反复|至今|到现在|还没|都没|"
    r"[0-9一二三四五六七八九十两几半]+(天|个月|周|星期|年|次|小时)(了|多|都|还|没)|"
    r"(今天|昨天|前天|上周|上个月|最近|刚才|早上|晚上|凌晨)"
)
# Procedural questions a consultation asks: how to apply, where, what is needed.
_PROCEDURE = re.compile(
    r"怎么(办理|申请|办|提取|补办|报销|缴|交|查|领|开|转|迁|续|取)|如何(办理|申请|提取)|"
    r"需要(什么|哪些|带)|要带|材料|流程|手续|条件|在哪(里|儿)?(办|申请|领|交|查)|去哪(里|儿)?(办|申请|领|交|查)|"
    r"能(不能|否)?(办|申请|提取|报销|领|享受)|可以(办|申请|提取|报销|领|享受)|"
    r"有(什么|哪些)(政策|补贴|规定)|标准是|多久能|几个工作日"
)


def grievance_by_wording(text: str) -> bool | None:
    """What the wording alone says: True for a request stated outright (我要投诉…, 请有关部门
    处理) or a question whether a concrete case can be reported (无障碍厕所一直锁着 能投诉吗);
    None otherwise, for the grievance model to judge (triage/grievance.py), which also weighs
    these cues: a procedural question (公司拖欠工资怎么申请仲裁) is usually a consultation, a
    story (快递十天了还没到 驿站说丢了) usually a grievance."""
    if announces_report_only(text):  # 我想求助一下: the form asks what happened
        return True
    asks = asks_question(text)
    wants = bool(_ACTION_WANTED.search(text))
    if wants and not asks:
        return True
    if wants and not _PROCEDURE.search(text) and (_HARM.search(text) or _SITUATION.search(text)):
        return True
    return None


def cues(text: str) -> tuple[float, ...]:
    """The rules' signals as numbers, for the grievance model: a question, a procedure asked,
    an action wanted, harm told, the citizen's own situation."""
    return (
        float(asks_question(text)),
        float(bool(_PROCEDURE.search(text))),
        float(bool(_ACTION_WANTED.search(text))),
        float(bool(_HARM.search(text))),
        float(bool(_SITUATION.search(text))),
    )


# ------------------------------------------------------------------------------------------
# Satisfaction


def rating_of(text: str) -> str:
    """满意 / 基本满意 / 不满意 from the citizen's words (buttons send the exact word)."""
    if any(w in text for w in ("不满意", "差", "不太", "不行", "没解决", "不好")):
        return "不满意"
    if any(w in text for w in ("基本", "一般", "还行", "凑合", "还可以", "还算", "马马虎虎")):
        return "基本满意"
    return "满意"


# ------------------------------------------------------------------------------------------
# Anger and abuse: a person takes over when it repeats, or comes with a demand for a person.

# Insults and swearing aimed at the hotline or the bot. Words that are also grievances (垃圾
# without a target, 骗子 told of others) count only aimed at "you".
_ABUSE = re.compile(
    r"傻[子瓜逼比b]|沙比|煞笔|(?<![a-z])sb(?![a-z])|蠢|笨蛋|笨死|白痴|智障|弱智|脑残|神经病|"
    r"(你|你们)(是不是)?有病|有病(吧|啊)|脑子(有病|进水|有毛病)|猪脑子|是猪|"
    r"^垃圾|垃圾(机器人|机器|热线|客服|系统|东西)|(真是|什么)垃圾|破(机器|热线|玩意|系统)|"
    r"烂(机器|热线)|废物|饭桶|吃干饭|混饭吃|没用的东西|狗屁|狗东西|王八蛋|混蛋|"
    r"你算(个)?什么东西|(你|你们)(都)?是骗子|^滚|滚(开|蛋|远点)|给我滚|去死|闭嘴|少废话|"
    r"放屁|吃屎|他妈|妈的|去你的|操你|草泥马"
)
# Anger stated outright: at the end of their patience, threatening to go elsewhere.
_ANGER = re.compile(
    r"气死|太气人|气人|忍无可忍|受够了|火大|太过分了|欺人太甚|有完没完|什么玩意|"
    r"(到底|还)(管|办)不(管|办)|干什么吃的|干啥吃的|"
    r"(再不|还不|不给).{0,10}(曝光|上访|找媒体|找记者|告你们|去市政府|去省里)|[!！]{3,}"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def upset(text: str) -> str | None:
    """ "abuse" for insults or swearing, "anger" for anger stated outright, None otherwise."""
    lowered = text.lower()
    if _ABUSE.search(lowered):
        return "abuse"
    if _ANGER.search(lowered):
        return "anger"
    return None


def only_abuse(text: str) -> bool:
    """Insults and little else (你个破机器 废物): nothing to answer or write an order about."""
    rest = _ABUSE.sub("", text.lower())
    return len(_CJK.findall(rest)) < 8
