"""Every database query of the monthly report, in one module (the lead adapts them here when
the 回访 and 退单 review steps change what is stored).

All figures are aggregated in the database (GROUP BY with conditional sums), so a month of a
million orders is never loaded into Python; only texts for clustering are streamed in chunks.

Which orders belong to a month: those created (受理) in it, in the centre's time zone, counted
for the unit that holds them now (主办 department). A returned order (退单) counts for the unit
it was dispatched to afterwards, not for the unit that returned it (that one's 退单 are counted
separately); a reopened order (重办) counts once, for its unit, and as 不满意.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.engine import Connection

from hotline.conversations import ConversationTurn
from hotline.db import engine_for
from hotline.privacy import mask_numbers
from reports.period import Month
from workorders.model import WorkOrder, WorkOrderEvent, WorkOrderLink
from workorders.states import OPEN, UNRATED, Action, Status

W = WorkOrder
DONE = (Status.REPLIED.value, Status.CLOSED.value, Status.VISITED.value)
SATISFIED = ("满意", "基本满意")
UNSATISFIED = "不满意"


def _sum(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _in_month(column: Any, month: Month) -> ColumnElement[bool]:
    return and_(column >= month.start, column < month.end)


@dataclass
class UnitFigures:
    """One row of 各成员单位办件量统计 plus the timeliness counts behind the rates."""

    department: str
    assigned: int = 0  # 交办总量
    handled: int = 0  # 已办理 (已反馈, 已办结 or 已回访)
    overdue: int = 0  # 超时量: replied late, or unreplied past the deadline at `as_of`
    visited: int = 0  # 回访量
    satisfied: int = 0  # 满意 (incl. 基本满意)
    unsatisfied: int = 0  # 不满意 (incl. every reopened order, whatever its later rating)
    redone: int = 0  # 重办
    returned: int = 0  # 退单 by this unit in the month
    sign_due: int = 0  # orders whose 签收 deadline has come, or signed
    signed_on_time: int = 0
    reply_due: int = 0  # orders whose 办结 deadline has come, or replied
    replied_on_time: int = 0

    @property
    def sign_rate(self) -> float | None:  # 按期签收率
        return self.signed_on_time / self.sign_due if self.sign_due else None

    @property
    def reply_rate(self) -> float | None:  # 按时办结率
        return self.replied_on_time / self.reply_due if self.reply_due else None

    @property
    def satisfaction_rate(self) -> float | None:  # 满意率
        return self.satisfied / self.visited if self.visited else None

    @property
    def score(self) -> float | None:
        """综合得分: the mean of the three rates that exist (equal weights)."""
        rates = [
            r for r in (self.sign_rate, self.reply_rate, self.satisfaction_rate) if r is not None
        ]
        return sum(rates) / len(rates) if rates else None


# The counts of unit_figures' SELECT, in its order.
_COUNTED = (
    "assigned",
    "handled",
    "overdue",
    "visited",
    "satisfied",
    "unsatisfied",
    "redone",
    "sign_due",
    "signed_on_time",
    "reply_due",
    "replied_on_time",
)


def unit_figures(url: str, month: Month, as_of: datetime) -> dict[str, UnitFigures]:
    """Per unit (department) figures of the orders created in `month`.

    超时: a 反馈 that came after its deadline (the timeline keeps it even when a 重办 restarted
    the clock), or no reply yet and the deadline passed at `as_of`. 按时办结率 = replies
    counted (replied, or deadline passed) that were not late; 按期签收率 likewise for 签收,
    on the order's current clock (a 重办 must be signed for again).
    """
    E = WorkOrderEvent
    # Orders with a late 反馈 (feedback comes after creation, so after the month began): one
    # uncorrelated IN subquery over the (action, at) index, evaluated once, not per order.
    late_feedback = W.id.in_(
        select(E.order_id).where(
            E.action == Action.FEEDBACK.value,
            E.at >= month.start,
            E.data["on_time"].as_boolean().is_(False),
        )
    )
    # 未回访 (never rated, closed by the scan) is no 回访: out of 回访量 and the 满意率 denominator.
    visited = or_(and_(W.satisfaction.is_not(None), W.satisfaction != UNRATED), W.redo_count > 0)
    # A reopened order (重办) counts once, as 不满意, whatever it is rated after the redo: the
    # unit first failed the citizen (a later 满意 used to replace the first 不满意).
    unsatisfied = or_(W.satisfaction == UNSATISFIED, W.redo_count > 0)
    satisfied = and_(W.satisfaction.in_(SATISFIED), W.redo_count == 0)
    overdue = or_(
        late_feedback,
        and_(W.replied_at.is_not(None), W.replied_at > W.reply_due),
        and_(W.replied_at.is_(None), W.reply_due < as_of, W.status.in_(_open())),
    )
    reply_counted = or_(W.replied_at.is_not(None), W.reply_due < as_of, late_feedback)
    sign_counted = and_(W.sign_due.is_not(None), or_(W.signed_at.is_not(None), W.sign_due < as_of))
    stmt = (
        select(
            W.department,
            func.count(),
            _sum(W.status.in_(DONE)),
            _sum(overdue),
            _sum(visited),
            _sum(satisfied),
            _sum(unsatisfied),
            _sum(W.redo_count > 0),
            _sum(sign_counted),
            _sum(and_(W.signed_at.is_not(None), W.signed_at <= W.sign_due)),
            _sum(reply_counted),
            _sum(and_(reply_counted, ~overdue)),
        )
        .where(_in_month(W.created_at, month), W.department.is_not(None))
        .where(W.dispatched_at.is_not(None), W.status != Status.MERGED.value)
        .group_by(W.department)
    )
    out: dict[str, UnitFigures] = {}
    with engine_for(url).connect() as conn:
        for dept, *nums in conn.execute(stmt):
            out[dept] = UnitFigures(dept, **dict(zip(_COUNTED, map(int, nums), strict=True)))
        for dept, count in returns_by_unit(conn, month):
            out.setdefault(dept, UnitFigures(dept)).returned = count
    return out


def _open() -> list[str]:
    return [s.value for s in OPEN]


def returns_by_unit(conn: Connection, month: Month) -> list[tuple[str, int]]:
    """Returns the centre accepted (审定退单) in the month, by the unit that returned the order
    (event data returned_from); a return the centre refused (驳回退单) is not counted."""
    E = WorkOrderEvent
    unit = E.data["returned_from"].as_string()
    stmt = (
        select(unit, func.count())
        .where(E.action == Action.APPROVE_RETURN.value, _in_month(E.at, month))
        .group_by(unit)
    )
    return [(str(d), int(n)) for d, n in conn.execute(stmt) if d]


@dataclass
class OrderTotals:
    received: int = 0  # 受理 in the month
    direct: int = 0  # 当场答复: closed by the centre without dispatch
    pending: int = 0  # still 待派单 (incl. returned and not yet re-dispatched)
    merged: int = 0


def order_totals(url: str, month: Month) -> OrderTotals:
    stmt = select(
        func.count(),
        _sum(and_(W.dispatched_at.is_(None), W.status.in_(DONE))),
        _sum(W.status == Status.PENDING.value),
        _sum(W.status == Status.MERGED.value),
    ).where(_in_month(W.created_at, month))
    with engine_for(url).connect() as conn:
        row = conn.execute(stmt).one()
    return OrderTotals(*(int(n) for n in row))


def counts_by(url: str, month: Month, column: str) -> dict[str, int]:
    """Orders created in the month per value of `column` (category, channel, kind, district)."""
    col = getattr(W, column)
    stmt = (
        select(func.coalesce(col, "（未分类）"), func.count())
        .where(_in_month(W.created_at, month))
        .group_by(col)
    )
    with engine_for(url).connect() as conn:
        return {str(k): int(n) for k, n in conn.execute(stmt)}


# ---------------------------------------------------------------------------------------------
# The conversation log


T = ConversationTurn


def _kind() -> Any:
    """The triage decision's kind stored with the turn (metadata.triage.kind)."""
    return T.metadata_["triage"]["kind"].as_string()


