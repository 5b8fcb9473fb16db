"""A small month counted by hand: November 2026 (Asia/Shanghai), report as of 1 Dec 10:00.

Units: A = 市城市管理局, B = 市交通运输局.

| order | created (local) | what happens | counts for |
| a_ok | 11-02 09:00 | A signs on time, replies on time, 满意 | A |
| a_late | 11-03 09:00 | A signs late, replies late, 不满意, 重办 (unsigned again) | A |
| boundary_before | 10-31 23:30 | dispatched to A | October |
| boundary_last | 11-30 23:59 | dispatched to A, nothing due yet | A |
| boundary_after | 12-01 00:00 | dispatched to A | December |
| returned | 11-10 09:00 | to B, B returns (退单), to A, on time, 基本满意 | A (B: 退单 1) |
| b_open | 11-02 09:00 | 求助, B signs, never replies (deadline passed) | B |
| b_ok | 11-16 09:00 | B on time, 满意 | B |
| direct | 11-20 10:00 | 咨询 closed by the centre (当即办结) | totals |
| pending | 11-21 10:00 | never dispatched; from conversation web:c2 | totals |

Hand counts (November):
A: 交办 4 (a_ok, a_late, boundary_last, returned), 已办理 2 (a_ok, returned), 超时 1 (a_late),
   回访 3, 满意 2 (a_ok, returned 基本满意), 不满意 1 (a_late), 重办 1, 退单 0;
   签收: counted 3 (boundary_last not due), on time 2 → 66.67%; 办结: counted 3, on time 2 →
   66.67%; 满意率 2/3; score 66.67% → rank 2. 环比 交办 4 vs 1 in October → +300%.
B: 交办 2, 已办理 1, 超时 1 (b_open), 回访 1, 满意 1, 不满意 0, 退单 1; 签收 2/2, 办结 1/2,
   满意 1/1 → score 83.33% → rank 1.
Totals: 受理 8, 当即办结 1, 待派单 1; 合计 交办 6, 已办理 3, 超时 2, 回访 4, 满意 3 (75.00%).
Categories: 城市管理 6, 交通运输 2.

Conversations (November): c1 answered; c2 abstained then made an order; c3 clarified, then an
operator answered (state human); c5 abstained; c4 is in October.
→ contacts 4, 当场答复 2 (c1, c3) = 50%, with order 1, handed over 1 (c3) = 25%,
  decided turns 6 (answer 1, clarify 1, abstain 2, order_draft 1, handoff 1) → 弃答率 33.33%.
Repeats: boundary_last is linked to a_late as the same issue; both open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.conversations import Turn, record_turn
from workorders import store
from workorders.states import Actor

TZ = ZoneInfo("Asia/Shanghai")
A, B = "市城市管理局", "市交通运输局"
AS_OF = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
CENTRE = Actor.centre("值班长")


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def _new(
    url: str,
    text: str,
    created: datetime,
    kind: str = "投诉",
    category: str = "城市管理",
    **extra: str,
) -> str:
    draft = {"channel": "web", "request_text": text, "kind": kind, "category": category, **extra}
    return store.create(url, draft, now=created).number


def _do(
    url: str,
    number: str,
    action: str,
    actor: Actor,
    when: datetime,
    note: str | None = None,
    **data: str,
) -> None:
    store.transition(url, number, action, actor, note, now=when, **data)


def _lifecycle(
    url: str, number: str, unit: str, t0: datetime, sign: datetime, reply: datetime, rating: str
) -> None:
    dept = Actor.of_department(unit)
    _do(url, number, "dispatch", CENTRE, t0, department=unit)
    _do(url, number, "sign", dept, sign)
    _do(url, number, "feedback", dept, reply, "已处理")
    _do(url, number, "close", CENTRE, reply + timedelta(hours=1))
    _do(url, number, "visit", CENTRE, reply + timedelta(days=1), satisfaction=rating)


def build(url: str) -> dict[str, str]:
    n: dict[str, str] = {}
    n["a_ok"] = _new(url, "东湖路路灯不亮已经一周了", at(11, 2, 9))
    _lifecycle(url, n["a_ok"], A, at(11, 2, 9, 10), at(11, 2, 9, 30), at(11, 3, 10), "满意")

    n["a_late"] = _new(url, "南湖大道垃圾堆放无人清理", at(11, 3, 9))
    dept = Actor.of_department(A)
    _do(url, n["a_late"], "dispatch", CENTRE, at(11, 3, 9, 5), department=A)
    _do(url, n["a_late"], "sign", dept, at(11, 4, 9))  # due 11-03 15:05: late
    due = store.get(url, n["a_late"]).reply_due
    assert due is not None
    _do(url, n["a_late"], "feedback", dept, due + timedelta(hours=1), "已清理")
    _do(url, n["a_late"], "close", CENTRE, due + timedelta(hours=2))
    _do(url, n["a_late"], "visit", CENTRE, at(11, 20, 9), satisfaction="不满意")
    _do(url, n["a_late"], "redo", CENTRE, at(11, 20, 10), "市民不满意，重新办理")

    n["boundary_before"] = _new(url, "西山路井盖缺失", at(10, 31, 23, 30))
    _do(url, n["boundary_before"], "dispatch", CENTRE, at(10, 31, 23, 40), department=A)
    n["boundary_last"] = _new(url, "南湖大道垃圾又堆起来了", at(11, 30, 23, 59))
    _do(
        url,
        n["boundary_last"],
        "dispatch",
        CENTRE,
        at(11, 30, 23, 59) + timedelta(seconds=30),
        department=A,
    )
    n["boundary_after"] = _new(url, "北环路路面塌陷", at(12, 1, 0))
    _do(url, n["boundary_after"], "dispatch", CENTRE, at(12, 1, 0, 5), department=A)

    n["returned"] = _new(url, "朝阳街道占道经营", at(11, 10, 9))
    _do(url, n["returned"], "dispatch", CENTRE, at(11, 10, 9, 5), department=B)
    _do(url, n["returned"], "return", Actor.of_department(B), at(11, 10, 9, 30), "不属于本单位职责")
    _do(url, n["returned"], "approve_return", CENTRE, at(11, 10, 9, 45))  # 审定退单
    _lifecycle(
        url, n["returned"], A, at(11, 10, 10), at(11, 10, 10, 20), at(11, 11, 10), "基本满意"
    )

    n["b_open"] = _new(url, "公交站台损坏请求维修", at(11, 2, 9), kind="求助", category="交通运输")
    _do(url, n["b_open"], "dispatch", CENTRE, at(11, 2, 9, 5), department=B)
    _do(url, n["b_open"], "sign", Actor.of_department(B), at(11, 2, 9, 30))
    _do(url, n["b_open"], "start", Actor.of_department(B), at(11, 2, 10))
    n["b_ok"] = _new(url, "建议增加公交线路", at(11, 16, 9), kind="建议", category="交通运输")
    _lifecycle(url, n["b_ok"], B, at(11, 16, 9, 5), at(11, 16, 9, 30), at(11, 17, 10), "满意")

    n["direct"] = _new(url, "路灯归哪个部门管", at(11, 20, 10), kind="咨询")
    _do(url, n["direct"], "close", CENTRE, at(11, 20, 10, 5), "已当场答复")
    n["pending"] = _new(
        url, "我家楼上漏水谁管", at(11, 21, 10), kind="咨询", conversation_id="web:c2"
    )

    store.link(
        url,
        n["boundary_last"],
        n["a_late"],
        Actor.system("repeats"),
        now=at(11, 30, 23, 59) + timedelta(minutes=1),
    )
    _conversations(url)
    return n


def _turn(
    url: str,
    sender: str,
    when: datetime,
    text: str,
    kind: str | None,
    state: str = "bot",
    operator: str | None = None,
) -> None:
    meta = {"triage": {"kind": kind, "handoff": False}} if kind else {}
    when = when.astimezone(UTC)  # as the channels store it (the log's column keeps no zone)
    record_turn(
        url,
        Turn(
            channel="web",
            sender=sender,
            user_text=text,
            received_at=when,
            replied_at=when + timedelta(seconds=1),
            state=state,
            metadata=meta,
            operator=operator,
            bot_replies=[{"text": "……", "buttons": []}],
        ),
    )


def _conversations(url: str) -> None:
    _turn(url, "c1", at(11, 5, 9), "公积金怎么提取", "answer")
    _turn(url, "c2", at(11, 21, 9, 50), "我家楼上漏水谁管，电话13912345678", "abstain")
    _turn(url, "c2", at(11, 21, 9, 55), "我要投诉", "order_draft")
    _turn(url, "c3", at(11, 22, 9), "社保", "clarify")
    _turn(url, "c3", at(11, 22, 9, 5), "我想找人工", "handoff", state="human")
    _turn(url, "c3", at(11, 22, 9, 6), "", None, state="human", operator="op1")
    _turn(url, "c4", at(10, 31, 23, 50), "十月的问题", "abstain")
    _turn(url, "c5", at(11, 25, 9), "狗证在哪里办", "abstain")
