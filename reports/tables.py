"""The report's tables as rows of strings and numbers, shared by the HTML page, the XLSX file
and the console dashboard, so the three always show the same figures under the same headers.

Column headers of 各成员单位办件量统计 and 超期工单统计 are those of the centres' own monthly
circulars (通报), e.g. 承办单位 / 交办总量 / 已办理总量 / 超时量 / 回访量 / 市民满意 / 市民不满意.
"""

from __future__ import annotations

from typing import Any

from hotline.zh import CHANNEL_LABELS
from reports.build import MonthlyReport, UnitRow
from reports.queries import UnitFigures

Table = tuple[list[str], list[list[Any]]]


def pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def signed_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def points(value: float | None) -> str:
    """A change of a rate, in percentage points."""
    return "—" if value is None else f"{value * 100:+.1f}个百分点"


def with_share(part: int, whole: int) -> str:
    """1150 (98.80%), as the circulars write it."""
    return f"{part} ({part / whole * 100:.2f}%)" if whole else f"{part} (—)"


def _volume_row(f: UnitFigures) -> list[Any]:
    return [
        f.department,
        f.assigned,
        f.handled,
        f.overdue,
        f.visited,
        with_share(f.satisfied, f.visited),
        with_share(f.unsatisfied, f.visited),
    ]


def volumes(report: MonthlyReport) -> Table:
    """各成员单位办件量统计."""
    head = ["承办单位", "交办总量", "已办理总量", "超时量", "回访量", "市民满意", "市民不满意"]
    rows = [_volume_row(u.now) for u in report.units]
    rows.append(_volume_row(report.total))
    return head, rows


def ranking(report: MonthlyReport) -> Table:
    """成员单位考核排名: the three rates, the score, the rank, and the changes."""
    head = [
        "排名",
        "承办单位",
        "按期签收率",
        "按时办结率",
        "满意率",
        "综合得分",
        "交办量环比",
        "交办量同比",
        "得分环比",
        "得分同比",
        "退单量",
        "重办量",
    ]
    ranked = sorted(report.units, key=lambda u: (u.rank is None, u.rank or 0, u.now.department))
    return head, [_rank_row(u) for u in ranked]


def _rank_row(u: UnitRow) -> list[Any]:
    f = u.now
    return [
        u.rank or "—",
        f.department,
        pct(f.sign_rate),
        pct(f.reply_rate),
        pct(f.satisfaction_rate),
        pct(f.score),
        signed_pct(u.assigned_mom),
        signed_pct(u.assigned_yoy),
        points(u.score_mom),
        points(u.score_yoy),
        f.returned,
        f.redone,
    ]


def overdue(report: MonthlyReport) -> Table:
    """各成员单位超期工单统计."""
    rows: list[list[Any]] = [[u.now.department, u.now.overdue] for u in report.overdue_units]
    return ["网络单位", "超期工单（单位：件）"], rows


def categories(report: MonthlyReport) -> Table:
    head = ["排名", "诉求分类", "工单量", "占比", "上月", "环比"]
    rows = []
    for i, s in enumerate(report.categories, start=1):
        mom = (s.count - s.previous) / s.previous if s.previous else None
        rows.append([i, s.name, s.count, pct(s.share), s.previous, signed_pct(mom)])
    return head, rows


def channels(report: MonthlyReport) -> Table:
    head = ["渠道", "工单量", "占比", "上月"]
    rows = []
    for c in report.channels:
        rows.append([CHANNEL_LABELS.get(c.name, c.name), c.count, pct(c.share), c.previous])
    return head, rows


def contacts(report: MonthlyReport) -> Table:
    c = report.contacts
    head = ["指标", "数值", "说明"]
    kinds = c.by_kind
    rows: list[list[Any]] = [
        ["咨询会话数", c.contacts, "本月有市民留言的会话（网页、微信、电话）"],
        ["当场答复", c.resolved_on_the_spot, "机器人或话务员答复、未形成工单的会话"],
        ["当场答复率", pct(c.on_the_spot_rate), "当场答复 ÷ 咨询会话数"],
        ["形成工单的会话", c.with_order, ""],
        ["转人工率", pct(c.handoff_rate), "等待或接入话务员的会话 ÷ 咨询会话数"],
        ["机器人答复", kinds.get("answer", 0), "轮次"],
        ["请市民选择（澄清）", kinds.get("clarify", 0), "轮次"],
        ["无法答复（弃答）", kinds.get("abstain", 0), "轮次"],
        ["弃答率", pct(c.abstain_rate), "弃答轮次 ÷ 有分诊结果的轮次"],
        ["当即办结工单", report.totals.direct, "中心受理后直接办结、未派单的工单"],
    ]
    return head, rows


def topics(report: MonthlyReport) -> Table:
    head = ["排名", "热点问题（关键词）", "本月件数", "上月件数", "环比", "典型诉求"]
    return head, [
        [i, t.title, t.count, t.previous, signed_pct(t.trend), " / ".join(t.examples)]
        for i, t in enumerate(report.topics, start=1)
    ]


def repeats(report: MonthlyReport) -> Table:
    head = ["工单编号", "诉求分类", "承办单位", "区域", "地址", "状态", "重复次数", "摘要"]
    return head, [
        [
            r.number,
            r.category or "",
            r.department or "",
            r.district or "",
            r.address or "",
            r.status,
            r.repeats,
            r.summary,
        ]
        for r in report.repeats
    ]


def gaps(report: MonthlyReport) -> Table:
    head = ["排名", "市民问题（代表问法）", "次数", "其他问法"]
    return head, [
        [i, g.question, g.count, "；".join(g.alternatives)]
        for i, g in enumerate(report.gaps, start=1)
    ]


def forecasts(report: MonthlyReport) -> Table:
    weeks = [w.strftime("%m-%d") + "周" for w in report.forecast_weeks]
    head = [
        "诉求分类",
        "近4周工单量",
        "模型",
        "回测平均绝对误差（件/周）",
        "回测平均百分比误差",
        *weeks,
    ]
    rows = []
    for f in report.forecasts:
        mae = "—" if f.mae is None else f"{f.mae:.1f}"
        rows.append(
            [
                f.category,
                " / ".join(str(v) for v in f.history[-4:]),
                f.model,
                mae,
                pct(f.mape, 1),
                *(round(v) for v in f.forecast),
            ]
        )
    return head, rows


SECTIONS = (
    ("各成员单位办件量统计", volumes),
    ("成员单位考核排名", ranking),
    ("各成员单位超期工单统计", overdue),
    ("诉求分类", categories),
    ("受理渠道", channels),
    ("当场答复与智能客服", contacts),
    ("热点问题", topics),
    ("未办结的重复诉求", repeats),
    ("知识缺口", gaps),
    ("需求预测", forecasts),
)