@dataclass
class ContactFigures:
    contacts: int = 0  # conversations with a citizen's message in the month
    resolved_on_the_spot: int = 0  # 当场答复: answered by the bot or an operator, no order
    with_order: int = 0
    handed_over: int = 0  # conversations that waited for or talked with an operator
    decided_turns: int = 0  # turns with a triage decision
    by_kind: dict[str, int] = field(default_factory=dict)

    def rate(self, part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def on_the_spot_rate(self) -> float | None:
        return self.rate(self.resolved_on_the_spot, self.contacts)

    @property
    def handoff_rate(self) -> float | None:
        return self.rate(self.handed_over, self.contacts)

    @property
    def abstain_rate(self) -> float | None:
        return self.rate(self.by_kind.get("abstain", 0), self.decided_turns)


def contact_figures(url: str, month: Month) -> ContactFigures:
    in_month = _in_month(T.received_at, month)
    citizen = and_(T.operator.is_(None), T.user_text != "")
    has_order = exists().where(W.conversation_id == T.conversation_id)
    out = ContactFigures()
    with engine_for(url).connect() as conn:
        out.contacts = int(
            conn.scalar(
                select(func.count(func.distinct(T.conversation_id))).where(in_month, citizen)
            )
            or 0
        )
        out.with_order = int(
            conn.scalar(
                select(func.count(func.distinct(T.conversation_id))).where(
                    in_month, citizen, has_order
                )
            )
            or 0
        )
        resolved = or_(_kind() == "answer", T.operator.is_not(None))
        out.resolved_on_the_spot = int(
            conn.scalar(
                select(func.count(func.distinct(T.conversation_id))).where(
                    in_month, resolved, ~has_order
                )
            )
            or 0
        )
        out.handed_over = int(
            conn.scalar(
                select(func.count(func.distinct(T.conversation_id))).where(
                    in_month, T.state.in_(("waiting_human", "human"))
                )
            )
            or 0
        )
        kind = _kind()
        rows = conn.execute(
            select(kind, func.count()).where(in_month, kind.is_not(None)).group_by(kind)
        )
        out.by_kind = {str(k): int(n) for k, n in rows}
    out.decided_turns = sum(out.by_kind.values())
    return out


def gap_questions(url: str, month: Month, limit: int = 5000) -> list[str]:
    """What citizens asked when the bot abstained or asked them to choose (知识缺口)."""
    stmt = (
        select(T.user_text)
        .where(_in_month(T.received_at, month), _kind().in_(("abstain", "clarify")))
        .where(T.user_text != "")
        .order_by(T.id)
        .limit(limit)
    )
    with engine_for(url).connect() as conn:  # quoted in the report: numbers masked
        return [mask_numbers(str(t)) for t in conn.scalars(stmt)]


# ---------------------------------------------------------------------------------------------
# Texts for hot topics, repeats, weekly history


def request_texts(url: str, month: Month, chunk: int = 20_000) -> Iterator[list[str]]:
    """The month's request texts, in chunks (streamed: never the whole month in memory)."""
    stmt = select(W.request_text).where(_in_month(W.created_at, month)).order_by(W.id)
    with engine_for(url).connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(stmt)
        for part in result.partitions(chunk):
            yield [str(r[0]) for r in part]


def month_orders(url: str, month: Month) -> int:
    with engine_for(url).connect() as conn:
        return int(conn.scalar(select(func.count()).where(_in_month(W.created_at, month))) or 0)


def sample_texts(url: str, month: Month, size: int) -> list[str]:
    """Up to `size` request texts spread evenly over the month (every k-th order by id)."""
    total = month_orders(url, month)
    with engine_for(url).connect() as conn:
        step = max(total // size, 1)
        stmt = select(W.request_text).where(_in_month(W.created_at, month))
        if step > 1:
            stmt = stmt.where(W.id % step == 0)
        return [str(t) for t in conn.scalars(stmt.order_by(W.id).limit(size))]


@dataclass
class OpenRepeat:
    number: str
    category: str | None
    department: str | None
    district: str | None
    address: str | None
    summary: str
    status: str
    repeats: int  # orders linked to it as the same issue
    first: datetime


def open_repeats(url: str, limit: int = 20) -> list[OpenRepeat]:
    """Open orders about an issue raised again (重复诉求, links made by workorders.repeats),
    the most repeated first. Both ends of a link count: the earlier order and the new one."""
    L = WorkOrderLink
    ends = (
        select(L.order_id.label("oid"))
        .where(L.kind == "repeat")
        .union_all(select(L.related_id.label("oid")).where(L.kind == "repeat"))
        .subquery()
    )
    counted = select(ends.c.oid, func.count().label("n")).group_by(ends.c.oid).subquery()
    stmt = (
        select(
            W.number,
            W.category,
            W.department,
            W.district,
            W.address,
            W.summary,
            W.status,
            counted.c.n,
            W.created_at,
        )
        .join(counted, counted.c.oid == W.id)
        .where(W.status.in_(_open()))
        .order_by(counted.c.n.desc(), W.created_at)
        .limit(limit)
    )
    with engine_for(url).connect() as conn:
        repeats = [OpenRepeat(*row) for row in conn.execute(stmt)]
    for r in repeats:  # quoted in the report: numbers masked
        r.summary, r.address = mask_numbers(r.summary), r.address and mask_numbers(r.address)
    return repeats


def daily_counts(
    url: str, start: datetime, end: datetime, tz: ZoneInfo
) -> dict[tuple[str, date], int]:
    """Orders per (category, local day) between two instants (for the weekly forecast)."""
    engine = engine_for(url)
    day = _local_day(engine.dialect.name, tz, start)
    cat = func.coalesce(W.category, "（未分类）")
    stmt = (
        select(cat, day, func.count())
        .where(W.created_at >= start, W.created_at < end)
        .group_by(cat, day)
    )
    out: dict[tuple[str, date], int] = {}
    with engine.connect() as conn:
        for category, d, n in conn.execute(stmt):
            key = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
            out[(str(category), key)] = int(n)
    return out


def _local_day(dialect: str, tz: ZoneInfo, at: datetime) -> Any:
    """The local calendar day of created_at, computed by the database.

    PostgreSQL converts with the zone's rules; SQLite has no zones, so the UTC offset at `at`
    is used (exact for zones without daylight saving, such as Asia/Shanghai)."""
    if dialect == "postgresql":
        return func.date(func.timezone(str(tz), W.created_at))
    offset = at.astimezone(tz).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    return func.date(W.created_at, f"{minutes:+d} minutes")
